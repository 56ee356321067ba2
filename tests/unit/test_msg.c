/* Round trip of every bus message, and a named error for each kind of malformed frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_msg.h"

/* fills every field of a message with a value derived from its index, via introspection */
static void s_fill(xoc_msg_type_t type, void *body, msgpack_sbuffer *mp)
{
    size_t n;
    const xoc_msg_field_t *f = xoc_msg_fields(type, &n);
    for (size_t i = 0; i < n; i++) {
        char *p = (char *)body + f[i].offset;
        switch (f[i].type) {
        case XOC_FT_STR: *(xoc_str_t *)p = xoc_str(f[i].name); break;
        case XOC_FT_BIN: *(xoc_bin_t *)p = (xoc_bin_t){(const uint8_t *)"\x00\x01\xff", 3}; break;
        case XOC_FT_MP: *(xoc_bin_t *)p = (xoc_bin_t){(const uint8_t *)mp->data, (uint32_t)mp->size}; break;
        case XOC_FT_U64: *(uint64_t *)p = UINT64_MAX - i; break;
        case XOC_FT_I64: *(int64_t *)p = -(int64_t)i - 1; break;
        case XOC_FT_F64: *(double *)p = 1.5 + (double)i; break;
        case XOC_FT_BOOL: *(bool *)p = true; break;
        }
    }
}

static void s_compare(xoc_msg_type_t type, const void *a, const void *b)
{
    size_t n;
    const xoc_msg_field_t *f = xoc_msg_fields(type, &n);
    for (size_t i = 0; i < n; i++) {
        const char *pa = (const char *)a + f[i].offset, *pb = (const char *)b + f[i].offset;
        switch (f[i].type) {
        case XOC_FT_STR: {
            const xoc_str_t *x = (const xoc_str_t *)pa, *y = (const xoc_str_t *)pb;
            assert_int_equal(x->len, y->len);
            assert_memory_equal(x->ptr, y->ptr, x->len);
            break;
        }
        case XOC_FT_BIN:
        case XOC_FT_MP: {
            const xoc_bin_t *x = (const xoc_bin_t *)pa, *y = (const xoc_bin_t *)pb;
            assert_int_equal(x->len, y->len);
            assert_memory_equal(x->ptr, y->ptr, x->len);
            break;
        }
        case XOC_FT_U64: assert_true(*(const uint64_t *)pa == *(const uint64_t *)pb); break;
        case XOC_FT_I64: assert_true(*(const int64_t *)pa == *(const int64_t *)pb); break;
        case XOC_FT_F64: assert_true(*(const double *)pa == *(const double *)pb); break;
        case XOC_FT_BOOL: assert_true(*(const bool *)pa == *(const bool *)pb); break;
        }
    }
}

static void test_roundtrip_every_message(void **state)
{
    (void)state;
    msgpack_sbuffer mp;
    msgpack_sbuffer_init(&mp);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &mp, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_nil(&pk);

    for (int t = XOC_MSG_NONE + 1; t < XOC_MSG_COUNT; t++) {
        xoc_msg_t in, out;
        memset(&in, 0, sizeof in);
        s_fill((xoc_msg_type_t)t, &in.req, &mp);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(xoc_msg_encode((xoc_msg_type_t)t, &in.req, &sb), 0);
        int rc = xoc_msg_decode(&out, sb.data, sb.size);
        if (rc)
            fail_msg("%s: %s", xoc_msg_type_name((xoc_msg_type_t)t), out.why);
        assert_int_equal(out.type, t);
        s_compare((xoc_msg_type_t)t, &in.req, &out.req);
        assert_int_equal(xoc_msg_type_from_name(xoc_msg_type_name((xoc_msg_type_t)t)), t);
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_sbuffer_destroy(&mp);
}

static void test_optional_fields_absent_are_zero(void **state)
{
    (void)state;
    xoc_msg_req_t req = {.id = 7, .service = XOC_STR("cache"), .method = XOC_STR("cache.get"),
                         .timeout_ms = 0};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(xoc_msg_req_encode(&req, &sb), 0);
    xoc_msg_t m;
    assert_int_equal(xoc_msg_decode_as(&m, XOC_MSG_REQ, sb.data, sb.size), 0);
    assert_int_equal(m.req.id, 7);
    assert_true(xoc_str_eq(m.req.method, "cache.get"));
    assert_int_equal(m.req.client.len, 0);
    assert_int_equal(m.req.trace.len, 0);
    /* decode_as a different type is a named error */
    assert_int_equal(xoc_msg_decode_as(&m, XOC_MSG_REP, sb.data, sb.size), XOC_EPROTO);
    assert_non_null(strstr(m.why, "expected a 'rep'"));
    msgpack_sbuffer_destroy(&sb);
}

/* builds a map from (key, kind, value) triples for malformed-frame tests */
static void s_pack_kv(msgpack_packer *pk, const char *k, const char *sval, int64_t ival)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    if (sval)
        msgpack_pack_str_with_body(pk, sval, strlen(sval));
    else
        msgpack_pack_int64(pk, ival);
}

