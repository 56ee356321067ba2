/*  xoc_collector_call — the XAPI gateway of one pool: a worker of the bus service
    "xapi.<poolId>" on its own thread, serving xapi.call with its own XAPI session on the
    pool's current master (re-logging in on SESSION_INVALID, following HOST_IS_SLAVE).
    Other services call XAPI through it and never hold host credentials.                  */
#ifndef XOC_COLLECTOR_CALL_H
#define XOC_COLLECTOR_CALL_H

#include "xoc_bus.h"
#include "xoc_collector_pool.h"

typedef struct _xoc_collector_call_t xoc_collector_call_t;

/*  Starts the gateway of pool_id, logging in at master_url with the server's credentials. */
xoc_collector_call_t *xoc_collector_call_new(const xoc_collector_server_t *server,
                                             const char *pool_id, const char *master_url,
                                             const xoc_bus_opts_t *bus);

/*  Tells the gateway where the master is now (after a failover).                          */
void xoc_collector_call_set_master(xoc_collector_call_t *self, const char *master_url);

const char *xoc_collector_call_pool(const xoc_collector_call_t *self);

/*  Cancels a call in progress and stops.                                                  */
void xoc_collector_call_destroy(xoc_collector_call_t **self_p);

#endif
