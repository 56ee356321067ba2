/*  xoc_xapi_enc — request bodies: msgpack parameters written as an XML-RPC methodCall
    (escaped, UTF-8 and XML characters checked) or a JSON-RPC 2.0 request (yajl_gen).        */
#include <inttypes.h>
#include <libxml/chvalid.h>
#include <libxml/xmlstring.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "xoc_err.h"
#include "xoc_xapi_int.h"

#define S_MAX_DEPTH 32

/*  ---- shared --------------------------------------------------------------------------- */

/*  Unpacks params: a msgpack array (or nothing). *u must be destroyed by the caller.       */
static int s_params(const void *params, size_t len, msgpack_unpacked *u, const msgpack_object **arr)
{
    msgpack_unpacked_init(u);
    *arr = NULL;
    if (!params || len == 0)
        return 0;
    size_t off = 0;
    if (msgpack_unpack_next(u, params, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        u->data.type != MSGPACK_OBJECT_ARRAY)
        return XOC_EINVAL;
    *arr = &u->data;
    return 0;
}

static int s_write(msgpack_sbuffer *out, const char *s, size_t n)
{
    if (n == 0)
        return 0; /* s may be NULL: msgpack-c's "" */
    return msgpack_sbuffer_write(out, s, n) == 0 ? 0 : XOC_ENOMEM;
}

static int s_puts(msgpack_sbuffer *out, const char *s)
{
    return s_write(out, s, strlen(s));
}

/*  ---- XML-RPC --------------------------------------------------------------------------- */

/*  Valid UTF-8 (no overlong form, no surrogate); with xml, only XML 1.0 characters (no NUL,
    no C0 control but tab, LF, CR).                                                          */
bool xoc_xapi_utf8_ok(const char *s, size_t n, bool xml)
{
    const unsigned char *p = (const unsigned char *)s;
    while (n > 0) {
        if (n >= 8) { /* 8 ASCII bytes at once: none has its top bit, and each + 0x60 has it
                         (byte >= 0x20); below 0x80 that sum never carries into the next byte */
            uint64_t w;
            memcpy(&w, p, 8);
            const uint64_t hi = 0x8080808080808080ull;
            if ((w & hi) == 0 && ((w + 0x6060606060606060ull) & hi) == hi) {
                p += 8;
                n -= 8;
                continue;
            }
        }
        if (*p >= 0x20 && *p < 0x80) { /* ASCII fast path */
            p++;
            n--;
            continue;
        }
        int len = n > 4 ? 4 : (int)n;
        int c = xmlGetUTF8Char(p, &len);
        if (c < 0 || len <= 0 || (c >= 0xd800 && c <= 0xdfff))
            return false;
        if ((len > 1 && c < 0x80) || (len > 2 && c < 0x800) || (len > 3 && c < 0x10000))
            return false;
        if (xml && !xmlIsCharQ(c))
            return false;
        p += len;
        n -= (size_t)len;
    }
    return true;
}

static int s_xml_escaped(msgpack_sbuffer *out, const char *s, size_t n)
{
    if (!xoc_xapi_utf8_ok(s, n, true))
        return XOC_EINVAL;
    size_t from = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *rep = s[i] == '&' ? "&amp;" : s[i] == '<' ? "&lt;" : s[i] == '>' ? "&gt;"
                        : s[i] == '\r' ? "&#13;" : NULL;
        if (!rep)
            continue;
        rc = s_write(out, s + from, i - from);
        if (rc == 0)
            rc = s_puts(out, rep);
        from = i + 1;
    }
    return rc ? rc : s_write(out, s + from, n - from);
}

static int s_xml_tagged(msgpack_sbuffer *out, const char *tag, const char *txt, size_t n,
                        bool escape)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    int rc = s_puts(out, open);
    if (rc == 0)
        rc = escape ? s_xml_escaped(out, txt, n) : s_write(out, txt, n);
    return rc ? rc : s_puts(out, close);
}

static int s_xml_value(msgpack_sbuffer *out, const msgpack_object *o, int depth);

static int s_xml_key(msgpack_sbuffer *out, const msgpack_object *k)
{
    char tmp[32];
    if (k->type == MSGPACK_OBJECT_STR)
        return s_xml_tagged(out, "name", k->via.str.ptr, k->via.str.size, true);
    if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(tmp, sizeof tmp, "%" PRIu64, k->via.u64);
    else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf(tmp, sizeof tmp, "%" PRId64, k->via.i64);
    else
        return XOC_EINVAL;
    return s_xml_tagged(out, "name", tmp, strlen(tmp), false);
}

