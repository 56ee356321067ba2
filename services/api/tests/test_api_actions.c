/*  Unit tests of the pure parts of the actions: the size parser of vm.set, the id
    normalisation of §1.8 step 6, and the method table entries of server.* and the
    actions (permissions, required params).                                               */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "xoc_api_int.h"

static bool s_size(const char *text, int64_t *out)
{
    json_t *v = json_string(text);
    bool ok = xoc_api_size_parse(v, out);
    json_decref(v);
    return ok;
}

static void test_size(void **state)
{
    int64_t n = -1;
    assert_true(s_size("2GiB", &n));
    assert_int_equal(n, 2147483648LL);
    assert_true(s_size("512 MiB", &n));
    assert_int_equal(n, 536870912LL);
    assert_true(s_size("1G", &n));
    assert_int_equal(n, 1073741824LL);
    assert_true(s_size("10GB", &n));
    assert_int_equal(n, 10737418240LL);
    assert_true(s_size("4096", &n));
    assert_int_equal(n, 4096);
    assert_true(s_size("1.5k", &n));
    assert_int_equal(n, 1536);
    const char *bad[] = {"",
                         "GiB",
                         "-1G",
                         "nan",
                         "inf",
                         "1e30",
                         "2 GiBs",
                         "3X",
                         "1BiB",
                         "1 G B",
                         "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(s_size(bad[i], &n));
    json_t *neg = json_integer(-5), *num = json_integer(77), *real = json_real(1.5);
    assert_false(xoc_api_size_parse(neg, &n));
    assert_true(xoc_api_size_parse(num, &n));
    assert_int_equal(n, 77);
    assert_false(xoc_api_size_parse(real, &n));
    json_decref(neg);
    json_decref(num);
    json_decref(real);
}

static void test_normalize_id(void **state)
{
    xoc_api_call_t call;
    memset(&call, 0, sizeof call);
    call.method = xoc_api_method_find("vm.start");
    assert_non_null(call.method);
    json_t *shared = json_pack("{s:s,s:b}", "vm", "abc", "force", 1);
    call.params = json_incref(shared); /* as the request holds it */
    xoc_api_normalize_id(&call);
    assert_string_equal(json_string_value(json_object_get(call.params, "id")), "abc");
    assert_null(json_object_get(call.params, "vm"));
    assert_non_null(json_object_get(shared, "vm")); /* the request's copy untouched */
    json_decref(call.params);
    /* an explicit id wins; a non-string is left to the schema check */
    call.params = json_pack("{s:s,s:s}", "id", "x", "vm", "y");
    xoc_api_normalize_id(&call);
    assert_string_equal(json_string_value(json_object_get(call.params, "id")), "x");
    assert_non_null(json_object_get(call.params, "vm"));
    json_decref(call.params);
    call.params = json_pack("{s:i}", "vm", 3);
    xoc_api_normalize_id(&call);
    assert_null(json_object_get(call.params, "id"));
    json_decref(call.params);
    /* vm.revert takes `snapshot`, not `id`: nothing renamed */
    call.method = xoc_api_method_find("vm.revert");
    call.params = json_pack("{s:s}", "vm", "y");
    xoc_api_normalize_id(&call);
    assert_null(json_object_get(call.params, "id"));
    json_decref(call.params);
    json_decref(shared);
}

static void test_table(void **state)
{
    const char *admin[] = {"server.add",    "server.disable", "server.enable",
                           "server.getAll", "server.remove",  "server.set"};
    for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
        const xoc_api_method_t *m = xoc_api_method_find(admin[i]);
        assert_non_null(m);
        assert_int_equal(m->permission, XOC_API_PERM_ADMIN);
    }
    const char *user[] = {"vm.start",
                          "vm.stop",
                          "vm.restart",
                          "vm.suspend",
                          "vm.resume",
                          "vm.pause",
                          "vm.set",
                          "vm.snapshot",
                          "vm.revert",
                          "vm.clone",
                          "vm.delete",
                          "host.restart",
                          "host.restartAgent",
                          "host.setMaintenanceMode",
                          "host.enable",
                          "host.disable",
                          "host.set",
                          "pool.set",
                          "sr.scan",
                          "sr.set",
                          "task.cancel",
                          "task.destroy",
                          "message.delete"};
    for (size_t i = 0; i < sizeof user / sizeof user[0]; i++) {
        const xoc_api_method_t *m = xoc_api_method_find(user[i]);
        assert_non_null(m);
        /* signed-in users: the object ACL decides (xoc_api_acl_check) */
        assert_int_equal(m->permission, XOC_API_PERM_SIGNED_IN);
    }
    /* server.add requires host, username, password */
    json_t *errors = NULL;
    json_t *p = json_pack("{s:s}", "host", "h");
    assert_int_not_equal(xoc_api_rpc_check(&xoc_api_method_find("server.add")->params, p, &errors),
                         0);
    assert_int_equal(json_array_size(errors), 2);
    json_decref(errors);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_normalize_id),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
