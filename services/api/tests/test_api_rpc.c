/*  Unit tests of xoc-api's pure parts: JSON-RPC request decoding and validation, the
    params schema, the error mapping, the method table, msgpack -> JSON writing (same
    result as xoc_json), the object filter.                                               */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xoc_api_buf.h"
#include "xoc_api_int.h"
#include "xoc_api_rpc.h"
#include "xoc_err.h"
#include "xoc_json.h"

static json_t *s_load(const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    return j;
}

/* decodes text expecting an error; returns the error object's code and id */
static int s_decode_error(const char *text, json_t **id)
{
    xoc_api_req_t req;
    char *doc = NULL;
    assert_int_equal(xoc_api_rpc_decode(text, strlen(text), &req, &doc), -1);
    assert_non_null(doc);
    json_t *j = s_load(doc);
    free(doc);
    int code = (int)json_integer_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_string_equal(json_string_value(json_object_get(j, "jsonrpc")), "2.0");
    if (id)
        *id = json_incref(json_object_get(j, "id"));
    json_decref(j);
    return code;
}

static void test_decode_valid(void **state)
{
    const char *t = "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"vm.start\",\"params\":{\"id\":\"x\"}}";
    xoc_api_req_t req;
    char *doc = NULL;
    assert_int_equal(xoc_api_rpc_decode(t, strlen(t), &req, &doc), 0);
    assert_null(doc);
    assert_string_equal(req.method, "vm.start");
    assert_int_equal(json_integer_value(req.id), 7);
    assert_false(req.notification);
    assert_string_equal(json_string_value(json_object_get(req.params, "id")), "x");
    xoc_api_req_clear(&req);
    /* string id, params absent = {} */
    t = "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"m\"}";
    assert_int_equal(xoc_api_rpc_decode(t, strlen(t), &req, &doc), 0);
    assert_true(json_is_object(req.params));
    assert_int_equal(json_object_size(req.params), 0);
    xoc_api_req_clear(&req);
    /* notification */
    t = "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":{}}";
    assert_int_equal(xoc_api_rpc_decode(t, strlen(t), &req, &doc), 0);
    assert_true(req.notification);
    xoc_api_req_clear(&req);
}

static void test_decode_errors(void **state)
{
    json_t *id = NULL;
    assert_int_equal(s_decode_error("{not json", &id), -32700);
    assert_true(json_is_null(id));
    json_decref(id);
    assert_int_equal(s_decode_error("", NULL), -32700);
    assert_int_equal(s_decode_error("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\"}]", NULL),
                     -32600);
    assert_int_equal(s_decode_error("42", NULL), -32600);
    assert_int_equal(s_decode_error("{\"id\":3,\"method\":\"m\"}", &id), -32600);
    assert_int_equal(json_integer_value(id), 3); /* the id is echoed when usable */
    json_decref(id);
    assert_int_equal(s_decode_error("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}", NULL),
                     -32600);
    assert_int_equal(s_decode_error("{\"jsonrpc\":\"2.0\",\"id\":1}", NULL), -32600);
    assert_int_equal(s_decode_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", NULL), -32600);
    assert_int_equal(s_decode_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}", NULL),
                     -32600);
    assert_int_equal(s_decode_error("{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", &id),
                     -32600);
    assert_true(json_is_null(id));
    json_decref(id);
    assert_int_equal(
        s_decode_error("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":[1]}", NULL),
        -32600);
}

static const xoc_api_param_t s_params[] = {
    {"id", XOC_API_T_STRING, false, false, NULL},
    {"force", XOC_API_T_BOOLEAN, true, false, NULL},
    {"n", XOC_API_T_INTEGER, true, false, NULL},
    {"x", XOC_API_T_NUMBER | XOC_API_T_NULL, true, false, NULL},
    {NULL, 0, false, false, NULL}};

static int s_check(const char *params, json_t **errors)
{
    json_t *p = s_load(params);
    xoc_api_schema_t schema = {s_params, false};
    int rc = xoc_api_rpc_check(&schema, p, errors);
    json_decref(p);
    return rc;
}

