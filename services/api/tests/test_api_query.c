/*  Unit tests of xoc_api_query: REST paths, query arguments, cookies, Basic credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xoc_api_query.h"
#include "xoc_api_sub.h"
#include "xoc_err.h"

static void test_routes(void **state)
{
    xoc_api_route_t r;
    assert_int_equal(xoc_api_route_parse("/api/", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_NONE);
    assert_int_equal(xoc_api_route_parse("/rest/v01", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_NONE);
    assert_int_equal(xoc_api_route_parse("/rest/v0", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_ROOT);
    assert_int_equal(xoc_api_route_parse("/rest/v0/", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_ROOT);
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_COLLECTION);
    assert_string_equal(r.type, "VM");
    assert_int_equal(xoc_api_route_parse("/rest/v0/vm-templates/", &r), 0);
    assert_string_equal(r.type, "VM-template");
    assert_int_equal(xoc_api_route_parse("/rest/v0/nothing", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_COLLECTION);
    assert_null(r.type);
    assert_int_equal(xoc_api_route_parse("/rest/v0/hosts/abc-1", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_OBJECT);
    assert_string_equal(r.id, "abc-1");
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms/abc/actions/start", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_ACTION);
    assert_string_equal(r.action, "start");
    assert_int_equal(xoc_api_route_parse("/rest/v0/events", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_EVENTS);
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c-1/subscriptions", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_SUBSCRIPTIONS);
    assert_string_equal(r.id, "c-1");
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c-1/subscriptions/VM/", &r), 0);
    assert_int_equal(r.kind, XOC_API_ROUTE_SUBSCRIPTION);
    assert_string_equal(r.id, "c-1");
    assert_string_equal(r.action, "VM");
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c-1", &r), 0); /* no such object */
    assert_int_equal(r.kind, XOC_API_ROUTE_OBJECT);
    assert_null(r.type);
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c-1/subs", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c-1/actions/VM", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/events//subscriptions", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/events/c/subscriptions/VM/x", &r),
                     XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms/a/subscriptions/VM", &r), XOC_EINVAL);
    /* malformed */
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms/a/b", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms/a/act/start", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms/a/actions/start/x", &r), XOC_EINVAL);
    assert_int_equal(xoc_api_route_parse("/rest/v0/vms//actions/start", &r), XOC_EINVAL);
    char big[400];
    memset(big, 'x', sizeof big);
    memcpy(big, "/rest/v0/vms/", 13);
    big[sizeof big - 1] = '\0';
    assert_int_equal(xoc_api_route_parse(big, &r), XOC_EINVAL); /* id too long */
}

static int s_parse(xoc_api_query_t *q, const char *a, const char *b)
{
    const char *args[2] = {a, b};
    size_t lens[2] = {a ? strlen(a) : 0, b ? strlen(b) : 0};
    char err[128];
    return xoc_api_query_parse(q, args, lens, b ? 2 : a ? 1 : 0, err, sizeof err);
}

static void test_query(void **state)
{
    xoc_api_query_t q;
    assert_int_equal(s_parse(&q, NULL, NULL), 0);
    assert_int_equal(q.limit, -1);
    assert_false(q.ndjson);
    assert_int_equal(q.nfields, 0);
    xoc_api_query_clear(&q);

    assert_int_equal(s_parse(&q, "fields= name_label ,power_state", "limit=10"), 0);
    assert_int_equal(q.nfields, 2);
    assert_string_equal(q.fields[0], "name_label");
    assert_string_equal(q.fields[1], "power_state");
    assert_int_equal(q.limit, 10);
    xoc_api_query_clear(&q);

    assert_int_equal(s_parse(&q, "fields=*", "ndjson"), 0);
    assert_true(q.all_fields);
    assert_true(q.ndjson);
    xoc_api_query_clear(&q);

    assert_int_equal(s_parse(&q, "filter=power_state:Running", "other=1"), 0);
    assert_string_equal(q.filter, "power_state:Running");
    xoc_api_query_clear(&q);

    assert_int_equal(s_parse(&q, "fields=a,,b", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "fields=", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "limit=-1", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "limit=12345678901", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "ndjson=maybe", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "all=true", NULL), 0);
    assert_true(q.all);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "all=false", NULL), 0);
    assert_false(q.all);
    xoc_api_query_clear(&q);
    assert_int_equal(s_parse(&q, "all=yes", NULL), XOC_EINVAL);
    xoc_api_query_clear(&q);

    char many[64 * 3 + 16] = "fields=";
    for (int i = 0; i < 65; i++)
        strcat(many, i ? ",f" : "f");
    assert_int_equal(s_parse(&q, many, NULL), XOC_EINVAL); /* 65 fields */
    xoc_api_query_clear(&q);
}

