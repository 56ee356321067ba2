#include "xoc_cache_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <czmq.h>

#include "xoc_err.h"
#include "xoc_log.h"

#define S_REC_HEAD 31 /* rev 8, epoch 8, time 8, op 1, id/type/pool lengths 2+2+2 */
#define S_REC_CURRENT 0x80 /* op flag of a journal entry without its own copy of the object */

static const char *s_db_names[XOC_CACHE_DB_COUNT] = {"objects", "pool_ids", "pools", "journal",
                                                     "meta"};
static const char *s_cfg_names[] = {"servers", "users", "groups", "acls", "tokens", "plugins"};
#define S_CFG_COUNT (sizeof s_cfg_names / sizeof s_cfg_names[0])

struct _xoc_cache_store_t {
    MDB_env *env;
    MDB_dbi dbi[XOC_CACHE_DB_COUNT];
    MDB_dbi cfg[S_CFG_COUNT];
    uint64_t rev;           /* committed revision */
    msgpack_sbuffer rec;    /* scratch: record being written */
    xoc_cache_retention_t ret;
    bool ret_set;           /* change-set transactions prune (xoc_cache_store_set_retention) */
    xoc_cache_prune_stats_t pst;
};

/* what one pruning may remove: revision of its transaction, the clock, the bounds */
typedef struct {
    const xoc_cache_retention_t *ret;
    uint64_t rev;
    uint64_t now_ms;
    uint64_t must;    /* owed: removed without looking at the clock (when the bounds ask) */
    uint64_t floor;   /* over the byte bound, wanted until the journal's pages are back to
                         this (its pages before the transaction's changes; 0: none) */
    uint64_t cap;     /* at most, in all */
    uint64_t slack;   /* beyond what is owed, wanted up to this many more */
    double budget_us; /* what is wanted, while the deletes took less than this */
} s_prune_req_t;

static int s_prune_txn(xoc_cache_store_t *self, MDB_txn *txn, const s_prune_req_t *q,
                       xoc_cache_prune_t *out);

/* state of one apply transaction */
typedef struct {
    xoc_cache_store_t *store;
    MDB_txn *txn;
    const xoc_cache_cs_t *cs;
    xoc_cache_result_t *res;
    uint64_t rev;
    uint64_t now_ms;
} s_apply_t;

const char *xoc_cache_strerror(int err)
{
    if (err <= MDB_KEYEXIST && err >= MDB_LAST_ERRCODE)
        return mdb_strerror(err);
    return xoc_strerror(err);
}

uint64_t xoc_cache_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void s_put_be(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t s_get_be(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- records ------------------------------------------------------------------------- */

static void s_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static int s_rec_encode(msgpack_sbuffer *sb, const xoc_cache_rec_t *r)
{
    uint8_t head[S_REC_HEAD];
    s_put_be(head, r->rev);
    s_put_be(head + 8, r->epoch);
    s_put_be(head + 16, r->time_ms);
    head[24] = (uint8_t)((uint8_t)r->op | (r->current ? S_REC_CURRENT : 0));
    s_put16(head + 25, r->id.len);
    s_put16(head + 27, r->type.len);
    s_put16(head + 29, r->pool.len);
    sb->size = 0;
    if (msgpack_sbuffer_write(sb, (const char *)head, sizeof head) ||
        msgpack_sbuffer_write(sb, r->id.ptr, r->id.len) ||
        msgpack_sbuffer_write(sb, r->type.ptr, r->type.len) ||
        msgpack_sbuffer_write(sb, r->pool.ptr, r->pool.len) ||
        msgpack_sbuffer_write(sb, (const char *)r->object.ptr, r->object.len))
        return XOC_ENOMEM;
    return 0;
}

int xoc_cache_rec_decode(const void *data, size_t size, xoc_cache_rec_t *r)
{
    const uint8_t *p = data;
    if (size < S_REC_HEAD)
        return XOC_EIO;
    r->rev = s_get_be(p);
    r->epoch = s_get_be(p + 8);
    r->time_ms = s_get_be(p + 16);
    r->op = (xoc_cache_op_t)(p[24] & ~S_REC_CURRENT);
    r->current = (p[24] & S_REC_CURRENT) != 0;
    size_t il = (size_t)p[25] << 8 | p[26], tl = (size_t)p[27] << 8 | p[28],
           pl = (size_t)p[29] << 8 | p[30];
    if (size < S_REC_HEAD + il + tl + pl)
        return XOC_EIO;
    const char *s = (const char *)p + S_REC_HEAD;
    r->id = (xoc_str_t){s, (uint32_t)il};
    r->type = (xoc_str_t){s + il, (uint32_t)tl};
    r->pool = (xoc_str_t){s + il + tl, (uint32_t)pl};
    size_t used = S_REC_HEAD + il + tl + pl;
    r->object = (xoc_bin_t){p + used, (uint32_t)(size - used)};
    return 0;
}

/* ---- environment --------------------------------------------------------------------- */

uint64_t xoc_cache_store_meta(xoc_cache_store_t *self, MDB_txn *txn, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(txn, self->dbi[XOC_CACHE_DB_META], &k, &v) != 0 || v.mv_size != 8)
        return 0;
    return s_get_be(v.mv_data);
}

int xoc_cache_store_meta_put(xoc_cache_store_t *self, MDB_txn *txn, const char *key,
                             uint64_t value)
{
    uint8_t buf[8];
    s_put_be(buf, value);
    MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
    return mdb_put(txn, self->dbi[XOC_CACHE_DB_META], &k, &v, 0);
}

static int s_open_dbis(xoc_cache_store_t *self)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    for (int i = 0; i < XOC_CACHE_DB_COUNT && !rc; i++)
        rc = mdb_dbi_open(txn, s_db_names[i], MDB_CREATE, &self->dbi[i]);
    for (size_t i = 0; i < S_CFG_COUNT && !rc; i++) {
        char name[32];
        snprintf(name, sizeof name, "cfg.%s", s_cfg_names[i]);
        rc = mdb_dbi_open(txn, name, MDB_CREATE, &self->cfg[i]);
    }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    self->rev = xoc_cache_store_meta(self, txn, "rev");
    return mdb_txn_commit(txn);
}

