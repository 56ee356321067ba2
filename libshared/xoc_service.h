/*  xoc_service — the life of a service process, the same for all of them:
    main() reads flags and config (common keys + the service's own), handles --help, sets the
    log level, starts the service actor with the config, waits for SIGINT/SIGTERM, and
    destroys the actor (which stops cleanly on $TERM). Tests start the same actor in-process.

    Also: the /metrics endpoint of every service (xoc_service_metrics: a registry with the
    common metrics, served on metrics.listen; xoc_node starts it for every node), and
    xoc_sys, the publisher of sys.<service>.<state> events (start, heartbeat, stop,
    error) that every service sends and `xoc-events sys.` shows.                          */
#ifndef XOC_SERVICE_H
#define XOC_SERVICE_H

#include <czmq.h>

#include "xoc_cfg.h"
#include "xoc_metrics.h"
#include "xoc_metrics_http.h"

/*  Keys every service has: log.level (and the bus.* keys of xoc_bus_cfg_keys).            */
extern const xoc_cfg_key_t xoc_service_cfg_keys[];

/*  metrics.listen, the key of the /metrics endpoint: every service run by xoc_service_main
    has it (default 127.0.0.1:0, a free port; empty: no endpoint). Once the actor is ready,
    main prints "<name>: metrics url=http://HOST:PORT/metrics" after the service's ready line. */
extern const xoc_cfg_key_t xoc_service_metrics_cfg_keys[];

/*  Called once the actor is ready (e.g. to print where it listens). May be NULL.          */
typedef void(xoc_service_ready_fn)(zactor_t *actor, const xoc_cfg_t *cfg);

/*  Runs the service; returns the process exit code (0 clean stop, 1 start failure,
    2 bad configuration).                                                                  */
int xoc_service_main(const char *name, const char *summary, const xoc_cfg_key_t *own_keys,
                     zactor_fn *actor_fn, xoc_service_ready_fn *ready, int argc, char **argv);

/*  The metrics of a service: a registry with the common metrics (process figures, uptime,
    xoc_service_info, xoc_heartbeats_sent_total), served on metrics.listen when the config
    has that key and it is not empty. The address actually listened on is written back into
    cfg (main prints it). xoc_node does this for every node; a service without a node
    (xoc-bus) calls it from its actor:
        xoc_service_metrics_t m;
        if (xoc_service_metrics_start(&m, "bus", cfg) == 0) { ... xoc_metrics_inc(m.heartbeats); }
        xoc_service_metrics_stop(&m);           // after every thread that updates metrics
    Returns 0, or the error of xoc_metrics_http_new (the service should not start).       */
typedef struct {
    xoc_metrics_t *reg;
    xoc_metrics_http_t *http; /* NULL: no endpoint */
    xoc_metrics_series_t *heartbeats;
} xoc_service_metrics_t;

int xoc_service_metrics_start(xoc_service_metrics_t *m, const char *service, xoc_cfg_t *cfg);
void xoc_service_metrics_stop(xoc_service_metrics_t *m);

typedef struct _xoc_sys_t xoc_sys_t;

/*  A sys event publisher for `service` on an existing PUB socket (not owned).             */
xoc_sys_t *xoc_sys_new(const char *service, zsock_t *pub);
void xoc_sys_destroy(xoc_sys_t **self_p);

/*  Publishes sys.<service>.<state>; stats: a msgpack map (may be NULL).                   */
int xoc_sys_publish(xoc_sys_t *self, const char *state, const char *detail, const void *stats,
                    size_t stats_len);

#endif
