#include "xoc_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"

/* ---- tables generated from xoc_msg_defs.h --------------------------------------------- */

#define S_REQ_REQ true
#define S_REQ_OPT false
#define S_FIELD(S, type, fname, req, doc) {#fname, XOC_FT_##type, offsetof(S, fname), S_REQ_##req, doc},
#define S_TABLE(E, name, FIELDS, doc)                                                           \
    static const xoc_msg_field_t s_fields_##name[] = {FIELDS(S_FIELD, xoc_msg_##name##_t)};
XOC_MSG_LIST(S_TABLE)
#undef S_TABLE
#undef S_FIELD

typedef struct {
    const char *name;
    const char *doc;
    const xoc_msg_field_t *fields;
    size_t count;
} s_type_t;

static const s_type_t s_types[XOC_MSG_COUNT] = {
    [XOC_MSG_NONE] = {NULL, NULL, NULL, 0},
#define S_TYPE(E, name, FIELDS, doc)                                                            \
    [XOC_MSG_##E] = {#name, doc, s_fields_##name, sizeof s_fields_##name / sizeof(xoc_msg_field_t)},
    XOC_MSG_LIST(S_TYPE)
#undef S_TYPE
};

/* ---- strings --------------------------------------------------------------------------- */

xoc_str_t xoc_str(const char *cstr)
{
    return (xoc_str_t){cstr, cstr ? (uint32_t)strlen(cstr) : 0};
}

bool xoc_str_eq(xoc_str_t s, const char *cstr)
{
    size_t n = cstr ? strlen(cstr) : 0;
    return s.len == n && (n == 0 || memcmp(s.ptr, cstr, n) == 0);
}

char *xoc_str_copy(xoc_str_t s, char *buf, size_t size)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    if (n)
        memcpy(buf, s.ptr, n);
    buf[n] = '\0';
    return buf;
}

char *xoc_str_dup(xoc_str_t s)
{
    return strndup(s.ptr ? s.ptr : "", s.len);
}

/* ---- introspection --------------------------------------------------------------------- */

const char *xoc_msg_type_name(xoc_msg_type_t type)
{
    return type > XOC_MSG_NONE && type < XOC_MSG_COUNT ? s_types[type].name : NULL;
}

const char *xoc_msg_type_doc(xoc_msg_type_t type)
{
    return type > XOC_MSG_NONE && type < XOC_MSG_COUNT ? s_types[type].doc : NULL;
}

static xoc_msg_type_t s_type_lookup(const char *name, size_t len)
{
    for (int t = XOC_MSG_NONE + 1; t < XOC_MSG_COUNT; t++)
        if (strlen(s_types[t].name) == len && memcmp(s_types[t].name, name, len) == 0)
            return (xoc_msg_type_t)t;
    return XOC_MSG_NONE;
}

xoc_msg_type_t xoc_msg_type_from_name(const char *name)
{
    return name ? s_type_lookup(name, strlen(name)) : XOC_MSG_NONE;
}

const xoc_msg_field_t *xoc_msg_fields(xoc_msg_type_t type, size_t *count)
{
    if (type <= XOC_MSG_NONE || type >= XOC_MSG_COUNT) {
        *count = 0;
        return NULL;
    }
    *count = s_types[type].count;
    return s_types[type].fields;
}

/* ---- encoding -------------------------------------------------------------------------- */

static bool s_field_present(const xoc_msg_field_t *f, const void *body)
{
    const char *p = (const char *)body + f->offset;
    if (f->required)
        return true;
    switch (f->type) {
    case XOC_FT_STR:
        return ((const xoc_str_t *)p)->len > 0;
    case XOC_FT_BIN:
    case XOC_FT_MP:
        return ((const xoc_bin_t *)p)->len > 0;
    case XOC_FT_U64:
        return *(const uint64_t *)p != 0;
    case XOC_FT_I64:
        return *(const int64_t *)p != 0;
    case XOC_FT_F64:
        return *(const double *)p != 0.0;
    case XOC_FT_BOOL:
        return *(const bool *)p;
    }
    return false;
}