static int s_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

xoc_cache_store_t *xoc_cache_store_new(const char *path, uint64_t map_size, bool nometasync,
                                       int *err)
{
    xoc_cache_store_t *self = calloc(1, sizeof *self);
    if (!self) {
        *err = XOC_ENOMEM;
        return NULL;
    }
    msgpack_sbuffer_init(&self->rec);
    int rc = s_mkdirs(path);
    if (!rc)
        rc = mdb_env_create(&self->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(self->env, XOC_CACHE_DB_COUNT + S_CFG_COUNT + 2);
    if (!rc)
        rc = mdb_env_set_mapsize(self->env, (size_t)map_size);
    if (!rc)
        rc = mdb_env_set_maxreaders(self->env, 256);
    if (!rc)
        rc = mdb_env_open(self->env, path, MDB_NOTLS | (nometasync ? MDB_NOMETASYNC : 0), 0600);
    int dead = 0;
    if (!rc)
        rc = mdb_reader_check(self->env, &dead); /* slots of a killed previous run */
    if (!rc)
        rc = s_open_dbis(self);
    if (rc) {
        xoc_error("cannot open LMDB path=%s: %s", path, xoc_cache_strerror(rc));
        *err = rc;
        xoc_cache_store_destroy(&self);
        return NULL;
    }
    xoc_info("store open path=%s rev=%llu stale_readers=%d sync=%s", path,
             (unsigned long long)self->rev, dead, nometasync ? "nometasync" : "full");
    return self;
}

void xoc_cache_store_destroy(xoc_cache_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_cache_store_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    msgpack_sbuffer_destroy(&self->rec);
    free(self);
    *self_p = NULL;
}

MDB_env *xoc_cache_store_env(xoc_cache_store_t *self)
{
    return self->env;
}

MDB_dbi xoc_cache_store_dbi(xoc_cache_store_t *self, xoc_cache_db_t db)
{
    return self->dbi[db];
}

int xoc_cache_store_cfg_dbi(xoc_cache_store_t *self, xoc_str_t name, MDB_dbi *dbi)
{
    for (size_t i = 0; i < S_CFG_COUNT; i++)
        if (xoc_str_eq(name, s_cfg_names[i])) {
            *dbi = self->cfg[i];
            return 0;
        }
    return XOC_EINVAL;
}

uint64_t xoc_cache_store_rev(const xoc_cache_store_t *self)
{
    return self->rev;
}

/* ---- apply --------------------------------------------------------------------------- */

void xoc_cache_result_clear(xoc_cache_result_t *res)
{
    free(res->events);
    free(res->arena);
    memset(res, 0, sizeof *res);
}

/* copies s into the arena; returns its offset (strings are resolved after the apply) */
static int s_arena_add(xoc_cache_result_t *res, xoc_str_t s, size_t *off)
{
    if (res->arena_len + s.len > res->arena_cap) {
        size_t cap = res->arena_cap ? res->arena_cap * 2 : 4096;
        while (cap < res->arena_len + s.len)
            cap *= 2;
        char *a = realloc(res->arena, cap);
        if (!a)
            return XOC_ENOMEM;
        res->arena = a;
        res->arena_cap = cap;
    }
    memcpy(res->arena + res->arena_len, s.ptr, s.len);
    *off = res->arena_len;
    res->arena_len += s.len;
    return 0;
}

static int s_event_add(xoc_cache_result_t *res, const xoc_cache_rec_t *r)
{
    if (res->count == res->cap) {
        size_t cap = res->cap ? res->cap * 2 : 64;
        xoc_cache_event_t *e = realloc(res->events, cap * sizeof *e);
        if (!e)
            return XOC_ENOMEM;
        res->events = e;
        res->cap = cap;
    }
    xoc_cache_event_t *e = &res->events[res->count];
    size_t a, b, c;
    if (s_arena_add(res, r->id, &a) || s_arena_add(res, r->type, &b) ||
        s_arena_add(res, r->pool, &c))
        return XOC_ENOMEM;
    /* offsets for now, pointers once the arena stops moving (s_events_resolve) */
    *e = (xoc_cache_event_t){r->rev, r->op, {(const char *)(uintptr_t)a, r->id.len},
                             {(const char *)(uintptr_t)b, r->type.len},
                             {(const char *)(uintptr_t)c, r->pool.len}, r->object};
    res->count++;
    return 0;
}

static void s_events_resolve(xoc_cache_result_t *res)
{
    for (size_t i = 0; i < res->count; i++) {
        xoc_cache_event_t *e = &res->events[i];
        e->id.ptr = res->arena + (uintptr_t)e->id.ptr;
        e->type.ptr = res->arena + (uintptr_t)e->type.ptr;
        e->pool.ptr = res->arena + (uintptr_t)e->pool.ptr;
    }
}

static int s_pool_key(char *buf, xoc_str_t pool, xoc_str_t id, MDB_val *k)
{
    memcpy(buf, pool.ptr, pool.len);
    buf[pool.len] = '\0';
    memcpy(buf + pool.len + 1, id.ptr, id.len);
    *k = (MDB_val){pool.len + 1 + id.len, buf};
    return 0;
}

static int s_pool_index(s_apply_t *a, xoc_str_t pool, xoc_str_t id, bool add)
{
    char buf[XOC_CACHE_POOL_MAX + XOC_CACHE_ID_MAX + 2];
    MDB_val k, v = {0, ""};
    s_pool_key(buf, pool, id, &k);
    MDB_dbi dbi = a->store->dbi[XOC_CACHE_DB_POOL_IDS];
    int rc = add ? mdb_put(a->txn, dbi, &k, &v, 0) : mdb_del(a->txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static bool s_str_same(xoc_str_t x, xoc_str_t y)
{
    return x.len == y.len && (x.len == 0 || !memcmp(x.ptr, y.ptr, x.len));
}

/* a committed object change: journal entry + event. The journal entry of an enter
   refers to the object record written next (s_put_object, same revision). */
static int s_record(s_apply_t *a, xoc_cache_rec_t *r)
{
    r->rev = ++a->rev;
    r->time_ms = a->now_ms;
    xoc_cache_rec_t j = *r;
    if (r->op == XOC_CACHE_ENTER)
        j = (xoc_cache_rec_t){.rev = r->rev, .epoch = r->epoch, .time_ms = r->time_ms,
                              .op = r->op, .current = true, .id = r->id};
    /* both copy r's strings before any write can move the pages they point into */
    int rc = s_rec_encode(&a->store->rec, &j);
    if (!rc)
        rc = s_event_add(a->res, r);
    uint8_t key[8];
    s_put_be(key, r->rev);
    MDB_val k = {8, key}, v = {a->store->rec.size, a->store->rec.data};
    if (!rc)
        rc = mdb_put(a->txn, a->store->dbi[XOC_CACHE_DB_JOURNAL], &k, &v, MDB_APPEND);
    return rc;
}

/* fresh: the object is new. It is appended when its id sorts after every id (an image comes
   in id order): LMDB then starts a new page instead of splitting the last one in two, so
   the pages of a loaded pool are full. */
static int s_put_object(s_apply_t *a, const xoc_cache_rec_t *r, bool fresh)
{
    int rc = s_rec_encode(&a->store->rec, r);
    MDB_val k = {r->id.len, (void *)r->id.ptr}, v = {a->store->rec.size, a->store->rec.data};
    MDB_dbi dbi = a->store->dbi[XOC_CACHE_DB_OBJECTS];
    if (rc)
        return rc;
    if (fresh && (rc = mdb_put(a->txn, dbi, &k, &v, MDB_APPEND)) != MDB_KEYEXIST)
        return rc; /* KEYEXIST: not after the last id (nothing written) */
    return mdb_put(a->txn, dbi, &k, &v, 0);
}

static int s_lookup(s_apply_t *a, xoc_str_t id, xoc_cache_rec_t *old)
{
    MDB_val k = {id.len, (void *)id.ptr}, v;
    int rc = mdb_get(a->txn, a->store->dbi[XOC_CACHE_DB_OBJECTS], &k, &v);
    if (rc)
        return rc;
    return xoc_cache_rec_decode(v.mv_data, v.mv_size, old);
}

/* old (the current record of an object) is about to be replaced or removed: its journal
   entry, if it still refers to it, gets its own copy (time and epoch of the entry kept).
   Only reads before the write: old may point into a page that the write moves. */
static int s_journal_keep(s_apply_t *a, const xoc_cache_rec_t *old)
{
    uint8_t key[8];
    s_put_be(key, old->rev);
    MDB_val k = {8, key}, v;
    MDB_dbi dbi = a->store->dbi[XOC_CACHE_DB_JOURNAL];
    int rc = mdb_get(a->txn, dbi, &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc; /* pruned */
    xoc_cache_rec_t j;
    if (xoc_cache_rec_decode(v.mv_data, v.mv_size, &j))
        return XOC_EIO;
    if (!j.current)
        return 0;
    if (j.op != XOC_CACHE_ENTER || !s_str_same(j.id, old->id))
        return XOC_EIO;
    xoc_cache_rec_t full = *old;
    full.time_ms = j.time_ms;
    full.epoch = j.epoch;
    full.op = XOC_CACHE_ENTER;
    full.current = false;
    rc = s_rec_encode(&a->store->rec, &full);
    v = (MDB_val){a->store->rec.size, a->store->rec.data};
    return rc ? rc : mdb_put(a->txn, dbi, &k, &v, 0);
}

static bool s_same(const xoc_cache_rec_t *old, const xoc_cache_change_t *c, xoc_str_t pool)
{
    return old->type.len == c->type.len && !memcmp(old->type.ptr, c->type.ptr, c->type.len) &&
           old->pool.len == pool.len && !memcmp(old->pool.ptr, pool.ptr, pool.len) &&
           old->object.len == c->object.len &&
           !memcmp(old->object.ptr, c->object.ptr, c->object.len);
}

/* copies an LMDB-held string before writes can move it */
static int s_hold(xoc_str_t s, char *buf, size_t size, xoc_str_t *out)
{
    if (s.len >= size)
        return XOC_EIO;
    memcpy(buf, s.ptr, s.len);
    *out = (xoc_str_t){buf, s.len};
    return 0;
}

static int s_enter(s_apply_t *a, const xoc_cache_change_t *c)
{
    xoc_cache_rec_t old, r = {.epoch = a->cs->epoch, .op = XOC_CACHE_ENTER, .id = c->id,
                              .type = c->type, .pool = a->cs->pool, .object = c->object};
    int rc = s_lookup(a, c->id, &old);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    bool found = rc == 0;
    if (found && s_same(&old, c, a->cs->pool)) {
        /* identical: no revision, but the object now belongs to this epoch's image */
        if (old.epoch == a->cs->epoch)
            return 0;
        r.rev = old.rev;
        return s_put_object(a, &r, false);
    }
    bool same_pool = found && s_str_same(old.pool, r.pool);
    char pbuf[XOC_CACHE_POOL_MAX + 1];
    xoc_str_t old_pool;
    rc = (found && !same_pool) ? s_hold(old.pool, pbuf, sizeof pbuf, &old_pool) : 0;
    if (!rc && found)
        rc = s_journal_keep(a, &old); /* old is not used after this write */
    if (!rc)
        rc = s_record(a, &r);
    if (!rc && found && !same_pool)
        rc = s_pool_index(a, old_pool, c->id, false);
    if (!rc && !same_pool)
        rc = s_pool_index(a, r.pool, c->id, true);
    return rc ? rc : s_put_object(a, &r, !found);
}

static int s_exit(s_apply_t *a, xoc_str_t id)
{
    xoc_cache_rec_t old;
    int rc = s_lookup(a, id, &old);
    if (rc == MDB_NOTFOUND)
        return 0;   /* already gone: nothing to record */
    if (rc)
        return rc;
    char pbuf[XOC_CACHE_POOL_MAX + 1], tbuf[XOC_CACHE_TYPE_MAX + 1];
    xoc_cache_rec_t r = {.op = XOC_CACHE_EXIT, .id = id};
    rc = s_hold(old.pool, pbuf, sizeof pbuf, &r.pool);
    if (!rc)
        rc = s_hold(old.type, tbuf, sizeof tbuf, &r.type);
    if (!rc)
        rc = s_journal_keep(a, &old); /* old is not used after this write */
    if (!rc)
        rc = s_record(a, &r);
    r.type = (xoc_str_t){NULL, 0};
    if (!rc)
        rc = s_pool_index(a, r.pool, id, false);
    MDB_val k = {id.len, (void *)id.ptr};
    if (!rc)
        rc = mdb_del(a->txn, a->store->dbi[XOC_CACHE_DB_OBJECTS], &k, NULL);
    return rc;
}

/* ids of the pool (all, or only those not entered in this epoch) -> exits */
static int s_sweep(s_apply_t *a, bool stale_only)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(a->txn, a->store->dbi[XOC_CACHE_DB_POOL_IDS], &cur);
    if (rc)
        return rc;
    xoc_str_t pool = a->cs->pool;
    char buf[XOC_CACHE_POOL_MAX + 2];
    memcpy(buf, pool.ptr, pool.len);
    buf[pool.len] = '\0';
    MDB_val k = {pool.len + 1, buf}, v;
    zlist_t *ids = zlist_new();
    zlist_autofree(ids);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= pool.len || memcmp(k.mv_data, buf, pool.len + 1) != 0)
            break;
        char *id = strndup((const char *)k.mv_data + pool.len + 1, k.mv_size - pool.len - 1);
        if (!id || zlist_append(ids, id) != 0) {
            free(id);
            rc = XOC_ENOMEM;
            break;
        }
        free(id);
    }
    mdb_cursor_close(cur);
    rc = (rc == MDB_NOTFOUND) ? 0 : rc;
    for (char *id = zlist_first(ids); id && !rc; id = zlist_next(ids)) {
        xoc_cache_rec_t old;
        rc = s_lookup(a, xoc_str(id), &old);
        if (rc == 0 && stale_only && old.epoch >= a->cs->epoch)
            continue;
        rc = rc == MDB_NOTFOUND ? 0 : rc ? rc : s_exit(a, xoc_str(id));
    }
    zlist_destroy(&ids);
    return rc;
}

static int s_pool_state(s_apply_t *a, uint64_t *epoch, uint64_t *seq)
{
    xoc_str_t pool = a->cs->pool;
    MDB_val k = {pool.len, (void *)pool.ptr}, v;
    int rc = mdb_get(a->txn, a->store->dbi[XOC_CACHE_DB_POOLS], &k, &v);
    *epoch = *seq = 0;
    if (rc == 0 && v.mv_size == 16) {
        *epoch = s_get_be(v.mv_data);
        *seq = s_get_be((const uint8_t *)v.mv_data + 8);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int s_pool_state_put(s_apply_t *a)
{
    uint8_t buf[16];
    s_put_be(buf, a->cs->epoch);
    s_put_be(buf + 8, a->cs->seq);
    MDB_val k = {a->cs->pool.len, (void *)a->cs->pool.ptr}, v = {16, buf};
    return mdb_put(a->txn, a->store->dbi[XOC_CACHE_DB_POOLS], &k, &v, 0);
}

static int s_apply_changes(s_apply_t *a)
{
    int rc = 0;
    for (size_t i = 0; i < a->cs->count && !rc; i++) {
        const xoc_cache_change_t *c = &a->cs->changes[i];
        rc = c->op == XOC_CACHE_ENTER ? s_enter(a, c) : s_exit(a, c->id);
    }
    if (!rc && a->cs->kind == XOC_CACHE_IMAGE_END)
        rc = s_sweep(a, true);
    if (!rc && a->cs->kind == XOC_CACHE_DROP)
        rc = s_sweep(a, false);
    if (!rc)
        rc = s_pool_state_put(a);
    if (!rc && a->rev != a->store->rev)
        rc = xoc_cache_store_meta_put(a->store, a->txn, "rev", a->rev);
    return rc;
}

/* 0: apply, 1: duplicate, XOC_ESTATE: gap */
static int s_order(s_apply_t *a, char *why, size_t ws)
{
    uint64_t epoch, seq;
    int rc = s_pool_state(a, &epoch, &seq);
    if (rc)
        return rc;
    const xoc_cache_cs_t *cs = a->cs;
    if (cs->epoch < epoch || (cs->epoch == epoch && cs->seq <= seq))
        return 1;
    if ((cs->epoch == epoch && cs->seq == seq + 1) || (cs->epoch > epoch && cs->seq == 1))
        return 0;
    snprintf(why, ws, "gap: last applied epoch=%llu seq=%llu, got epoch=%llu seq=%llu",
             (unsigned long long)epoch, (unsigned long long)seq, (unsigned long long)cs->epoch,
             (unsigned long long)cs->seq);
    return XOC_ESTATE;
}

/* one change set in txn. A duplicate or a gap is found before any write; any other error
   may leave writes of this set in txn (the caller then aborts txn). *rev: the revision
   before it, then after it. */
static int s_apply_one(xoc_cache_store_t *self, MDB_txn *txn, const xoc_cache_cs_t *cs,
                       xoc_cache_result_t *res, uint64_t *rev, uint64_t now_ms, char *why,
                       size_t ws)
{
    memset(res, 0, sizeof *res);
    s_apply_t a = {.store = self, .txn = txn, .cs = cs, .res = res, .rev = *rev,
                   .now_ms = now_ms};
    int rc = s_order(&a, why, ws);
    if (rc == 1) {
        res->duplicate = true;
        res->rev = *rev;
        return 0;
    }
    if (!rc && (rc = s_apply_changes(&a)) != 0)
        snprintf(why, ws, "apply: %s", xoc_cache_strerror(rc));
    if (rc) {
        xoc_cache_result_clear(res);
        return rc;
    }
    *rev = res->rev = a.rev;
    return 0;
}

/* the journal's share of pruning in a change-set transaction that wrote revisions up to
   rev (see xoc_cache_store.h); pages0: the journal's pages before its changes */
static int s_apply_prune(xoc_cache_store_t *self, MDB_txn *txn, uint64_t rev, uint64_t now_ms,
                         uint64_t pages0, xoc_cache_prune_t *pr)
{
    uint64_t added = rev - self->rev;
    double us = self->ret.commit_us > 0 ? self->ret.commit_us : XOC_CACHE_PRUNE_COMMIT_US;
    s_prune_req_t q = {.ret = &self->ret, .rev = rev, .now_ms = now_ms,
                       .must = added < XOC_CACHE_PRUNE_COMMIT_MAX ? added
                                                                  : XOC_CACHE_PRUNE_COMMIT_MAX,
                       .floor = pages0, .cap = XOC_CACHE_PRUNE_COMMIT_MAX + XOC_CACHE_PRUNE_SLACK,
                       .slack = XOC_CACHE_PRUNE_SLACK, .budget_us = us};
    return s_prune_txn(self, txn, &q, pr);
}

/* pages of the journal in txn (0 when it cannot tell) */
static uint64_t s_journal_pages(xoc_cache_store_t *self, MDB_txn *txn)
{
    MDB_stat st;
    if (mdb_stat(txn, self->dbi[XOC_CACHE_DB_JOURNAL], &st) != 0)
        return 0;
    return (uint64_t)st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
}

static void s_prune_count(xoc_cache_store_t *self, const xoc_cache_prune_t *pr)
{
    xoc_cache_prune_stats_t *st = &self->pst;
    st->more = pr->more;
    if (!pr->entries)
        return;
    st->entries += pr->entries;
    st->pages += pr->pages;
    st->txns++;
    st->us += pr->us;
    st->max_entries = pr->entries > st->max_entries ? pr->entries : st->max_entries;
    st->max_us = pr->us > st->max_us ? pr->us : st->max_us;
}

/* applies cs[0..n) in one write transaction, and prunes the journal's share in it when
   prune is set. Returns 0 when it was committed (status[i] says how each went: 0, or a
   refusal made before any write), or the error that aborted it (*failed: the change set
   whose apply failed, n when it was the commit or begin, n + 1 when it was pruning). */
static int s_apply_txn(xoc_cache_store_t *self, const xoc_cache_cs_t *cs, size_t n,
                       xoc_cache_result_t *res, int *status, char (*why)[256], size_t *failed,
                       bool prune)
{
    xoc_cache_prune_t pr = {0};
    uint64_t pages0 = 0;
    MDB_txn *txn;
    uint64_t rev = self->rev, now_ms = xoc_cache_wall_ms();
    *failed = n;
    for (size_t i = 0; i < n; i++) {
        memset(&res[i], 0, sizeof res[i]);
        why[i][0] = '\0';
        status[i] = 0;
    }
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            snprintf(why[i], sizeof why[i], "begin: %s", mdb_strerror(rc));
        return rc;
    }
    if (prune && self->ret_set)
        pages0 = s_journal_pages(self, txn);
    for (size_t i = 0; i < n && !rc; i++) {
        status[i] = s_apply_one(self, txn, &cs[i], &res[i], &rev, now_ms, why[i], sizeof why[i]);
        if (status[i] && status[i] != XOC_ESTATE) { /* writes of its own may be in txn */
            rc = status[i];
            *failed = i;
        }
    }
    if (!rc && prune && self->ret_set && rev != self->rev &&
        (rc = s_apply_prune(self, txn, rev, now_ms, pages0, &pr)) != 0) {
        *failed = n + 1;
        for (size_t i = 0; i < n; i++)
            snprintf(why[i], sizeof why[i], "journal pruning: %s", xoc_cache_strerror(rc));
    }
    if (rc)
        mdb_txn_abort(txn);
    else if ((rc = mdb_txn_commit(txn)) != 0)
        for (size_t i = 0; i < n; i++)
            snprintf(why[i], sizeof why[i], "commit: %s", mdb_strerror(rc));
    if (rc) { /* nothing of the batch is there */
        for (size_t i = 0; i < n; i++) {
            xoc_cache_result_clear(&res[i]);
            status[i] = rc;
        }
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (status[i] == 0 && !res[i].duplicate)
            s_events_resolve(&res[i]);
    self->rev = rev;
    s_prune_count(self, &pr);
    return 0;
}

/* s_apply_txn with the journal's share of pruning; if pruning fails (e.g. the map is full),
   the change sets go in without it */
static int s_apply_pruning(xoc_cache_store_t *self, const xoc_cache_cs_t *cs, size_t n,
                           xoc_cache_result_t *res, int *status, char (*why)[256],
                           size_t *failed)
{
    int rc = s_apply_txn(self, cs, n, res, status, why, failed, true);
    if (rc && *failed == n + 1) {
        xoc_warn("journal pruning failed, change sets committed without it: %s",
                 xoc_cache_strerror(rc));
        rc = s_apply_txn(self, cs, n, res, status, why, failed, false);
    }
    return rc;
}

int xoc_cache_store_apply_batch(xoc_cache_store_t *self, const xoc_cache_cs_t *cs, size_t n,
                                xoc_cache_result_t *res, int *status, char (*why)[256])
{
    /* no nested transactions (their copies of dirty pages doubled the memory of a large
       group): one transaction for the group; if a change set fails half-way, the group
       is aborted and its sets are applied again one per transaction, so that only the
       failing one is refused */
    size_t failed;
    int rc = s_apply_pruning(self, cs, n, res, status, why, &failed);
    if (rc == 0 || n == 1)
        return rc;
    if (failed == n)
        return rc; /* begin or commit: nothing of the batch is there */
    for (size_t i = 0; i < n; i++)
        s_apply_pruning(self, &cs[i], 1, &res[i], &status[i], &why[i], &failed);
    return 0;
}

int xoc_cache_store_apply(xoc_cache_store_t *self, const xoc_cache_cs_t *cs,
                          xoc_cache_result_t *res, char *why, size_t ws)
{
    char w[1][256];
    int status;
    xoc_cache_store_apply_batch(self, cs, 1, res, &status, w);
    snprintf(why, ws, "%s", w[0]);
    return status;
}

/* ---- reads --------------------------------------------------------------------------- */

static int s_read_begin(xoc_cache_store_t *self, MDB_txn **txn)
{
    return mdb_txn_begin(self->env, NULL, MDB_RDONLY, txn);
}

int xoc_cache_store_get(xoc_cache_store_t *self, xoc_str_t id, msgpack_sbuffer *out)
{
    MDB_txn *txn;
    int rc = s_read_begin(self, &txn);
    if (rc)
        return rc;
    MDB_val k = {id.len, (void *)id.ptr}, v;
    xoc_cache_rec_t r;
    rc = mdb_get(txn, self->dbi[XOC_CACHE_DB_OBJECTS], &k, &v);
    if (!rc)
        rc = xoc_cache_rec_decode(v.mv_data, v.mv_size, &r);
    if (!rc) {
        xoc_msg_obj_t o = {.rev = r.rev, .op = XOC_STR("enter"), .id = r.id, .type = r.type,
                           .pool = r.pool, .object = r.object};
        rc = xoc_msg_obj_encode(&o, out);
    }
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? XOC_ENOENT : rc;
}

/* appends [id, type, pool, object] */
static int s_pack_item(msgpack_packer *pk, const xoc_cache_rec_t *r)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_str_with_body(pk, r->id.ptr, r->id.len);
    msgpack_pack_str_with_body(pk, r->type.ptr, r->type.len);
    msgpack_pack_str_with_body(pk, r->pool.ptr, r->pool.len);
    return msgpack_sbuffer_write(pk->data, (const char *)r->object.ptr, r->object.len);
}

int xoc_cache_pack_item(msgpack_packer *pk, const xoc_cache_rec_t *r)
{
    return s_pack_item(pk, r) ? XOC_ENOMEM : 0;
}

/* the reply's items: an array header for count, then the packed items */
static int s_items(const msgpack_sbuffer *body, uint64_t count, msgpack_sbuffer *items)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, items, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, (size_t)count) ||
        msgpack_sbuffer_write(items, body->data, body->size))
        return XOC_ENOMEM;
    return 0;
}

