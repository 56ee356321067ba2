#include "xoc_worker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_log.h"

struct _xoc_worker_t {
    char service[64];
    xoc_metrics_family_t *m_requests, *m_seconds; /* xoc_worker_set_metrics */
    char instance[96];
    int capacity;
    const xoc_bus_opts_t *opts;
    zsock_t *sock;
    zloop_t *loop;
    int timer;
    int64_t last_heard;   /* last message from the broker */
    xoc_worker_fn *handler;
    void *arg;
    xoc_worker_drained_fn *drained;
    uint64_t served;
    uint64_t reconnects;
};

/* messages read in one go before the loop looks at its other sockets and timers */
#define S_DRAIN_MAX 64

static int s_on_socket(zloop_t *loop, zsock_t *sock, void *arg);

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int s_send_ready(xoc_worker_t *self)
{
    xoc_msg_ready_t ready = {.service = xoc_str(self->service),
                             .instance = xoc_str(self->instance),
                             .capacity = (uint64_t)self->capacity,
                             .heartbeat_ms = (uint64_t)self->opts->heartbeat_ms};
    return xoc_bus_send(self->sock, NULL, XOC_MSG_READY, &ready, NULL, 0);
}

static int s_connect(xoc_worker_t *self)
{
    self->sock = xoc_bus_connect(ZMQ_DEALER, self->opts->req, self->opts);
    if (!self->sock)
        return -1;
    self->last_heard = xoc_bus_now_ms();
    if (self->loop && zloop_reader(self->loop, self->sock, s_on_socket, self) != 0)
        return -1;
    return s_send_ready(self);
}

static void s_reconnect(xoc_worker_t *self)
{
    xoc_warn("broker silent, reconnecting service=%s instance=%s", self->service,
             self->instance);
    if (self->loop)
        zloop_reader_end(self->loop, self->sock);
    zsock_destroy(&self->sock);
    self->reconnects++;
    s_connect(self);
}

xoc_worker_t *xoc_worker_new(const char *service, const xoc_bus_opts_t *opts, int capacity,
                             xoc_worker_fn *handler, void *arg)
{
    xoc_worker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->service, sizeof self->service, "%s", service);
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(self->instance, sizeof self->instance, "%s:%d:%s", host, (int)getpid(),
             service);
    self->capacity = capacity > 0 ? capacity : 64;
    self->opts = opts;
    if (opts->metrics)
        xoc_worker_set_metrics(self, opts->metrics);
    self->handler = handler;
    self->arg = arg;
    self->timer = -1;
    if (s_connect(self) != 0)
        xoc_worker_destroy(&self);
    return self;
}

void xoc_worker_destroy(xoc_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_worker_t *self = *self_p;
    if (self->sock) {
        xoc_msg_bye_t bye = {.reason = XOC_STR("stopping")};
        xoc_bus_send(self->sock, NULL, XOC_MSG_BYE, &bye, NULL, 0);
        if (self->loop)
            zloop_reader_end(self->loop, self->sock);
    }
    if (self->loop && self->timer >= 0)
        zloop_timer_end(self->loop, self->timer);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    xoc_worker_t *self = arg;
    int64_t silent = xoc_bus_now_ms() - self->last_heard;
    if (silent > (int64_t)self->opts->heartbeat_ms * self->opts->liveness) {
        s_reconnect(self);
        return 0;
    }
    xoc_msg_hb_t hb = {.service = xoc_str(self->service), .instance = xoc_str(self->instance),
                       .capacity = (uint64_t)self->capacity,
                       .heartbeat_ms = (uint64_t)self->opts->heartbeat_ms};
    xoc_bus_send(self->sock, NULL, XOC_MSG_HB, &hb, NULL, 0);
    return 0;
}

int xoc_worker_attach(xoc_worker_t *self, zloop_t *loop)
{
    self->loop = loop;
    if (zloop_reader(loop, self->sock, s_on_socket, self) != 0)
        return -1;
    self->timer = zloop_timer(loop, (size_t)self->opts->heartbeat_ms, 0, s_on_timer, self);
    return self->timer < 0 ? -1 : 0;
}

static void s_dispatch(xoc_worker_t *self, const xoc_msg_req_t *hdr, zmsg_t *msg)
{
    xoc_request_t *req = calloc(1, sizeof *req);
    if (!req)
        return;
    req->id = hdr->id;
    xoc_str_copy(hdr->method, req->method, sizeof req->method);
    req->deadline_ms = xoc_bus_now_ms() + (int64_t)hdr->timeout_ms;
    req->received_us = s_now_us();
    req->client = zframe_new(hdr->client.ptr, hdr->client.len);
    req->body = zmsg_pop(msg); /* NULL when there is no body frame */
    self->served++;
    self->handler(self, req, self->arg);
}

