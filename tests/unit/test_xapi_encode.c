/*  XAPI request encoders (XML-RPC, JSON-RPC) and the client's offline parts: URLs, handler
    URLs, session rules, cancel, connection refused.                                          */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_xapi.h"
#include "xoc_xapi_int.h"

static char s_text[8192];

static const char *s_str(const msgpack_sbuffer *sb)
{
    size_t n = sb->size < sizeof s_text - 1 ? sb->size : sizeof s_text - 1;
    memcpy(s_text, sb->data, n);
    s_text[n] = 0;
    return s_text;
}

/*  ["a&<>\r", 42, -1, 1.5, true, ["x"], {"k": "v", 3: "w"}]                                  */
static void s_sample(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 7);
    msgpack_pack_str_with_body(&pk, "a&<>\r", 5);
    msgpack_pack_uint64(&pk, 42);
    msgpack_pack_int64(&pk, -1);
    msgpack_pack_double(&pk, 1.5);
    msgpack_pack_true(&pk);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "x", 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_str_with_body(&pk, "v", 1);
    msgpack_pack_int64(&pk, 3);
    msgpack_pack_str_with_body(&pk, "w", 1);
}

static void test_xml_request(void **state)
{
    msgpack_sbuffer p, out;
    msgpack_sbuffer_init(&p);
    msgpack_sbuffer_init(&out);
    s_sample(&p);
    assert_int_equal(xoc_xapi_encode(XOC_XAPI_XMLRPC, "VM.x", "OpaqueRef:s", p.data, p.size, 0,
                                     &out), 0);
    assert_string_equal(
        s_str(&out),
        "<?xml version=\"1.0\"?><methodCall><methodName>VM.x</methodName><params>"
        "<param><value><string>OpaqueRef:s</string></value></param>"
        "<param><value><string>a&amp;&lt;&gt;&#13;</string></value></param>"
        "<param><value><string>42</string></value></param>"
        "<param><value><string>-1</string></value></param>"
        "<param><value><double>1.5</double></value></param>"
        "<param><value><boolean>1</boolean></value></param>"
        "<param><value><array><data><value><string>x</string></value></data></array></value>"
        "</param><param><value><struct><member><name>k</name><value><string>v</string></value>"
        "</member><member><name>3</name><value><string>w</string></value></member></struct>"
        "</value></param></params></methodCall>");
    msgpack_sbuffer_destroy(&p);
    msgpack_sbuffer_destroy(&out);
}

static void test_json_request(void **state)
{
    msgpack_sbuffer p, out;
    msgpack_sbuffer_init(&p);
    msgpack_sbuffer_init(&out);
    s_sample(&p);
    assert_int_equal(xoc_xapi_encode(XOC_XAPI_JSONRPC, "VM.x", "OpaqueRef:s", p.data, p.size, 3,
                                     &out), 0);
    assert_string_equal(s_str(&out),
                        "{\"jsonrpc\":\"2.0\",\"method\":\"VM.x\",\"params\":[\"OpaqueRef:s\","
                        "\"a&<>\\r\",42,-1,1.5,true,[\"x\"],{\"k\":\"v\",\"3\":\"w\"}],\"id\":3}");
    out.size = 0;
    assert_int_equal(xoc_xapi_encode_jsonrpc("system.listMethods", NULL, 0, 1, &out), 0);
    assert_string_equal(s_str(&out),
                        "{\"jsonrpc\":\"2.0\",\"method\":\"system.listMethods\",\"params\":[],"
                        "\"id\":1}");
    msgpack_sbuffer_destroy(&p);
    msgpack_sbuffer_destroy(&out);
}

static void s_one(msgpack_sbuffer *sb, const char *s, size_t n)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, s, n);
}

static void test_empty_strings(void **state)
{
    msgpack_sbuffer p, out;
    msgpack_sbuffer_init(&p);
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str(&pk, 0);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 0);
    msgpack_pack_str(&pk, 0);
    assert_int_equal(xoc_xapi_encode_xmlrpc("m", p.data, p.size, &out), 0);
    assert_non_null(strstr(s_str(&out), "<param><value><string></string></value></param><param>"
                                        "<value><struct><member><name></name><value><string>"
                                        "</string></value></member></struct></value></param>"));
    out.size = 0;
    assert_int_equal(xoc_xapi_encode_jsonrpc("m", p.data, p.size, 1, &out), 0);
    assert_non_null(strstr(s_str(&out), "\"params\":[\"\",{\"\":\"\"}]"));
    msgpack_sbuffer_destroy(&p);
    msgpack_sbuffer_destroy(&out);
}