typedef struct {
    const xoc_msg_query_t *q;
    msgpack_object filter;
    msgpack_zone fzone;   /* the filter */
    msgpack_zone zone;    /* the object being compared */
    msgpack_sbuffer body;
    msgpack_packer pk;
    uint64_t count;
    size_t max_bytes;
} s_query_t;

static bool s_filter_match(s_query_t *qy, const xoc_cache_rec_t *r)
{
    if (qy->filter.type != MSGPACK_OBJECT_MAP || qy->filter.via.map.size == 0)
        return true;
    msgpack_object obj;
    size_t off = 0;
    msgpack_zone_clear(&qy->zone);
    if (msgpack_unpack((const char *)r->object.ptr, r->object.len, &off, &qy->zone, &obj) < 0 ||
        obj.type != MSGPACK_OBJECT_MAP)
        return false;
    const msgpack_object_map *f = &qy->filter.via.map;
    for (uint32_t i = 0; i < f->size; i++) {
        bool hit = false;
        for (uint32_t j = 0; j < obj.via.map.size && !hit; j++)
            hit = msgpack_object_equal(obj.via.map.ptr[j].key, f->ptr[i].key) &&
                  msgpack_object_equal(obj.via.map.ptr[j].val, f->ptr[i].val);
        if (!hit)
            return false;
    }
    return true;
}