static int s_xml_container(msgpack_sbuffer *out, const msgpack_object *o, int depth)
{
    bool map = o->type == MSGPACK_OBJECT_MAP;
    int rc = s_puts(out, map ? "<struct>" : "<array><data>");
    uint32_t n = map ? o->via.map.size : o->via.array.size;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (!map) {
            rc = s_xml_value(out, &o->via.array.ptr[i], depth + 1);
            continue;
        }
        rc = s_puts(out, "<member>");
        if (rc == 0)
            rc = s_xml_key(out, &o->via.map.ptr[i].key);
        if (rc == 0)
            rc = s_xml_value(out, &o->via.map.ptr[i].val, depth + 1);
        if (rc == 0)
            rc = s_puts(out, "</member>");
    }
    return rc ? rc : s_puts(out, map ? "</struct>" : "</data></array>");
}

static int s_xml_scalar(msgpack_sbuffer *out, const msgpack_object *o)
{
    char tmp[64];
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        return s_xml_tagged(out, "string", o->via.str.ptr, o->via.str.size, true);
    case MSGPACK_OBJECT_POSITIVE_INTEGER: /* XAPI ints travel as decimal strings */
        snprintf(tmp, sizeof tmp, "%" PRIu64, o->via.u64);
        return s_xml_tagged(out, "string", tmp, strlen(tmp), false);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%" PRId64, o->via.i64);
        return s_xml_tagged(out, "string", tmp, strlen(tmp), false);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return XOC_EINVAL;
        snprintf(tmp, sizeof tmp, "%.17g", o->via.f64);
        return s_xml_tagged(out, "double", tmp, strlen(tmp), false);
    case MSGPACK_OBJECT_BOOLEAN:
        return s_xml_tagged(out, "boolean", o->via.boolean ? "1" : "0", 1, false);
    default:
        return XOC_EINVAL;
    }
}

static int s_xml_value(msgpack_sbuffer *out, const msgpack_object *o, int depth)
{
    if (depth > S_MAX_DEPTH)
        return XOC_EINVAL;
    int rc = s_puts(out, "<value>");
    if (rc == 0)
        rc = o->type == MSGPACK_OBJECT_MAP || o->type == MSGPACK_OBJECT_ARRAY
                 ? s_xml_container(out, o, depth)
                 : s_xml_scalar(out, o);
    return rc ? rc : s_puts(out, "</value>");
}

static int s_xml_param(msgpack_sbuffer *out, const msgpack_object *o)
{
    int rc = s_puts(out, "<param>");
    if (rc == 0)
        rc = s_xml_value(out, o, 0);
    return rc ? rc : s_puts(out, "</param>");
}

static int s_xml_call(const char *method, const msgpack_object *session,
                      const msgpack_object *arr, msgpack_sbuffer *out)
{
    int rc = s_puts(out, "<?xml version=\"1.0\"?><methodCall>");
    if (rc == 0)
        rc = s_xml_tagged(out, "methodName", method, strlen(method), true);
    if (rc == 0)
        rc = s_puts(out, "<params>");
    if (rc == 0 && session)
        rc = s_xml_param(out, session);
    for (uint32_t i = 0; arr && i < arr->via.array.size && rc == 0; i++)
        rc = s_xml_param(out, &arr->via.array.ptr[i]);
    return rc ? rc : s_puts(out, "</params></methodCall>");
}

/*  ---- JSON-RPC -------------------------------------------------------------------------- */

static int s_json_value(yajl_gen g, const msgpack_object *o, int depth);

static int s_json_string(yajl_gen g, const char *s, size_t n)
{
    if (n == 0)
        return yajl_gen_string(g, (const unsigned char *)"", 0); /* s may be NULL */
    if (!xoc_xapi_utf8_ok(s, n, false))
        return yajl_gen_invalid_string;
    return yajl_gen_string(g, (const unsigned char *)s, n);
}

