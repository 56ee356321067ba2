/*  The request broker (Majordomo-like, README §4) and the event proxy (README §3).

    Requests:  client DEALER -> [req][body]  -> ROUTER -> worker [req+client][body]
    Replies:   worker  -> [rep+client][body] -> ROUTER -> client [rep][body]
    Workers register with ready, heartbeat both ways; the broker picks the next live worker
    of the service with spare capacity (round robin), queues when all are full, answers
    no-service at once when a service has no worker, and timeout when a deadline passes.

    The broker's loop is poll(2) on the sockets' ZMQ_FD, used edge-triggered: a socket is
    read until a read finds it empty, and only a socket whose descriptor fired (or that we
    sent on since) is read again. zloop's zmq_poll instead asks every socket for its
    ZMQ_EVENTS twice per wake-up (each a getpid and a poll system call in libzmq); this loop
    makes about half the system calls per request. Bodies are forwarded as they came
    (zmq_msg_send of the received message, no copy), without czmq's per-frame allocations. */
#include "xoc_broker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"
#include "xoc_service.h"

const xoc_cfg_key_t xoc_broker_cfg_keys[] = {
    {"bus.listen", XOC_CFG_STR, "", 0, 0,
     "endpoints to bind, same forms as bus.endpoint, or tcp://HOST:* for three free ports "
     "(default: bus.endpoint)"},
    {"zmq.io_threads", XOC_CFG_INT, "2", 1, 16,
     "ZeroMQ I/O threads of the bus: the event streams in and out and the requests are "
     "moved by these (2: publishers' and subscribers' TCP on separate threads)"},
    {"bus.hwm", XOC_CFG_INT, "100000", 100, 10000000,
     "high-water mark of the event proxy sockets, in messages"},
    {"bus.queue_max", XOC_CFG_INT, "10000", 1, 10000000,
     "requests queued per service while every worker is busy, then busy errors"},
    {"bus.grace_ms", XOC_CFG_INT, "-1", -1, 600000,
     "after a start, requests for unknown services wait this long for workers to register "
     "(-1: heartbeat_ms x liveness)"},
    {"bus.curve.clients", XOC_CFG_STR, "", 0, 0,
     "CurveZMQ: folder of the public certificates allowed to connect ('*': any client key); "
     "with bus.curve.cert this turns encryption on"},
    XOC_CFG_END};

#define S_KEY_MAX 64
#define S_ID_MAX 256   /* a ROUTER routing id has at most 255 bytes */
#define S_TICK_MS 10
#define S_BATCH 1024   /* messages read from the router before the loop looks elsewhere */

typedef struct s_service_t s_service_t;

typedef struct {
    char key[S_KEY_MAX]; /* hex of the ROUTER identity */
    zframe_t *identity;
    s_service_t *service;
    char instance[96];
    int capacity;
    int inflight;
    int64_t window;  /* heartbeat x liveness of this worker, ms */
    int64_t expiry;
    void *handle; /* in service->workers */
} s_worker_t;

struct s_service_t {
    char name[64];
    zlistx_t *workers; /* s_worker_t*, rotated for round robin */
    zlistx_t *queue;   /* s_request_t* waiting for capacity */
    uint64_t requests;
    xoc_metrics_series_t *m_ok, *m_workers, *m_queue, *m_seconds;
};

typedef struct {
    char key[S_KEY_MAX + 24]; /* client key : id */
    uint8_t client[S_ID_MAX]; /* routing id of the client */
    size_t client_len;
    uint64_t id;
    char method[128];
    s_service_t *service;
    s_worker_t *worker;     /* NULL while queued */
    int64_t deadline;
    int64_t received_us;    /* for xoc_bus_request_seconds */
    zmq_msg_t body;         /* kept while queued (has_body) */
    bool has_body;
    void *deadline_handle;  /* in self->deadlines */
    void *queue_handle;     /* in service->queue while queued */
} s_request_t;

typedef struct {
    int64_t expiry;
    int64_t window; /* learned from its heartbeats; lenient until then */
} s_client_t;

typedef struct {
    const xoc_cfg_t *cfg;
    xoc_bus_opts_t opts;
    zsock_t *pipe;
    zsock_t *router;
    void *router_h;     /* its libzmq handle */
    bool router_sent;   /* sent on the router since it was last read empty */
    msgpack_sbuffer sb; /* encoding buffer of the headers we send, reused */
    zsock_t *pub;       /* our own events (sys.bus.*) into the proxy */
    zactor_t *auth;
    zcert_t *cert;
    char endpoints[3][XOC_BUS_ENDPOINT_MAX];
    /* event proxy */
    pthread_t proxy_thread;
    zsock_t *xsub, *xpub, *proxy_ctl; /* used by the proxy thread only, once it runs */
    zsock_t *proxy_peer;              /* our end of the proxy's control socket */
    bool proxy_running;
    /* broker state */
    zhashx_t *services; /* name -> s_service_t */
    zhashx_t *workers;  /* key -> s_worker_t */
    zhashx_t *requests; /* key -> s_request_t (in flight or queued) */
    zhashx_t *clients;  /* key -> s_client_t */
    zlistx_t *deadlines; /* s_request_t* sorted by deadline */
    int64_t grace_until;
    int64_t next_hb;
    int64_t started;
    int queue_max;
    struct {
        uint64_t requests, replies, timeouts, no_service, busy, worker_lost, bad_frames;
    } stats;
    /* /metrics (xoc_service_metrics) */
    xoc_service_metrics_t metrics;
    xoc_metrics_family_t *m_requests, *m_workers, *m_queue, *m_seconds;
    xoc_metrics_series_t *m_in_flight, *m_clients, *m_bad_frames, *m_events, *m_event_bytes;
} s_broker_t;

