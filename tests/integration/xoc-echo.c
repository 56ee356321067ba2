/*  xoc-echo — a minimal bus service used by the integration tests and as the smallest
    example of a module: it serves echo.ping (echo body back, optionally after delay_ms,
    naming the instance that answered).                                                    */
#include <stdio.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_node.h"

static const xoc_cfg_key_t s_keys[] = {
    {"echo.service", XOC_CFG_STR, "echo", 0, 0, "service name to register"},
    XOC_CFG_END};

typedef struct {
    xoc_node_t node;
    uint64_t pings;
    zlistx_t *delayed; /* s_delayed_t* waiting for their timer */
} s_echo_t;

typedef struct {
    s_echo_t *echo;
    xoc_request_t *req;
    void *handle; /* in echo->delayed */
} s_delayed_t;

static void s_answer(s_echo_t *self, xoc_request_t **req_p)
{
    xoc_request_t *req = *req_p;
    xoc_msg_t m;
    xoc_msg_echo_t out = {.instance = xoc_str(xoc_worker_instance(self->node.worker))};
    if (req->body && xoc_msg_decode_as(&m, XOC_MSG_ECHO, zframe_data(req->body),
                                       zframe_size(req->body)) == 0) {
        out.text = m.echo.text;
        out.data = m.echo.data;
    }
    self->pings++;
    xoc_worker_reply_msg(self->node.worker, req_p, XOC_MSG_ECHO, &out);
}

static int s_on_delay(zloop_t *loop, int timer_id, void *arg)
{
    s_delayed_t *d = arg;
    s_answer(d->echo, &d->req);
    zlistx_delete(d->echo->delayed, d->handle);
    free(d);
    return 0;
}

static void s_handle(xoc_worker_t *worker, xoc_request_t *req, void *arg)
{
    s_echo_t *self = arg;
    if (strcmp(req->method, "echo.ping") != 0) {
        xoc_worker_reply(worker, &req, XOC_ENOMETHOD, "unknown method", NULL, 0);
        return;
    }
    xoc_msg_t m;
    if (req->body && xoc_msg_decode_as(&m, XOC_MSG_ECHO, zframe_data(req->body),
                                       zframe_size(req->body)) != 0) {
        xoc_worker_reply(worker, &req, XOC_EINVAL, m.why, NULL, 0);
        return;
    }
    if (req->body && m.echo.delay_ms > 0) {
        s_delayed_t *d = calloc(1, sizeof *d);
        d->echo = self;
        d->req = req;
        d->handle = zlistx_add_end(self->delayed, d);
        zloop_timer(self->node.loop, (size_t)m.echo.delay_ms, 1, s_on_delay, d);
        return;
    }
    s_answer(self, &req);
}

static void s_stats(msgpack_packer *pk, void *arg)
{
    s_echo_t *self = arg;
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "pings", 5);
    msgpack_pack_uint64(pk, self->pings);
}

static void s_actor(zsock_t *pipe, void *cfg)
{
    s_echo_t self;
    memset(&self, 0, sizeof self);
    self.delayed = zlistx_new();
    const char *name = xoc_cfg_str(cfg, "echo.service");
    if (xoc_node_init(&self.node, name, pipe, cfg) == 0 &&
        xoc_node_serve(&self.node, 64, s_handle, &self) == 0) {
        xoc_node_set_stats(&self.node, s_stats, &self);
        xoc_node_run(&self.node);
    }
    /* stopping with delayed answers in hand: their clients get a timeout */
    for (s_delayed_t *d = zlistx_first(self.delayed); d; d = zlistx_next(self.delayed)) {
        xoc_request_destroy(&d->req);
        free(d);
    }
    zlistx_destroy(&self.delayed);
    xoc_node_fini(&self.node);
}

static void s_ready(zactor_t *actor, const xoc_cfg_t *cfg)
{
    printf("xoc-echo: ready\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    return xoc_service_main("xoc-echo", "test service answering echo.ping", s_keys, s_actor,
                            s_ready, argc, argv);
}