static int s_json_key(yajl_gen g, const msgpack_object *k)
{
    char tmp[32];
    if (k->type == MSGPACK_OBJECT_STR)
        return s_json_string(g, k->via.str.ptr, k->via.str.size);
    if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        snprintf(tmp, sizeof tmp, "%" PRIu64, k->via.u64);
    else if (k->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        snprintf(tmp, sizeof tmp, "%" PRId64, k->via.i64);
    else
        return yajl_gen_invalid_string;
    return yajl_gen_string(g, (const unsigned char *)tmp, strlen(tmp));
}

static int s_json_container(yajl_gen g, const msgpack_object *o, int depth)
{
    bool map = o->type == MSGPACK_OBJECT_MAP;
    int st = map ? yajl_gen_map_open(g) : yajl_gen_array_open(g);
    uint32_t n = map ? o->via.map.size : o->via.array.size;
    for (uint32_t i = 0; i < n && st == yajl_gen_status_ok; i++) {
        if (map)
            st = s_json_key(g, &o->via.map.ptr[i].key);
        if (st == yajl_gen_status_ok)
            st = s_json_value(g, map ? &o->via.map.ptr[i].val : &o->via.array.ptr[i], depth + 1);
    }
    if (st != yajl_gen_status_ok)
        return st;
    return map ? yajl_gen_map_close(g) : yajl_gen_array_close(g);
}

static int s_json_value(yajl_gen g, const msgpack_object *o, int depth)
{
    char tmp[32];
    if (depth > S_MAX_DEPTH)
        return yajl_gen_invalid_string;
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        return s_json_string(g, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%" PRIu64, o->via.u64);
        return yajl_gen_number(g, tmp, strlen(tmp));
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return yajl_gen_integer(g, o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return yajl_gen_double(g, o->via.f64);
    case MSGPACK_OBJECT_BOOLEAN:
        return yajl_gen_bool(g, o->via.boolean);
    case MSGPACK_OBJECT_MAP:
    case MSGPACK_OBJECT_ARRAY:
        return s_json_container(g, o, depth);
    default:
        return yajl_gen_invalid_string; /* nil, bin, ext: not XAPI values */
    }
}

static int s_json_str(yajl_gen g, const char *s)
{
    return s_json_string(g, s, strlen(s));
}

static int s_json_body(yajl_gen g, const char *method, const msgpack_object *session,
                       const msgpack_object *arr, uint64_t id)
{
    int st = yajl_gen_map_open(g);
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, "jsonrpc");
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, "2.0");
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, "method");
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, method);
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, "params");
    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_open(g);
    if (st == yajl_gen_status_ok && session)
        st = s_json_value(g, session, 0);
    for (uint32_t i = 0; arr && i < arr->via.array.size && st == yajl_gen_status_ok; i++)
        st = s_json_value(g, &arr->via.array.ptr[i], 0);
    if (st == yajl_gen_status_ok)
        st = yajl_gen_array_close(g);
    if (st == yajl_gen_status_ok)
        st = s_json_str(g, "id");
    if (st == yajl_gen_status_ok)
        st = yajl_gen_integer(g, (long long)(id & INT64_MAX));
    return st == yajl_gen_status_ok ? (int)yajl_gen_map_close(g) : st;
}

static int s_json_call(const char *method, const msgpack_object *session,
                       const msgpack_object *arr, uint64_t id, msgpack_sbuffer *out)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (!g)
        return XOC_ENOMEM;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    int rc = XOC_EINVAL;
    if (s_json_body(g, method, session, arr, id) == yajl_gen_status_ok) {
        const unsigned char *buf;
        size_t len;
        yajl_gen_get_buf(g, &buf, &len);
        rc = s_write(out, (const char *)buf, len);
    }
    yajl_gen_free(g);
    return rc;
}

/*  ---- entry points ------------------------------------------------------------------------ */

/*  The request body of method(session?, params...): session (may be NULL) goes first.     */
int xoc_xapi_encode(xoc_xapi_transport_t t, const char *method, const char *session,
                    const void *params, size_t params_len, uint64_t id, msgpack_sbuffer *out)
{
    if (!method || !out)
        return XOC_EINVAL;
    msgpack_unpacked u;
    const msgpack_object *arr;
    int rc = s_params(params, params_len, &u, &arr);
    msgpack_object so = {.type = MSGPACK_OBJECT_STR};
    if (session) {
        so.via.str.ptr = session;
        so.via.str.size = (uint32_t)strlen(session);
    }
    size_t base = out->size;
    if (rc == 0)
        rc = t == XOC_XAPI_XMLRPC ? s_xml_call(method, session ? &so : NULL, arr, out)
                                  : s_json_call(method, session ? &so : NULL, arr, id, out);
    if (rc)
        out->size = base;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int xoc_xapi_encode_xmlrpc(const char *method, const void *params, size_t params_len,
                           msgpack_sbuffer *out)
{
    return xoc_xapi_encode(XOC_XAPI_XMLRPC, method, NULL, params, params_len, 0, out);
}

int xoc_xapi_encode_jsonrpc(const char *method, const void *params, size_t params_len,
                            uint64_t id, msgpack_sbuffer *out)
{
    return xoc_xapi_encode(XOC_XAPI_JSONRPC, method, NULL, params, params_len, id, out);
}