static const char *s_first_keyword(json_t *errors)
{
    return json_string_value(json_object_get(json_array_get(errors, 0), "keyword"));
}

static void test_schema(void **state)
{
    json_t *errors = NULL;
    assert_int_equal(s_check("{\"id\":\"a\"}", &errors), 0);
    assert_int_equal(s_check("{\"id\":\"a\",\"force\":true,\"n\":2,\"x\":null}", &errors), 0);
    assert_int_equal(s_check("{\"id\":\"a\",\"x\":2.5}", &errors), 0);
    assert_int_equal(s_check("{}", &errors), XOC_EINVAL);
    assert_string_equal(s_first_keyword(errors), "required");
    json_decref(errors);
    assert_int_equal(s_check("{\"id\":\"\"}", &errors), XOC_EINVAL);
    assert_string_equal(s_first_keyword(errors), "minLength");
    json_decref(errors);
    assert_int_equal(s_check("{\"id\":\"a\",\"n\":\"2\"}", &errors), XOC_EINVAL); /* no coercion */
    assert_string_equal(s_first_keyword(errors), "type");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(errors, 0), "instancePath")), "/n");
    json_decref(errors);
    assert_int_equal(s_check("{\"id\":\"a\",\"n\":2.5}", &errors), XOC_EINVAL);
    json_decref(errors);
    assert_int_equal(s_check("{\"id\":\"a\",\"other\":1}", &errors), XOC_EINVAL);
    assert_string_equal(s_first_keyword(errors), "additionalProperties");
    json_decref(errors);
    /* extra allowed, and "anything" when there is no table */
    xoc_api_schema_t extra = {s_params, true};
    json_t *p = s_load("{\"id\":\"a\",\"other\":1}");
    assert_int_equal(xoc_api_rpc_check(&extra, p, &errors), 0);
    xoc_api_schema_t any = {NULL, false};
    assert_int_equal(xoc_api_rpc_check(&any, p, &errors), 0);
    json_decref(p);
    /* as getMethodsInfo shows it */
    json_t *shown = xoc_api_rpc_schema_json(&(xoc_api_schema_t){s_params, false});
    assert_string_equal(json_string_value(json_object_get(json_object_get(shown, "id"), "type")),
                        "string");
    assert_null(json_object_get(json_object_get(shown, "id"), "optional"));
    assert_true(json_is_true(json_object_get(json_object_get(shown, "force"), "optional")));
    assert_true(json_is_array(json_object_get(json_object_get(shown, "x"), "type")));
    json_decref(shown);
}

static void test_errors(void **state)
{
    struct {
        int xoc, rpc;
        const char *msg;
    } cases[] = {
        {XOC_EAUTH, 3, "invalid credentials"},  {XOC_EPERM, 2, "not enough permissions"},
        {XOC_ENOENT, 1, "no such object"},       {XOC_EINVAL, 10, "invalid parameters"},
        {XOC_ENOTIMPL, 0, "not implemented"},    {XOC_ENOSERVICE, 28, "service unavailable"},
        {XOC_ENOMETHOD, -32601, "method not found"}, {XOC_ETIMEOUT, -32000, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *e = xoc_api_rpc_error_object(cases[i].xoc, NULL, NULL);
        assert_int_equal(json_integer_value(json_object_get(e, "code")), cases[i].rpc);
        if (cases[i].msg)
            assert_string_equal(json_string_value(json_object_get(e, "message")), cases[i].msg);
        assert_null(json_object_get(e, "data"));
        json_decref(e);
    }
    json_t *id = json_integer(5);
    char *doc = xoc_api_rpc_error(id, xoc_api_rpc_error_object(XOC_EINVAL, NULL,
                                                               json_pack("{s:[]}", "errors")));
    json_t *j = s_load(doc);
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 5);
    assert_true(json_is_array(json_object_get(json_object_get(json_object_get(j, "error"), "data"),
                                              "errors")));
    json_decref(j);
    free(doc);
    doc = xoc_api_rpc_result(id, json_true());
    assert_string_equal(doc, "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":true}");
    free(doc);
    json_decref(id);
}

