#include "xoc_client.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_err.h"
#include "xoc_log.h"

typedef struct {
    uint64_t id;
    int64_t give_up_ms; /* local deadline: the request's own plus one heartbeat */
    xoc_client_fn *fn;
    void *arg;
    bool done;
    xoc_reply_t *sync_reply; /* set for the request a sync call waits for */
} s_pending_t;

struct _xoc_client_t {
    const xoc_bus_opts_t *opts;
    zsock_t *sock;
    zloop_t *loop;
    int timer;
    uint64_t next_id;
    zhashx_t *pending; /* "%llx" id -> s_pending_t */
    int64_t last_hb;
    int64_t awaiting;  /* when the first heartbeat not answered yet was sent (0: none) */
};

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void xoc_reply_clear(xoc_reply_t *reply)
{
    zframe_destroy(&reply->body);
    reply->status = 0;
    reply->reason[0] = '\0';
}

int xoc_reply_decode(const xoc_reply_t *reply, xoc_msg_type_t type, xoc_msg_t *out)
{
    if (!reply->body) {
        memset(out, 0, sizeof *out);
        snprintf(out->why, sizeof out->why, "reply has no body");
        return XOC_EMISSING;
    }
    return xoc_msg_decode_as(out, type, zframe_data(reply->body), zframe_size(reply->body));
}

static void s_pending_free(void **item)
{
    free(*item);
    *item = NULL;
}

xoc_client_t *xoc_client_new(const xoc_bus_opts_t *opts)
{
    xoc_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = opts;
    self->timer = -1;
    self->next_id = 1;
    self->pending = zhashx_new();
    zhashx_set_destructor(self->pending, s_pending_free);
    self->sock = xoc_bus_connect(ZMQ_DEALER, opts->req, opts);
    if (!self->sock || !self->pending)
        xoc_client_destroy(&self);
    return self;
}

