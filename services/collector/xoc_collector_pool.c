#include "xoc_collector_pool.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "xoc_client.h"
#include "xoc_collector_call.h"
#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"
#include "xoc_xapi.h"
#include "xoc_xform.h"

#define S_CHUNK_CHANGES 2000          /* changes per change set of an image */
/* bytes per change set: an image's peak memory is the batch plus S_WINDOW encoded change
   sets kept until acknowledged (and their copies in the bus queues), ~6 x this. 4 MB: the
   10 000-VM load peaked 16 MB over what the collector keeps, 1 MB: 6 MB, 512 KB: 3.5 MB.
   The cache commits two such sets together (xoc_cache.c, S_BATCH_BYTES) */
#define S_CHUNK_BYTES (512u << 10)
/* a change set not acknowledged within this is sent again (the cache acknowledges what it
   has already): the bound of the stall when one was lost with a bus that restarted */
#define S_ACK_TIMEOUT_MS 5000
#define S_EVENT_TIMEOUT_S 60.1        /* as xo-server: a double, so XML-RPC sends <double> */
#define S_EVENT_TIMEOUT_BUSY_S 1.0    /* while change sets wait for their acknowledgement */
#define S_BACKOFF_MIN_MS 500
#define S_BACKOFF_MAX_MS 60000
#define S_MAX_HOSTS 64
#define S_WINDOW 4                    /* change sets in flight (pipelined, bounded) */

typedef enum { S_OK = 0, S_STOP, S_AUTH, S_RELOAD, S_LOST } s_outcome_t;

/* change set being built: an array of [op, id, type, object?] */
typedef struct {
    msgpack_sbuffer items;
    msgpack_packer pk;
    uint32_t count;
} s_batch_t;

/* a change set sent and not yet acknowledged */
typedef struct {
    uint64_t seq;
    bool busy;          /* sent, its outcome not consumed yet */
    bool done;          /* its reply (or error) arrived */
    int status;
    char reason[256];
    msgpack_sbuffer bytes; /* the encoded change set, kept for a resend */
    struct _xoc_collector_pool_t *pool;
} s_flight_t;

struct _xoc_collector_pool_t {
    xoc_collector_server_t server;
    const xoc_bus_opts_t *bus;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;       /* guards status, xapi (for cancel) and the wait below */
    pthread_cond_t wake;
    xoc_collector_status_t status;
    xoc_xapi_t *xapi;           /* the connection in use (cancelled on stop) */
    xoc_client_t *client;       /* thread-owned */
    xoc_collector_call_t *call; /* the pool's XAPI gateway (thread-owned) */
    zsock_t *pub;               /* thread-owned */
    char hosts[S_MAX_HOSTS][256]; /* addresses of the pool members, for failover */
    int nhosts;
    uint64_t epoch, seq;
    s_batch_t batch;
    s_flight_t flights[S_WINDOW]; /* slot seq % S_WINDOW */
    /* metrics: this server's series (NULL without metrics) */
    const xoc_collector_metrics_t *m;
    xoc_metrics_series_t *m_state[3], *m_reconnects, *m_events, *m_sent, *m_acked, *m_in_flight,
        *m_objects;
};

static const char *const s_states[3] = {"connected", "connecting", "disconnected"};

/* every XAPI call of the connection (an xoc_xapi_observe_fn) */
static void s_observe(const char *method, int rc, double seconds, void *arg)
{
    xoc_collector_pool_t *self = arg;
    if (self->m)
        xoc_metrics_observe(xoc_metrics_with(self->m->xapi_seconds, self->server.id, method),
                            seconds);
}

static void s_metrics_init(xoc_collector_pool_t *self)
{
    const xoc_collector_metrics_t *m = self->m;
    if (!m)
        return;
    const char *id = self->server.id;
    for (int i = 0; i < 3; i++)
        self->m_state[i] = xoc_metrics_with(m->state, id, s_states[i]);
    self->m_reconnects = xoc_metrics_with(m->reconnects, id);
    self->m_events = xoc_metrics_with(m->events, id);
    self->m_sent = xoc_metrics_with(m->sent, id);
    self->m_acked = xoc_metrics_with(m->acked, id);
    self->m_in_flight = xoc_metrics_with(m->in_flight, id);
    self->m_objects = xoc_metrics_with(m->objects, id);
}

/* change sets sent and not answered yet */
static void s_metrics_in_flight(xoc_collector_pool_t *self)
{
    int n = 0;
    for (int i = 0; i < S_WINDOW; i++)
        n += self->flights[i].busy && !self->flights[i].done;
    xoc_metrics_set(self->m_in_flight, n);
}

