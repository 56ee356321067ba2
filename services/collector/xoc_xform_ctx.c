/*  xoc_xform_ctx — reading XAPI values out of msgpack records and writing xo fields.        */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_msg.h"
#include "xoc_xform_int.h"

/*  ---- well-formedness check ------------------------------------------------------------ */

/*  Size of the fixed part after the type byte, and of the length prefix for str/bin/ext.    */
static int s_leaf(const uint8_t *p, size_t left, size_t *size)
{
    uint8_t b = p[0];
    size_t lenlen = 0, fixed = 0, extra = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1)) {
        *size = 1;
        return 0;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        extra = b & 0x1f;
    } else if (b == 0xc4 || b == 0xd9) {
        lenlen = 1;
    } else if (b == 0xc5 || b == 0xda) {
        lenlen = 2;
    } else if (b == 0xc6 || b == 0xdb) {
        lenlen = 4;
    } else if (b == 0xc7 || b == 0xc8 || b == 0xc9) {
        lenlen = (size_t)1 << (b - 0xc7);
        extra = 1; /* ext type byte */
    } else if (b == 0xca || b == 0xcb) {
        fixed = b == 0xca ? 4 : 8;
    } else if (b >= 0xcc && b <= 0xd3) {
        fixed = (size_t)1 << ((b - 0xcc) & 3);
    } else if (b >= 0xd4 && b <= 0xd8) {
        fixed = 1 + ((size_t)1 << (b - 0xd4));
    } else {
        return XOC_EPROTO; /* 0xc1 */
    }
    if (left < 1 + lenlen)
        return XOC_EPROTO;
    uint64_t n = 0;
    for (size_t i = 0; i < lenlen; i++)
        n = (n << 8) | p[1 + i];
    uint64_t total = 1 + (uint64_t)lenlen + fixed + extra + n;
    if (total > left)
        return XOC_EPROTO;
    *size = (size_t)total;
    return 0;
}

/*  Container header: *n = number of child values (2 per map entry), *hdr = header size.
    Returns 1 for a container, 0 for a leaf, <0 on truncation.                               */
static int s_container(const uint8_t *p, size_t left, uint64_t *n, size_t *hdr)
{
    uint8_t b = p[0];
    uint64_t cnt;
    int map = 0;
    if (b >= 0x80 && b <= 0x9f) {
        map = b <= 0x8f;
        cnt = b & 0x0f;
        *hdr = 1;
    } else if (b == 0xdc || b == 0xde) {
        if (left < 3)
            return XOC_EPROTO;
        map = b == 0xde;
        cnt = ((uint64_t)p[1] << 8) | p[2];
        *hdr = 3;
    } else if (b == 0xdd || b == 0xdf) {
        if (left < 5)
            return XOC_EPROTO;
        map = b == 0xdf;
        cnt = ((uint64_t)p[1] << 24) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 8) | p[4];
        *hdr = 5;
    } else {
        return 0;
    }
    *n = map ? cnt * 2 : cnt;
    return 1;
}

int xf_mp_check_depth(const uint8_t *buf, size_t len, size_t *used, int max_depth)
{
    uint64_t stack[XF_MAX_DEPTH + 1];
    if (max_depth > XF_MAX_DEPTH)
        max_depth = XF_MAX_DEPTH;
    int depth = 0;
    size_t pos = 0;
    stack[0] = 1;
    while (depth >= 0) {
        if (stack[depth] == 0) {
            depth--;
            continue;
        }
        stack[depth]--;
        if (pos >= len)
            return XOC_EPROTO;
        uint64_t n = 0;
        size_t sz = 0;
        int rc = s_container(buf + pos, len - pos, &n, &sz);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if ((rc = s_leaf(buf + pos, len - pos, &sz)) < 0)
                return rc;
            pos += sz;
            continue;
        }
        pos += sz;
        if (n > len - pos) /* every child takes at least one byte */
            return XOC_EPROTO;
        if (n == 0)
            continue;
        if (depth >= max_depth)
            return XOC_ETOOBIG;
        stack[++depth] = n;
    }
    *used = pos;
    return 0;
}

