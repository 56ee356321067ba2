#include "xoc_cache_config.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_log.h"

#define S_EXT_SEALED 17 /* msgpack ext type of a sealed value: nonce || secretbox */
#define S_KEY_MAX 255

struct _xoc_cache_config_t {
    xoc_cache_store_t *store;
    unsigned char key[crypto_secretbox_KEYBYTES];
};

typedef enum { S_SHOW_OBFUSCATED, S_SHOW_REVEAL } s_show_t;

/* ---- key file ------------------------------------------------------------------------ */

static int s_key_read(const char *path, unsigned char *key)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        xoc_warn("secret key file is readable by others path=%s mode=%o", path,
                 (unsigned)(st.st_mode & 0777));
    ssize_t n = read(fd, key, crypto_secretbox_KEYBYTES);
    close(fd);
    return n == crypto_secretbox_KEYBYTES ? 0 : XOC_EIO;
}

static int s_key_create(const char *path, unsigned char *key)
{
    crypto_secretbox_keygen(key);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, key, crypto_secretbox_KEYBYTES);
    int rc = n == crypto_secretbox_KEYBYTES && fsync(fd) == 0 ? 0 : XOC_EIO;
    close(fd);
    if (rc == 0)
        xoc_info("secret key created path=%s", path);
    return rc;
}

xoc_cache_config_t *xoc_cache_config_new(xoc_cache_store_t *store, const char *key_path,
                                         int *err)
{
    xoc_cache_config_t *self = NULL;
    if (sodium_init() < 0) {
        *err = XOC_EINTERNAL;
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self) {
        *err = XOC_ENOMEM;
        return NULL;
    }
    self->store = store;
    sodium_mlock(self->key, sizeof self->key);
    int rc = s_key_read(key_path, self->key);
    if (rc == ENOENT)
        rc = s_key_create(key_path, self->key);
    if (rc) {
        xoc_error("cannot load the secret key path=%s: %s", key_path, xoc_strerror(rc));
        *err = rc;
        xoc_cache_config_destroy(&self);
    }
    return self;
}

void xoc_cache_config_destroy(xoc_cache_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_cache_config_t *self = *self_p;
    sodium_munlock(self->key, sizeof self->key); /* also zeroes it */
    free(self);
    *self_p = NULL;
}

/* ---- sealing and showing records ------------------------------------------------------ */

static bool s_is_secret(xoc_str_t db, const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR)
        return false;
    xoc_str_t k = {key->via.str.ptr, key->via.str.size};
    if (xoc_str_eq(db, "servers"))
        return xoc_str_eq(k, "password");
    if (xoc_str_eq(db, "plugins"))
        return xoc_str_eq(k, "password") || xoc_str_eq(k, "secret");
    return false;
}