/* 1: limit reached, 0: go on, <0: error */
static int s_query_one(s_query_t *qy, const MDB_val *v)
{
    xoc_cache_rec_t r;
    if (xoc_cache_rec_decode(v->mv_data, v->mv_size, &r))
        return XOC_EIO;
    if (qy->q->type.len && !s_str_same(r.type, qy->q->type))
        return 0;
    if (qy->q->pool.len && !s_str_same(r.pool, qy->q->pool))
        return 0;
    if (!s_filter_match(qy, &r))
        return 0;
    if (s_pack_item(&qy->pk, &r))
        return XOC_ENOMEM;
    if (qy->body.size > qy->max_bytes)
        return XOC_ETOOBIG;
    qy->count++;
    return qy->q->limit && qy->count >= qy->q->limit ? 1 : 0;
}

static int s_query_pool(xoc_cache_store_t *self, MDB_txn *txn, s_query_t *qy)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi[XOC_CACHE_DB_POOL_IDS], &cur);
    if (rc)
        return rc;
    xoc_str_t pool = qy->q->pool;
    char buf[XOC_CACHE_POOL_MAX + 2];
    memcpy(buf, pool.ptr, pool.len);
    buf[pool.len] = '\0';
    MDB_val k = {pool.len + 1, buf}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= pool.len || memcmp(k.mv_data, buf, pool.len + 1) != 0)
            break;
        MDB_val ok = {k.mv_size - pool.len - 1, (char *)k.mv_data + pool.len + 1}, ov;
        rc = mdb_get(txn, self->dbi[XOC_CACHE_DB_OBJECTS], &ok, &ov);
        rc = rc ? rc : s_query_one(qy, &ov);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 1 ? 0 : rc;
}