/* ---- status --------------------------------------------------------------------------- */

static void s_publish_status(xoc_collector_pool_t *self)
{
    xoc_collector_status_t st;
    xoc_collector_pool_status(self, &st);
    char topic[160];
    snprintf(topic, sizeof topic, "server.%s", self->server.id);
    xoc_msg_server_status_t m = {.id = xoc_str(self->server.id), .status = xoc_str(st.status),
                                 .error = xoc_str(st.error), .pool = xoc_str(st.pool),
                                 .master = xoc_str(st.master), .epoch = st.epoch,
                                 .objects = st.objects};
    xoc_bus_publish(self->pub, topic, XOC_MSG_SERVER_STATUS, &m);
}

static void s_set_status(xoc_collector_pool_t *self, const char *status, const char *error)
{
    for (int i = 0; i < 3; i++)
        xoc_metrics_set(self->m_state[i], strcmp(status, s_states[i]) == 0);
    pthread_mutex_lock(&self->lock);
    snprintf(self->status.status, sizeof self->status.status, "%s", status);
    /* the last error stays visible while reconnecting; a connection clears it */
    if (error || strcmp(status, "connected") == 0)
        snprintf(self->status.error, sizeof self->status.error, "%s", error ? error : "");
    pthread_mutex_unlock(&self->lock);
    if (strcmp(status, "connected") == 0)
        xoc_info("server=%s pool=%s connected master=%s objects=%llu", self->server.id,
                 self->status.pool, self->status.master,
                 (unsigned long long)self->status.objects);
    else if (error && *error)
        xoc_warn("server=%s %s: %s", self->server.id, status, error);
    s_publish_status(self);
}

void xoc_collector_pool_status(xoc_collector_pool_t *self, xoc_collector_status_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->status;
    pthread_mutex_unlock(&self->lock);
}

const xoc_collector_server_t *xoc_collector_pool_server(const xoc_collector_pool_t *self)
{
    return &self->server;
}

/* waits up to ms unless stopping; returns false when stopping */
static bool s_pause(xoc_collector_pool_t *self, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->lock);
    while (!atomic_load(&self->stop) &&
           pthread_cond_timedwait(&self->wake, &self->lock, &ts) == 0)
        ;
    pthread_mutex_unlock(&self->lock);
    return !atomic_load(&self->stop);
}

/* ---- change sets ------------------------------------------------------------------------ */

/* the items are written after room for an array32 header, filled in by s_send: the change
   set is sent from this buffer, without a copy of up to S_CHUNK_BYTES */
#define S_HEAD 5

static void s_batch_reset(s_batch_t *b)
{
    msgpack_sbuffer_clear(&b->items);
    msgpack_sbuffer_write(&b->items, "\xdd\0\0\0\0", S_HEAD);
    b->count = 0;
}

/* gives the memory of a large batch (an image) back; an empty batch remains */
static void s_batch_release(s_batch_t *b)
{
    msgpack_sbuffer_destroy(&b->items);
    msgpack_sbuffer_init(&b->items);
    msgpack_packer_init(&b->pk, &b->items, msgpack_sbuffer_write);
    s_batch_reset(b);
}

static int s_emit(void *arg, bool enter, const char *id, const char *type, const void *obj,
                  size_t len);

/* ---- pipelined change sets: up to S_WINDOW in flight, in order ----------------------- */

/* the answer of one sending of a change set: counted only while its slot still waits for
   that very change set (a recovery may have resent and settled it already) */
typedef struct {
    s_flight_t *f;
    uint64_t epoch, seq;
} s_ack_t;

static void s_on_ack(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_ack_t *t = arg;
    s_flight_t *f = t->f;
    bool current = f->busy && !f->done && f->seq == t->seq && f->pool->epoch == t->epoch;
    free(t);
    if (!current)
        return;
    f->done = true;
    f->status = reply->status;
    snprintf(f->reason, sizeof f->reason, "%s", reply->reason);
    if (f->status == 0)
        xoc_metrics_inc(f->pool->m_acked);
    s_metrics_in_flight(f->pool);
}

static void s_flight_release(s_flight_t *f)
{
    f->busy = false;
    msgpack_sbuffer_clear(&f->bytes);
}

static void s_flights_reset(xoc_collector_pool_t *self)
{
    for (int i = 0; i < S_WINDOW; i++)
        s_flight_release(&self->flights[i]);
    s_metrics_in_flight(self);
}