static int s_unpack_map(msgpack_zone *zone, const void *data, size_t len, msgpack_object *obj)
{
    size_t off = 0;
    if (msgpack_unpack(data, len, &off, zone, obj) != MSGPACK_UNPACK_SUCCESS ||
        obj->type != MSGPACK_OBJECT_MAP)
        return XOC_EINVAL;
    for (uint32_t i = 0; i < obj->via.map.size; i++)
        if (obj->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return XOC_EINVAL;
    return 0;
}

static const msgpack_object *s_field(const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; map && map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++)
        if (msgpack_object_equal(map->via.map.ptr[i].key, *key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

static int s_seal_value(xoc_cache_config_t *self, msgpack_packer *pk, const msgpack_object *v)
{
    msgpack_sbuffer plain;
    msgpack_sbuffer_init(&plain);
    msgpack_packer ppk;
    msgpack_packer_init(&ppk, &plain, msgpack_sbuffer_write);
    int rc = msgpack_pack_object(&ppk, *v) ? XOC_ENOMEM : 0;
    size_t len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size;
    unsigned char *box = rc ? NULL : malloc(len);
    if (!rc && !box)
        rc = XOC_ENOMEM;
    if (!rc) {
        randombytes_buf(box, crypto_secretbox_NONCEBYTES);
        crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (unsigned char *)plain.data,
                              plain.size, box, self->key);
        if (msgpack_pack_ext(pk, len, S_EXT_SEALED) ||
            msgpack_pack_ext_body(pk, box, len))
            rc = XOC_ENOMEM;
    }
    sodium_memzero(plain.data, plain.size);
    msgpack_sbuffer_destroy(&plain);
    free(box);
    return rc;
}

static bool s_is_obfuscated(const msgpack_object *v)
{
    return v->type == MSGPACK_OBJECT_STR &&
           v->via.str.size == strlen(XOC_CACHE_OBFUSCATED) &&
           !memcmp(v->via.str.ptr, XOC_CACHE_OBFUSCATED, v->via.str.size);
}

/* the record to store: secret fields sealed (or kept from `old` when sent obfuscated) */
static int s_seal(xoc_cache_config_t *self, xoc_str_t db, const msgpack_object *map,
                  const msgpack_object *old, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, map->via.map.size) ? XOC_ENOMEM : 0;
    for (uint32_t i = 0; i < map->via.map.size && !rc; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        const msgpack_object *kept = s_is_obfuscated(v) ? s_field(old, k) : NULL;
        rc = msgpack_pack_object(&pk, *k) ? XOC_ENOMEM : 0;
        if (!rc && s_is_secret(db, k) && kept && kept->type == MSGPACK_OBJECT_EXT)
            rc = msgpack_pack_object(&pk, *kept) ? XOC_ENOMEM : 0;
        else if (!rc && s_is_secret(db, k))
            rc = s_seal_value(self, &pk, v);
        else if (!rc)
            rc = msgpack_pack_object(&pk, *v) ? XOC_ENOMEM : 0;
    }
    return rc;
}

static int s_open_value(xoc_cache_config_t *self, msgpack_packer *pk, const msgpack_object *v)
{
    const unsigned char *box = (const unsigned char *)v->via.ext.ptr;
    size_t len = v->via.ext.size;
    if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return XOC_EIO;
    size_t plen = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    unsigned char *plain = malloc(plen + 1);
    if (!plain)
        return XOC_ENOMEM;
    int rc = crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
                                        len - crypto_secretbox_NONCEBYTES, box, self->key)
                 ? XOC_EIO
                 : 0;
    if (!rc && msgpack_sbuffer_write(pk->data, (const char *)plain, plen))
        rc = XOC_ENOMEM;
    sodium_memzero(plain, plen);
    free(plain);
    return rc;
}

/* a stored record as clients see it */
static int s_show(xoc_cache_config_t *self, const void *data, size_t len, s_show_t how,
                  msgpack_packer *pk)
{
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object map;
    int rc = s_unpack_map(&zone, data, len, &map) ? XOC_EIO : 0;
    if (!rc && msgpack_pack_map(pk, map.via.map.size))
        rc = XOC_ENOMEM;
    for (uint32_t i = 0; i < (rc ? 0 : map.via.map.size) && !rc; i++) {
        const msgpack_object *k = &map.via.map.ptr[i].key, *v = &map.via.map.ptr[i].val;
        rc = msgpack_pack_object(pk, *k) ? XOC_ENOMEM : 0;
        bool sealed = v->type == MSGPACK_OBJECT_EXT && v->via.ext.type == S_EXT_SEALED;
        if (!rc && sealed && how == S_SHOW_REVEAL)
            rc = s_open_value(self, pk, v);
        else if (!rc && sealed)
            rc = msgpack_pack_str_with_body(pk, XOC_CACHE_OBFUSCATED,
                                            strlen(XOC_CACHE_OBFUSCATED))
                     ? XOC_ENOMEM
                     : 0;
        else if (!rc)
            rc = msgpack_pack_object(pk, *v) ? XOC_ENOMEM : 0;
    }
    msgpack_zone_destroy(&zone);
    return rc;
}