int xf_mp_check(const uint8_t *buf, size_t len, size_t *used)
{
    return xf_mp_check_depth(buf, len, used, XF_MAX_DEPTH);
}

int xf_mp_pick(const uint8_t *rec, size_t len, const char *const *keys, size_t nkeys,
               msgpack_zone *z, msgpack_object *map, msgpack_object_kv *kv)
{
    uint64_t count = 0;
    size_t pos = 0;
    map->type = MSGPACK_OBJECT_MAP;
    map->via.map.size = 0;
    map->via.map.ptr = kv;
    if (len == 0 || s_container(rec, len, &count, &pos) != 1 || (rec[0] > 0x8f && rec[0] < 0xde))
        return XOC_ETYPE; /* not a map */
    count /= 2;
    uint64_t want = 0; /* keys already picked, as bits */
    for (uint64_t i = 0; i < count && map->via.map.size < nkeys; i++) {
        size_t ksize, vsize;
        uint8_t b = pos < len ? rec[pos] : 0;
        const char *k = NULL;
        size_t kn = 0;
        if (pos < len && ((b >= 0xa0 && b <= 0xbf) || b == 0xd9)) { /* short str key */
            size_t hdr = b == 0xd9 ? 2 : 1;
            kn = b == 0xd9 ? (pos + 1 < len ? rec[pos + 1] : 0) : (size_t)(b & 0x1f);
            if (pos + hdr + kn > len)
                return XOC_EPROTO;
            k = (const char *)rec + pos + hdr;
            ksize = hdr + kn;
        } else if (xf_mp_check(rec + pos, len - pos, &ksize) != 0) {
            return XOC_EPROTO;
        } else if (b == 0xda || b == 0xdb) { /* long str key: compared below */
            size_t hdr = b == 0xda ? 3 : 5;
            k = (const char *)rec + pos + hdr;
            kn = ksize - hdr;
        }
        pos += ksize;
        size_t j = nkeys;
        if (k)
            for (j = 0; j < nkeys; j++)
                if (!(want >> j & 1) && strlen(keys[j]) == kn && memcmp(keys[j], k, kn) == 0)
                    break;
        if (j == nkeys) { /* not wanted: skipped */
            if (xf_mp_check(rec + pos, len - pos, &vsize) != 0)
                return XOC_EPROTO;
            pos += vsize;
            continue;
        }
        size_t off = pos;
        msgpack_object_kv *e = &kv[map->via.map.size];
        if (msgpack_unpack((const char *)rec, len, &off, z, &e->val) < 0)
            return XOC_ENOMEM; /* well-formed: only the zone can fail */
        e->key.type = MSGPACK_OBJECT_STR;
        e->key.via.str.size = (uint32_t)kn;
        e->key.via.str.ptr = k;
        map->via.map.size++;
        want |= (uint64_t)1 << j;
        pos = off;
    }
    return 0;
}

int xoc_xform_mp_size(const void *buf, size_t len, size_t *used)
{
    return xf_mp_check(buf, len, used);
}

/*  ---- reading --------------------------------------------------------------------------- */

const msgpack_object *xf_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        /* the first byte before a call of memcmp: most keys of the same length differ there */
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            (klen == 0 ||
             (k->via.str.ptr[0] == key[0] && memcmp(k->via.str.ptr, key, klen) == 0)))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

bool xf_is_str(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_STR;
}

const char *xf_cstr(xf_ctx_t *c, const msgpack_object *o)
{
    if (!xf_is_str(o))
        return NULL;
    char *s = msgpack_zone_malloc(&c->zone, o->via.str.size + 1);
    if (!s) {
        c->oom = true;
        return NULL;
    }
    if (o->via.str.size)
        memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

bool xf_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return xf_is_str(o) && o->via.str.size == n && (n == 0 || memcmp(o->via.str.ptr, s, n) == 0);
}

