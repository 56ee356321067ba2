#include "xoc_replica.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"

#define S_BUFFER_MAX 1000000     /* changes buffered while a snapshot loads, then restart */
#define S_SNAP_TIMEOUT_MS 15000
#define S_CHUNK_BYTES (1u << 20)
#define S_RETRY_MS 500

typedef enum { S_IDLE, S_SYNCING, S_LIVE } s_state_t;

typedef struct {
    xoc_replica_obj_t pub;
    size_t bytes;
    size_t slot; /* its index in the dense array (live objects only) */
    char buf[]; /* id, type, pool (NUL-terminated) then the object bytes */
} s_entry_t;

struct _xoc_replica_t {
    const xoc_bus_opts_t *opts;
    zloop_t *loop;
    zsock_t *sub;
    xoc_client_t *client;
    int timer;
    s_state_t state;
    zhashx_t *objects;  /* id -> s_entry_t */
    s_entry_t **dense;  /* the same entries in an array, for xoc_replica_foreach's walk */
    size_t dense_n, dense_cap;
    bool dense_ok;      /* dense holds every object (false: out of memory once) */
    zhashx_t *loading;  /* the snapshot being received */
    zlistx_t *buffered; /* zframe_t* obj messages received while syncing */
    uint64_t rev;
    bool synced;
    uint64_t snap_id, snap_rev;
    int64_t retry_at;
    uint64_t hb_rev;          /* revision announced by the cache's heartbeat */
    uint64_t seen_rev;        /* highest revision seen on the bus */
    int64_t behind_since;
    uint64_t behind_rev;
    size_t bytes;
    uint64_t gen;             /* xoc_replica_gen: bumped by every change of the objects */
    xoc_replica_change_fn *on_change;
    xoc_replica_batch_fn *on_batch;
    void *arg;
    xoc_replica_stats_t stats;
};

/* ---- entries ---------------------------------------------------------------------------- */

static s_entry_t *s_entry_new(xoc_str_t id, xoc_str_t type, xoc_str_t pool, const void *data,
                              size_t size, uint64_t rev)
{
    size_t n = (size_t)id.len + type.len + pool.len + 3 + size;
    s_entry_t *e = malloc(sizeof *e + n);
    if (!e)
        return NULL;
    char *p = e->buf;
    e->pub.id = xoc_str_copy(id, p, id.len + 1u);
    p += id.len + 1;
    e->pub.type = xoc_str_copy(type, p, type.len + 1u);
    p += type.len + 1;
    e->pub.pool = xoc_str_copy(pool, p, pool.len + 1u);
    p += pool.len + 1;
    if (size)
        memcpy(p, data, size);
    e->pub.data = (const uint8_t *)p;
    e->pub.size = size;
    e->pub.rev = rev;
    e->pub.user = NULL;
    e->bytes = sizeof *e + n;
    return e;
}

static void s_entry_free(void **item)
{
    free(*item);
    *item = NULL;
}

static zhashx_t *s_table_new(void)
{
    zhashx_t *h = zhashx_new();
    if (!h)
        return NULL;
    zhashx_set_key_duplicator(h, NULL); /* the key is the entry's own id */
    zhashx_set_key_destructor(h, NULL);
    zhashx_set_destructor(h, s_entry_free);
    return h;
}

/* the dense array follows the table: an entry takes its predecessor's slot, a new one
   goes at the end, a removed one is replaced by the last. Out of memory, it is dropped
   (the walk then goes over the table) until the next snapshot rebuilds it. */
static void s_dense_off(xoc_replica_t *self)
{
    free(self->dense);
    self->dense = NULL;
    self->dense_n = self->dense_cap = 0;
    self->dense_ok = false;
}

static void s_dense_add(xoc_replica_t *self, s_entry_t *e)
{
    if (!self->dense_ok)
        return;
    if (self->dense_n == self->dense_cap) {
        size_t cap = self->dense_cap ? self->dense_cap * 2 : 1024;
        s_entry_t **dense = realloc(self->dense, cap * sizeof *dense);
        if (!dense) {
            s_dense_off(self);
            return;
        }
        self->dense = dense;
        self->dense_cap = cap;
    }
    e->slot = self->dense_n;
    self->dense[self->dense_n++] = e;
}

/* the array of a table just loaded */
static void s_dense_rebuild(xoc_replica_t *self)
{
    self->dense_n = 0;
    self->dense_ok = true;
    for (s_entry_t *e = zhashx_first(self->objects); e && self->dense_ok;
         e = zhashx_next(self->objects))
        s_dense_add(self, e);
}