static int s_pack_field(msgpack_packer *pk, const xoc_msg_field_t *f, const void *body)
{
    const char *p = (const char *)body + f->offset;
    int rc = msgpack_pack_str_with_body(pk, f->name, strlen(f->name));
    switch (f->type) {
    case XOC_FT_STR: {
        const xoc_str_t *s = (const xoc_str_t *)p;
        rc |= msgpack_pack_str_with_body(pk, s->ptr ? s->ptr : "", s->len);
        break;
    }
    case XOC_FT_BIN:
    case XOC_FT_MP: {
        const xoc_bin_t *b = (const xoc_bin_t *)p;
        rc |= msgpack_pack_bin_with_body(pk, b->ptr ? (const void *)b->ptr : "", b->len);
        break;
    }
    case XOC_FT_U64:
        rc |= msgpack_pack_uint64(pk, *(const uint64_t *)p);
        break;
    case XOC_FT_I64:
        rc |= msgpack_pack_int64(pk, *(const int64_t *)p);
        break;
    case XOC_FT_F64:
        rc |= msgpack_pack_double(pk, *(const double *)p);
        break;
    case XOC_FT_BOOL:
        rc |= *(const bool *)p ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        break;
    }
    return rc;
}

int xoc_msg_encode(xoc_msg_type_t type, const void *body, msgpack_sbuffer *sbuf)
{
    if (type <= XOC_MSG_NONE || type >= XOC_MSG_COUNT || !body)
        return XOC_EINVAL;
    const s_type_t *t = &s_types[type];
    uint32_t n = 2;
    for (size_t i = 0; i < t->count; i++)
        n += s_field_present(&t->fields[i], body);

    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, n);
    rc |= msgpack_pack_str_with_body(&pk, "v", 1);
    rc |= msgpack_pack_uint32(&pk, XOC_PROTO_VERSION);
    rc |= msgpack_pack_str_with_body(&pk, "t", 1);
    rc |= msgpack_pack_str_with_body(&pk, t->name, strlen(t->name));
    for (size_t i = 0; i < t->count; i++)
        if (s_field_present(&t->fields[i], body))
            rc |= s_pack_field(&pk, &t->fields[i], body);
    return rc ? XOC_ENOMEM : 0;
}

/* ---- structural check: declared lengths fit, nesting bounded ---------------------------- */

static const uint8_t *s_mp_skip(const uint8_t *p, const uint8_t *end, int depth);

static uint64_t s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* skips `count` values (count*per of them: per=2 for maps) */
static const uint8_t *s_mp_skip_n(const uint8_t *p, const uint8_t *end, uint64_t count, int per,
                                  int depth)
{
    if (depth <= 0 || count > (uint64_t)(end - p)) /* every value takes at least one byte */
        return NULL;
    for (uint64_t i = 0; i < count * (uint64_t)per && p; i++)
        p = s_mp_skip(p, end, depth - 1);
    return p;
}

/* skips a header of `hdr` bytes (after the tag) holding a length, then `len` bytes */
static const uint8_t *s_mp_skip_sized(const uint8_t *p, const uint8_t *end, int hdr, int extra)
{
    if (end - p < hdr)
        return NULL;
    uint64_t len = s_be(p, hdr) + (uint64_t)extra;
    p += hdr;
    return len <= (uint64_t)(end - p) ? p + len : NULL;
}

static const uint8_t *s_mp_skip(const uint8_t *p, const uint8_t *end, int depth)
{
    if (p >= end)
        return NULL;
    uint8_t c = *p++;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3)
        return p;
    if (c >= 0x80 && c <= 0x8f)
        return s_mp_skip_n(p, end, c & 0x0f, 2, depth);
    if (c >= 0x90 && c <= 0x9f)
        return s_mp_skip_n(p, end, c & 0x0f, 1, depth);
    if (c >= 0xa0 && c <= 0xbf)
        return (uint64_t)(c & 0x1f) <= (uint64_t)(end - p) ? p + (c & 0x1f) : NULL;
    static const int fixed[] = {[0xca] = 4, [0xcb] = 8, [0xcc] = 1, [0xcd] = 2, [0xce] = 4,
                                [0xcf] = 8, [0xd0] = 1, [0xd1] = 2, [0xd2] = 4, [0xd3] = 8,
                                [0xd4] = 2, [0xd5] = 3, [0xd6] = 5, [0xd7] = 9, [0xd8] = 17};
    if (c >= 0xca && c <= 0xd8)
        return end - p >= fixed[c] ? p + fixed[c] : NULL;
    switch (c) {
    case 0xc4: case 0xd9: return s_mp_skip_sized(p, end, 1, 0);
    case 0xc5: case 0xda: return s_mp_skip_sized(p, end, 2, 0);
    case 0xc6: case 0xdb: return s_mp_skip_sized(p, end, 4, 0);
    case 0xc7: return s_mp_skip_sized(p, end, 1, 1); /* ext 8: len, type, data */
    case 0xc8: return s_mp_skip_sized(p, end, 2, 1);
    case 0xc9: return s_mp_skip_sized(p, end, 4, 1);
    case 0xdc: case 0xdd: case 0xde: case 0xdf: {
        int hdr = (c == 0xdc || c == 0xde) ? 2 : 4;
        if (end - p < hdr)
            return NULL;
        uint64_t n = s_be(p, hdr);
        return s_mp_skip_n(p + hdr, end, n, c >= 0xde ? 2 : 1, depth);
    }
    default: /* 0xc1: never used */
        return NULL;
    }
}