/*  Decimal integer of n bytes, optional sign, no spaces.                                    */
static bool s_parse_int(const char *p, size_t n, int64_t *v)
{
    bool neg = false;
    size_t i = 0;
    if (n > 0 && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == n || n - i > 19)
        return false;
    uint64_t acc = 0;
    for (; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        acc = acc * 10 + (uint64_t)(p[i] - '0');
    }
    if (acc > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return false;
    *v = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return true;
}

bool xf_to_int(const msgpack_object *o, int64_t *v)
{
    if (!o)
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return false;
        *v = (int64_t)o->via.u64;
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = o->via.i64;
        return true;
    case MSGPACK_OBJECT_STR:
        return s_parse_int(o->via.str.ptr, o->via.str.size, v);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64) || o->via.f64 != floor(o->via.f64) ||
            fabs(o->via.f64) >= 9.2e18)
            return false;
        *v = (int64_t)o->via.f64;
        return true;
    default:
        return false;
    }
}

bool xf_to_num(const msgpack_object *o, double *v)
{
    int64_t i;
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64) {
        *v = o->via.f64;
        return isfinite(*v);
    }
    if (o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 && o->via.str.size < 64) {
        char tmp[64], *end;
        memcpy(tmp, o->via.str.ptr, o->via.str.size);
        tmp[o->via.str.size] = '\0';
        *v = strtod(tmp, &end);
        return *end == '\0' && isfinite(*v);
    }
    if (xf_to_int(o, &i)) {
        *v = (double)i;
        return true;
    }
    return false;
}

bool xf_to_bool(const msgpack_object *o, bool *v)
{
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_BOOLEAN) {
        *v = o->via.boolean;
        return true;
    }
    if (xf_str_eq(o, "true") || xf_str_eq(o, "1")) {
        *v = true;
        return true;
    }
    if (xf_str_eq(o, "false") || xf_str_eq(o, "0")) {
        *v = false;
        return true;
    }
    return false;
}

/*  n digits at p into *v.                                                                    */
static bool s_digits(const char *p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        *v = *v * 10 + (p[i] - '0');
    }
    return true;
}

/*  Days from 1970-01-01 to y-m-d, proleptic Gregorian calendar (as timegm, without its
    time zone work: a VM has several dates), d past the month's end counting on. Years are
    counted from March, so that the leap day ends the year.                                  */
static int64_t s_days(int64_t y, int m, int d)
{
    if (m <= 2)
        y--;
    int64_t cycle = (y >= 0 ? y : y - 399) / 400; /* 400-year cycles of 146 097 days */
    int64_t yoc = y - cycle * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* from March 1st */
    int64_t doc = yoc * 365 + yoc / 4 - yoc / 100 + doy;
    return cycle * 146097 + doc - 719468; /* 719 468: 0000-03-01 to 1970-01-01 */
}

/*  "YYYYMMDDTHH:MM:SS[.fff][Z]" or "YYYY-MM-DDTHH:MM:SS[.fff][Z]".                           */
static bool s_parse_time(const char *p, size_t n, int64_t *v)
{
    char s[40];
    if (n < 17 || n >= sizeof(s))
        return false;
    memcpy(s, p, n);
    s[n] = '\0';
    int off = s[4] == '-' ? 1 : 0;
    int y, mo, d, h, mi, se;
    if (!s_digits(s, 4, &y) || !s_digits(s + 4 + off, 2, &mo) ||
        (off && s[7] != '-') || !s_digits(s + 6 + 2 * off, 2, &d))
        return false;
    const char *t = s + 8 + 2 * off;
    if ((size_t)(t - s) + 9 > n || t[0] != 'T' || t[3] != ':' || t[6] != ':' ||
        !s_digits(t + 1, 2, &h) || !s_digits(t + 4, 2, &mi) || !s_digits(t + 7, 2, &se))
        return false;
    const char *rest = t + 9;
    if (*rest == '.')
        for (rest++; *rest >= '0' && *rest <= '9'; rest++)
            ;
    if (*rest == 'Z')
        rest++;
    if (*rest || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    *v = s_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return true;
}

bool xf_to_time(const msgpack_object *o, int64_t *v)
{
    double f;
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_STR)
        return s_parse_time(o->via.str.ptr, o->via.str.size, v);
    if (xf_to_num(o, &f) && fabs(f) < 1e15) {
        *v = (int64_t)f;
        return true;
    }
    return false;
}

