/*  xoc_node — the skeleton every service actor stands on: its configuration, its bus
    connections (a PUB for events, a worker for its requests), its zloop with the actor pipe
    ($TERM stops it), one periodic timer that publishes sys.<service>.heartbeat, and its
    metrics (node->metrics.reg, served on metrics.listen: see xoc_service_metrics). A service
    declares its own metrics in node->metrics.reg, updates them where the numbers are known,
    and may register one refresh function (xoc_node_set_metrics) that sets the gauges derived
    from its state, called on the node's thread before each heartbeat.

        void my_actor(zsock_t *pipe, void *cfg) {
            xoc_node_t node;
            if (xoc_node_init(&node, "echo", pipe, cfg) == 0 &&
                xoc_node_serve(&node, 64, s_handler, state) == 0)
                xoc_node_run(&node);            // signals ready, loops until $TERM
            xoc_node_fini(&node);               // publishes stop, frees; signals failure
        }                                                                                  */
#ifndef XOC_NODE_H
#define XOC_NODE_H

#include <czmq.h>

#include "xoc_bus.h"
#include "xoc_cfg.h"
#include "xoc_service.h"
#include "xoc_worker.h"

/*  Returns a msgpack map of counters for the heartbeat, or 0 bytes. May be NULL.         */
typedef void(xoc_node_stats_fn)(msgpack_packer *pk, void *arg);

/*  Refreshes gauges from the service's state (on the node's thread, every heartbeat).     */
typedef void(xoc_node_metrics_fn)(xoc_metrics_t *reg, void *arg);

typedef struct {
    char service[64];
    const xoc_cfg_t *cfg;
    xoc_bus_opts_t bus;
    zsock_t *pipe;
    zloop_t *loop;
    zsock_t *pub;
    xoc_sys_t *sys;
    xoc_worker_t *worker;
    xoc_node_stats_fn *stats_fn;
    void *stats_arg;
    xoc_service_metrics_t metrics;
    xoc_node_metrics_fn *metrics_fn;
    void *metrics_arg;
    bool ready_signalled;
    int hb_timer;
} xoc_node_t;

/*  Connects to the bus, starts the metrics endpoint (cfg's metrics.listen, rewritten to the
    address actually listened on) and prepares the loop. Returns 0 or an xoc error.         */
int xoc_node_init(xoc_node_t *node, const char *service, zsock_t *pipe, void *cfg);

/*  Serves requests of the node's service through `handler`.                                */
int xoc_node_serve(xoc_node_t *node, int capacity, xoc_worker_fn *handler, void *arg);

/*  Sets the counters included in heartbeats.                                              */
void xoc_node_set_stats(xoc_node_t *node, xoc_node_stats_fn *fn, void *arg);

/*  Sets the function refreshing the service's gauges before each heartbeat.             */
void xoc_node_set_metrics(xoc_node_t *node, xoc_node_metrics_fn *fn, void *arg);

/*  Signals "ready" to the actor's creator, publishes sys.<service>.start, runs the loop
    until $TERM.                                                                            */
void xoc_node_run(xoc_node_t *node);

/*  Publishes sys.<service>.stop and frees everything; if the node never became ready, it
    signals failure to the creator (zactor_new then returns NULL... or the creator sees it). */
void xoc_node_fini(xoc_node_t *node);

#endif
