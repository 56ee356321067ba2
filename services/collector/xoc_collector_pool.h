/*  xoc_collector_pool — one pool connection ("server" in xo-server's words), on its own
    thread because XAPI calls block: log in (following HOST_IS_SLAVE), load every object,
    send the full image to the cache, then follow event.from and send each batch as one
    ordered change set, waiting for its acknowledgement. Reconnects with backoff (not after
    bad credentials), fails over to the other pool members when the master is lost, reloads
    on EVENTS_LOST / SESSION_INVALID. Publishes its status on server.<id>.                 */
#ifndef XOC_COLLECTOR_POOL_H
#define XOC_COLLECTOR_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "xoc_bus.h"
#include "xoc_metrics.h"

typedef struct {
    char id[128];          /* server id (configuration key) */
    char url[512];         /* http(s)://host[:port] of a pool member */
    char username[128];
    char password[256];
    bool allow_unauthorized; /* accept a self-signed certificate */
    char http_proxy[400];  /* httpProxy: every XAPI call through it ("": none) */
    int backoff_min_ms;    /* reconnection delay after a failure, doubling up to max */
    int backoff_max_ms;
    bool read_only;        /* readOnly: the gateway refuses calls that change anything */
    int gateway_lanes;     /* XAPI calls the pool's gateway carries out at once (0: 4) */
} xoc_collector_server_t;

typedef struct {
    char status[16];       /* connected | connecting | disconnected */
    char error[256];
    char pool[64];
    char master[512];
    uint64_t epoch;
    uint64_t seq;          /* last change set sent in this epoch */
    uint64_t objects;
    uint64_t changesets;
} xoc_collector_status_t;

/*  The collector's metric families (declared by xoc_collector; the first label of each is
    "server", the server id). A pool connection updates its own series from its thread.
    (The gateway's xapi.call requests are counted by its workers: xoc_requests_total and
    xoc_request_seconds with service "xapi.<poolId>".)                                    */
typedef struct {
    xoc_metrics_family_t *state;        /* server,state: 1 for the current state */
    xoc_metrics_family_t *reconnects;   /* server */
    xoc_metrics_family_t *events;       /* server: event.from events received */
    xoc_metrics_family_t *sent, *acked; /* server: change sets */
    xoc_metrics_family_t *in_flight;    /* server: change sets not acknowledged yet */
    xoc_metrics_family_t *objects;      /* server */
    xoc_metrics_family_t *xapi_seconds; /* server,method: the connection's XAPI calls */
} xoc_collector_metrics_t;

typedef struct _xoc_collector_pool_t xoc_collector_pool_t;

/*  Starts the connection thread. bus: the bus options (kept by reference); metrics: kept by
    reference (may be NULL).                                                                */
xoc_collector_pool_t *xoc_collector_pool_new(const xoc_collector_server_t *server,
                                             const xoc_bus_opts_t *bus,
                                             const xoc_collector_metrics_t *metrics);

/*  Stops the thread (cancelling a blocked XAPI call at once) and frees.                   */
void xoc_collector_pool_destroy(xoc_collector_pool_t **self_p);

/*  A copy of the current status (thread-safe).                                            */
void xoc_collector_pool_status(xoc_collector_pool_t *self, xoc_collector_status_t *out);

const xoc_collector_server_t *xoc_collector_pool_server(const xoc_collector_pool_t *self);

#endif