/* a change set's outcome was consumed: acknowledged */
static void s_acked(xoc_collector_pool_t *self, s_flight_t *f)
{
    s_flight_release(f);
    s_metrics_in_flight(self);
}

/* resends one change set until the cache acknowledges it (or refuses it, or we stop) */
static s_outcome_t s_resend(xoc_collector_pool_t *self, s_flight_t *f)
{
    int delay = S_BACKOFF_MIN_MS;
    while (!atomic_load(&self->stop)) {
        xoc_reply_t r;
        int rc = xoc_client_call(self->client, "cache", "cache.apply", f->bytes.data,
                                 f->bytes.size, S_ACK_TIMEOUT_MS, &r);
        char reason[256];
        snprintf(reason, sizeof reason, "%s", r.reason);
        xoc_reply_clear(&r);
        if (rc == 0) {
            xoc_metrics_inc(self->m_acked);
            return S_OK;
        }
        if (rc == XOC_ESTATE || rc == XOC_EINVAL || rc == XOC_EPROTO || rc == XOC_EMISSING) {
            /* the cache refuses this sequence: start again with a new epoch and full image */
            xoc_error("server=%s pool=%s seq=%llu refused by the cache: %s (%s)",
                      self->server.id, self->status.pool, (unsigned long long)f->seq,
                      xoc_strerror(rc), reason);
            return S_RELOAD;
        }
        xoc_warn("server=%s pool=%s seq=%llu not acknowledged: %s (%s), retrying",
                 self->server.id, self->status.pool, (unsigned long long)f->seq,
                 xoc_strerror(rc), reason);
        if (!s_pause(self, delay))
            break;
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
    return S_STOP;
}

/* waits until every change set in flight has its outcome */
static bool s_wait_all(xoc_collector_pool_t *self)
{
    for (int i = 0; i < S_WINDOW; i++)
        while (self->flights[i].busy && !self->flights[i].done) {
            if (atomic_load(&self->stop))
                return false;
            xoc_client_pump(self->client, 100);
        }
    return true;
}

/* something failed: resend at once what was not acknowledged, oldest first, also what is
   still waiting for its answer — a change set lost with a bus that died would otherwise
   hold everything until its timeout (30 s), while the cache refuses the later ones for the
   gap. Resending is safe: the cache acknowledges again what it already has, and a late
   answer to the first sending is ignored (s_on_ack). */
static s_outcome_t s_recover(xoc_collector_pool_t *self)
{
    s_outcome_t out = S_OK;
    for (uint64_t seq = self->seq > S_WINDOW ? self->seq - S_WINDOW + 1 : 1;
         seq <= self->seq && out == S_OK; seq++) {
        s_flight_t *f = &self->flights[seq % S_WINDOW];
        if (!f->busy || f->seq != seq)
            continue;
        if (!f->done || f->status != 0)
            out = s_resend(self, f);
        if (out == S_OK)
            s_acked(self, f);
    }
    if (out != S_OK)
        s_flights_reset(self);
    return out;
}

/* consumes the outcome of a slot's change set; waits for it first */
static s_outcome_t s_settle(xoc_collector_pool_t *self, s_flight_t *f)
{
    while (f->busy && !f->done) {
        if (atomic_load(&self->stop))
            return S_STOP;
        xoc_client_pump(self->client, 100);
    }
    if (!f->busy)
        return S_OK;
    if (f->status != 0)
        return s_recover(self);
    s_acked(self, f);
    return S_OK;
}

/* every change set acknowledged (the end of an image, the end of a session) */
static s_outcome_t s_drain(xoc_collector_pool_t *self)
{
    for (uint64_t seq = self->seq > S_WINDOW ? self->seq - S_WINDOW + 1 : 1; seq <= self->seq;
         seq++) {
        s_outcome_t out = s_settle(self, &self->flights[seq % S_WINDOW]);
        if (out != S_OK)
            return out;
    }
    return S_OK;
}

/* without waiting: a change set in flight that failed starts the recovery now */
static s_outcome_t s_check(xoc_collector_pool_t *self)
{
    xoc_client_pump(self->client, 0);
    for (int i = 0; i < S_WINDOW; i++)
        if (self->flights[i].busy && self->flights[i].done && self->flights[i].status != 0)
            return s_recover(self);
    return S_OK;
}

/* sends the batch as the next change set, without waiting for its acknowledgement unless
   S_WINDOW change sets are already in flight */
static s_outcome_t s_send(xoc_collector_pool_t *self, const char *kind)
{
    s_batch_t *b = &self->batch;
    uint8_t *head = (uint8_t *)b->items.data; /* array32: 0xdd, count big-endian */
    head[1] = (uint8_t)(b->count >> 24);
    head[2] = (uint8_t)(b->count >> 16);
    head[3] = (uint8_t)(b->count >> 8);
    head[4] = (uint8_t)b->count;
    s_flight_t *f = &self->flights[(self->seq + 1) % S_WINDOW];
    s_outcome_t out = s_settle(self, f); /* the slot's previous change set */
    if (out != S_OK) {
        s_batch_reset(b);
        return out;
    }
    self->seq++;
    xoc_msg_changeset_t cs = {.pool = xoc_str(self->status.pool), .epoch = self->epoch,
                              .seq = self->seq, .kind = xoc_str(kind),
                              .changes = {head, (uint32_t)b->items.size}};
    msgpack_sbuffer_clear(&f->bytes);
    xoc_msg_changeset_encode(&cs, &f->bytes);
    f->seq = self->seq;
    f->busy = true;
    f->done = false;
    s_ack_t *t = malloc(sizeof *t);
    int rc = t ? 0 : XOC_ENOMEM;
    if (t) {
        *t = (s_ack_t){f, self->epoch, f->seq};
        rc = xoc_client_send(self->client, "cache", "cache.apply", f->bytes.data, f->bytes.size,
                             S_ACK_TIMEOUT_MS, s_on_ack, t);
        if (rc)
            free(t);
    }
    if (rc) { /* not even sent: the recovery resends it */
        f->done = true;
        f->status = rc;
    }
    pthread_mutex_lock(&self->lock);
    self->status.changesets++;
    self->status.seq = self->seq;
    pthread_mutex_unlock(&self->lock);
    xoc_metrics_inc(self->m_sent);
    s_metrics_in_flight(self);
    s_batch_reset(b);
    return S_OK;
}

/* the transform's emit callback: append one change; an image is cut into chunks */
typedef struct {
    xoc_collector_pool_t *pool;
    bool image;
    s_outcome_t out;
} s_emit_ctx_t;

static int s_emit(void *arg, bool enter, const char *id, const char *type, const void *obj,
                  size_t len)
{
    s_emit_ctx_t *ctx = arg;
    s_batch_t *b = &ctx->pool->batch;
    msgpack_pack_array(&b->pk, enter ? 4 : 3);
    msgpack_pack_str_with_body(&b->pk, enter ? "enter" : "exit", enter ? 5 : 4);
    msgpack_pack_str_with_body(&b->pk, id, strlen(id));
    msgpack_pack_str_with_body(&b->pk, type, strlen(type));
    if (enter)
        msgpack_sbuffer_write(&b->items, obj, len); /* the object is already a msgpack map */
    b->count++;
    if (ctx->image && (b->count >= S_CHUNK_CHANGES || b->items.size >= S_CHUNK_BYTES)) {
        ctx->out = s_send(ctx->pool, "image");
        return ctx->out == S_OK ? 0 : XOC_ECANCELED;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------------------------ */

typedef struct {
    xoc_collector_pool_t *pool;
    xoc_xform_t *xform;
    const char *cls;
} s_load_ctx_t;

static void s_remember_hosts(xoc_collector_pool_t *self, xoc_xapi_t *x)
{
    msgpack_sbuffer res;
    msgpack_sbuffer_init(&res);
    if (xoc_xapi_callf(x, "host.get_all_records", &res, "") != 0)
        goto done;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, res.data, res.size, NULL) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        self->nhosts = 0;
        for (uint32_t i = 0; i < up.data.via.map.size && self->nhosts < S_MAX_HOSTS; i++) {
            msgpack_object *rec = &up.data.via.map.ptr[i].val;
            if (rec->type != MSGPACK_OBJECT_MAP)
                continue;
            for (uint32_t j = 0; j < rec->via.map.size; j++) {
                msgpack_object *k = &rec->via.map.ptr[j].key, *v = &rec->via.map.ptr[j].val;
                if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == 7 &&
                    memcmp(k->via.str.ptr, "address", 7) == 0 && v->type == MSGPACK_OBJECT_STR)
                    snprintf(self->hosts[self->nhosts++], sizeof self->hosts[0], "%.*s",
                             (int)v->via.str.size, v->via.str.ptr);
            }
        }
    }
    msgpack_unpacked_destroy(&up);
done:
    msgpack_sbuffer_destroy(&res);
}