int xoc_mp_check(const void *data, size_t size, int max_depth)
{
    const uint8_t *p = data, *end = p + size;
    const uint8_t *q = s_mp_skip(p, end, max_depth + 1);
    return q == end ? 0 : XOC_EPROTO;
}

int xoc_mp_put_str(msgpack_sbuffer *sb, const char *p, size_t n, size_t first_alloc)
{
    if (n > UINT32_MAX)
        return XOC_ETOOBIG;
    if (sb->alloc - sb->size < n + 5) {
        size_t cap = sb->alloc ? sb->alloc : (first_alloc ? first_alloc : 256);
        while (cap - sb->size < n + 5)
            cap *= 2;
        char *d = realloc(sb->data, cap);
        if (!d)
            return XOC_ENOMEM;
        sb->data = d;
        sb->alloc = cap;
    }
    uint8_t *h = (uint8_t *)sb->data + sb->size;
    size_t hl;
    if (n < 32) {
        h[0] = (uint8_t)(0xa0 | n);
        hl = 1;
    } else if (n < 256) {
        h[0] = 0xd9, h[1] = (uint8_t)n;
        hl = 2;
    } else if (n < 65536) {
        h[0] = 0xda, h[1] = (uint8_t)(n >> 8), h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = 0xdb, h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8), h[4] = (uint8_t)n;
        hl = 5;
    }
    if (n)
        memcpy(h + hl, p, n);
    sb->size += hl + n;
    return 0;
}

int xoc_mp_size(const void *data, size_t size, int max_depth, size_t *used)
{
    const uint8_t *p = data;
    const uint8_t *q = s_mp_skip(p, p + size, max_depth + 1);
    if (!q)
        return XOC_EPROTO;
    *used = (size_t)(q - p);
    return 0;
}

/* ---- decoding -------------------------------------------------------------------------- */