static int s_query_all(xoc_cache_store_t *self, MDB_txn *txn, s_query_t *qy)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi[XOC_CACHE_DB_OBJECTS], &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = s_query_one(qy, &v)) != 0)
            break;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 1 ? 0 : rc;
}

static int s_filter_parse(s_query_t *qy, char *why, size_t ws)
{
    qy->filter.type = MSGPACK_OBJECT_NIL;
    if (!qy->q->filter.len)
        return 0;
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack((const char *)qy->q->filter.ptr,
                                               qy->q->filter.len, &off, &qy->fzone, &qy->filter);
    bool ok = ret == MSGPACK_UNPACK_SUCCESS &&
              (qy->filter.type == MSGPACK_OBJECT_MAP || qy->filter.type == MSGPACK_OBJECT_NIL);
    for (uint32_t i = 0; ok && qy->filter.type == MSGPACK_OBJECT_MAP &&
                         i < qy->filter.via.map.size; i++)
        ok = qy->filter.via.map.ptr[i].key.type == MSGPACK_OBJECT_STR;
    if (!ok) {
        snprintf(why, ws, "filter: must be a map of field name -> value");
        return XOC_EINVAL;
    }
    return 0;
}

int xoc_cache_store_query(xoc_cache_store_t *self, const xoc_msg_query_t *q, size_t max_bytes,
                          msgpack_sbuffer *out, char *why, size_t ws)
{
    s_query_t qy = {.q = q, .max_bytes = max_bytes};
    msgpack_zone_init(&qy.zone, 4096);
    msgpack_zone_init(&qy.fzone, 1024);
    msgpack_sbuffer_init(&qy.body);
    msgpack_packer_init(&qy.pk, &qy.body, msgpack_sbuffer_write);
    int rc = s_filter_parse(&qy, why, ws);
    MDB_txn *txn = NULL;
    if (!rc)
        rc = s_read_begin(self, &txn);
    if (!rc)
        rc = q->pool.len ? s_query_pool(self, txn, &qy) : s_query_all(self, txn, &qy);
    msgpack_sbuffer items;
    msgpack_sbuffer_init(&items);
    if (!rc)
        rc = s_items(&qy.body, qy.count, &items);
    if (!rc) {
        xoc_msg_objects_t o = {.rev = xoc_cache_store_meta(self, txn, "rev"), .count = qy.count,
                               .items = {(const uint8_t *)items.data, (uint32_t)items.size}};
        rc = xoc_msg_objects_encode(&o, out);
    }
    if (rc == XOC_ETOOBIG)
        snprintf(why, ws, "reply over %zu bytes: use cache.snapshot", max_bytes);
    if (txn)
        mdb_txn_abort(txn);
    msgpack_sbuffer_destroy(&items);
    msgpack_sbuffer_destroy(&qy.body);
    msgpack_zone_destroy(&qy.zone);
    msgpack_zone_destroy(&qy.fzone);
    return rc;
}

