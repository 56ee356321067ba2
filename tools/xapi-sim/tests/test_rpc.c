/*  sim_rpc: request decoders and response envelopes, byte for byte.                          */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "sim_rpc.h"

static void test_xml_types(void **state)
{
    const char *x = "<?xml version=\"1.0\"?><methodCall><methodName>a.b</methodName><params>"
                    "<param><value>s</value></param><param><value><i4>7</i4></value></param>"
                    "<param><value><double>60.1</double></value></param>"
                    "<param><value><boolean>1</boolean></value></param>"
                    "<param><value><array><data><value><string>x</string></value></data>"
                    "</array></value></param><param><value><struct><member><name>k</name>"
                    "<value><nil/></value></member></struct></value></param>"
                    "<param><value/></param></params></methodCall>";
    sim_rpc_req_t r;
    const char *why;
    assert_int_equal(sim_rpc_decode_xml(x, strlen(x), &r, &why), 0);
    assert_string_equal(r.method, "a.b");
    char *s = json_dumps(r.params, JSON_COMPACT | JSON_REAL_PRECISION(15));
    assert_string_equal(s, "[\"s\",7,60.1,true,[\"x\"],{\"k\":null},\"\"]");
    free(s);
    sim_rpc_req_clear(&r);
}

static void test_xml_bad(void **state)
{
    const char *bad[] = {"",
                         "<methodCall>",
                         "<foo/>",
                         "<methodCall><params/></methodCall>",
                         "<methodCall><methodName>m</methodName><params><param><value><i4>x"
                         "</i4></value></param></params></methodCall>",
                         "<methodCall><methodName>m</methodName><params><param/></params>"
                         "</methodCall>"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sim_rpc_req_t r;
        const char *why = NULL;
        assert_int_equal(sim_rpc_decode_xml(bad[i], strlen(bad[i]), &r, &why), -1);
        assert_non_null(why);
    }
}

static void test_json_versions(void **state)
{
    sim_rpc_req_t r;
    const char *why;
    const char *v2 = "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[1],\"id\":3}";
    assert_int_equal(sim_rpc_decode_json(v2, strlen(v2), &r, &why), 0);
    assert_int_equal(r.version, 2);
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 64);
    sim_rpc_begin(&r, &out, &w, 0);
    sim_wr_str(&w, "x");
    sim_rpc_end(&r, &out, 0);
    char *ok = sim_buf_take(&out, NULL);
    assert_string_equal(ok, "{\"jsonrpc\":\"2.0\",\"result\":\"x\",\"id\":3}");
    free(ok);
    sim_buf_init(&out, 64);
    json_t *err = json_pack("[s,s]", "SESSION_INVALID", "OpaqueRef:x");
    sim_rpc_error(&r, &out, err);
    char *s = sim_buf_take(&out, NULL);
    assert_string_equal(s, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":"
                           "\"SESSION_INVALID\",\"data\":[\"OpaqueRef:x\"]},\"id\":3}");
    free(s);
    sim_rpc_req_clear(&r);
    const char *v1 = "{\"method\":\"m\",\"params\":[],\"id\":\"z\"}";
    assert_int_equal(sim_rpc_decode_json(v1, strlen(v1), &r, &why), 0);
    assert_int_equal(r.version, 1);
    sim_buf_init(&out, 64);
    sim_rpc_error(&r, &out, err);
    s = sim_buf_take(&out, NULL);
    assert_string_equal(s, "{\"result\":null,\"error\":[\"SESSION_INVALID\",\"OpaqueRef:x\"],"
                           "\"id\":\"z\"}");
    free(s);
    json_decref(err);
    sim_rpc_req_clear(&r);
}

static void test_xml_envelopes(void **state)
{
    sim_rpc_req_t r = {.mode = SIM_WR_XML};
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 64);
    sim_rpc_begin(&r, &out, &w, 0);
    sim_wr_map_begin(&w);
    sim_wr_key(&w, "a", 1);
    sim_wr_int(&w, 4294967296LL);
    sim_wr_key(&w, "b<", 2);
    sim_wr_date(&w, "20240102T03:04:05Z", 18);
    sim_wr_map_end(&w);
    sim_rpc_end(&r, &out, 0);
    char *s = sim_buf_take(&out, NULL);
    assert_string_equal(s, "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>"
                           "<member><name>Status</name><value>Success</value></member><member>"
                           "<name>Value</name><value><struct><member><name>a</name><value>"
                           "4294967296</value></member><member><name>b&lt;</name><value>"
                           "<dateTime.iso8601>20240102T03:04:05Z</dateTime.iso8601></value>"
                           "</member></struct></value></member></struct></value></param>"
                           "</params></methodResponse>");
    free(s);
    sim_buf_init(&out, 64);
    sim_rpc_begin(&r, &out, &w, 1);
    sim_wr_arr_begin(&w);
    sim_wr_str(&w, "VM.get_all");
    sim_wr_arr_end(&w);
    sim_rpc_end(&r, &out, 1);
    s = sim_buf_take(&out, NULL);
    assert_string_equal(s, "<?xml version=\"1.0\"?><methodResponse><params><param><value><array>"
                           "<data><value>VM.get_all</value></data></array></value></param>"
                           "</params></methodResponse>");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xml_types),
        cmocka_unit_test(test_xml_bad),
        cmocka_unit_test(test_json_versions),
        cmocka_unit_test(test_xml_envelopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