static void test_bad_params(void **state)
{
    msgpack_sbuffer p, out;
    msgpack_sbuffer_init(&p);
    msgpack_sbuffer_init(&out);
    const char *bad[] = {"\xff", "a\x01", "\xc3", "\xed\xa0\x80", "\xc0\x80", "\xe0\x80\xaf"};
    for (size_t i = 0; i < 6; i++) {
        p.size = 0;
        s_one(&p, bad[i], strlen(bad[i]));
        assert_int_equal(xoc_xapi_encode_xmlrpc("m", p.data, p.size, &out), XOC_EINVAL);
        if (i != 1) /* JSON escapes control characters */
            assert_int_equal(xoc_xapi_encode_jsonrpc("m", p.data, p.size, 1, &out), XOC_EINVAL);
    }
    assert_int_equal(out.size, 0);
    p.size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p, msgpack_sbuffer_write);
    msgpack_pack_nil(&pk); /* not an array */
    assert_int_equal(xoc_xapi_encode_xmlrpc("m", p.data, p.size, &out), XOC_EINVAL);
    p.size = 0;
    msgpack_pack_array(&pk, 1);
    msgpack_pack_nil(&pk);
    assert_int_equal(xoc_xapi_encode_xmlrpc("m", p.data, p.size, &out), XOC_EINVAL);
    assert_int_equal(xoc_xapi_encode_jsonrpc("m", p.data, p.size, 1, &out), XOC_EINVAL);
    p.size = 0;
    msgpack_pack_array(&pk, 1);
    msgpack_pack_double(&pk, 1.0 / 0.0);
    assert_int_equal(xoc_xapi_encode_xmlrpc("m", p.data, p.size, &out), XOC_EINVAL);
    assert_int_equal(xoc_xapi_encode_jsonrpc("m", p.data, p.size, 1, &out), XOC_EINVAL);
    assert_int_equal(out.size, 0);
    msgpack_sbuffer_destroy(&p);
    msgpack_sbuffer_destroy(&out);
}

static void test_urls(void **state)
{
    assert_null(xoc_xapi_new("ftp://host"));
    assert_null(xoc_xapi_new("not a url"));
    assert_null(xoc_xapi_new(NULL));
    xoc_xapi_t *x = xoc_xapi_new("https://10.0.0.1:8443/some/path?q=1");
    assert_non_null(x);
    assert_string_equal(xoc_xapi_url(x), "https://10.0.0.1:8443");
    assert_int_equal(xoc_xapi_set_url(x, "http://[::1]:80"), 0);
    assert_string_equal(xoc_xapi_url(x), "http://[::1]:80");
    assert_int_equal(xoc_xapi_set_url(x, "gopher://x"), XOC_EINVAL);
    assert_null(xoc_xapi_handler_url(x, "/export", NULL, 0)); /* no session */
    assert_int_equal(xoc_xapi_set_session(x, "OpaqueRef:a b"), 0);
    const char *kv[] = {"uuid", "1234-5678", "use_compression", "zstd"};
    char *u = xoc_xapi_handler_url(x, "/export", kv, 2);
    assert_string_equal(u, "http://[::1]:80/export?session_id=OpaqueRef%3Aa%20b&uuid=1234-5678"
                           "&use_compression=zstd");
    free(u);
    assert_int_equal(xoc_xapi_follow_master(x), XOC_ESTATE); /* no HOST_IS_SLAVE yet */
    assert_null(xoc_xapi_master_address(x));
    xoc_xapi_destroy(&x);
    assert_null(x);
    xoc_xapi_destroy(&x);
    xoc_xapi_destroy(NULL);
}

static void test_session_and_cancel_rules(void **state)
{
    xoc_xapi_t *x = xoc_xapi_new("http://127.0.0.1:1");
    assert_non_null(x);
    assert_int_equal(xoc_xapi_call(x, "VM.get_all", NULL, 0, NULL), XOC_ESTATE);
    assert_int_equal(xoc_xapi_call(x, NULL, NULL, 0, NULL), XOC_EINVAL);
    assert_int_equal(xoc_xapi_get_all_records(x, NULL, NULL, NULL), XOC_EINVAL);
    assert_int_equal(xoc_xapi_call_stream(x, "VM.get_all_records", NULL, 0, XOC_XAPI_RECORDS,
                                          NULL, NULL, NULL, 0), XOC_EINVAL);
    assert_int_equal(xoc_xapi_logout(x), 0);
    /* port 1 refuses at once: a login (no session needed) fails as unreachable */
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), XOC_EUNREACHABLE);
    assert_true(strlen(xoc_xapi_detail(x)) > 0);
    xoc_xapi_cancel(x);
    assert_int_equal(xoc_xapi_callf(x, "system.listMethods", NULL, ""), XOC_ECANCELED);
    xoc_xapi_uncancel(x);
    assert_int_equal(xoc_xapi_callf(x, "system.listMethods", NULL, "q"), XOC_EINVAL);
    assert_int_equal(xoc_xapi_callf(x, "system.listMethods", NULL, ""), XOC_EUNREACHABLE);
    xoc_xapi_destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_request),
        cmocka_unit_test(test_json_request),
        cmocka_unit_test(test_empty_strings),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_session_and_cancel_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