/* ---- journal ------------------------------------------------------------------------- */

static const char *s_op_name(xoc_cache_op_t op)
{
    return op == XOC_CACHE_ENTER ? "enter" : "exit";
}

static int s_pack_change(msgpack_packer *pk, const xoc_cache_rec_t *r)
{
    bool enter = r->op == XOC_CACHE_ENTER;
    const char *op = s_op_name(r->op);
    msgpack_pack_array(pk, enter ? 6 : 5);
    msgpack_pack_uint64(pk, r->rev);
    msgpack_pack_str_with_body(pk, op, strlen(op));
    msgpack_pack_str_with_body(pk, r->id.ptr, r->id.len);
    msgpack_pack_str_with_body(pk, r->type.ptr, r->type.len);
    msgpack_pack_str_with_body(pk, r->pool.ptr, r->pool.len);
    if (enter && msgpack_sbuffer_write(pk->data, (const char *)r->object.ptr, r->object.len))
        return XOC_ENOMEM;
    return 0;
}

typedef struct {
    uint64_t count;
    bool more;
    msgpack_sbuffer body;
} s_changes_t;

/* an entry that refers to the current object: its type, pool and object from `objects` */
static int s_changes_current(xoc_cache_store_t *self, MDB_txn *txn, xoc_cache_rec_t *r)
{
    MDB_val k = {r->id.len, (void *)r->id.ptr}, v;
    xoc_cache_rec_t o;
    int rc = mdb_get(txn, self->dbi[XOC_CACHE_DB_OBJECTS], &k, &v);
    if (rc)
        return rc == MDB_NOTFOUND ? XOC_EIO : rc;
    if (xoc_cache_rec_decode(v.mv_data, v.mv_size, &o) || o.rev != r->rev)
        return XOC_EIO;
    r->type = o.type;
    r->pool = o.pool;
    r->object = o.object;
    return 0;
}

