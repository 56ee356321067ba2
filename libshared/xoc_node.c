#include "xoc_node.h"

#include <string.h>

#include "xoc_err.h"
#include "xoc_log.h"

static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    char *cmd = zstr_recv(pipe);
    int rc = (!cmd || streq(cmd, "$TERM")) ? -1 : 0;
    zstr_free(&cmd);
    return rc;
}

static void s_heartbeat(xoc_node_t *node)
{
    if (node->metrics_fn)
        node->metrics_fn(node->metrics.reg, node->metrics_arg);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (node->stats_fn) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        node->stats_fn(&pk, node->stats_arg);
    }
    if (xoc_sys_publish(node->sys, "heartbeat", NULL, sb.data, sb.size) == 0)
        xoc_metrics_inc(node->metrics.heartbeats);
    msgpack_sbuffer_destroy(&sb);
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    s_heartbeat(arg);
    return 0;
}

int xoc_node_init(xoc_node_t *node, const char *service, zsock_t *pipe, void *cfg)
{
    memset(node, 0, sizeof *node);
    snprintf(node->service, sizeof node->service, "%s", service);
    node->cfg = cfg;
    node->pipe = pipe;
    node->hb_timer = -1;
    int rc = xoc_bus_opts_load(&node->bus, cfg);
    if (rc == 0)
        rc = xoc_service_metrics_start(&node->metrics, service, cfg);
    node->bus.metrics = node->metrics.reg; /* every worker made with node->bus counts */
    if (rc)
        return rc;
    node->pub = xoc_bus_connect(ZMQ_PUB, node->bus.pub, &node->bus);
    node->sys = node->pub ? xoc_sys_new(service, node->pub) : NULL;
    node->loop = zloop_new();
    if (!node->pub || !node->sys || !node->loop)
        return XOC_EIO;
    zloop_set_nonstop(node->loop, true);
    zloop_reader(node->loop, pipe, s_on_pipe, node);
    node->hb_timer = zloop_timer(node->loop, (size_t)node->bus.heartbeat_ms, 0, s_on_heartbeat,
                                 node);
    return 0;
}

int xoc_node_serve(xoc_node_t *node, int capacity, xoc_worker_fn *handler, void *arg)
{
    node->worker = xoc_worker_new(node->service, &node->bus, capacity, handler, arg);
    if (!node->worker || xoc_worker_attach(node->worker, node->loop) != 0)
        return XOC_EIO;
    return 0;
}

void xoc_node_set_stats(xoc_node_t *node, xoc_node_stats_fn *fn, void *arg)
{
    node->stats_fn = fn;
    node->stats_arg = arg;
}

void xoc_node_set_metrics(xoc_node_t *node, xoc_node_metrics_fn *fn, void *arg)
{
    node->metrics_fn = fn;
    node->metrics_arg = arg;
}

void xoc_node_run(xoc_node_t *node)
{
    zsock_signal(node->pipe, 0);
    node->ready_signalled = true;
    /* the start event says where the metrics are (discovery from the bus: xoc-events sys.) */
    char detail[256] = "";
    if (node->metrics.http)
        snprintf(detail, sizeof detail, "metrics=%s", xoc_metrics_http_url(node->metrics.http));
    xoc_sys_publish(node->sys, "start", detail[0] ? detail : NULL, NULL, 0);
    zloop_start(node->loop);
}

void xoc_node_fini(xoc_node_t *node)
{
    if (node->sys && node->ready_signalled)
        xoc_sys_publish(node->sys, "stop", "terminated", NULL, 0);
    xoc_worker_destroy(&node->worker);
    zloop_destroy(&node->loop);
    xoc_sys_destroy(&node->sys);
    zsock_destroy(&node->pub);
    xoc_bus_opts_clear(&node->bus);
    xoc_service_metrics_stop(&node->metrics);
    if (!node->ready_signalled)
        zsock_signal(node->pipe, 1);
}