/* one message from the broker; true when it was a request */
static bool s_on_message(xoc_worker_t *self, zmsg_t *msg)
{
    bool request = false;
    self->last_heard = xoc_bus_now_ms();
    zframe_t *head = zmsg_pop(msg);
    xoc_msg_t m;
    int rc = head ? xoc_msg_decode(&m, zframe_data(head), zframe_size(head)) : XOC_EPROTO;
    if (rc)
        xoc_warn("bad frame from broker service=%s: %s", self->service, m.why);
    else if (m.type == XOC_MSG_REQ) {
        s_dispatch(self, &m.req, msg);
        request = true;
    } else if (m.type == XOC_MSG_BYE) {
        xoc_info("broker dropped us, registering again service=%s", self->service);
        s_send_ready(self);
    }
    zframe_destroy(&head);
    zmsg_destroy(&msg);
    return request;
}

/* every message already there (up to S_DRAIN_MAX), then `drained` once */
static int s_on_socket(zloop_t *loop, zsock_t *sock, void *arg)
{
    xoc_worker_t *self = arg;
    bool requests = false;
    zmsg_t *msg;
    for (int i = 0; i < S_DRAIN_MAX && (msg = zmsg_recv_nowait(sock)) != NULL; i++)
        requests |= s_on_message(self, msg);
    if (requests && self->drained)
        self->drained(self, self->arg);
    return 0;
}

void xoc_worker_set_drained(xoc_worker_t *self, xoc_worker_drained_fn *fn)
{
    self->drained = fn;
}

int xoc_worker_reply(xoc_worker_t *self, xoc_request_t **req_p, int status, const char *reason,
                     const void *body, size_t body_len)
{
    xoc_request_t *req = *req_p;
    xoc_msg_rep_t rep = {.id = req->id, .status = status, .reason = xoc_str(reason),
                         .client = {zframe_data(req->client), (uint32_t)zframe_size(req->client)}};
    int rc = xoc_bus_send(self->sock, NULL, XOC_MSG_REP, &rep, body, body_len);
    if (self->m_requests) {
        /* a method the service does not have is not a label value a client may choose */
        const char *method = status == XOC_ENOMETHOD ? "_unknown" : req->method;
        xoc_metrics_inc(xoc_metrics_with(self->m_requests, self->service, method,
                                         status ? xoc_err_name(status) : "ok"));
        xoc_metrics_observe(xoc_metrics_with(self->m_seconds, self->service, method),
                            (double)(s_now_us() - req->received_us) / 1e6);
    }
    xoc_request_destroy(req_p);
    return rc;
}

void xoc_worker_set_metrics(xoc_worker_t *self, xoc_metrics_t *reg)
{
    self->m_requests = xoc_metrics_family(
        reg, XOC_METRICS_COUNTER, "xoc_requests_total",
        "bus requests answered, by service (the worker's), method and status (ok or the "
        "error; method _unknown: not a method of the service)",
        "service,method,status", NULL, 0);
    self->m_seconds =
        xoc_metrics_family(reg, XOC_METRICS_HISTOGRAM, "xoc_request_seconds",
                           "time from a request's arrival to its answer, by service and method",
                           "service,method", xoc_metrics_latency_buckets,
                           xoc_metrics_latency_nbuckets);
}

void xoc_request_destroy(xoc_request_t **req_p)
{
    xoc_request_t *req = *req_p;
    if (!req)
        return;
    zframe_destroy(&req->client);
    zframe_destroy(&req->body);
    free(req);
    *req_p = NULL;
}

int xoc_worker_reply_msg(xoc_worker_t *self, xoc_request_t **req_p, xoc_msg_type_t type,
                         const void *msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = xoc_msg_encode(type, msg, &sb);
    if (rc == 0)
        rc = xoc_worker_reply(self, req_p, 0, NULL, sb.data, sb.size);
    else
        rc = xoc_worker_reply(self, req_p, rc, xoc_strerror(rc), NULL, 0);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int xoc_worker_decode(xoc_worker_t *self, xoc_request_t **req_p, xoc_msg_type_t type,
                      xoc_msg_t *out)
{
    xoc_request_t *req = *req_p;
    int rc = req->body ? xoc_msg_decode_as(out, type, zframe_data(req->body),
                                           zframe_size(req->body))
                       : XOC_EMISSING;
    if (rc) {
        const char *why = req->body ? out->why : "request has no body";
        xoc_debug("bad request body method=%s req=%llu: %s", req->method,
                  (unsigned long long)req->id, why);
        xoc_worker_reply(self, req_p, rc, why, NULL, 0);
    }
    return rc;
}

const char *xoc_worker_instance(const xoc_worker_t *self)
{
    return self->instance;
}

uint64_t xoc_worker_served(const xoc_worker_t *self)
{
    return self->served;
}