/* ---- one session ---------------------------------------------------------------------------- */

static int s_login(xoc_collector_pool_t *self, xoc_xapi_t *x)
{
    for (int hop = 0; hop < 3; hop++) {
        int rc = xoc_xapi_login(x, self->server.username, self->server.password);
        if (rc != XOC_EXAPI || !xoc_xapi_master_address(x))
            return rc;
        xoc_info("server=%s %s is a slave, following the master %s", self->server.id,
                 xoc_xapi_url(x), xoc_xapi_master_address(x));
        if (xoc_xapi_follow_master(x) != 0)
            return rc;
    }
    return XOC_EXAPI;
}

/* connects to the configured URL, or to a remembered pool member when it is unreachable */
static int s_connect(xoc_collector_pool_t *self, xoc_xapi_t *x)
{
    int rc = s_login(self, x);
    for (int i = 0; rc != 0 && rc != XOC_EXAPI && i < self->nhosts; i++) {
        if (atomic_load(&self->stop))
            return XOC_ECANCELED;
        /* the member's address with the configured URL's scheme and port */
        if (xoc_xapi_set_url(x, self->server.url) != 0 ||
            xoc_xapi_set_host(x, self->hosts[i]) != 0)
            continue;
        xoc_info("server=%s trying pool member %s", self->server.id, xoc_xapi_url(x));
        rc = s_login(self, x);
    }
    return rc;
}

