/* Configuration: defaults < file < environment < flags, bounds, unknown flags, --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_cfg.h"
#include "xoc_err.h"

static const xoc_cfg_key_t s_keys[] = {
    {"a.name", XOC_CFG_STR, "default", 0, 0, "a string"},
    {"a.count", XOC_CFG_INT, "5", 1, 10, "an int in 1..10"},
    {"a.flag", XOC_CFG_BOOL, "false", 0, 0, "a bool"},
    XOC_CFG_END};
static const xoc_cfg_key_t *const s_tables[] = {s_keys, NULL};

static xoc_cfg_t *s_load(int argc, char **argv, char *err)
{
    bool help;
    return xoc_cfg_new("test", s_tables, argc, argv, &help, err, 256);
}

static void test_precedence(void **state)
{
    (void)state;
    char path[] = "/tmp/xoc-cfg-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *zpl = "a\n    name = from-file\n    count = 7\n";
    assert_int_equal(write(fd, zpl, strlen(zpl)), (ssize_t)strlen(zpl));
    close(fd);
    char err[256];
    unsetenv("XOC_A_NAME");
    unsetenv("XOC_A_COUNT");
    char *argv0[] = {"t", NULL};
    xoc_cfg_t *c = s_load(1, argv0, err);
    assert_string_equal(xoc_cfg_str(c, "a.name"), "default");
    assert_int_equal(xoc_cfg_int(c, "a.count"), 5);
    assert_false(xoc_cfg_bool(c, "a.flag"));
    xoc_cfg_destroy(&c);
    assert_null(c);

    char *argv1[] = {"t", "--config", path, NULL};
    c = s_load(3, argv1, err);
    assert_string_equal(xoc_cfg_str(c, "a.name"), "from-file");
    assert_int_equal(xoc_cfg_int(c, "a.count"), 7);
    xoc_cfg_destroy(&c);

    setenv("XOC_A_NAME", "from-env", 1);
    c = s_load(3, argv1, err);
    assert_string_equal(xoc_cfg_str(c, "a.name"), "from-env");
    xoc_cfg_destroy(&c);

    char *argv2[] = {"t", "--config", path, "--a.name=from-flag", "--a.flag", "pos1", NULL};
    c = s_load(6, argv2, err);
    assert_string_equal(xoc_cfg_str(c, "a.name"), "from-flag");
    assert_true(xoc_cfg_bool(c, "a.flag"));
    assert_int_equal(xoc_cfg_argc(c), 1);
    assert_string_equal(xoc_cfg_arg(c, 0), "pos1");
    xoc_cfg_destroy(&c);
    unsetenv("XOC_A_NAME");
    unlink(path);
}

static void test_errors_name_the_key(void **state)
{
    (void)state;
    char err[256];
    char *bad_int[] = {"t", "--a.count", "11", NULL};
    assert_null(s_load(3, bad_int, err));
    assert_non_null(strstr(err, "a.count"));
    char *unknown[] = {"t", "--nope", "1", NULL};
    assert_null(s_load(3, unknown, err));
    assert_non_null(strstr(err, "--nope"));
    char *no_value[] = {"t", "--a.name", NULL};
    assert_null(s_load(2, no_value, err));
    char *missing_file[] = {"t", "--config", "/nonexistent/xoc.cfg", NULL};
    assert_null(s_load(3, missing_file, err));
    assert_non_null(strstr(err, "/nonexistent/xoc.cfg"));
}

static void test_help_lists_every_key(void **state)
{
    (void)state;
    char buf[4096] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    xoc_cfg_usage("test", s_tables, f);
    fclose(f);
    for (const xoc_cfg_key_t *k = s_keys; k->name; k++)
        assert_non_null(strstr(buf, k->name));
    assert_non_null(strstr(buf, "default 5"));
}

static void test_bus_endpoints(void **state)
{
    (void)state;
    xoc_bus_opts_t o;
    memset(&o, 0, sizeof o);
    assert_int_equal(xoc_bus_endpoints_parse("tcp://10.0.0.1:5560", &o), 0);
    assert_string_equal(o.pub, "tcp://10.0.0.1:5560");
    assert_string_equal(o.sub, "tcp://10.0.0.1:5561");
    assert_string_equal(o.req, "tcp://10.0.0.1:5562");
    assert_int_equal(xoc_bus_endpoints_parse("ipc:///a,ipc:///b,ipc:///c", &o), 0);
    assert_string_equal(o.sub, "ipc:///b");
    assert_int_equal(xoc_bus_endpoints_parse("tcp://h:70000", &o), XOC_EINVAL);
    assert_int_equal(xoc_bus_endpoints_parse("a,b", &o), XOC_EINVAL);
    assert_int_equal(xoc_bus_endpoints_parse("a,b,c,d", &o), XOC_EINVAL);
    assert_int_equal(xoc_bus_endpoints_parse("nonsense", &o), XOC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors_name_the_key),
        cmocka_unit_test(test_help_lists_every_key),
        cmocka_unit_test(test_bus_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