static int s_show_buf(xoc_cache_config_t *self, const void *data, size_t len, s_show_t how,
                      msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return s_show(self, data, len, how, &pk);
}

/* ---- requests ------------------------------------------------------------------------ */

static int s_target(xoc_cache_config_t *self, const xoc_msg_cfg_t *req, bool need_key,
                    MDB_dbi *dbi, char *why, size_t ws)
{
    if (xoc_cache_store_cfg_dbi(self->store, req->db, dbi)) {
        snprintf(why, ws, "db: not one of servers, users, groups, acls, tokens, plugins");
        return XOC_EINVAL;
    }
    if (need_key && !xoc_cache_name_ok(req->key, S_KEY_MAX, false)) {
        snprintf(why, ws, "key: empty, over %d bytes or with NUL", S_KEY_MAX);
        return XOC_EINVAL;
    }
    return 0;
}

static int s_encode(const xoc_msg_cfg_t *m, msgpack_sbuffer *out)
{
    return out ? xoc_msg_cfg_encode(m, out) : 0;
}

/* commits txn with the next configuration revision; *rev = that revision */
static int s_commit(xoc_cache_config_t *self, MDB_txn *txn, uint64_t *rev)
{
    *rev = xoc_cache_store_meta(self->store, txn, "cfg_rev") + 1;
    int rc = xoc_cache_store_meta_put(self->store, txn, "cfg_rev", *rev);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* equal as JSON values are: maps whatever their key order, numbers by value (a record a
   frontend read comes back through JSON) */
static bool s_same(const msgpack_object *a, const msgpack_object *b)
{
#define S_INT(o) ((o)->type == MSGPACK_OBJECT_POSITIVE_INTEGER || \
                  (o)->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
#define S_NUM(o) (S_INT(o) || (o)->type == MSGPACK_OBJECT_FLOAT32 || \
                  (o)->type == MSGPACK_OBJECT_FLOAT64)
    if (S_INT(a) && S_INT(b))
        return a->type == b->type && a->via.u64 == b->via.u64;
    if (S_NUM(a) && S_NUM(b)) {
        double x = S_INT(a) ? (a->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)a->via.i64
                                                                         : (double)a->via.u64)
                            : a->via.f64;
        double y = S_INT(b) ? (b->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)b->via.i64
                                                                         : (double)b->via.u64)
                            : b->via.f64;
        return x == y;
    }
#undef S_NUM
#undef S_INT
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size)
            return false;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!s_same(&a->via.array.ptr[i], &b->via.array.ptr[i]))
                return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        if (a->via.map.size != b->via.map.size)
            return false;
        for (uint32_t i = 0; i < a->via.map.size; i++) {
            const msgpack_object *v = s_field(b, &a->via.map.ptr[i].key);
            if (!v || !s_same(&a->via.map.ptr[i].val, v))
                return false;
        }
        return true;
    default:
        return msgpack_object_equal(*a, *b);
    }
}

/* config.set / config.delete with `expect`: the stored record, shown as its readers see it,
   must still be the one the writer read (nil: it must not exist), else XOC_ESTATE — another
   writer came in between, and the writer starts again from a fresh read */
static int s_check_expect(xoc_cache_config_t *self, MDB_txn *txn, MDB_dbi dbi,
                          const xoc_msg_cfg_t *req, char *why, size_t ws)
{
    if (!req->expect.len)
        return 0;
    MDB_val k = {req->key.len, (void *)req->key.ptr}, v;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_sbuffer shown;
    msgpack_sbuffer_init(&shown);
    msgpack_object want, have = {.type = MSGPACK_OBJECT_NIL};
    size_t off = 0;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (msgpack_unpack((const char *)req->expect.ptr, req->expect.len, &off, &zone, &want) !=
        MSGPACK_UNPACK_SUCCESS) {
        snprintf(why, ws, "expect: not a msgpack value");
        rc = XOC_EINVAL;
    } else if (rc == 0 && (rc = s_show_buf(self, v.mv_data, v.mv_size, S_SHOW_OBFUSCATED,
                                           &shown)) == 0) {
        off = 0;
        if (msgpack_unpack(shown.data, shown.size, &off, &zone, &have) != MSGPACK_UNPACK_SUCCESS)
            rc = XOC_EINVAL;
    } else if (rc == MDB_NOTFOUND)
        rc = 0; /* absent: nil */
    if (rc == 0 && !s_same(&want, &have)) {
        snprintf(why, ws, "the record changed since it was read");
        rc = XOC_ESTATE;
    }
    sodium_memzero(shown.data, shown.size);
    msgpack_sbuffer_destroy(&shown);
    msgpack_zone_destroy(&zone);
    return rc;
}