bool xf_map_str_eq(const msgpack_object *map, const char *key, const char *s)
{
    return xf_str_eq(xf_get(map, key), s);
}

bool xf_array_has(const msgpack_object *arr, const char *s)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < arr->via.array.size; i++)
        if (xf_str_eq(&arr->via.array.ptr[i], s))
            return true;
    return false;
}

bool xf_map_int(const msgpack_object *map, const char *key, int64_t *v)
{
    return xf_to_int(xf_get(map, key), v);
}

/*  ---- writing ---------------------------------------------------------------------------- */

#define XF_PK(c, expr)                                                                           \
    do {                                                                                         \
        if ((expr) != 0)                                                                         \
            (c)->oom = true;                                                                     \
    } while (0)

/*  A str as msgpack_pack_str + msgpack_pack_str_body encode it (the smallest header), with
    one check of the body's room instead of two calls through the packer.                    */
static void s_strn(xf_ctx_t *c, const char *s, size_t n)
{
    if (xoc_mp_put_str(&c->body, s, n, 1024) != 0)
        c->oom = true;
}

void xf_pack_cstr(xf_ctx_t *c, const char *s)
{
    s_strn(c, s, strlen(s));
}

void xf_key(xf_ctx_t *c, const char *name)
{
    c->nfields++;
    xf_pack_cstr(c, name);
}

void xf_put_str(xf_ctx_t *c, const char *name, const char *s)
{
    xf_key(c, name);
    xf_pack_cstr(c, s);
}

void xf_put_strn(xf_ctx_t *c, const char *name, const char *s, size_t n)
{
    xf_key(c, name);
    s_strn(c, s, n);
}

void xf_put_int(xf_ctx_t *c, const char *name, int64_t v)
{
    xf_key(c, name);
    XF_PK(c, msgpack_pack_int64(&c->pk, v));
}

void xf_put_num(xf_ctx_t *c, const char *name, double v)
{
    xf_key(c, name);
    XF_PK(c, msgpack_pack_double(&c->pk, v));
}

void xf_put_bool(xf_ctx_t *c, const char *name, bool v)
{
    xf_key(c, name);
    XF_PK(c, v ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk));
}

void xf_put_null(xf_ctx_t *c, const char *name)
{
    xf_key(c, name);
    XF_PK(c, msgpack_pack_nil(&c->pk));
}

void xf_put_obj(xf_ctx_t *c, const char *name, const msgpack_object *o)
{
    xf_key(c, name);
    XF_PK(c, msgpack_pack_object(&c->pk, *o));
}

void xf_bad(xf_ctx_t *c, const char *field, const msgpack_object *v)
{
    if (!v) {
        c->nmissing++;
        return;
    }
    if (c->nbad++ == 0)
        c->firstbad = field;
}

/*  [ref] -> [id] with the unknown ones left out.                                             */
static void s_links(xf_ctx_t *c, const char *out, const msgpack_object *v)
{
    if (!v || v->type != MSGPACK_OBJECT_ARRAY) {
        xf_bad(c, out, v);
        xf_key(c, out);
        XF_PK(c, msgpack_pack_array(&c->pk, 0));
        return;
    }
    if (xf_links_cached(c, out, v))
        return;
    uint32_t n = v->via.array.size, k = 0;
    size_t body0 = c->body.size, deps0 = c->ndeps;
    const char **ids = msgpack_zone_malloc(&c->zone, sizeof(*ids) * (n ? n : 1));
    if (!ids) {
        c->oom = true;
        return;
    }
    xf_prefetch_links(c, v);
    for (uint32_t i = 0; i < n; i++)
        if ((ids[k] = xf_link(c, &v->via.array.ptr[i])) != NULL)
            k++;
    xf_key(c, out);
    XF_PK(c, msgpack_pack_array(&c->pk, k));
    for (uint32_t i = 0; i < k; i++)
        xf_pack_cstr(c, ids[i]);
    xf_links_keep(c, out, v, body0, deps0);
}

