#include "xoc_json.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"

json_t *xoc_json_base64(const void *data, size_t size)
{
    size_t len = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
    char *buf = malloc(len);
    if (!buf)
        return NULL;
    sodium_bin2base64(buf, len, data, size, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_string(buf);
    free(buf);
    return s;
}

static json_t *s_key_text(const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR)
        return json_stringn_nocheck(k->via.str.ptr, k->via.str.size);
    json_t *j = xoc_json_from_object(k);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(j);
    json_t *s = text ? json_string(text) : NULL;
    free(text);
    return s;
}

json_t *xoc_json_from_object(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return json_null();
    case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= (uint64_t)INT64_MAX ? json_integer((json_int_t)o->via.u64)
                                                 : json_real((double)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR: {
        json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
        /* not UTF-8: keep the bytes, as base64 */
        return s ? s : xoc_json_base64(o->via.str.ptr, o->via.str.size);
    }
    case MSGPACK_OBJECT_BIN: return xoc_json_base64(o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: return xoc_json_base64(o->via.ext.ptr, o->via.ext.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++)
            json_array_append_new(a, xoc_json_from_object(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; m && i < o->via.map.size; i++) {
            json_t *k = s_key_text(&o->via.map.ptr[i].key);
            if (k)
                json_object_set_new(m, json_string_value(k),
                                    xoc_json_from_object(&o->via.map.ptr[i].val));
            json_decref(k);
        }
        return m;
    }
    }
    return json_null();
}

json_t *xoc_json_from_mp(const void *data, size_t size)
{
    if (xoc_mp_check(data, size, XOC_MSG_MAX_DEPTH) != 0)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    json_t *j = NULL;
    if (msgpack_unpack_next(&up, data, size, &off) == MSGPACK_UNPACK_SUCCESS)
        j = xoc_json_from_object(&up.data);
    msgpack_unpacked_destroy(&up);
    return j;
}

json_t *xoc_json_from_msg(const xoc_msg_t *msg)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "t", json_string(xoc_msg_type_name(msg->type)));
    json_object_set_new(o, "v", json_integer(XOC_PROTO_VERSION));
    size_t n;
    const xoc_msg_field_t *f = xoc_msg_fields(msg->type, &n);
    for (size_t i = 0; i < n; i++) {
        const char *p = (const char *)&msg->req + f[i].offset;
        json_t *v = NULL;
        switch (f[i].type) {
        case XOC_FT_STR: {
            const xoc_str_t *s = (const xoc_str_t *)p;
            v = s->ptr ? json_stringn(s->ptr, s->len) : NULL;
            break;
        }
        case XOC_FT_BIN: {
            const xoc_bin_t *b = (const xoc_bin_t *)p;
            v = b->len ? xoc_json_base64(b->ptr, b->len) : NULL;
            break;
        }
        case XOC_FT_MP: {
            const xoc_bin_t *b = (const xoc_bin_t *)p;
            v = b->len ? xoc_json_from_mp(b->ptr, b->len) : NULL;
            break;
        }
        case XOC_FT_U64: v = json_integer((json_int_t) * (const uint64_t *)p); break;
        case XOC_FT_I64: v = json_integer(*(const int64_t *)p); break;
        case XOC_FT_F64: v = json_real(*(const double *)p); break;
        case XOC_FT_BOOL: v = json_boolean(*(const bool *)p); break;
        }
        if (v)
            json_object_set_new(o, f[i].name, v);
    }
    return o;
}

static int s_pack_json(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        int rc = msgpack_pack_map(pk, (uint32_t)json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            rc |= msgpack_pack_str_with_body(pk, k, strlen(k));
            rc |= s_pack_json(pk, v);
        }
        return rc;
    }
    case JSON_ARRAY: {
        int rc = msgpack_pack_array(pk, (uint32_t)json_array_size(j));
        for (size_t i = 0; i < json_array_size(j); i++)
            rc |= s_pack_json(pk, json_array_get(j, i));
        return rc;
    }
    case JSON_STRING:
        return msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
    case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(j));
    case JSON_REAL: return msgpack_pack_double(pk, json_real_value(j));
    case JSON_TRUE: return msgpack_pack_true(pk);
    case JSON_FALSE: return msgpack_pack_false(pk);
    case JSON_NULL: return msgpack_pack_nil(pk);
    }
    return 0;
}

int xoc_json_to_mp(const json_t *json, msgpack_sbuffer *sbuf)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sbuf, msgpack_sbuffer_write);
    return s_pack_json(&pk, json) ? XOC_ENOMEM : 0;
}