static bool s_fault_is(xoc_xapi_t *x, const char *code)
{
    const xoc_xapi_fault_t *f = xoc_xapi_fault(x);
    return f && f->code && strcmp(f->code, code) == 0;
}

static uint64_t s_now_epoch(uint64_t last)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    uint64_t now = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    return now > last ? now : last + 1;
}

/* ---- events ----------------------------------------------------------------------------- */

/* a msgpack string at p (fixstr, str8/16/32): its bytes and its whole size; false if not */
static bool s_mp_str(const uint8_t *p, size_t len, const char **s, size_t *n, size_t *size)
{
    size_t hdr;
    uint32_t l;
    if (len >= 1 && (p[0] & 0xe0) == 0xa0)
        hdr = 1, l = p[0] & 0x1f;
    else if (len >= 2 && p[0] == 0xd9)
        hdr = 2, l = p[1];
    else if (len >= 3 && p[0] == 0xda)
        hdr = 3, l = ((uint32_t)p[1] << 8) | p[2];
    else if (len >= 5 && p[0] == 0xdb)
        hdr = 5, l = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
    else
        return false;
    if (len - hdr < l)
        return false;
    *s = (const char *)p + hdr;
    *n = l;
    *size = hdr + l;
    return true;
}

/* copies a string value into buf (NUL-terminated); false if absent, not a string or too long */
static bool s_mp_copy(const uint8_t *v, size_t vlen, char *buf, size_t size)
{
    const char *s;
    size_t n, used;
    if (!v || !s_mp_str(v, vlen, &s, &n, &used) || n >= size)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

/* the fields of one event map (class, operation, ref, snapshot) as byte ranges, read in
   place: no decoding of the snapshot, which goes to the transform as it came */
typedef struct {
    const uint8_t *cls, *op, *ref, *snap;
    size_t cls_len, op_len, ref_len, snap_len;
} s_event_t;

static int s_event_scan(const uint8_t *p, size_t len, s_event_t *ev)
{
    memset(ev, 0, sizeof *ev);
    size_t pos;
    uint32_t count;
    if (len >= 1 && p[0] >= 0x80 && p[0] <= 0x8f)
        count = p[0] & 0x0f, pos = 1;
    else if (len >= 3 && p[0] == 0xde)
        count = ((uint32_t)p[1] << 8) | p[2], pos = 3;
    else if (len >= 5 && p[0] == 0xdf)
        count = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4],
        pos = 5;
    else
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        const char *k = NULL;
        size_t kn = 0, ksize, vsize;
        if (!s_mp_str(p + pos, len - pos, &k, &kn, &ksize) &&
            xoc_xform_mp_size(p + pos, len - pos, &ksize) != 0)
            return -1;
        pos += ksize;
        if (pos >= len)
            return -1;
        if (i + 1 == count && k && kn == 8 && memcmp(k, "snapshot", 8) == 0 && !ev->snap) {
            /* the last pair (as XAPI and the simulator send it): the record runs to the end
               of the event; the transform checks it while it filters it (no walk here) */
            ev->snap = p + pos, ev->snap_len = len - pos;
            return 0;
        }
        if (xoc_xform_mp_size(p + pos, len - pos, &vsize) != 0)
            return -1;
        const uint8_t **slot = NULL;
        size_t *slot_len = NULL;
        if (k && kn == 5 && memcmp(k, "class", 5) == 0)
            slot = &ev->cls, slot_len = &ev->cls_len;
        else if (k && kn == 9 && memcmp(k, "operation", 9) == 0)
            slot = &ev->op, slot_len = &ev->op_len;
        else if (k && kn == 3 && memcmp(k, "ref", 3) == 0)
            slot = &ev->ref, slot_len = &ev->ref_len;
        else if (k && kn == 8 && memcmp(k, "snapshot", 8) == 0)
            slot = &ev->snap, slot_len = &ev->snap_len;
        if (slot && !*slot) /* the first of a repeated key counts */
            *slot = p + pos, *slot_len = vsize;
        pos += vsize;
    }
    return 0;
}