static void s_delete(xoc_replica_t *self, s_entry_t *old)
{
    if (self->dense_ok) {
        s_entry_t *last = self->dense[--self->dense_n];
        self->dense[old->slot] = last;
        last->slot = old->slot;
    }
    self->bytes -= old->bytes;
    zhashx_delete(self->objects, old->pub.id);
}

static void s_put(xoc_replica_t *self, s_entry_t *e)
{
    s_entry_t *old = zhashx_lookup(self->objects, e->pub.id);
    if (old) {
        e->slot = old->slot;
        if (self->dense_ok)
            self->dense[e->slot] = e;
        self->bytes -= old->bytes;
        zhashx_delete(self->objects, old->pub.id);
    } else
        s_dense_add(self, e);
    zhashx_insert(self->objects, e->pub.id, e);
    self->bytes += e->bytes;
}

static bool s_same(const s_entry_t *a, const s_entry_t *b)
{
    return a->pub.size == b->pub.size && strcmp(a->pub.type, b->pub.type) == 0 &&
           strcmp(a->pub.pool, b->pub.pool) == 0 &&
           memcmp(a->pub.data, b->pub.data, a->pub.size) == 0;
}

/* ---- live changes ------------------------------------------------------------------------ */

static void s_start_snapshot(xoc_replica_t *self);

static void s_apply(xoc_replica_t *self, const xoc_msg_obj_t *m)
{
    self->rev = m->rev;
    self->stats.changes++;
    char id[512];
    xoc_str_copy(m->id, id, sizeof id);
    if (xoc_str_eq(m->op, "exit")) {
        s_entry_t *old = zhashx_lookup(self->objects, id);
        if (old) {
            self->gen++;
            if (self->on_change)
                self->on_change(self, false, &old->pub, self->arg);
            s_delete(self, old);
        }
    } else {
        s_entry_t *e = s_entry_new(m->id, m->type, m->pool, m->object.ptr, m->object.len, m->rev);
        if (!e)
            return;
        s_put(self, e);
        self->gen++;
        if (self->on_change)
            self->on_change(self, true, &e->pub, self->arg);
    }
    if (m->last && self->on_batch)
        self->on_batch(self, m->rev, self->arg);
}

/* returns false when a gap was found (a snapshot was started) */
static bool s_process(xoc_replica_t *self, const xoc_msg_obj_t *m)
{
    if (m->rev <= self->rev) {
        self->stats.dropped++;
        return true;
    }
    if (m->rev != self->rev + 1) {
        self->stats.gaps++;
        xoc_info("replica: gap rev=%llu got=%llu, taking a new snapshot",
                 (unsigned long long)self->rev, (unsigned long long)m->rev);
        s_start_snapshot(self);
        return false;
    }
    s_apply(self, m);
    return true;
}

static void s_buffer(xoc_replica_t *self, const void *data, size_t size)
{
    if (zlistx_size(self->buffered) >= S_BUFFER_MAX) {
        xoc_warn("replica: %d changes buffered during a snapshot, starting over", S_BUFFER_MAX);
        zlistx_purge(self->buffered);
        s_start_snapshot(self);
        return;
    }
    zlistx_add_end(self->buffered, zframe_new(data, size));
}

static void s_on_heartbeat(xoc_replica_t *self, const xoc_msg_sys_t *sys)
{
    if (!sys->stats.len)
        return;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, (const char *)sys->stats.ptr, sys->stats.len, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        msgpack_object_map *map = &up.data.via.map;
        for (uint32_t i = 0; i < map->size; i++) {
            msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
            if (k->type == MSGPACK_OBJECT_STR && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                ((k->via.str.size == 3 && memcmp(k->via.str.ptr, "rev", 3) == 0) ||
                 (k->via.str.size == 8 && memcmp(k->via.str.ptr, "revision", 8) == 0)))
                self->hb_rev = v->via.u64;
        }
        self->seen_rev = self->hb_rev > self->seen_rev ? self->hb_rev : self->seen_rev;
    }
    msgpack_unpacked_destroy(&up);
    if (self->state != S_LIVE)
        return;
    if (self->hb_rev < self->rev) {
        /* the cache's history is not ours any more (it lost or rewrote revisions) */
        xoc_warn("replica: cache revision %llu is behind ours %llu, taking a new snapshot",
                 (unsigned long long)self->hb_rev, (unsigned long long)self->rev);
        s_start_snapshot(self);
    } else if (self->hb_rev > self->rev && self->behind_since == 0) {
        self->behind_since = xoc_bus_now_ms();
        self->behind_rev = self->hb_rev;
    } else if (self->hb_rev <= self->rev)
        self->behind_since = 0;
}

