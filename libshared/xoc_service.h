/*  xoc_service — the life of a service process, the same for all of them:
    main() reads flags and config (common keys + the service's own), handles --help, sets the
    log level, starts the service actor with the config, waits for SIGINT/SIGTERM, and
    destroys the actor (which stops cleanly on $TERM). Tests start the same actor in-process.

    Also: xoc_sys, the publisher of sys.<service>.<state> events (start, heartbeat, stop,
    error) that every service sends and `xoc-events sys.` shows.                          */
#ifndef XOC_SERVICE_H
#define XOC_SERVICE_H

#include <czmq.h>

#include "xoc_cfg.h"

/*  Keys every service has: log.level (and the bus.* keys of xoc_bus_cfg_keys).            */
extern const xoc_cfg_key_t xoc_service_cfg_keys[];

/*  Called once the actor is ready (e.g. to print where it listens). May be NULL.          */
typedef void(xoc_service_ready_fn)(zactor_t *actor, const xoc_cfg_t *cfg);

/*  Runs the service; returns the process exit code (0 clean stop, 1 start failure,
    2 bad configuration).                                                                  */
int xoc_service_main(const char *name, const char *summary, const xoc_cfg_key_t *own_keys,
                     zactor_fn *actor_fn, xoc_service_ready_fn *ready, int argc, char **argv);

typedef struct _xoc_sys_t xoc_sys_t;

/*  A sys event publisher for `service` on an existing PUB socket (not owned).             */
xoc_sys_t *xoc_sys_new(const char *service, zsock_t *pub);
void xoc_sys_destroy(xoc_sys_t **self_p);

/*  Publishes sys.<service>.<state>; stats: a msgpack map (may be NULL).                   */
int xoc_sys_publish(xoc_sys_t *self, const char *state, const char *detail, const void *stats,
                    size_t stats_len);

#endif