static int s_changes_scan(xoc_cache_store_t *self, MDB_txn *txn, MDB_cursor *cur, uint64_t since, uint64_t rev, uint64_t limit,
                          size_t max_bytes, s_changes_t *ch)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    uint64_t first = rc == 0 && k.mv_size == 8 ? s_get_be(k.mv_data) : rev + 1;
    if (since <= rev && first > since)
        return XOC_ESTATE;
    uint8_t key[8];
    s_put_be(key, since);
    k = (MDB_val){8, key};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ch->body, msgpack_sbuffer_write);
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (ch->count >= limit || ch->body.size >= max_bytes) {
            ch->more = true;
            break;
        }
        xoc_cache_rec_t r;
        if ((rc = xoc_cache_rec_decode(v.mv_data, v.mv_size, &r)) != 0 ||
            (r.current && (rc = s_changes_current(self, txn, &r)) != 0) ||
            (rc = s_pack_change(&pk, &r)) != 0)
            break;
        ch->count++;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int xoc_cache_store_changes(xoc_cache_store_t *self, uint64_t since, uint64_t limit,
                            size_t max_bytes, msgpack_sbuffer *out)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    s_changes_t ch = {0};
    msgpack_sbuffer_init(&ch.body);
    since = since ? since : 1;
    int rc = s_read_begin(self, &txn);
    if (rc)
        goto free_body;
    uint64_t rev = xoc_cache_store_meta(self, txn, "rev");
    rc = mdb_cursor_open(txn, self->dbi[XOC_CACHE_DB_JOURNAL], &cur);
    if (!rc)
        rc = s_changes_scan(self, txn, cur, since, rev, limit, max_bytes, &ch);
    msgpack_sbuffer items;
    msgpack_sbuffer_init(&items);
    if (!rc)
        rc = s_items(&ch.body, ch.count, &items);
    if (!rc) {
        xoc_msg_journal_t j = {.since = since, .rev = rev, .more = ch.more,
                               .items = {(const uint8_t *)items.data, (uint32_t)items.size}};
        rc = xoc_msg_journal_encode(&j, out);
    }
    msgpack_sbuffer_destroy(&items);
    if (cur)
        mdb_cursor_close(cur);
    mdb_txn_abort(txn);