/* one event: [topic, body]; the frames are read in place (no zmsg, no copies) */
static void s_on_event(xoc_replica_t *self, zmq_msg_t *topic, zmq_msg_t *body)
{
    const char *t = zmq_msg_data(topic);
    size_t tn = zmq_msg_size(topic);
    xoc_msg_t m;
    if (!body || xoc_msg_decode(&m, zmq_msg_data(body), zmq_msg_size(body)) != 0)
        xoc_warn("replica: bad event on %.*s: %s", (int)(tn < 200 ? tn : 200), t,
                 body ? m.why : "empty");
    else if (m.type == XOC_MSG_SYS && tn >= 10 && memcmp(t, "sys.cache.", 10) == 0)
        s_on_heartbeat(self, &m.sys);
    else if (m.type == XOC_MSG_OBJ) {
        self->seen_rev = m.obj.rev > self->seen_rev ? m.obj.rev : self->seen_rev;
        if (self->state == S_LIVE)
            s_process(self, &m.obj);
        else if (self->state == S_SYNCING)
            s_buffer(self, zmq_msg_data(body), zmq_msg_size(body));
    }
}

static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    xoc_replica_t *self = arg;
    void *h = zsock_resolve(sock);
    zmq_msg_t topic, body, extra;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    zmq_msg_init(&extra);
    for (int i = 0; i < 1024 && zmq_msg_recv(&topic, h, ZMQ_DONTWAIT) >= 0; i++) {
        bool has_body = zmq_msg_more(&topic) && zmq_msg_recv(&body, h, 0) >= 0;
        bool more = has_body && zmq_msg_more(&body);
        while (more && zmq_msg_recv(&extra, h, 0) >= 0) /* frames past the body: ignored */
            more = zmq_msg_more(&extra);
        s_on_event(self, &topic, has_body ? &body : NULL);
    }
    zmq_msg_close(&extra);
    zmq_msg_close(&body);
    zmq_msg_close(&topic);
    return 0;
}

/* ---- snapshots ---------------------------------------------------------------------------- */

static void s_snapshot_failed(xoc_replica_t *self, const char *what, int status, const char *why)
{
    xoc_warn("replica: snapshot %s failed: %s (%s), retrying", what, xoc_strerror(status), why);
    zhashx_destroy(&self->loading);
    self->state = S_IDLE;
    self->retry_at = xoc_bus_now_ms() + S_RETRY_MS;
}

/* makes the loaded snapshot the state, reporting the difference as changes */
static void s_switch_to_loaded(xoc_replica_t *self)
{
    for (s_entry_t *e = zhashx_first(self->loading); e; e = zhashx_next(self->loading)) {
        s_entry_t *old = zhashx_lookup(self->objects, e->pub.id);
        bool same = old && s_same(old, e);
        if (same) { /* unchanged: not reported, keeps its revision and the consumer's pointer */
            e->pub.rev = old->pub.rev;
            e->pub.user = old->pub.user;
        } else {
            self->gen++;
            if (self->on_change)
                self->on_change(self, true, &e->pub, self->arg);
        }
    }
    for (s_entry_t *old = zhashx_first(self->objects); old; old = zhashx_next(self->objects))
        if (!zhashx_lookup(self->loading, old->pub.id)) {
            self->gen++;
            if (self->on_change)
                self->on_change(self, false, &old->pub, self->arg);
        }
    zhashx_destroy(&self->objects);
    self->objects = self->loading;
    self->loading = NULL;
    s_dense_rebuild(self);
    self->bytes = 0;
    for (s_entry_t *e = zhashx_first(self->objects); e; e = zhashx_next(self->objects))
        self->bytes += e->bytes;
    self->rev = self->snap_rev;
    self->seen_rev = self->hb_rev; /* forget what a former history announced */
    self->synced = true;
    self->state = S_LIVE;
    self->behind_since = 0;
    if (self->on_batch)
        self->on_batch(self, self->rev, self->arg);
    /* then what arrived meanwhile */
    zframe_t *frame;
    while ((frame = zlistx_detach(self->buffered, NULL))) {
        xoc_msg_t m;
        bool go_on = true;
        if (xoc_msg_decode_as(&m, XOC_MSG_OBJ, zframe_data(frame), zframe_size(frame)) == 0)
            go_on = s_process(self, &m.obj);
        zframe_destroy(&frame);
        if (!go_on)
            break;
    }
    xoc_info("replica: synced rev=%llu objects=%zu bytes=%zu", (unsigned long long)self->rev,
             zhashx_size(self->objects), self->bytes);
}