/* ---- helpers ---------------------------------------------------------------------------- */

static void s_hex_key(const byte *data, size_t size, char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = size < (S_KEY_MAX - 1) / 2 ? size : (S_KEY_MAX - 1) / 2;
    for (size_t i = 0; i < n; i++) {
        key[2 * i] = hex[data[i] >> 4];
        key[2 * i + 1] = hex[data[i] & 15];
    }
    key[2 * n] = '\0';
}

static void s_request_key(const byte *client, size_t size, uint64_t id, char *key)
{
    char ck[S_KEY_MAX];
    s_hex_key(client, size, ck);
    snprintf(key, S_KEY_MAX + 24, "%s:%llx", ck, (unsigned long long)id);
}

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

static int s_deadline_cmp(const void *a, const void *b)
{
    int64_t x = ((const s_request_t *)a)->deadline, y = ((const s_request_t *)b)->deadline;
    return x < y ? -1 : x > y;
}

/* the dead-peer window of a peer announcing its heartbeat interval (0: ours) */
static int64_t s_window(const s_broker_t *self, uint64_t heartbeat_ms)
{
    int64_t hb = heartbeat_ms > 0 && heartbeat_ms <= 600000 ? (int64_t)heartbeat_ms
                                                             : self->opts.heartbeat_ms;
    return hb * self->opts.liveness;
}

/* ---- metrics ---------------------------------------------------------------------------- */

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void s_metrics_declare(s_broker_t *self)
{
    xoc_metrics_t *reg = self->metrics.reg;
    self->m_requests = xoc_metrics_family(
        reg, XOC_METRICS_COUNTER, "xoc_bus_requests_total",
        "requests routed, by service and outcome (ok, or the error sent to the client: "
        "no-service, busy, timeout, worker-lost, or the worker's own error)",
        "service,outcome", NULL, 0);
    self->m_workers = xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_bus_workers",
                                         "workers registered, by service", "service", NULL, 0);
    self->m_queue =
        xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_bus_queue_depth",
                           "requests waiting for a free worker, by service", "service", NULL, 0);
    self->m_seconds =
        xoc_metrics_family(reg, XOC_METRICS_HISTOGRAM, "xoc_bus_request_seconds",
                           "time from a request's arrival to its worker's reply, by service",
                           "service", xoc_metrics_latency_buckets, xoc_metrics_latency_nbuckets);
    self->m_in_flight =
        xoc_metrics_gauge(reg, "xoc_bus_requests_in_flight", "requests at a worker or queued");
    self->m_clients = xoc_metrics_gauge(reg, "xoc_bus_clients", "clients known (alive)");
    self->m_bad_frames = xoc_metrics_counter(reg, "xoc_bus_bad_frames_total",
                                             "malformed or unexpected messages received");
    self->m_events = xoc_metrics_counter(
        reg, "xoc_bus_events_total",
        "events passed through the event proxy (published while a subscriber listened)");
    self->m_event_bytes = xoc_metrics_counter(reg, "xoc_bus_event_bytes_total",
                                              "bytes of the events passed through the event proxy");
}

/* a request ended with this status: counted under its service (NULL: an unknown name) */
static void s_count(s_broker_t *self, s_service_t *svc, int status)
{
    if (status == 0 && svc) {
        xoc_metrics_inc(svc->m_ok);
        return;
    }
    xoc_metrics_inc(xoc_metrics_with(self->m_requests, svc ? svc->name : "_unknown",
                                     status ? xoc_err_name(status) : "ok"));
}

/* sends [route][header][body?] on the router; the body message is sent as it is (no copy)
   and left empty */