static bool s_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        unsigned char c = *p++;
        int more;
        uint32_t cp;
        if (c < 0x80)
            continue;
        else if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            more = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            more = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            more = 3, cp = c & 0x07;
        else
            return false;
        if (e - p < more)
            return false;
        for (int i = 0; i < more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((more == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (more == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += more;
    }
    return true;
}

static int s_fail(xoc_msg_t *msg, int rc, const char *what, const char *field)
{
    snprintf(msg->why, sizeof msg->why, "%s%s%s%s", what, field ? " '" : "",
             field ? field : "", field ? "'" : "");
    msg->type = XOC_MSG_NONE;
    return rc;
}

static int s_set_field(xoc_msg_t *msg, const xoc_msg_field_t *f, const msgpack_object *v)
{
    char *p = (char *)&msg->req + f->offset; /* every member of the union starts at the same place */
    switch (f->type) {
    case XOC_FT_STR:
        if (v->type != MSGPACK_OBJECT_STR)
            return XOC_ETYPE;
        if (!s_utf8_valid(v->via.str.ptr, v->via.str.size))
            return XOC_EPROTO;
        *(xoc_str_t *)p = (xoc_str_t){v->via.str.ptr, v->via.str.size};
        return 0;
    case XOC_FT_BIN:
    case XOC_FT_MP:
        if (v->type == MSGPACK_OBJECT_BIN)
            *(xoc_bin_t *)p = (xoc_bin_t){(const uint8_t *)v->via.bin.ptr, v->via.bin.size};
        else if (v->type == MSGPACK_OBJECT_STR && f->type == XOC_FT_BIN)
            *(xoc_bin_t *)p = (xoc_bin_t){(const uint8_t *)v->via.str.ptr, v->via.str.size};
        else
            return XOC_ETYPE;
        if (f->type == XOC_FT_MP && v->via.bin.size > 0 &&
            xoc_mp_check(v->via.bin.ptr, v->via.bin.size, XOC_MSG_MAX_DEPTH) != 0)
            return XOC_EPROTO;
        return 0;
    case XOC_FT_U64:
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return XOC_ETYPE;
        *(uint64_t *)p = v->via.u64;
        return 0;
    case XOC_FT_I64:
        if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            *(int64_t *)p = v->via.i64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
            *(int64_t *)p = (int64_t)v->via.u64;
        else
            return XOC_ETYPE;
        return 0;
    case XOC_FT_F64:
        if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
            *(double *)p = v->via.f64;
        else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            *(double *)p = (double)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            *(double *)p = (double)v->via.i64;
        else
            return XOC_ETYPE;
        return 0;
    case XOC_FT_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return XOC_ETYPE;
        *(bool *)p = v->via.boolean;
        return 0;
    }
    return XOC_ETYPE;
}

static const msgpack_object *s_map_get(const msgpack_object_map *map, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->ptr[i].val;
    }
    return NULL;
}

static int s_decode_map(xoc_msg_t *msg, const msgpack_object_map *map)
{
    const msgpack_object *v = s_map_get(map, "v");
    if (!v)
        return s_fail(msg, XOC_EMISSING, "missing field", "v");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != XOC_PROTO_VERSION)
        return s_fail(msg, XOC_EVERSION, "unsupported protocol version in", "v");
    const msgpack_object *t = s_map_get(map, "t");
    if (!t)
        return s_fail(msg, XOC_EMISSING, "missing field", "t");
    if (t->type != MSGPACK_OBJECT_STR)
        return s_fail(msg, XOC_ETYPE, "wrong type for field", "t");
    xoc_msg_type_t type = s_type_lookup(t->via.str.ptr, t->via.str.size);
    if (type == XOC_MSG_NONE)
        return s_fail(msg, XOC_EPROTO, "unknown message type in", "t");

    const s_type_t *st = &s_types[type];
    for (size_t i = 0; i < st->count; i++) {
        const xoc_msg_field_t *f = &st->fields[i];
        const msgpack_object *fv = s_map_get(map, f->name);
        if (!fv) {
            if (f->required)
                return s_fail(msg, XOC_EMISSING, "missing field", f->name);
            continue;
        }
        int rc = s_set_field(msg, f, fv);
        if (rc == XOC_ETYPE)
            return s_fail(msg, rc, "wrong type for field", f->name);
        if (rc)
            return s_fail(msg, rc, "invalid content in field", f->name);
    }
    msg->type = type;
    return 0;
}

int xoc_msg_decode(xoc_msg_t *msg, const void *data, size_t size)
{
    memset(msg, 0, sizeof *msg);
    if (size > XOC_MSG_MAX_SIZE)
        return s_fail(msg, XOC_ETOOBIG, "frame over the size limit", NULL);
    if (!data || size == 0)
        return s_fail(msg, XOC_EPROTO, "empty frame", NULL);
    /* the body of a message is a flat map; MP fields are checked on their own */
    if (xoc_mp_check(data, size, 2) != 0)
        return s_fail(msg, XOC_EPROTO, "not one well-formed msgpack map", NULL);

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc;
    size_t off = 0;
    if (msgpack_unpack_next(&up, data, size, &off) != MSGPACK_UNPACK_SUCCESS || off != size)
        rc = s_fail(msg, XOC_EPROTO, "not one well-formed msgpack map", NULL);
    else if (up.data.type != MSGPACK_OBJECT_MAP)
        rc = s_fail(msg, XOC_EPROTO, "message is not a map", NULL);
    else
        rc = s_decode_map(msg, &up.data.via.map);
    msgpack_unpacked_destroy(&up);
    return rc;
}

int xoc_msg_decode_as(xoc_msg_t *msg, xoc_msg_type_t type, const void *data, size_t size)
{
    int rc = xoc_msg_decode(msg, data, size);
    if (rc == 0 && msg->type != type) {
        snprintf(msg->why, sizeof msg->why, "expected a '%s' message, got '%s'",
                 xoc_msg_type_name(type), xoc_msg_type_name(msg->type));
        msg->type = XOC_MSG_NONE;
        return XOC_EPROTO;
    }
    return rc;
}
