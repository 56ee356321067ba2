/*  xoc_collector_call — the XAPI gateway of one pool: workers of the bus service
    "xapi.<poolId>", one per lane (collector.gateway_lanes), each on its own thread with
    its own XAPI session on the pool's current master (re-logging in on SESSION_INVALID,
    following HOST_IS_SLAVE), serving xapi.call; the broker hands each request to a free
    lane, so a long call (a VM shutdown) does not hold the others.
    Other services call XAPI through it and never hold host credentials.                  */
#ifndef XOC_COLLECTOR_CALL_H
#define XOC_COLLECTOR_CALL_H

#include "xoc_bus.h"
#include "xoc_collector_pool.h"
#include "xoc_xapi.h"

typedef struct _xoc_collector_call_t xoc_collector_call_t;

/*  Starts the gateway of pool_id, logging in at master_url with the server's credentials. */
xoc_collector_call_t *xoc_collector_call_new(const xoc_collector_server_t *server,
                                             const char *pool_id, const char *master_url,
                                             const xoc_bus_opts_t *bus);
/*  The same, with an observer of every XAPI call of the lanes (metrics; NULL: none).    */
xoc_collector_call_t *xoc_collector_call_new_observed(const xoc_collector_server_t *server,
                                                      const char *pool_id,
                                                      const char *master_url,
                                                      const xoc_bus_opts_t *bus,
                                                      xoc_xapi_observe_fn *observe, void *arg);

/*  Tells the gateway where the master is now (after a failover).                          */
void xoc_collector_call_set_master(xoc_collector_call_t *self, const char *master_url);

const char *xoc_collector_call_pool(const xoc_collector_call_t *self);

/*  Cancels a call in progress and stops.                                                  */
void xoc_collector_call_destroy(xoc_collector_call_t **self_p);

#endif