static int s_send(s_broker_t *self, const void *route, size_t route_len, xoc_msg_type_t type,
                  const void *header, zmq_msg_t *body)
{
    msgpack_sbuffer_clear(&self->sb);
    int rc = xoc_msg_encode(type, header, &self->sb);
    void *h = self->router_h;
    self->router_sent = true;
    if (!rc && (zmq_send(h, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(h, self->sb.data, self->sb.size,
                         (body ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0 ||
                (body && zmq_msg_send(body, h, ZMQ_DONTWAIT) < 0)))
        rc = XOC_EIO;
    return rc;
}

/* sends [client][rep][body?] */
static void s_reply(s_broker_t *self, const void *client, size_t client_len, uint64_t id,
                    int status, const char *reason, zmq_msg_t *body)
{
    xoc_msg_rep_t rep = {.id = id, .status = status, .reason = xoc_str(reason)};
    s_send(self, client, client_len, XOC_MSG_REP, &rep, body);
    if (status == 0)
        self->stats.replies++;
}

static void s_request_free(s_broker_t *self, s_request_t **req_p)
{
    s_request_t *req = *req_p;
    if (req->deadline_handle)
        zlistx_delete(self->deadlines, req->deadline_handle);
    if (req->queue_handle)
        zlistx_delete(req->service->queue, req->queue_handle);
    if (req->worker)
        req->worker->inflight--;
    zhashx_delete(self->requests, req->key);
    if (req->has_body)
        zmq_msg_close(&req->body);
    free(req);
    *req_p = NULL;
}

/* ends a request with an error reply to its client */
static void s_request_fail(s_broker_t *self, s_request_t *req, int status, const char *reason)
{
    s_count(self, req->service, status);
    s_reply(self, req->client, req->client_len, req->id, status, reason, NULL);
    s_request_free(self, &req);
}

/* ---- services and workers --------------------------------------------------------------- */

static s_service_t *s_service_require(s_broker_t *self, const char *name)
{
    s_service_t *svc = zhashx_lookup(self->services, name);
    if (svc)
        return svc;
    svc = calloc(1, sizeof *svc);
    snprintf(svc->name, sizeof svc->name, "%s", name);
    svc->workers = zlistx_new();
    svc->queue = zlistx_new();
    svc->m_ok = xoc_metrics_with(self->m_requests, svc->name, "ok");
    svc->m_workers = xoc_metrics_with(self->m_workers, svc->name);
    svc->m_queue = xoc_metrics_with(self->m_queue, svc->name);
    svc->m_seconds = xoc_metrics_with(self->m_seconds, svc->name);
    zhashx_insert(self->services, svc->name, svc);
    return svc;
}

/* body: the request's body as received, or NULL for the one kept while it was queued */
static void s_send_to_worker(s_broker_t *self, s_worker_t *w, s_request_t *req, zmq_msg_t *body)
{
    int64_t left = req->deadline - xoc_bus_now_ms();
    xoc_msg_req_t hdr = {.id = req->id, .service = xoc_str(req->service->name),
                         .method = xoc_str(req->method),
                         .timeout_ms = (uint64_t)(left > 0 ? left : 0),
                         .client = {req->client, (uint32_t)req->client_len}};
    if (!body && req->has_body)
        body = &req->body;
    s_send(self, zframe_data(w->identity), zframe_size(w->identity), XOC_MSG_REQ, &hdr, body);
    if (req->has_body) {
        zmq_msg_close(&req->body);
        req->has_body = false;
    }
    req->worker = w;
    w->inflight++;
    req->service->requests++;
}

/* next worker with spare capacity, round robin */
static s_worker_t *s_pick_worker(s_service_t *svc)
{
    size_t n = zlistx_size(svc->workers);
    for (size_t i = 0; i < n; i++) {
        s_worker_t *w = zlistx_first(svc->workers);
        zlistx_move_end(svc->workers, zlistx_cursor(svc->workers));
        if (w->inflight < w->capacity)
            return w;
    }
    return NULL;
}

/* sends queued requests while some worker has room */
static void s_drain_queue(s_broker_t *self, s_service_t *svc)
{
    s_request_t *req;
    while ((req = zlistx_first(svc->queue))) {
        s_worker_t *w = s_pick_worker(svc);
        if (!w)
            return;
        zlistx_delete(svc->queue, req->queue_handle);
        req->queue_handle = NULL;
        s_send_to_worker(self, w, req, NULL);
    }
}

static void s_worker_remove(s_broker_t *self, s_worker_t *w, int status, const char *why)
{
    xoc_info("worker gone service=%s instance=%s inflight=%d: %s", w->service->name,
             w->instance, w->inflight, why);
    /* fail what it was doing: the client learns at once instead of at its deadline */
    zlistx_t *keys = zhashx_keys(self->requests);
    for (char *k = zlistx_first(keys); k && w->inflight > 0; k = zlistx_next(keys)) {
        s_request_t *req = zhashx_lookup(self->requests, k);
        if (req && req->worker == w) {
            self->stats.worker_lost++;
            s_request_fail(self, req, status, why);
        }
    }
    zlistx_destroy(&keys);
    zlistx_delete(w->service->workers, w->handle);
    zframe_destroy(&w->identity);
    zhashx_delete(self->workers, w->key);
    free(w);
}

static s_worker_t *s_worker_register(s_broker_t *self, const void *route, size_t route_len,
                                     const char *key,
                                     xoc_str_t service, xoc_str_t instance, uint64_t capacity,
                                     uint64_t heartbeat_ms)
{
    s_worker_t *w = zhashx_lookup(self->workers, key);
    char name[64];
    xoc_str_copy(service, name, sizeof name);
    if (w && strcmp(w->service->name, name) != 0) {
        s_worker_remove(self, w, XOC_EWORKERLOST, "worker changed service");
        w = NULL;
    }
    if (!w) {
        w = calloc(1, sizeof *w);
        snprintf(w->key, sizeof w->key, "%s", key);
        w->identity = zframe_new(route, route_len);
        w->service = s_service_require(self, name);
        w->handle = zlistx_add_end(w->service->workers, w);
        zhashx_insert(self->workers, w->key, w);
        xoc_str_copy(instance, w->instance, sizeof w->instance);
        xoc_info("worker ready service=%s instance=%s", name, w->instance);
    }
    w->capacity = capacity > 0 && capacity < 1000000 ? (int)capacity : 64;
    w->window = s_window(self, heartbeat_ms);
    w->expiry = xoc_bus_now_ms() + w->window;
    s_drain_queue(self, w->service);
    return w;
}

/* ---- messages from peers ---------------------------------------------------------------- */

static void s_on_request(s_broker_t *self, const void *route, size_t route_len,
                         const char *route_key, const xoc_msg_req_t *hdr, zmq_msg_t *body)
{
    self->stats.requests++;
    char name[64];
    xoc_str_copy(hdr->service, name, sizeof name);
    s_service_t *svc = zhashx_lookup(self->services, name);
    int64_t now = xoc_bus_now_ms();
    if ((!svc || zlistx_size(svc->workers) == 0) && now >= self->grace_until) {
        self->stats.no_service++;
        s_count(self, svc, XOC_ENOSERVICE);
        char why[128];
        snprintf(why, sizeof why, "no worker for service '%s'", name);
        s_reply(self, route, route_len, hdr->id, XOC_ENOSERVICE, why, NULL);
        return;
    }
    s_request_t *req = calloc(1, sizeof *req);
    if (!req)
        return;
    s_request_key(route, route_len, hdr->id, req->key);
    if (zhashx_lookup(self->requests, req->key)) {
        free(req);
        s_reply(self, route, route_len, hdr->id, XOC_EPROTO, "request id already in flight",
                NULL);
        return;
    }
    memcpy(req->client, route, route_len);
    req->client_len = route_len;
    req->id = hdr->id;
    xoc_str_copy(hdr->method, req->method, sizeof req->method);
    req->service = svc ? svc : s_service_require(self, name);
    req->deadline = now + (int64_t)hdr->timeout_ms;
    req->received_us = s_now_us();
    zhashx_insert(self->requests, req->key, req);
    req->deadline_handle = zlistx_insert(self->deadlines, req, false);

    s_client_t *cl = zhashx_lookup(self->clients, route_key);
    if (!cl) {
        cl = calloc(1, sizeof *cl);
        cl->window = 10 * s_window(self, 0);
        zhashx_insert(self->clients, route_key, cl);
    }
    cl->expiry = now + cl->window;

    s_worker_t *w = s_pick_worker(req->service);
    if (w)
        s_send_to_worker(self, w, req, body);
    else if (zlistx_size(req->service->queue) >= (size_t)self->queue_max) {
        self->stats.busy++;
        s_request_fail(self, req, XOC_EBUSY, "service queue full");
    } else {
        if (body) { /* kept until a worker has room */
            zmq_msg_init(&req->body);
            zmq_msg_move(&req->body, body);
            req->has_body = true;
        }
        req->queue_handle = zlistx_add_end(req->service->queue, req);
    }
}

static void s_on_reply(s_broker_t *self, const char *route_key, const xoc_msg_rep_t *hdr,
                       zmq_msg_t *body)
{
    s_worker_t *w = zhashx_lookup(self->workers, route_key);
    if (w)
        w->expiry = xoc_bus_now_ms() + w->window;
    char key[S_KEY_MAX + 24];
    s_request_key(hdr->client.ptr, hdr->client.len, hdr->id, key);
    s_request_t *req = zhashx_lookup(self->requests, key);
    if (!req || req->worker != w || !w)
        return; /* late (timed out) or unknown: dropped */
    char reason[256];
    xoc_str_copy(hdr->reason, reason, sizeof reason);
    s_reply(self, req->client, req->client_len, req->id, (int)hdr->status,
            reason[0] ? reason : NULL, body);
    s_service_t *svc = req->service;
    s_count(self, svc, (int)hdr->status);
    xoc_metrics_observe(svc->m_seconds, (double)(s_now_us() - req->received_us) / 1e6);
    s_request_free(self, &req);
    s_drain_queue(self, svc);
}

static void s_on_heartbeat(s_broker_t *self, const void *route, size_t route_len,
                           const char *route_key, const xoc_msg_hb_t *hb)
{
    if (hb->service.len > 0) { /* a worker: (re-)register, e.g. after our restart */
        s_worker_register(self, route, route_len, route_key, hb->service, hb->instance, hb->capacity,
                          hb->heartbeat_ms);
        return;
    }
    s_client_t *cl = zhashx_lookup(self->clients, route_key);
    if (!cl) {
        cl = calloc(1, sizeof *cl);
        zhashx_insert(self->clients, route_key, cl);
    }
    cl->window = s_window(self, hb->heartbeat_ms);
    cl->expiry = xoc_bus_now_ms() + cl->window;
    xoc_msg_hb_t back = {.capacity = 0};
    s_send(self, route, route_len, XOC_MSG_HB, &back, NULL);
}

/* one message [route][head][body?] from the router (head, body: NULL when absent) */
static void s_on_message(s_broker_t *self, zmq_msg_t *route_msg, zmq_msg_t *head,
                         zmq_msg_t *body)
{
    const void *route = zmq_msg_data(route_msg);
    size_t route_len = zmq_msg_size(route_msg);
    char key[S_KEY_MAX];
    xoc_msg_t m;
    if (!head || xoc_msg_decode(&m, zmq_msg_data(head), zmq_msg_size(head)) != 0) {
        self->stats.bad_frames++;
        xoc_metrics_inc(self->m_bad_frames);
        xoc_debug("bad frame from peer: %s", head ? m.why : "missing header");
        if (head) /* tell the peer: it may be a client waiting for an answer */
            s_reply(self, route, route_len, 0, XOC_EPROTO, m.why, NULL);
        return;
    }
    s_hex_key(route, route_len, key);
    switch (m.type) {
    case XOC_MSG_REQ: s_on_request(self, route, route_len, key, &m.req, body); break;
    case XOC_MSG_REP: s_on_reply(self, key, &m.rep, body); break;
    case XOC_MSG_READY:
        s_worker_register(self, route, route_len, key, m.ready.service, m.ready.instance,
                          m.ready.capacity, m.ready.heartbeat_ms);
        break;
    case XOC_MSG_HB: s_on_heartbeat(self, route, route_len, key, &m.hb); break;
    case XOC_MSG_BYE: {
        s_worker_t *w = zhashx_lookup(self->workers, key);
        if (w)
            s_worker_remove(self, w, XOC_EWORKERLOST, "worker left");
        break;
    }
    default:
        self->stats.bad_frames++;
        xoc_metrics_inc(self->m_bad_frames);
        s_reply(self, route, route_len, 0, XOC_EPROTO, "unexpected message type", NULL);
    }
}

/* reads the router until a read finds it empty (then its ZMQ_FD signals what comes next:
   returns false) or S_BATCH messages were read (more may be there: returns true) */
static bool s_drain_router(s_broker_t *self)
{
    void *h = self->router_h;
    zmq_msg_t route, head, body;
    zmq_msg_init(&route);
    zmq_msg_init(&head);
    zmq_msg_init(&body);
    bool more_left = true;
    for (int i = 0; i < S_BATCH; i++) {
        if (zmq_msg_recv(&route, h, ZMQ_DONTWAIT) < 0) {
            more_left = false;
            break;
        }
        /* the parts of a message arrive together: the rest is there */
        bool has_head = zmq_msg_more(&route) && zmq_msg_recv(&head, h, ZMQ_DONTWAIT) >= 0;
        bool has_body = has_head && zmq_msg_more(&head) &&
                        zmq_msg_recv(&body, h, ZMQ_DONTWAIT) >= 0;
        int more = has_body ? zmq_msg_more(&body) : 0;
        while (more) { /* frames after the body: not part of the protocol, dropped */
            zmq_msg_t extra;
            zmq_msg_init(&extra);
            more = zmq_msg_recv(&extra, h, ZMQ_DONTWAIT) >= 0 && zmq_msg_more(&extra);
            zmq_msg_close(&extra);
        }
        s_on_message(self, &route, has_head ? &head : NULL, has_body ? &body : NULL);
    }
    zmq_msg_close(&route);
    zmq_msg_close(&head);
    zmq_msg_close(&body);
    if (!more_left)
        self->router_sent = false;
    return more_left;
}

/* ---- housekeeping (the one periodic timer) ---------------------------------------------- */

static void s_expire_deadlines(s_broker_t *self, int64_t now)
{
    s_request_t *req;
    while ((req = zlistx_first(self->deadlines)) && req->deadline <= now) {
        self->stats.timeouts++;
        xoc_debug("deadline expired method=%s req=%llu queued=%d", req->method,
                  (unsigned long long)req->id, req->queue_handle != NULL);
        s_request_fail(self, req, XOC_ETIMEOUT, "deadline expired");
    }
}

static void s_expire_workers(s_broker_t *self, int64_t now)
{
    zlistx_t *list = zhashx_values(self->workers);
    for (s_worker_t *w = zlistx_first(list); w; w = zlistx_next(list))
        if (w->expiry <= now)
            s_worker_remove(self, w, XOC_EWORKERLOST, "heartbeats missed");
    zlistx_destroy(&list);
}

static void s_expire_clients(s_broker_t *self, int64_t now)
{
    zlistx_t *keys = zhashx_keys(self->clients);
    for (char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        s_client_t *cl = zhashx_lookup(self->clients, k);
        if (cl->expiry > now)
            continue;
        /* a dead client: drop what is still queued for it (in-flight ones end at deadline) */
        size_t len = strlen(k);
        zlistx_t *rkeys = zhashx_keys(self->requests);
        for (char *rk = zlistx_first(rkeys); rk; rk = zlistx_next(rkeys)) {
            s_request_t *req = zhashx_lookup(self->requests, rk);
            if (req && req->queue_handle && strncmp(rk, k, len) == 0 && rk[len] == ':')
                s_request_free(self, &req);
        }
        zlistx_destroy(&rkeys);
        zhashx_delete(self->clients, k);
    }
    zlistx_destroy(&keys);
}

static void s_publish_heartbeat(s_broker_t *self, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 9);
#define S_STAT(name, value)                                                                     \
    msgpack_pack_str_with_body(&pk, name, strlen(name));                                         \
    msgpack_pack_uint64(&pk, (uint64_t)(value));
    S_STAT("requests", self->stats.requests);
    S_STAT("replies", self->stats.replies);
    S_STAT("timeouts", self->stats.timeouts);
    S_STAT("no_service", self->stats.no_service);
    S_STAT("busy", self->stats.busy);
    S_STAT("worker_lost", self->stats.worker_lost);
    S_STAT("bad_frames", self->stats.bad_frames);
    S_STAT("workers", zhashx_size(self->workers));
    S_STAT("in_flight", zhashx_size(self->requests));
#undef S_STAT
    char instance[96], host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(instance, sizeof instance, "%s:%d", host, (int)getpid());
    xoc_msg_sys_t sys = {.service = XOC_STR("bus"), .instance = xoc_str(instance),
                         .state = XOC_STR("heartbeat"), .pid = (uint64_t)getpid(),
                         .uptime_ms = (uint64_t)(now - self->started),
                         .stats = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    if (xoc_bus_publish(self->pub, "sys.bus.heartbeat", XOC_MSG_SYS, &sys) == 0)
        xoc_metrics_inc(self->metrics.heartbeats);
    msgpack_sbuffer_destroy(&sb);
}

/* gauges from the broker's state, and the proxy's counters (asked here, answered on the
   proxy's control socket: s_on_proxy_stats) */
static void s_metrics_refresh(s_broker_t *self)
{
    zlistx_t *list = zhashx_values(self->services);
    for (s_service_t *svc = zlistx_first(list); svc; svc = zlistx_next(list)) {
        xoc_metrics_set(svc->m_workers, (double)zlistx_size(svc->workers));
        xoc_metrics_set(svc->m_queue, (double)zlistx_size(svc->queue));
    }
    zlistx_destroy(&list);
    xoc_metrics_set(self->m_in_flight, (double)zhashx_size(self->requests));
    xoc_metrics_set(self->m_clients, (double)zhashx_size(self->clients));
    if (self->proxy_running)
        zstr_send(self->proxy_peer, "STATISTICS");
}

/* zmq_proxy_steerable's STATISTICS: 8 uint64 frames, the first two the messages and bytes
   received on the frontend (XSUB: the events published) */
static void s_on_proxy_stats(s_broker_t *self, zmsg_t *msg)
{
    zframe_t *in = msg ? zmsg_first(msg) : NULL, *bytes = msg ? zmsg_next(msg) : NULL;
    uint64_t n = 0, b = 0;
    if (msg && zmsg_size(msg) == 8 && zframe_size(in) == sizeof n &&
        zframe_size(bytes) == sizeof b) {
        memcpy(&n, zframe_data(in), sizeof n);
        memcpy(&b, zframe_data(bytes), sizeof b);
        xoc_metrics_set(self->m_events, (double)n);
        xoc_metrics_set(self->m_event_bytes, (double)b);
    }
}

static void s_on_tick(s_broker_t *self, int64_t now)
{
    s_expire_deadlines(self, now);
    if (now < self->next_hb)
        return;
    self->next_hb = now + self->opts.heartbeat_ms;
    s_expire_workers(self, now);
    s_expire_clients(self, now);
    /* grace over: whatever still waits for a service that never came gets no-service */
    if (now >= self->grace_until) {
        zlistx_t *list = zhashx_values(self->services);
        for (s_service_t *svc = zlistx_first(list); svc; svc = zlistx_next(list)) {
            s_request_t *req;
            while (zlistx_size(svc->workers) == 0 && (req = zlistx_first(svc->queue))) {
                self->stats.no_service++;
                char why[128];
                snprintf(why, sizeof why, "no worker for service '%s'", svc->name);
                s_request_fail(self, req, XOC_ENOSERVICE, why);
            }
        }
        zlistx_destroy(&list);
    }
    xoc_msg_hb_t hb = {.capacity = 0};
    zlistx_t *workers = zhashx_values(self->workers);
    for (s_worker_t *w = zlistx_first(workers); w; w = zlistx_next(workers))
        s_send(self, zframe_data(w->identity), zframe_size(w->identity), XOC_MSG_HB, &hb, NULL);
    zlistx_destroy(&workers);
    s_metrics_refresh(self);
    s_publish_heartbeat(self, now);
}

/* ---- event proxy: XSUB <-> XPUB on its own thread (libzmq's proxy, no copies) ------------- */

/* libzmq's proxy. Measured against our own loop (poll(2) on ZMQ_FD, edge-triggered, bursts of
   1 024) and with the streams pinned to separate I/O threads (ZMQ_AFFINITY): RESULTS.md, h-bus.
   Neither was clearly faster on the shared 2-core VM, so the simpler setup stays. */
static void *s_proxy_main(void *arg)
{
    s_broker_t *self = arg;
    zmq_proxy_steerable(zsock_resolve(self->xsub), zsock_resolve(self->xpub), NULL,
                        zsock_resolve(self->proxy_ctl));
    return NULL;
}

/* ---- setup and teardown ----------------------------------------------------------------- */

static int s_secure_server(s_broker_t *self, zsock_t *sock)
{
    if (!self->cert)
        return 0;
    zcert_apply(self->cert, sock);
    zsock_set_curve_server(sock, 1);
    return 0;
}

static int s_bind(s_broker_t *self, zsock_t *sock, const char *endpoint, int slot)
{
    int port = zsock_bind(sock, "%s", endpoint);
    if (port < 0) {
        xoc_error("cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return XOC_EIO;
    }
    char *last = zsock_last_endpoint(sock); /* a fresh string: ours to free */
    snprintf(self->endpoints[slot], XOC_BUS_ENDPOINT_MAX, "%s", last ? last : endpoint);
    free(last);
    return 0;
}

static int s_listen_spec(s_broker_t *self, xoc_bus_opts_t *listen)
{
    const char *spec = xoc_cfg_str(self->cfg, "bus.listen");
    if (!*spec)
        spec = xoc_cfg_str(self->cfg, "bus.endpoint");
    size_t n = strlen(spec);
    if (n > 2 && strcmp(spec + n - 2, ":*") == 0 && !strchr(spec, ',') &&
        n < XOC_BUS_ENDPOINT_MAX) {
        snprintf(listen->pub, sizeof listen->pub, "%s", spec);
        snprintf(listen->sub, sizeof listen->sub, "%s", spec);
        snprintf(listen->req, sizeof listen->req, "%s", spec);
        return 0;
    }
    if (xoc_bus_endpoints_parse(spec, listen)) {
        xoc_error("bad bus.listen '%s'", spec);
        return XOC_EINVAL;
    }
    return 0;
}

static int s_setup_curve(s_broker_t *self)
{
    const char *cert = xoc_cfg_str(self->cfg, "bus.curve.cert");
    const char *clients = xoc_cfg_str(self->cfg, "bus.curve.clients");
    if (!*clients)
        return 0;
    self->cert = *cert ? zcert_load(cert) : NULL;
    if (!self->cert) {
        xoc_error("bus.curve.clients is set but bus.curve.cert '%s' cannot be loaded", cert);
        return XOC_EINVAL;
    }
    self->auth = zactor_new(zauth, NULL);
    if (xoc_log_level_current >= XOC_LOG_DEBUG) {
        zstr_send(self->auth, "VERBOSE");
        zsock_wait(self->auth);
    }
    zstr_sendx(self->auth, "CURVE", strcmp(clients, "*") == 0 ? CURVE_ALLOW_ANY : clients, NULL);
    zsock_wait(self->auth);
    xoc_info("CurveZMQ on, server key %s, clients %s", zcert_public_txt(self->cert), clients);
    return 0;
}

static int s_setup_proxy(s_broker_t *self, const xoc_bus_opts_t *listen)
{
    int hwm = (int)xoc_cfg_int(self->cfg, "bus.hwm");
    self->xsub = zsock_new(ZMQ_XSUB);
    self->xpub = zsock_new(ZMQ_XPUB);
    self->proxy_ctl = zsock_new(ZMQ_PAIR);
    self->proxy_peer = zsock_new(ZMQ_PAIR);
    self->pub = zsock_new(ZMQ_PUB);
    zsock_set_rcvhwm(self->xsub, hwm);
    zsock_set_sndhwm(self->xpub, hwm);
    zsock_set_linger(self->xsub, 0);
    zsock_set_linger(self->xpub, 0);
    s_secure_server(self, self->xsub);
    s_secure_server(self, self->xpub);
    char ctl_ep[64], own_ep[64];
    snprintf(ctl_ep, sizeof ctl_ep, "inproc://xoc-bus-ctl-%p", (void *)self);
    snprintf(own_ep, sizeof own_ep, "inproc://xoc-bus-own-%p", (void *)self);
    if (s_bind(self, self->xsub, listen->pub, 0) || s_bind(self, self->xpub, listen->sub, 1) ||
        zsock_bind(self->proxy_ctl, "%s", ctl_ep) < 0 ||
        zsock_connect(self->proxy_peer, "%s", ctl_ep) < 0 ||
        zsock_bind(self->xsub, "%s", own_ep) < 0 || zsock_connect(self->pub, "%s", own_ep) < 0)
        return XOC_EIO;
    if (pthread_create(&self->proxy_thread, NULL, s_proxy_main, self) != 0)
        return XOC_EIO;
    self->proxy_running = true;
    return 0;
}

static int s_setup(s_broker_t *self, xoc_cfg_t *cfg)
{
    if (xoc_bus_opts_load(&self->opts, self->cfg))
        return XOC_EINVAL;
    int mrc = xoc_service_metrics_start(&self->metrics, "bus", cfg);
    if (mrc)
        return mrc;
    s_metrics_declare(self);
    xoc_bus_opts_t listen;
    memset(&listen, 0, sizeof listen);
    int rc = s_listen_spec(self, &listen);
    if (!rc)
        rc = s_setup_curve(self);
    if (!rc)
        rc = s_setup_proxy(self, &listen);
    if (rc)
        return rc;
    self->router = zsock_new(ZMQ_ROUTER);
    self->router_h = zsock_resolve(self->router);
    msgpack_sbuffer_init(&self->sb);
    zsock_set_linger(self->router, 0);
    zsock_set_sndhwm(self->router, 100000);
    zsock_set_rcvhwm(self->router, 100000);
    zsock_set_router_mandatory(self->router, 0);
    s_secure_server(self, self->router);
    rc = s_bind(self, self->router, listen.req, 2);
    if (rc)
        return rc;
    self->services = zhashx_new();
    self->workers = zhashx_new();
    self->requests = zhashx_new();
    self->clients = zhashx_new();
    zhashx_set_destructor(self->clients, s_free_item);
    self->deadlines = zlistx_new();
    zlistx_set_comparator(self->deadlines, s_deadline_cmp);
    self->started = xoc_bus_now_ms();
    self->queue_max = (int)xoc_cfg_int(self->cfg, "bus.queue_max");
    int64_t grace = xoc_cfg_int(self->cfg, "bus.grace_ms");
    if (grace < 0)
        grace = (int64_t)self->opts.heartbeat_ms * self->opts.liveness;
    self->grace_until = self->started + grace;
    xoc_info("listening pub=%s sub=%s req=%s", self->endpoints[0], self->endpoints[1],
             self->endpoints[2]);
    return 0;
}

static void s_teardown(s_broker_t *self)
{
    if (self->proxy_running) {
        zstr_send(self->proxy_peer, "TERMINATE");
        pthread_join(self->proxy_thread, NULL);
    }
    if (self->requests) {
        zlistx_t *list = zhashx_values(self->requests);
        for (s_request_t *req = zlistx_first(list); req; req = zlistx_next(list))
            s_request_free(self, &req);
        zlistx_destroy(&list);
    }
    if (self->services) {
        zlistx_t *list = zhashx_values(self->services);
        for (s_service_t *svc = zlistx_first(list); svc; svc = zlistx_next(list)) {
            for (s_worker_t *w = zlistx_first(svc->workers); w; w = zlistx_next(svc->workers)) {
                zframe_destroy(&w->identity);
                free(w);
            }
            zlistx_destroy(&svc->workers);
            zlistx_destroy(&svc->queue);
            free(svc);
        }
        zlistx_destroy(&list);
    }
    zhashx_destroy(&self->services);
    zhashx_destroy(&self->workers);
    zhashx_destroy(&self->requests);
    zhashx_destroy(&self->clients);
    zlistx_destroy(&self->deadlines);
    zsock_destroy(&self->router);
    zsock_destroy(&self->pub);
    zsock_destroy(&self->proxy_peer);
    zsock_destroy(&self->proxy_ctl);
    zsock_destroy(&self->xsub);
    zsock_destroy(&self->xpub);
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    xoc_bus_opts_clear(&self->opts);
    xoc_service_metrics_stop(&self->metrics);
    msgpack_sbuffer_destroy(&self->sb);
}

/* a command of the actor's owner; -1 on $TERM */
static int s_on_command(s_broker_t *self, const char *cmd)
{
    if (streq(cmd, "$TERM"))
        return -1;
    if (streq(cmd, "ENDPOINTS"))
        zstr_sendf(self->pipe, "%s,%s,%s", self->endpoints[0], self->endpoints[1],
                   self->endpoints[2]);
    else
        xoc_warn("unknown actor command '%s'", cmd);
    return 0;
}

/* reads a czmq socket until it is empty; -1 when the loop must end ($TERM, or the context
   is terminated) */
static int s_drain_pipe(s_broker_t *self, zsock_t *sock)
{
    zmsg_t *msg;
    int rc = 0;
    while (rc == 0 && (msg = zmsg_recv_nowait(sock))) {
        if (sock == self->pipe) {
            char *cmd = zmsg_popstr(msg);
            rc = cmd ? s_on_command(self, cmd) : 0;
            zstr_free(&cmd);
        } else
            s_on_proxy_stats(self, msg);
        zmsg_destroy(&msg);
    }
    return rc == 0 && zmq_errno() == ETERM ? -1 : rc;
}

enum { S_FD_PIPE, S_FD_ROUTER, S_FD_PEER, S_FD_COUNT };

/* the loop: poll(2) on the three sockets' ZMQ_FD, the tick as its timeout. A descriptor
   only says "look at this socket again", so a socket is read until a read finds it empty
   before the loop sleeps; sending on a socket may consume the signal of what it received
   (libzmq processes its commands then), so a socket we sent on is read again too. */
static void s_run(s_broker_t *self)
{
    zsock_t *socks[S_FD_COUNT] = {self->pipe, self->router, self->proxy_peer};
    struct pollfd pfd[S_FD_COUNT];
    bool look[S_FD_COUNT];
    for (int i = 0; i < S_FD_COUNT; i++) {
        pfd[i] = (struct pollfd){.fd = zsock_fd(socks[i]), .events = POLLIN};
        look[i] = true;
    }
    int64_t next_tick = xoc_bus_now_ms() + S_TICK_MS;
    while (true) {
        if (look[S_FD_PIPE] && s_drain_pipe(self, self->pipe) < 0)
            break;
        look[S_FD_PIPE] = false;
        if (look[S_FD_PEER] && s_drain_pipe(self, self->proxy_peer) < 0)
            break;
        look[S_FD_PEER] = false;
        if (look[S_FD_ROUTER] || self->router_sent)
            look[S_FD_ROUTER] = s_drain_router(self);
        int64_t now = xoc_bus_now_ms();
        if (now >= next_tick) {
            next_tick = now + S_TICK_MS;
            bool stats = self->proxy_running && now >= self->next_hb;
            s_on_tick(self, now);
            look[S_FD_PEER] |= stats; /* it sent STATISTICS on the proxy's control socket */
            continue;
        }
        int timeout = look[S_FD_ROUTER] ? 0 : (int)(next_tick - now);
        int n = poll(pfd, S_FD_COUNT, timeout);
        if (n < 0 && errno != EINTR) {
            xoc_error("poll: %s", strerror(errno));
            break;
        }
        for (int i = 0; n > 0 && i < S_FD_COUNT; i++)
            look[i] |= pfd[i].revents != 0;
    }
}

void xoc_broker_actor(zsock_t *pipe, void *cfg)
{
    s_broker_t self_;
    memset(&self_, 0, sizeof self_);
    s_broker_t *self = &self_;
    self->cfg = cfg;
    self->pipe = pipe;
    if (s_setup(self, cfg) != 0) {
        s_teardown(self);
        zsock_signal(pipe, 1);
        return;
    }
    zsock_signal(pipe, 0);
    s_run(self); /* until $TERM: the first signal does not stop us, our owner does */
    s_teardown(self);
}