static int s_set_txn(xoc_cache_config_t *self, MDB_txn *txn, MDB_dbi dbi,
                     const xoc_msg_cfg_t *req, const msgpack_object *map, msgpack_sbuffer *sealed)
{
    MDB_val k = {req->key.len, (void *)req->key.ptr}, v;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object old = {.type = MSGPACK_OBJECT_NIL};
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && req->create) {
        msgpack_zone_destroy(&zone);
        return XOC_EEXIST; /* create only: someone else made it first */
    }
    if (rc == 0 && s_unpack_map(&zone, v.mv_data, v.mv_size, &old) != 0)
        old.type = MSGPACK_OBJECT_NIL;
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    if (!rc)
        rc = s_seal(self, req->db, map, &old, sealed);
    msgpack_zone_destroy(&zone);
    v = (MDB_val){sealed->size, sealed->data};
    return rc ? rc : mdb_put(txn, dbi, &k, &v, 0);
}

int xoc_cache_config_set(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                         msgpack_sbuffer *reply, msgpack_sbuffer *event, char *why, size_t ws)
{
    MDB_dbi dbi;
    int rc = s_target(self, req, true, &dbi, why, ws);
    if (rc)
        return rc;
    msgpack_zone zone;
    msgpack_zone_init(&zone, 1024);
    msgpack_object map;
    msgpack_sbuffer sealed, shown;
    msgpack_sbuffer_init(&sealed);
    msgpack_sbuffer_init(&shown);
    MDB_txn *txn;
    uint64_t rev = 0;
    if ((rc = s_unpack_map(&zone, req->value.ptr, req->value.len, &map)) != 0) {
        snprintf(why, ws, "value: must be a map with string keys");
        goto free_all;
    }
    if ((rc = mdb_txn_begin(xoc_cache_store_env(self->store), NULL, 0, &txn)) != 0)
        goto free_all;
    rc = s_check_expect(self, txn, dbi, req, why, ws);
    if (!rc)
        rc = s_set_txn(self, txn, dbi, req, &map, &sealed);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = s_commit(self, txn, &rev);
    if (!rc)
        rc = s_show_buf(self, sealed.data, sealed.size, S_SHOW_OBFUSCATED, &shown);
    if (!rc) {
        xoc_msg_cfg_t m = {.db = req->db, .key = req->key, .rev = rev, .op = XOC_STR("set"),
                           .value = {(const uint8_t *)shown.data, (uint32_t)shown.size}};
        rc = s_encode(&m, reply);
        rc = rc ? rc : s_encode(&m, event);
    }
free_all:
    sodium_memzero(sealed.data, sealed.size);
    msgpack_sbuffer_destroy(&sealed);
    msgpack_sbuffer_destroy(&shown);
    msgpack_zone_destroy(&zone);
    return rc;
}

