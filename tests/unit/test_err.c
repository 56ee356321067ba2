#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "xoc_err.h"

static void test_table_is_dense_and_roundtrips(void **state)
{
    (void)state;
    int codes[] = {XOC_OK, XOC_EPROTO, XOC_ENOSERVICE, XOC_ETIMEOUT, XOC_EPERM, XOC_EIO};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        assert_int_equal(xoc_err_from_name(xoc_err_name(codes[i])), codes[i]);
    assert_string_equal(xoc_err_name(XOC_ENOSERVICE), "no-service");
    assert_int_equal(xoc_err_jsonrpc(XOC_EPERM), 2);
    assert_int_equal(xoc_err_jsonrpc(XOC_ENOMETHOD), -32601);
}

static void test_unknown_and_errno(void **state)
{
    (void)state;
    assert_string_equal(xoc_err_name(-9999), "internal");
    assert_int_equal(xoc_err_from_name("nonsense"), XOC_EINTERNAL);
    assert_int_equal(xoc_err_from_name(NULL), XOC_EINTERNAL);
    assert_string_equal(xoc_strerror(ENOENT), strerror(ENOENT));
    assert_string_equal(xoc_strerror(XOC_ETIMEOUT), "deadline expired");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_dense_and_roundtrips),
        cmocka_unit_test(test_unknown_and_errno),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
