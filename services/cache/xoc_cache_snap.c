#include "xoc_cache_snap.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_err.h"
#include "xoc_log.h"

typedef struct {
    uint64_t id;
    uint64_t rev;
    MDB_txn *txn;
    MDB_cursor *cur;
    bool started;
    int64_t used_ms;
} s_snap_t;

struct _xoc_cache_snaps_t {
    xoc_cache_store_t *store;
    size_t max_open;
    uint64_t next_id;
    zlist_t *open;   /* s_snap_t */
};

static void s_snap_free(s_snap_t **snap_p)
{
    s_snap_t *snap = *snap_p;
    if (!snap)
        return;
    if (snap->cur)
        mdb_cursor_close(snap->cur);
    if (snap->txn)
        mdb_txn_abort(snap->txn);
    free(snap);
    *snap_p = NULL;
}

xoc_cache_snaps_t *xoc_cache_snaps_new(xoc_cache_store_t *store, size_t max_open)
{
    xoc_cache_snaps_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->store = store;
    self->max_open = max_open;
    self->next_id = (uint64_t)zclock_time(); /* ids of a previous run are not reused */
    self->open = zlist_new();
    if (!self->open)
        xoc_cache_snaps_destroy(&self);
    return self;
}

void xoc_cache_snaps_destroy(xoc_cache_snaps_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_cache_snaps_t *self = *self_p;
    for (s_snap_t *s = zlist_first(self->open); s; s = zlist_next(self->open))
        s_snap_free(&s);
    zlist_destroy(&self->open);
    free(self);
    *self_p = NULL;
}

static s_snap_t *s_find(xoc_cache_snaps_t *self, uint64_t id)
{
    for (s_snap_t *s = zlist_first(self->open); s; s = zlist_next(self->open))
        if (s->id == id)
            return s;
    return NULL;
}

int xoc_cache_snaps_open(xoc_cache_snaps_t *self, msgpack_sbuffer *out)
{
    if (zlist_size(self->open) >= self->max_open)
        return XOC_EBUSY;
    s_snap_t *snap = calloc(1, sizeof *snap);
    if (!snap)
        return XOC_ENOMEM;
    MDB_env *env = xoc_cache_store_env(self->store);
    MDB_dbi objects = xoc_cache_store_dbi(self->store, XOC_CACHE_DB_OBJECTS);
    MDB_stat st;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &snap->txn);
    if (!rc)
        rc = mdb_cursor_open(snap->txn, objects, &snap->cur);
    if (!rc)
        rc = mdb_stat(snap->txn, objects, &st);
    if (!rc && zlist_append(self->open, snap) != 0)
        rc = XOC_ENOMEM;
    if (rc) {
        s_snap_free(&snap);
        return rc;
    }
    snap->id = ++self->next_id;
    snap->rev = xoc_cache_store_meta(self->store, snap->txn, "rev");
    snap->used_ms = xoc_bus_now_ms();
    xoc_msg_snap_t reply = {.snapshot = snap->id, .rev = snap->rev, .count = st.ms_entries};
    xoc_debug("snapshot open snapshot=%llu rev=%llu count=%zu", (unsigned long long)snap->id,
              (unsigned long long)snap->rev, st.ms_entries);
    return xoc_msg_snap_encode(&reply, out);
}

static int s_chunk(s_snap_t *snap, size_t max_bytes, msgpack_sbuffer *body, uint64_t *count,
                   bool *done)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, body, msgpack_sbuffer_write);
    MDB_val k, v;
    int rc = mdb_cursor_get(snap->cur, &k, &v, snap->started ? MDB_GET_CURRENT : MDB_FIRST);
    snap->started = true;
    while (rc == 0 && (*count == 0 || body->size < max_bytes)) {
        xoc_cache_rec_t r;
        if ((rc = xoc_cache_rec_decode(v.mv_data, v.mv_size, &r)) != 0 ||
            (rc = xoc_cache_pack_item(&pk, &r)) != 0)
            return rc;
        (*count)++;
        rc = mdb_cursor_get(snap->cur, &k, &v, MDB_NEXT);
    }
    *done = rc == MDB_NOTFOUND;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int xoc_cache_snaps_next(xoc_cache_snaps_t *self, uint64_t id, size_t max_bytes,
                         msgpack_sbuffer *out)
{
    s_snap_t *snap = s_find(self, id);
    if (!snap)
        return XOC_ENOENT;
    snap->used_ms = xoc_bus_now_ms();
    msgpack_sbuffer body, items;
    msgpack_sbuffer_init(&body);
    msgpack_sbuffer_init(&items);
    uint64_t count = 0;
    bool done = false;
    int rc = s_chunk(snap, max_bytes, &body, &count, &done);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &items, msgpack_sbuffer_write);
    if (!rc && (msgpack_pack_array(&pk, (size_t)count) ||
                msgpack_sbuffer_write(&items, body.data, body.size)))
        rc = XOC_ENOMEM;
    if (!rc) {
        xoc_msg_objects_t o = {.rev = snap->rev, .count = count, .done = done,
                               .items = {(const uint8_t *)items.data, (uint32_t)items.size}};
        rc = xoc_msg_objects_encode(&o, out);
    }
    if (rc || done) {
        zlist_remove(self->open, snap);
        s_snap_free(&snap);
    }
    msgpack_sbuffer_destroy(&items);
    msgpack_sbuffer_destroy(&body);
    return rc;
}

int xoc_cache_snaps_close(xoc_cache_snaps_t *self, uint64_t id)
{
    s_snap_t *snap = s_find(self, id);
    if (!snap)
        return XOC_ENOENT;
    zlist_remove(self->open, snap);
    s_snap_free(&snap);
    return 0;
}

size_t xoc_cache_snaps_expire(xoc_cache_snaps_t *self, int64_t idle_ms)
{
    int64_t now = xoc_bus_now_ms();
    size_t n = 0;
    s_snap_t *s = zlist_first(self->open);
    while (s) {
        s_snap_t *next = zlist_next(self->open);
        if (now - s->used_ms > idle_ms) {
            xoc_info("snapshot expired snapshot=%llu rev=%llu", (unsigned long long)s->id,
                     (unsigned long long)s->rev);
            zlist_remove(self->open, s);
            s_snap_free(&s);
            n++;
        }
        s = next;
    }
    return n;
}

size_t xoc_cache_snaps_open_count(const xoc_cache_snaps_t *self)
{
    return zlist_size(self->open);
}