static void test_cookie_basic(void **state)
{
    char v[64], user[64], pw[64];
    assert_true(xoc_api_query_cookie("a=1; authenticationToken=abc; token=def",
                                     "authenticationToken", v, sizeof v));
    assert_string_equal(v, "abc");
    assert_true(xoc_api_query_cookie("a=1;token=\"def\"", "token", v, sizeof v));
    assert_string_equal(v, "def");
    assert_false(xoc_api_query_cookie("xtoken=1; tokens=2", "token", v, sizeof v));
    assert_false(xoc_api_query_cookie("token=", "token", v, sizeof v));
    assert_false(xoc_api_query_cookie("", "token", v, sizeof v));

    /* admin@admin.net:se:cret */
    assert_int_equal(xoc_api_query_basic("Basic YWRtaW5AYWRtaW4ubmV0OnNlOmNyZXQ=", user,
                                         sizeof user, pw, sizeof pw),
                     0);
    assert_string_equal(user, "admin@admin.net");
    assert_string_equal(pw, "se:cret");
    assert_int_equal(xoc_api_query_basic("Bearer abc", user, sizeof user, pw, sizeof pw),
                     XOC_EINVAL);
    assert_int_equal(xoc_api_query_basic("Basic !!!", user, sizeof user, pw, sizeof pw),
                     XOC_EINVAL);
    /* "nocolon" */
    assert_int_equal(xoc_api_query_basic("Basic bm9jb2xvbg==", user, sizeof user, pw,
                                         sizeof pw),
                     XOC_EINVAL);
}

static int s_sub(const char *body, char *coll, json_t **fields)
{
    char err[160];
    return xoc_api_sub_parse(body, strlen(body), coll, fields, err, sizeof err);
}

/* the event stream's subscriptions: bodies, collections, fields, event text */
static void test_subscription(void **state)
{
    char coll[XOC_API_SUB_NAME_MAX];
    json_t *fields = NULL;
    assert_int_equal(s_sub("{\"collection\":\"VM\",\"fields\":[\"id\",\"name_label\"]}", coll,
                           &fields), 0);
    assert_string_equal(coll, "VM");
    assert_int_equal(json_array_size(fields), 2);
    json_decref(fields);
    assert_int_equal(s_sub("{\"collection\":\"alarm\",\"fields\":\"*\"}", coll, &fields), 0);
    assert_null(fields);
    assert_int_equal(s_sub("{\"collection\":\"VM-template\"}", coll, &fields), 0);
    assert_null(fields);
    assert_int_equal(s_sub("", coll, &fields), XOC_ETYPE); /* {}: no collection */
    assert_int_equal(s_sub("{\"collection\":\"vms\"}", coll, &fields), XOC_ETYPE);
    assert_int_equal(s_sub("{\"collection\":\"VM\",\"fields\":\"id\"}", coll, &fields),
                     XOC_ETYPE);
    assert_int_equal(s_sub("{\"collection\":\"VM\",\"fields\":[1]}", coll, &fields), XOC_ETYPE);
    assert_int_equal(s_sub("[\"VM\"]", coll, &fields), XOC_ETYPE);
    assert_int_equal(s_sub("{\"collection\":", coll, &fields), XOC_EINVAL);
    assert_null(fields);

    assert_true(xoc_api_sub_belongs("VM", "VM", false));
    assert_false(xoc_api_sub_belongs("VM", "VM-template", false));
    assert_true(xoc_api_sub_belongs("alarm", "message", true));
    assert_false(xoc_api_sub_belongs("message", "message", true));
    assert_true(xoc_api_sub_belongs("message", "message", false));

    json_t *obj = json_loads("{\"id\":\"x\",\"a\":{\"b\":1,\"c\":2},\"d.e\":3,\"n\":null}", 0,
                             NULL);
    json_t *names = json_loads("[\"id\",\"a.b\",\"d.e\",\"n\",\"missing\",\"a.z\"]", 0, NULL);
    json_t *picked = xoc_api_sub_pick(obj, names);
    char *text = json_dumps(picked, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(text, "{\"a\":{\"b\":1},\"d.e\":3,\"id\":\"x\",\"n\":null}");
    free(text);
    json_decref(picked);
    json_decref(names);
    json_decref(obj);

    xoc_api_buf_t *buf = xoc_api_buf_new(16);
    assert_int_equal(xoc_api_sub_write(buf, XOC_API_SUB_UPDATE, "VM", "{\"id\":\"x\"}", 10), 0);
    assert_int_equal(xoc_api_sub_write(buf, XOC_API_SUB_REMOVE, "VM", "{}", 2), 0);
    const char *want = "event: update\ndata: {\"$subscription\":\"VM\",\"id\":\"x\"}\n\n"
                       "event: remove\ndata: {\"$subscription\":\"VM\"}\n\n";
    assert_int_equal(xoc_api_buf_len(buf), strlen(want));
    assert_memory_equal(xoc_api_buf_data(buf), want, strlen(want));
    xoc_api_buf_unref(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_cookie_basic),
        cmocka_unit_test(test_subscription),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