int xoc_cache_config_get(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                         msgpack_sbuffer *reply, char *why, size_t ws)
{
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = s_target(self, req, true, &dbi, why, ws);
    if (rc || (rc = mdb_txn_begin(xoc_cache_store_env(self->store), NULL, MDB_RDONLY, &txn)))
        return rc;
    MDB_val k = {req->key.len, (void *)req->key.ptr}, v;
    msgpack_sbuffer shown;
    msgpack_sbuffer_init(&shown);
    rc = mdb_get(txn, dbi, &k, &v);
    if (!rc)
        rc = s_show_buf(self, v.mv_data, v.mv_size,
                        req->reveal ? S_SHOW_REVEAL : S_SHOW_OBFUSCATED, &shown);
    if (!rc) {
        xoc_msg_cfg_t m = {.db = req->db, .key = req->key,
                           .rev = xoc_cache_store_meta(self->store, txn, "cfg_rev"),
                           .value = {(const uint8_t *)shown.data, (uint32_t)shown.size}};
        rc = s_encode(&m, reply);
    }
    mdb_txn_abort(txn);
    sodium_memzero(shown.data, shown.size);
    msgpack_sbuffer_destroy(&shown);
    return rc == MDB_NOTFOUND ? XOC_ENOENT : rc;
}

int xoc_cache_config_delete(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                            msgpack_sbuffer *reply, msgpack_sbuffer *event, char *why,
                            size_t ws)
{
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = s_target(self, req, true, &dbi, why, ws);
    if (rc || (rc = mdb_txn_begin(xoc_cache_store_env(self->store), NULL, 0, &txn)))
        return rc;
    MDB_val k = {req->key.len, (void *)req->key.ptr};
    uint64_t rev = 0;
    rc = s_check_expect(self, txn, dbi, req, why, ws);
    if (!rc)
        rc = mdb_del(txn, dbi, &k, NULL);
    if (rc)
        mdb_txn_abort(txn);
    else
        rc = s_commit(self, txn, &rev);
    if (rc)
        return rc == MDB_NOTFOUND ? XOC_ENOENT : rc;
    xoc_msg_cfg_t m = {.db = req->db, .key = req->key, .rev = rev, .op = XOC_STR("delete")};
    rc = s_encode(&m, reply);
    return rc ? rc : s_encode(&m, event);
}

static int s_list(xoc_cache_config_t *self, MDB_txn *txn, MDB_dbi dbi, s_show_t how,
                  size_t max_bytes, msgpack_sbuffer *items)
{
    MDB_stat st;
    MDB_cursor *cur;
    int rc = mdb_stat(txn, dbi, &st);
    if (rc || (rc = mdb_cursor_open(txn, dbi, &cur)))
        return rc;
    msgpack_packer pk;
    msgpack_packer_init(&pk, items, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, st.ms_entries);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        msgpack_pack_str_with_body(&pk, k.mv_data, k.mv_size);
        if ((rc = s_show(self, v.mv_data, v.mv_size, how, &pk)) != 0)
            break;
        if (items->size > max_bytes) {
            rc = XOC_ETOOBIG;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int xoc_cache_config_list(xoc_cache_config_t *self, const xoc_msg_cfg_t *req, size_t max_bytes,
                          msgpack_sbuffer *reply, char *why, size_t ws)
{
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = s_target(self, req, false, &dbi, why, ws);
    if (rc || (rc = mdb_txn_begin(xoc_cache_store_env(self->store), NULL, MDB_RDONLY, &txn)))
        return rc;
    msgpack_sbuffer items;
    msgpack_sbuffer_init(&items);
    rc = s_list(self, txn, dbi, req->reveal ? S_SHOW_REVEAL : S_SHOW_OBFUSCATED, max_bytes,
                &items);
    if (!rc) {
        xoc_msg_cfg_t m = {.db = req->db,
                           .rev = xoc_cache_store_meta(self->store, txn, "cfg_rev"),
                           .items = {(const uint8_t *)items.data, (uint32_t)items.size}};
        rc = s_encode(&m, reply);
    }
    if (rc == XOC_ETOOBIG)
        snprintf(why, ws, "list over %zu bytes", max_bytes);
    mdb_txn_abort(txn);
    sodium_memzero(items.data, items.size);
    msgpack_sbuffer_destroy(&items);
    return rc;
}