void xoc_client_destroy(xoc_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_client_t *self = *self_p;
    if (self->loop) {
        zloop_reader_end(self->loop, self->sock);
        if (self->timer >= 0)
            zloop_timer_end(self->loop, self->timer);
    }
    zhashx_destroy(&self->pending);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

static void s_key(uint64_t id, char *key)
{
    snprintf(key, 24, "%llx", (unsigned long long)id);
}

static void s_complete(xoc_client_t *self, s_pending_t *p, xoc_reply_t *reply)
{
    char key[24];
    s_key(p->id, key);
    if (p->sync_reply) {
        *p->sync_reply = *reply; /* moves the body frame */
        reply->body = NULL;
        p->done = true;
        return; /* the sync caller removes it */
    }
    xoc_client_fn *fn = p->fn;
    void *arg = p->arg;
    zhashx_delete(self->pending, key);
    if (fn)
        fn(self, reply, arg);
}

static int s_send(xoc_client_t *self, uint64_t id, const char *service, const char *method,
                  const void *body, size_t body_len, int timeout_ms)
{
    xoc_msg_req_t req = {.id = id, .service = xoc_str(service), .method = xoc_str(method),
                         .timeout_ms = (uint64_t)(timeout_ms > 0 ? timeout_ms : 0)};
    return xoc_bus_send(self->sock, NULL, XOC_MSG_REQ, &req, body, body_len);
}

static s_pending_t *s_track(xoc_client_t *self, uint64_t id, int timeout_ms)
{
    s_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->id = id;
    p->give_up_ms = xoc_bus_now_ms() + timeout_ms + self->opts->heartbeat_ms;
    char key[24];
    s_key(id, key);
    zhashx_insert(self->pending, key, p);
    return p;
}

/* handles one message from the broker */
static void s_on_message(xoc_client_t *self, zmsg_t *msg)
{
    self->awaiting = 0; /* the broker is there */
    zframe_t *head = zmsg_pop(msg);
    xoc_msg_t m;
    if (!head || xoc_msg_decode(&m, zframe_data(head), zframe_size(head)) != 0) {
        xoc_warn("bad frame from broker: %s", head ? m.why : "empty message");
        zframe_destroy(&head);
        return;
    }
    if (m.type == XOC_MSG_REP) {
        char key[24];
        s_key(m.rep.id, key);
        s_pending_t *p = zhashx_lookup(self->pending, key);
        if (p && !p->done) {
            xoc_reply_t reply = {.status = (int)m.rep.status, .body = zmsg_pop(msg)};
            xoc_str_copy(m.rep.reason, reply.reason, sizeof reply.reason);
            s_complete(self, p, &reply);
            xoc_reply_clear(&reply);
        }
    }
    zframe_destroy(&head);
}

/* ends every pending request (all: also those whose time has not come) with status */
static void s_end_pending(xoc_client_t *self, bool all, int status, const char *why)
{
    int64_t now = xoc_bus_now_ms();
    zlistx_t *keys = zhashx_keys(self->pending);
    for (char *key = keys ? zlistx_first(keys) : NULL; key; key = zlistx_next(keys)) {
        s_pending_t *p = zhashx_lookup(self->pending, key);
        if (p && !p->done && (all || now >= p->give_up_ms)) {
            xoc_reply_t reply = {.status = status};
            snprintf(reply.reason, sizeof reply.reason, "%s", why);
            s_complete(self, p, &reply);
        }
    }
    zlistx_destroy(&keys);
}

/* requests past their deadline; and when the broker has not answered our heartbeats for
   `liveness` of them, every request: a broker that died took them with it, and a new one
   will never answer them — waiting for each deadline would stall the callers for nothing */
static void s_expire(xoc_client_t *self)
{
    int64_t now = xoc_bus_now_ms();
    int64_t window = (int64_t)self->opts->heartbeat_ms * (self->opts->liveness > 0
                                                              ? self->opts->liveness
                                                              : 3);
    if (self->awaiting && now - self->awaiting > window && zhashx_size(self->pending) > 0) {
        xoc_warn("no answer from the broker for %lld ms: %zu requests given up",
                 (long long)(now - self->awaiting), zhashx_size(self->pending));
        self->awaiting = 0; /* a new window for the requests sent from now */
        s_end_pending(self, true, XOC_ETIMEOUT, "no answer from the bus (its broker is gone)");
        return;
    }
    s_end_pending(self, false, XOC_ETIMEOUT, "no answer from the bus");
}

void xoc_client_cancel_all(xoc_client_t *self)
{
    s_end_pending(self, true, XOC_ECANCELED, "canceled");
}

static void s_heartbeat(xoc_client_t *self)
{
    int64_t now = xoc_bus_now_ms();
    if (now - self->last_hb < self->opts->heartbeat_ms)
        return;
    self->last_hb = now;
    if (!self->awaiting)
        self->awaiting = now;
    xoc_msg_hb_t hb = {.heartbeat_ms = (uint64_t)self->opts->heartbeat_ms};
    xoc_bus_send(self->sock, NULL, XOC_MSG_HB, &hb, NULL, 0);
}

/* reads what the socket holds until a read finds it empty or `until` is done (what else
   waits then is read by the next call); true when it read something */
static bool s_read(xoc_client_t *self, const s_pending_t *until)
{
    bool got = false;
    zmsg_t *msg;
    while (!(until && until->done) && (msg = zmsg_recv_nowait(self->sock))) {
        s_on_message(self, msg);
        zmsg_destroy(&msg);
        got = true;
    }
    return got;
}

int xoc_client_call(xoc_client_t *self, const char *service, const char *method,
                    const void *body, size_t body_len, int timeout_ms, xoc_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    uint64_t id = self->next_id++;
    s_pending_t *p = s_track(self, id, timeout_ms);
    if (!p)
        return reply->status = XOC_ENOMEM;
    p->sync_reply = reply;
    int rc = s_send(self, id, service, method, body, body_len, timeout_ms);
    /* spin a little before sleeping: an idle vCPU takes tens of µs to wake up. A read that
       finds nothing costs libzmq two system calls (zmq_poll: three) */
    int64_t spin_end = s_now_us() + (self->opts->spin_us > 0 ? self->opts->spin_us : 0);
    while (rc == 0 && !p->done) {
        if (s_read(self, p))
            continue;
        if (zsys_interrupted) {
            rc = XOC_ECANCELED;
            break;
        }
        if (s_now_us() < spin_end)
            continue;
        int64_t left = p->give_up_ms - xoc_bus_now_ms();
        int wait = (int)(left < self->opts->heartbeat_ms ? left : self->opts->heartbeat_ms);
        zmq_pollitem_t item = {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0};
        if (wait > 0)
            zmq_poll(&item, 1, wait);
        s_read(self, p);
        s_heartbeat(self);
        s_expire(self);
    }
    char key[24];
    s_key(id, key);
    if (rc) {
        reply->status = rc;
        snprintf(reply->reason, sizeof reply->reason, "%s", xoc_strerror(rc));
    }
    zhashx_delete(self->pending, key);
    s_heartbeat(self);
    if (zhashx_size(self->pending) > 0) /* requests of xoc_client_send waiting too */
        s_expire(self);
    return reply->status;
}

int xoc_client_call_msg(xoc_client_t *self, const char *service, const char *method,
                        xoc_msg_type_t type, const void *msg, int timeout_ms,
                        xoc_reply_t *reply)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = xoc_msg_encode(type, msg, &sb);
    if (rc == 0)
        rc = xoc_client_call(self, service, method, sb.data, sb.size, timeout_ms, reply);
    else {
        memset(reply, 0, sizeof *reply);
        reply->status = rc;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static int s_on_socket(zloop_t *loop, zsock_t *sock, void *arg)
{
    xoc_client_t *self = arg;
    zmsg_t *msg;
    for (int i = 0; i < 256 && (msg = zmsg_recv_nowait(sock)); i++) {
        s_on_message(self, msg);
        zmsg_destroy(&msg);
    }
    return 0;
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    xoc_client_t *self = arg;
    s_heartbeat(self);
    s_expire(self);
    return 0;
}

int xoc_client_attach(xoc_client_t *self, zloop_t *loop)
{
    self->loop = loop;
    if (zloop_reader(loop, self->sock, s_on_socket, self) != 0)
        return -1;
    int tick = self->opts->heartbeat_ms < 100 ? self->opts->heartbeat_ms : 100;
    self->timer = zloop_timer(loop, (size_t)tick, 0, s_on_timer, self);
    return self->timer < 0 ? -1 : 0;
}

int xoc_client_send(xoc_client_t *self, const char *service, const char *method,
                    const void *body, size_t body_len, int timeout_ms, xoc_client_fn *fn,
                    void *arg)
{
    uint64_t id = self->next_id++;
    s_pending_t *p = s_track(self, id, timeout_ms);
    if (!p)
        return XOC_ENOMEM;
    p->fn = fn;
    p->arg = arg;
    int rc = s_send(self, id, service, method, body, body_len, timeout_ms);
    if (rc) {
        char key[24];
        s_key(id, key);
        zhashx_delete(self->pending, key);
    }
    return rc;
}

void xoc_client_pump(xoc_client_t *self, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, timeout_ms) > 0) {
        zmsg_t *msg;
        while ((msg = zmsg_recv_nowait(self->sock))) {
            s_on_message(self, msg);
            zmsg_destroy(&msg);
        }
    }
    s_heartbeat(self);
    s_expire(self);
}

size_t xoc_client_pending(const xoc_client_t *self)
{
    return zhashx_size(self->pending);
}