static int s_decode_built(xoc_msg_t *m, int version, const char *type, bool with_service,
                          bool service_as_int)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3 + (with_service ? 1 : 0) + 2);
    s_pack_kv(&pk, "v", NULL, version);
    s_pack_kv(&pk, "t", type, 0);
    s_pack_kv(&pk, "id", NULL, 1);
    if (with_service)
        s_pack_kv(&pk, "service", service_as_int ? NULL : "cache", 5);
    s_pack_kv(&pk, "method", "cache.get", 0);
    s_pack_kv(&pk, "timeout_ms", NULL, 100);
    int rc = xoc_msg_decode(m, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_named_errors(void **state)
{
    (void)state;
    xoc_msg_t m;
    assert_int_equal(s_decode_built(&m, 1, "req", true, false), 0);
    assert_int_equal(s_decode_built(&m, 1, "req", false, false), XOC_EMISSING);
    assert_string_equal(m.why, "missing field 'service'");
    assert_int_equal(s_decode_built(&m, 1, "req", true, true), XOC_ETYPE);
    assert_string_equal(m.why, "wrong type for field 'service'");
    assert_int_equal(s_decode_built(&m, 2, "req", true, false), XOC_EVERSION);
    assert_int_equal(s_decode_built(&m, 1, "nope", true, false), XOC_EPROTO);
    assert_int_equal(m.type, XOC_MSG_NONE);
}

static void test_malformed_frames(void **state)
{
    (void)state;
    xoc_msg_t m;
    static const uint8_t not_map[] = {0x93, 1, 2, 3};
    static const uint8_t truncated[] = {0x82, 0xa1, 'v'};
    static const uint8_t huge_array[] = {0x81, 0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t bad_utf8[] = {0x85, 0xa1, 'v', 1, 0xa1, 't', 0xa2, 'h', 'b',
                                       0xa7, 's', 'e', 'r', 'v', 'i', 'c', 'e', 0xa2, 0xc3, 0x28,
                                       0xa1, 'x', 0xc0, 0xa1, 'y', 0xc0};
    static const uint8_t never_used[] = {0xc1};
    assert_int_equal(xoc_msg_decode(&m, not_map, sizeof not_map), XOC_EPROTO);
    assert_int_equal(xoc_msg_decode(&m, truncated, sizeof truncated), XOC_EPROTO);
    assert_int_equal(xoc_msg_decode(&m, huge_array, sizeof huge_array), XOC_EPROTO);
    assert_int_equal(xoc_msg_decode(&m, bad_utf8, sizeof bad_utf8), XOC_EPROTO);
    assert_non_null(strstr(m.why, "service"));
    assert_int_equal(xoc_msg_decode(&m, never_used, sizeof never_used), XOC_EPROTO);
    assert_int_equal(xoc_msg_decode(&m, NULL, 0), XOC_EPROTO);
    assert_int_equal(xoc_msg_decode(&m, not_map, (size_t)XOC_MSG_MAX_SIZE + 1), XOC_ETOOBIG);

    /* trailing bytes after a valid message */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_bye_t bye = {.reason = XOC_STR("x")};
    xoc_msg_bye_encode(&bye, &sb);
    msgpack_sbuffer_write(&sb, "\x01", 1);
    assert_int_equal(xoc_msg_decode(&m, sb.data, sb.size), XOC_EPROTO);
    msgpack_sbuffer_destroy(&sb);
}

static void test_mp_check_depth(void **state)
{
    (void)state;
    uint8_t deep[64];
    for (int i = 0; i < 63; i++)
        deep[i] = 0x91; /* array of one */
    deep[63] = 0x01;
    assert_int_equal(xoc_mp_check(deep, sizeof deep, 100), 0);
    assert_int_equal(xoc_mp_check(deep, sizeof deep, XOC_MSG_MAX_DEPTH), XOC_EPROTO);
    /* xoc_mp_size: the first value only, same bounds */
    size_t used = 0;
    assert_int_equal(xoc_mp_size(deep, sizeof deep, 100, &used), 0);
    assert_int_equal(used, sizeof deep);
    assert_int_equal(xoc_mp_size(deep, sizeof deep, XOC_MSG_MAX_DEPTH, &used), XOC_EPROTO);
    static const uint8_t two[] = {0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0xc0, 0xc3, 0x07};
    assert_int_equal(xoc_mp_size(two, sizeof two, 8, &used), 0);
    assert_int_equal(used, sizeof two - 1); /* the map; the trailing 0x07 is not read */
    assert_int_equal(xoc_mp_size(two, sizeof two - 3, 8, &used), XOC_EPROTO); /* truncated */
    /* an MP field holding too deep a document is rejected with the field named */
    xoc_msg_sys_t sys = {.service = XOC_STR("a"), .instance = XOC_STR("b"),
                         .state = XOC_STR("heartbeat"), .stats = {deep, sizeof deep}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_sys_encode(&sys, &sb);
    xoc_msg_t m;
    assert_int_equal(xoc_msg_decode(&m, sb.data, sb.size), XOC_EPROTO);
    assert_string_equal(m.why, "invalid content in field 'stats'");
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_message),
        cmocka_unit_test(test_optional_fields_absent_are_zero),
        cmocka_unit_test(test_named_errors),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_mp_check_depth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