free_body:
    msgpack_sbuffer_destroy(&ch.body);
    return rc;
}

static double s_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static uint64_t s_pages(const MDB_stat *st)
{
    return (uint64_t)st->ms_branch_pages + st->ms_leaf_pages + st->ms_overflow_pages;
}

/* removes the oldest journal entries that the bounds exceed (count, age, and pages: while
   the journal's pages take more than max_bytes), within q's limits, in txn */
static int s_prune_txn(xoc_cache_store_t *self, MDB_txn *txn, const s_prune_req_t *q,
                       xoc_cache_prune_t *out)
{
    memset(out, 0, sizeof *out);
    MDB_dbi dbi = self->dbi[XOC_CACHE_DB_JOURNAL];
    MDB_stat st;
    MDB_cursor *cur;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc || st.ms_entries == 0)
        return rc;
    uint64_t pages0 = s_pages(&st), pages = pages0, age = q->ret->max_age_ms;
    uint64_t oldest = age && q->now_ms > age ? q->now_ms - age : 0;
    uint64_t max_pages = q->ret->max_bytes ? q->ret->max_bytes / st.ms_psize : 0;
    if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
        return rc;
    double t0 = s_mono_us();
    uint64_t extra = 0;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size != 8) {
            rc = XOC_EIO;
            break;
        }
        uint64_t r = s_get_be(k.mv_data);
        uint64_t held = q->rev >= r ? q->rev - r + 1 : 0;
        uint64_t t = v.mv_size >= 24 ? s_get_be((const uint8_t *)v.mv_data + 16) : 0;
        if (max_pages && out->entries)
            pages = s_journal_pages(self, txn);
        bool over = max_pages && pages > max_pages;
        if (held <= q->ret->keep && t >= oldest && !over)
            break; /* nothing due */
        /* owed: the transaction's count; then, within the time budget, its pages over the
           byte bound and the slack */
        bool owed = out->entries < q->must;
        bool wanted = (over && q->floor && pages > q->floor) || extra < q->slack;
        bool late = extra && extra % 16 == 0 && s_mono_us() - t0 > q->budget_us;
        if (out->entries >= q->cap || (!owed && (!wanted || late))) {
            out->more = true;
            break;
        }
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        out->entries++;
        extra += !owed;
    }
    mdb_cursor_close(cur);
    out->us = s_mono_us() - t0;
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc && out->entries && (rc = mdb_stat(txn, dbi, &st)) == 0)
        out->pages = pages0 > s_pages(&st) ? pages0 - s_pages(&st) : 0;
    return rc;
}

/* one write transaction of pruning; committed when it removed something */
static int s_prune_commit(xoc_cache_store_t *self, const s_prune_req_t *q, xoc_cache_prune_t *out)
{
    MDB_txn *txn;
    memset(out, 0, sizeof *out);
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    rc = s_prune_txn(self, txn, q, out);
    if (rc || out->entries == 0) {
        mdb_txn_abort(txn);
        if (rc)
            memset(out, 0, sizeof *out);
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int xoc_cache_store_prune(xoc_cache_store_t *self, uint64_t keep, uint64_t max_age_ms,
                          uint64_t max_bytes, size_t batch, uint64_t *pruned)
{
    xoc_cache_retention_t ret = {.keep = keep, .max_age_ms = max_age_ms, .max_bytes = max_bytes};
    s_prune_req_t q = {.ret = &ret, .rev = self->rev, .now_ms = xoc_cache_wall_ms(),
                       .must = batch, .cap = batch};
    xoc_cache_prune_t out;
    int rc = s_prune_commit(self, &q, &out);
    *pruned = out.entries;
    return rc;
}

void xoc_cache_store_set_retention(xoc_cache_store_t *self, const xoc_cache_retention_t *ret)
{
    self->ret = *ret;
    self->ret_set = true;
}

int xoc_cache_store_prune_step(xoc_cache_store_t *self, xoc_cache_prune_t *out)
{
    s_prune_req_t q = {.ret = &self->ret, .rev = self->rev, .now_ms = xoc_cache_wall_ms(),
                       .cap = XOC_CACHE_PRUNE_STEP, .slack = XOC_CACHE_PRUNE_STEP,
                       .budget_us = self->ret.step_us > 0 ? self->ret.step_us
                                                          : XOC_CACHE_PRUNE_STEP_US};
    if (!self->ret_set) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return s_prune_commit(self, &q, out);
}

void xoc_cache_store_prune_stats(const xoc_cache_store_t *self, xoc_cache_prune_stats_t *st)
{
    *st = self->pst;
}

int xoc_cache_store_counts(xoc_cache_store_t *self, uint64_t *objects, uint64_t *journal)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = s_read_begin(self, &txn);
    if (rc)
        return rc;
    rc = mdb_stat(txn, self->dbi[XOC_CACHE_DB_OBJECTS], &st);
    *objects = rc ? 0 : st.ms_entries;
    rc = rc ? rc : mdb_stat(txn, self->dbi[XOC_CACHE_DB_JOURNAL], &st);
    *journal = rc ? 0 : st.ms_entries;
    mdb_txn_abort(txn);
    return rc;
}