static int s_load_items(xoc_replica_t *self, const xoc_bin_t *items)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = 0;
    if (msgpack_unpack_next(&up, (const char *)items->ptr, items->len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_ARRAY)
        rc = XOC_EPROTO;
    for (uint32_t i = 0; rc == 0 && i < up.data.via.array.size; i++) {
        msgpack_object *it = &up.data.via.array.ptr[i];
        if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 4) {
            rc = XOC_EPROTO;
            break;
        }
        msgpack_object *f = it->via.array.ptr;
        if (f[0].type != MSGPACK_OBJECT_STR || f[1].type != MSGPACK_OBJECT_STR ||
            f[2].type != MSGPACK_OBJECT_STR) {
            rc = XOC_EPROTO;
            break;
        }
        /* the object travels as a map: keep its encoding */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (f[3].type == MSGPACK_OBJECT_BIN)
            msgpack_sbuffer_write(&sb, f[3].via.bin.ptr, f[3].via.bin.size);
        else
            msgpack_pack_object(&pk, f[3]);
        xoc_str_t id = {f[0].via.str.ptr, f[0].via.str.size};
        xoc_str_t type = {f[1].via.str.ptr, f[1].via.str.size};
        xoc_str_t pool = {f[2].via.str.ptr, f[2].via.str.size};
        s_entry_t *e = s_entry_new(id, type, pool, sb.data, sb.size, self->snap_rev);
        msgpack_sbuffer_destroy(&sb);
        if (!e)
            rc = XOC_ENOMEM;
        else {
            s_entry_t *dup = zhashx_lookup(self->loading, e->pub.id);
            if (dup)
                zhashx_delete(self->loading, dup->pub.id);
            zhashx_insert(self->loading, e->pub.id, e);
        }
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

static void s_request_chunk(xoc_replica_t *self);

static void s_on_chunk(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    xoc_replica_t *self = arg;
    if (self->state != S_SYNCING || !self->loading)
        return;
    xoc_msg_t m;
    int rc = reply->status ? reply->status : xoc_reply_decode(reply, XOC_MSG_OBJECTS, &m);
    if (rc == 0 && m.objects.items.len)
        rc = s_load_items(self, &m.objects.items);
    if (rc) {
        s_snapshot_failed(self, "chunk", rc, reply->reason);
        return;
    }
    if (m.objects.done)
        s_switch_to_loaded(self);
    else
        s_request_chunk(self);
}

static void s_request_chunk(xoc_replica_t *self)
{
    xoc_msg_snap_t req = {.snapshot = self->snap_id, .max_bytes = S_CHUNK_BYTES};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_snap_encode(&req, &sb);
    if (xoc_client_send(self->client, "cache", "cache.snapshot_next", sb.data, sb.size,
                        S_SNAP_TIMEOUT_MS, s_on_chunk, self) != 0)
        s_snapshot_failed(self, "chunk", XOC_EIO, "send");
    msgpack_sbuffer_destroy(&sb);
}

static void s_on_opened(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    xoc_replica_t *self = arg;
    if (self->state != S_SYNCING)
        return;
    xoc_msg_t m;
    int rc = reply->status ? reply->status : xoc_reply_decode(reply, XOC_MSG_SNAP, &m);
    if (rc) {
        s_snapshot_failed(self, "open", rc, reply->reason);
        return;
    }
    self->snap_id = m.snap.snapshot;
    self->snap_rev = m.snap.rev;
    self->stats.snapshots++;
    xoc_debug("replica: snapshot %llu at rev=%llu count=%llu", (unsigned long long)m.snap.snapshot,
              (unsigned long long)m.snap.rev, (unsigned long long)m.snap.count);
    s_request_chunk(self);
}

static void s_start_snapshot(xoc_replica_t *self)
{
    zhashx_destroy(&self->loading);
    self->loading = s_table_new();
    self->state = S_SYNCING;
    self->retry_at = 0;
    xoc_msg_snap_t req = {.max_bytes = 0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_snap_encode(&req, &sb);
    if (xoc_client_send(self->client, "cache", "cache.snapshot", sb.data, sb.size,
                        S_SNAP_TIMEOUT_MS, s_on_opened, self) != 0)
        s_snapshot_failed(self, "open", XOC_EIO, "send");
    msgpack_sbuffer_destroy(&sb);
}

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    xoc_replica_t *self = arg;
    int64_t now = xoc_bus_now_ms();
    if (self->state == S_IDLE && self->retry_at && now >= self->retry_at)
        s_start_snapshot(self);
    /* the cache announced a revision we have not reached a heartbeat later: we lost events */
    if (self->state == S_LIVE && self->behind_since &&
        now - self->behind_since > 2 * self->opts->heartbeat_ms) {
        if (self->rev < self->behind_rev) {
            self->stats.gaps++;
            xoc_info("replica: cache at rev=%llu, we are at %llu: taking a new snapshot",
                     (unsigned long long)self->behind_rev, (unsigned long long)self->rev);
            s_start_snapshot(self);
        }
        self->behind_since = 0;
    }
    return 0;
}

/* ---- life --------------------------------------------------------------------------------- */

xoc_replica_t *xoc_replica_new(const xoc_bus_opts_t *opts)
{
    xoc_replica_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = opts;
    self->timer = -1;
    self->objects = s_table_new();
    self->dense_ok = true;
    self->buffered = zlistx_new();
    if (self->buffered)
        zlistx_set_destructor(self->buffered, (zlistx_destructor_fn *)zframe_destroy);
    self->sub = xoc_bus_connect(ZMQ_SUB, opts->sub, opts);
    self->client = xoc_client_new(opts);
    if (!self->objects || !self->buffered || !self->sub || !self->client) {
        xoc_replica_destroy(&self);
        return NULL;
    }
    zsock_set_subscribe(self->sub, "obj.");
    zsock_set_subscribe(self->sub, "sys.cache.");
    return self;
}

void xoc_replica_destroy(xoc_replica_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_replica_t *self = *self_p;
    if (self->loop) {
        zloop_reader_end(self->loop, self->sub);
        if (self->timer >= 0)
            zloop_timer_end(self->loop, self->timer);
    }
    xoc_client_destroy(&self->client);
    zsock_destroy(&self->sub);
    zhashx_destroy(&self->objects);
    zhashx_destroy(&self->loading);
    free(self->dense);
    zlistx_destroy(&self->buffered);
    free(self);
    *self_p = NULL;
}

void xoc_replica_set_callbacks(xoc_replica_t *self, xoc_replica_change_fn *change,
                               xoc_replica_batch_fn *batch, void *arg)
{
    self->on_change = change;
    self->on_batch = batch;
    self->arg = arg;
}

int xoc_replica_attach(xoc_replica_t *self, zloop_t *loop)
{
    self->loop = loop;
    if (zloop_reader(loop, self->sub, s_on_sub, self) != 0 ||
        xoc_client_attach(self->client, loop) != 0)
        return -1;
    self->timer = zloop_timer(loop, 100, 0, s_on_timer, self);
    s_start_snapshot(self);
    return self->timer < 0 ? -1 : 0;
}

bool xoc_replica_synced(const xoc_replica_t *self)
{
    return self->synced;
}

uint64_t xoc_replica_seen_rev(const xoc_replica_t *self)
{
    return self->seen_rev > self->rev ? self->seen_rev : self->rev;
}

uint64_t xoc_replica_rev(const xoc_replica_t *self)
{
    return self->rev;
}

size_t xoc_replica_count(const xoc_replica_t *self)
{
    return zhashx_size(self->objects);
}

size_t xoc_replica_bytes(const xoc_replica_t *self)
{
    return self->bytes;
}

const xoc_replica_obj_t *xoc_replica_get(const xoc_replica_t *self, const char *id)
{
    s_entry_t *e = zhashx_lookup(self->objects, id);
    return e ? &e->pub : NULL;
}

void xoc_replica_stats(const xoc_replica_t *self, xoc_replica_stats_t *stats)
{
    *stats = self->stats;
}

int xoc_replica_foreach(const xoc_replica_t *self, xoc_replica_each_fn *fn, void *arg)
{
    if (self->dense_ok) { /* an array of pointers rather than the table's chains */
        for (size_t i = 0; i < self->dense_n; i++) {
            int rc = fn(&self->dense[i]->pub, arg);
            if (rc)
                return rc;
        }
        return 0;
    }
    for (s_entry_t *e = zhashx_first(self->objects); e; e = zhashx_next(self->objects)) {
        int rc = fn(&e->pub, arg);
        if (rc)
            return rc;
    }
    return 0;
}

void xoc_replica_set_user(xoc_replica_t *self, const xoc_replica_obj_t *obj, void *user)
{
    (void)self; /* obj is the pub of one of our entries, which are not const */
    ((xoc_replica_obj_t *)(uintptr_t)obj)->user = user;
}

uint64_t xoc_replica_gen(const xoc_replica_t *self)
{
    return self->gen;
}

void xoc_replica_resync(xoc_replica_t *self)
{
    s_start_snapshot(self);
}