static void test_method_table(void **state)
{
    size_t n;
    const xoc_api_method_t *m = xoc_api_methods(&n);
    assert_true(n > 10);
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(strcmp(m[i - 1].name, m[i].name) < 0); /* sorted: bsearch */
        assert_non_null(m[i].handler);
        assert_non_null(m[i].description);
        assert_ptr_equal(xoc_api_method_find(m[i].name), &m[i]);
    }
    assert_null(xoc_api_method_find("no.such"));
    assert_int_equal(xoc_api_method_find("session.signIn")->permission, XOC_API_PERM_PUBLIC);
    assert_int_equal(xoc_api_method_find("user.create")->permission, XOC_API_PERM_ADMIN);
    assert_int_equal(xoc_api_method_find("xo.getAllObjects")->permission,
                     XOC_API_PERM_SIGNED_IN);
}

/* the writer gives what xoc_json gives */
static void s_same_as_jansson(const char *json_text)
{
    json_t *in = s_load(json_text);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(xoc_json_to_mp(in, &sb), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    xoc_api_buf_t *buf = xoc_api_buf_new(16);
    assert_int_equal(xoc_api_buf_json_mp(buf, &up.data), 0);
    json_t *out = json_loadb(xoc_api_buf_data(buf), xoc_api_buf_len(buf), JSON_DECODE_ANY, NULL);
    json_t *ref = xoc_json_from_object(&up.data);
    assert_non_null(out);
    assert_true(json_equal(out, ref));
    json_decref(out);
    json_decref(ref);
    json_decref(in);
    xoc_api_buf_unref(&buf);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_mp_json(void **state)
{
    s_same_as_jansson("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":-5,\"e\":2.5}}");
    s_same_as_jansson("{\"s\":\"quote \\\" back \\\\ nl \\n tab \\t ctl \\u0001 é 😀\"}");
    s_same_as_jansson("[1e300, -0.5, 3.0, 9223372036854775807, -9223372036854775807]");
    s_same_as_jansson("{}");
    s_same_as_jansson("\"\"");
    /* invalid UTF-8 becomes base64, as xoc_json does */
    xoc_api_buf_t *buf = xoc_api_buf_new(16);
    assert_int_equal(xoc_api_buf_json_str(buf, "\xff\xfe", 2), 0);
    assert_memory_equal(xoc_api_buf_data(buf), "\"//4=\"", 6);
    xoc_api_buf_unref(&buf);
}

static void test_filter(void **state)
{
    json_t *o = s_load("{\"type\":\"VM\",\"power_state\":\"Running\",\"CPUs\":{\"number\":2},"
                       "\"tags\":[\"a\",\"b\"],\"memory\":1024}");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_json_to_mp(o, &sb);
    xoc_replica_obj_t obj = {"id1", "VM", "pool", (const uint8_t *)sb.data, sb.size, 1, NULL};
    const char *yes[] = {"{}", "{\"type\":\"VM\"}", "{\"power_state\":\"Running\"}",
                         "{\"CPUs\":{\"number\":2}}", "{\"tags\":[\"b\"]}", "{\"memory\":1024.0}",
                         "{\"type\":\"VM\",\"power_state\":\"Running\"}"};
    const char *no[] = {"{\"type\":\"host\"}", "{\"power_state\":\"Halted\"}",
                        "{\"CPUs\":{\"number\":3}}", "{\"tags\":[\"c\"]}", "{\"missing\":1}",
                        "{\"type\":\"VM\",\"power_state\":\"Halted\"}"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        json_t *f = s_load(yes[i]);
        assert_true(xoc_api_objects_match(&obj, f));
        json_decref(f);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        json_t *f = s_load(no[i]);
        assert_false(xoc_api_objects_match(&obj, f));
        json_decref(f);
    }
    msgpack_sbuffer_destroy(&sb);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid), cmocka_unit_test(test_decode_errors),
        cmocka_unit_test(test_schema),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_method_table), cmocka_unit_test(test_mp_json),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