/*  {task ref: op} -> {task id (the ref when unknown): op}.                                   */
static void s_ops(xf_ctx_t *c, const char *out, const msgpack_object *v)
{
    xf_key(c, out);
    if (!v || v->type != MSGPACK_OBJECT_MAP) {
        xf_bad(c, out, v);
        XF_PK(c, msgpack_pack_map(&c->pk, 0));
        return;
    }
    XF_PK(c, msgpack_pack_map(&c->pk, v->via.map.size));
    for (uint32_t i = 0; i < v->via.map.size; i++) {
        const msgpack_object_kv *kv = &v->via.map.ptr[i];
        const char *id = xf_link(c, &kv->key);
        if (id)
            xf_pack_cstr(c, id);
        else
            XF_PK(c, msgpack_pack_object(&c->pk, kv->key));
        XF_PK(c, msgpack_pack_object(&c->pk, kv->val));
    }
}

static void s_container_field(xf_ctx_t *c, const char *out, const msgpack_object *v,
                              msgpack_object_type type)
{
    xf_key(c, out);
    if (v && v->type == type) {
        XF_PK(c, msgpack_pack_object(&c->pk, *v));
        return;
    }
    xf_bad(c, out, v);
    XF_PK(c, type == MSGPACK_OBJECT_MAP ? msgpack_pack_map(&c->pk, 0)
                                        : msgpack_pack_array(&c->pk, 0));
}

/*  {key: int} with the values as numbers (XML-RPC sends them as decimal strings).          */
static void s_map_int(xf_ctx_t *c, const char *out, const msgpack_object *v)
{
    if (!v || v->type != MSGPACK_OBJECT_MAP) {
        s_container_field(c, out, v, MSGPACK_OBJECT_MAP);
        return;
    }
    xf_key(c, out);
    XF_PK(c, msgpack_pack_map(&c->pk, v->via.map.size));
    for (uint32_t i = 0; i < v->via.map.size; i++) {
        int64_t n;
        XF_PK(c, msgpack_pack_object(&c->pk, v->via.map.ptr[i].key));
        if (xf_to_int(&v->via.map.ptr[i].val, &n))
            XF_PK(c, msgpack_pack_int64(&c->pk, n));
        else
            XF_PK(c, msgpack_pack_object(&c->pk, v->via.map.ptr[i].val));
    }
}

void xf_field(xf_ctx_t *c, const char *out, const msgpack_object *v, xf_kind_t kind)
{
    int64_t i;
    double f;
    bool b;
    const char *id;
    switch (kind) {
    case XF_STR:
        if (xf_is_str(v))
            xf_put_strn(c, out, v->via.str.ptr, v->via.str.size);
        else
            xf_bad(c, out, v);
        break;
    case XF_INT:
        if (xf_to_int(v, &i))
            xf_put_int(c, out, i);
        else
            xf_bad(c, out, v);
        break;
    case XF_NUM:
        if (xf_to_num(v, &f))
            xf_put_num(c, out, f);
        else
            xf_bad(c, out, v);
        break;
    case XF_BOOL:
        if (xf_to_bool(v, &b))
            xf_put_bool(c, out, b);
        else
            xf_bad(c, out, v);
        break;
    case XF_TIME:
        if (!xf_to_time(v, &i))
            xf_bad(c, out, v);
        if (!xf_to_time(v, &i) || i == 0)
            xf_put_null(c, out);
        else
            xf_put_int(c, out, i);
        break;
    case XF_MAP:
        s_container_field(c, out, v, MSGPACK_OBJECT_MAP);
        break;
    case XF_MAPI:
        s_map_int(c, out, v);
        break;
    case XF_ARR:
        s_container_field(c, out, v, MSGPACK_OBJECT_ARRAY);
        break;
    case XF_LINK:
        if ((id = xf_link(c, v)) != NULL)
            xf_put_str(c, out, id);
        break;
    case XF_LINKS:
        s_links(c, out, v);
        break;
    case XF_OPS:
        s_ops(c, out, v);
        break;
    }
}

void xf_fields(xf_ctx_t *c, const msgpack_object *rec, const xf_field_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xf_field(c, t[i].out, xf_get(rec, t[i].in), t[i].kind);
}