/* one element of event.from's events: {class, operation, ref, snapshot} */
static int s_on_event(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    s_load_ctx_t *ctx = arg;
    xoc_metrics_inc(ctx->pool->m_events);
    char cls[64], op[16], ref[256];
    s_event_t ev;
    if (s_event_scan(mp, mp_len, &ev) != 0 || !s_mp_copy(ev.cls, ev.cls_len, cls, sizeof cls) ||
        !s_mp_copy(ev.op, ev.op_len, op, sizeof op) ||
        !s_mp_copy(ev.ref, ev.ref_len, ref, sizeof ref)) {
        xoc_warn("server=%s malformed event skipped", ctx->pool->server.id);
        goto done;
    }
    if (strcmp(op, "del") == 0) {
        xoc_xform_del(ctx->xform, cls, ref);
        goto done;
    }
    uint8_t b = ev.snap ? ev.snap[0] : 0;
    if (!ev.snap || !((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        goto done; /* add/mod without a record (e.g. an injected event): nothing to change */
    xoc_xform_put(ctx->xform, cls, ref, ev.snap, ev.snap_len);
done:
    return atomic_load(&ctx->pool->stop) ? XOC_ECANCELED : 0;
}

/* ---- the session ------------------------------------------------------------------------- */

static s_outcome_t s_fail(xoc_collector_pool_t *self, xoc_xapi_t *x, int rc, const char *what)
{
    if (atomic_load(&self->stop) || rc == XOC_ECANCELED)
        return S_STOP;
    char why[256];
    snprintf(why, sizeof why, "%s: %s", what, *xoc_xapi_detail(x) ? xoc_xapi_detail(x)
                                                                 : xoc_strerror(rc));
    if (rc == XOC_EXAPI && s_fault_is(x, "SESSION_AUTHENTICATION_FAILED")) {
        s_set_status(self, "disconnected", "authentication failed");
        return S_AUTH;
    }
    if (rc == XOC_EXAPI && (s_fault_is(x, "EVENTS_LOST") || s_fault_is(x, "SESSION_INVALID"))) {
        s_set_status(self, "connecting", why);
        return S_RELOAD;
    }
    s_set_status(self, "disconnected", why);
    return S_LOST;
}

/* loads every object and sends the full image; leaves the event token in *token. Every
   object comes from one event.from with an empty token, with the token of that very state.
   (Not event.inject, then <class>.get_all_records, then event.from from the injected token:
   XAPI gives no event for an object created and destroyed since a token, so an object created
   after the injected token, read by get_all_records and destroyed before the next event.from
   stayed a ghost, e.g. a short-lived task during a reload.) */
static s_outcome_t s_load(xoc_collector_pool_t *self, xoc_xapi_t *x, xoc_xform_t *xform,
                          char **token)
{
    static const char *const all[] = {"*"};
    s_load_ctx_t ctx = {self, xform, NULL};
    int rc = xoc_xapi_event_from(x, all, 1, "", S_EVENT_TIMEOUT_S, s_on_event, &ctx, token,
                                 NULL);
    if (rc)
        return s_fail(self, x, rc, "loading objects");
    const char *pool_id = xoc_xform_pool_id(xform);
    if (!pool_id)
        return s_fail(self, x, XOC_EPROTO, "no pool record");

    pthread_mutex_lock(&self->lock);
    snprintf(self->status.pool, sizeof self->status.pool, "%s", pool_id);
    snprintf(self->status.master, sizeof self->status.master, "%s", xoc_xapi_url(x));
    self->epoch = s_now_epoch(self->epoch);
    self->status.epoch = self->epoch;
    pthread_mutex_unlock(&self->lock);
    self->seq = 0;
    s_batch_reset(&self->batch);
    s_emit_ctx_t ectx = {self, true, S_OK};
    xoc_xform_emit_all(xform, s_emit, &ectx);
    if (ectx.out != S_OK)
        return ectx.out;
    pthread_mutex_lock(&self->lock);
    self->status.objects = xoc_xform_count(xform); /* known once emitted */
    pthread_mutex_unlock(&self->lock);
    xoc_metrics_set(self->m_objects, (double)xoc_xform_count(xform));
    s_outcome_t out = s_send(self, "image_end");
    if (out == S_OK)
        out = s_drain(self); /* connected once the whole image is acknowledged */
    for (int i = 0; i < S_WINDOW; i++) { /* the image's large buffers go back */
        msgpack_sbuffer_destroy(&self->flights[i].bytes);
        msgpack_sbuffer_init(&self->flights[i].bytes);
    }
    s_batch_release(&self->batch); /* event batches are small */
    /* the load's buffers (records streamed in, change sets, the sort) were freed inside the
       heap, whose thresholds the large ones raised: give those pages back */
    malloc_trim(0);
    return out;
}

static s_outcome_t s_follow(xoc_collector_pool_t *self, xoc_xapi_t *x, xoc_xform_t *xform,
                            char **token)
{
    static const char *const all[] = {"*"};
    while (!atomic_load(&self->stop)) {
        char *next = NULL;
        s_load_ctx_t ctx = {self, xform, NULL};
        /* change sets not acknowledged yet: come back within a second to hear about them
           (a bus that died with them is noticed, and they are resent) */
        bool waiting = false;
        for (int i = 0; i < S_WINDOW; i++)
            waiting |= self->flights[i].busy;
        int64_t t0 = zclock_usecs();
        int rc = xoc_xapi_event_from(x, all, 1, *token,
                                     waiting ? S_EVENT_TIMEOUT_BUSY_S : S_EVENT_TIMEOUT_S,
                                     s_on_event, &ctx, &next, NULL);
        int64_t t1 = zclock_usecs();
        if (rc)
            return s_fail(self, x, rc, "event.from");
        free(*token);
        *token = next;
        s_emit_ctx_t ectx = {self, false, S_OK};
        xoc_xform_flush(xform, s_emit, &ectx);
        size_t changes = self->batch.count;
        int64_t t2 = zclock_usecs();
        s_outcome_t out = self->batch.count > 0 ? s_send(self, "delta") : S_OK;
        if (out == S_OK) /* answers read, heartbeats, a failed change set recovered now */
            out = s_check(self);
        if (out != S_OK)
            return out;
        xoc_debug("server=%s event.from %lld us, transform %lld us, send %lld us, %zu changes",
                  self->server.id, (long long)(t1 - t0), (long long)(t2 - t1),
                  (long long)(zclock_usecs() - t2), changes);
        pthread_mutex_lock(&self->lock);
        self->status.objects = xoc_xform_count(xform);
        pthread_mutex_unlock(&self->lock);
        xoc_metrics_set(self->m_objects, (double)xoc_xform_count(xform));
    }
    return S_STOP;
}

/* starts (or re-points) the XAPI gateway of the pool: service xapi.<pool> */
static void s_gateway(xoc_collector_pool_t *self, const char *pool_id, const char *master)
{
    if (self->call && strcmp(xoc_collector_call_pool(self->call), pool_id) != 0)
        xoc_collector_call_destroy(&self->call);
    if (self->call)
        xoc_collector_call_set_master(self->call, master);
    else
        self->call = xoc_collector_call_new_observed(&self->server, pool_id, master, self->bus,
                                                     s_observe, self);
}

static s_outcome_t s_session(xoc_collector_pool_t *self)
{
    xoc_xapi_t *x = xoc_xapi_new(self->server.url);
    if (!x)
        return S_LOST;
    xoc_xapi_set_tls_verify(x, !self->server.allow_unauthorized);
    if (xoc_xapi_set_proxy(x, self->server.http_proxy) != 0) {
        xoc_xapi_destroy(&x);
        return S_LOST;
    }
    xoc_xapi_set_timeouts(x, 5000, 120000);
    xoc_xapi_set_observer(x, s_observe, self);
    pthread_mutex_lock(&self->lock);
    self->xapi = x;
    pthread_mutex_unlock(&self->lock);
    if (atomic_load(&self->stop))
        xoc_xapi_cancel(x);

    s_set_status(self, "connecting", NULL);
    xoc_xform_t *xform = NULL;
    char *token = NULL;
    s_outcome_t out;
    int rc = s_connect(self, x);
    if (rc) {
        out = s_fail(self, x, rc, "login");
        goto done;
    }
    s_remember_hosts(self, x);
    xform = xoc_xform_new();
    out = xform ? s_load(self, x, xform, &token) : S_LOST;
    if (out == S_OK) {
        s_gateway(self, xoc_xform_pool_id(xform), xoc_xapi_url(x));
        s_set_status(self, "connected", NULL);
        out = s_follow(self, x, xform, &token);
    }
done:
    /* change sets still in flight end (acknowledged, refused or timed out) before a new
       session reuses their slots: no late answer may land on a newer change set */
    s_wait_all(self);
    s_flights_reset(self);
    pthread_mutex_lock(&self->lock);
    self->xapi = NULL;
    pthread_mutex_unlock(&self->lock);
    if (!atomic_load(&self->stop))
        xoc_xapi_logout(x);
    free(token);
    xoc_xform_destroy(&xform);
    xoc_xapi_destroy(&x);
    return out;
}

static void *s_main(void *arg)
{
    xoc_collector_pool_t *self = arg;
    self->client = xoc_client_new(self->bus);
    self->pub = xoc_bus_connect(ZMQ_PUB, self->bus->pub, self->bus);
    msgpack_sbuffer_init(&self->batch.items);
    msgpack_packer_init(&self->batch.pk, &self->batch.items, msgpack_sbuffer_write);
    s_batch_reset(&self->batch);
    for (int i = 0; i < S_WINDOW; i++) {
        msgpack_sbuffer_init(&self->flights[i].bytes);
        self->flights[i].pool = self;
    }
    int backoff_min = self->server.backoff_min_ms > 0 ? self->server.backoff_min_ms
                                                      : S_BACKOFF_MIN_MS;
    int backoff_max = self->server.backoff_max_ms > 0 ? self->server.backoff_max_ms
                                                      : S_BACKOFF_MAX_MS;
    int backoff = backoff_min;
    for (int sessions = 0; !atomic_load(&self->stop) && self->client && self->pub; sessions++) {
        if (sessions > 0)
            xoc_metrics_inc(self->m_reconnects);
        s_outcome_t out = s_session(self);
        if (out == S_STOP)
            break;
        if (out == S_AUTH) { /* no retry with the same credentials: a new config restarts us */
            while (s_pause(self, 60000))
                ;
            break;
        }
        if (out == S_RELOAD) {
            backoff = backoff_min;
            continue;
        }
        if (!s_pause(self, backoff))
            break;
        backoff = backoff * 2 > backoff_max ? backoff_max : backoff * 2;
    }
    s_set_status(self, "disconnected", atomic_load(&self->stop) ? "stopped" : self->status.error);
    msgpack_sbuffer_destroy(&self->batch.items);
    for (int i = 0; i < S_WINDOW; i++)
        msgpack_sbuffer_destroy(&self->flights[i].bytes);
    xoc_collector_call_destroy(&self->call);
    if (self->client) /* the answers' tags (s_ack_t) are freed by their callbacks */
        xoc_client_cancel_all(self->client);
    xoc_client_destroy(&self->client);
    zsock_destroy(&self->pub);
    return NULL;
}

xoc_collector_pool_t *xoc_collector_pool_new(const xoc_collector_server_t *server,
                                             const xoc_bus_opts_t *bus,
                                             const xoc_collector_metrics_t *metrics)
{
    xoc_collector_pool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->server = *server;
    self->bus = bus;
    self->m = metrics;
    s_metrics_init(self);
    atomic_init(&self->stop, false);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->wake, NULL);
    snprintf(self->status.status, sizeof self->status.status, "connecting");
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        pthread_mutex_destroy(&self->lock);
        pthread_cond_destroy(&self->wake);
        free(self);
        return NULL;
    }
    return self;
}

void xoc_collector_pool_destroy(xoc_collector_pool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_collector_pool_t *self = *self_p;
    pthread_mutex_lock(&self->lock);
    atomic_store(&self->stop, true);
    if (self->xapi)
        xoc_xapi_cancel(self->xapi); /* unblocks a 60 s event.from at once */
    pthread_cond_broadcast(&self->wake);
    pthread_mutex_unlock(&self->lock);
    pthread_join(self->thread, NULL);
    /* a removed server's gauges leave the output (its counters stay until it comes back) */
    for (int i = 0; i < 3; i++)
        xoc_metrics_hide(self->m_state[i]);
    xoc_metrics_hide(self->m_in_flight);
    xoc_metrics_hide(self->m_objects);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->wake);
    free(self);
    *self_p = NULL;
}
