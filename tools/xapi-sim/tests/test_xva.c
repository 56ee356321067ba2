/*  sim_xva: an exported XVA reads back with every checksum verified; a flipped byte in a
    chunk is an IMPORT_ERROR; garbage is not an XVA.                                         */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <stdio.h>
#include <string.h>

#include "sim_buf.h"
#include "sim_xva.h"

static const char *s_ova = "<value><struct><member><name>objects</name><value><array><data>"
                           "<value><struct><member><name>class</name><value>VM</value></member>"
                           "</struct></value></data></array></value></member></struct></value>";

static char *s_export_c(size_t *len, const char *compression)
{
    sim_xva_disk_t d = {.id = "Ref:1",
                        .uuid = "0f0e0d0c-0b0a-4908-8706-050403020100",
                        .size = 40LL * SIM_XVA_CHUNK + 1};
    sim_xva_writer_t *w = sim_xva_writer_new(s_ova, strlen(s_ova), &d, 1, compression);
    assert_non_null(w);
    sim_buf_t b;
    sim_buf_init(&b, 1 << 20);
    char tmp[100000];
    ssize_t n;
    while ((n = sim_xva_writer_read(w, tmp, sizeof tmp)) > 0)
        sim_buf_add(&b, tmp, (size_t)n);
    assert_int_equal(n, 0);
    assert_true(sim_xva_writer_progress(w) >= 1.0);
    sim_xva_writer_destroy(&w);
    return sim_buf_take(&b, len);
}

static char *s_export(size_t *len)
{
    return s_export_c(len, NULL);
}

static int s_import(const char *data, size_t len, json_t **ova, uint64_t *bytes, json_t **err)
{
    sim_xva_reader_t *r = sim_xva_reader_new(false);
    for (size_t off = 0; off < len; off += 65536)
        sim_xva_reader_feed(r, data + off, len - off < 65536 ? len - off : 65536);
    int rc = sim_xva_reader_finish(r, ova, bytes, err);
    sim_xva_reader_destroy(&r);
    return rc;
}

static void test_roundtrip(void **state)
{
    size_t len;
    char *xva = s_export(&len);
    assert_memory_equal(xva, "ova.xml", 7);
    json_t *ova = NULL, *err = NULL;
    uint64_t bytes = 0;
    assert_int_equal(s_import(xva, len, &ova, &bytes, &err), 0);
    /* chunks 0, 16, 32 and the last (40): sparse */
    assert_int_equal(bytes, 4ULL * SIM_XVA_CHUNK);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(ova, "objects"), 0), "class")),
                        "VM");
    json_decref(ova);
    char *p = memmem(xva, len, "xapi-sim disk", 13);
    assert_non_null(p);
    p[20] ^= 1;
    assert_int_equal(s_import(xva, len, &ova, &bytes, &err), -1);
    assert_string_equal(json_string_value(json_array_get(err, 0)), "IMPORT_ERROR");
    json_decref(err);
    err = NULL;
    assert_int_equal(s_import("not a tar at all", 16, &ova, &bytes, &err), -1);
    json_decref(err);
    free(xva);
}

static void test_compressed(void **state)
{
    const char *kinds[] = {"gzip", "true"};
    const unsigned char magic[][4] = {{0x1f, 0x8b}, {0x1f, 0x8b}};
    for (int k = 0; k < 2; k++) {
        size_t len;
        char *xva = s_export_c(&len, kinds[k]);
        assert_memory_equal(xva, magic[k], 2);
        json_t *ova = NULL, *err = NULL;
        uint64_t bytes = 0;
        int rc = s_import(xva, len, &ova, &bytes, &err);
        if (rc != 0)
            fprintf(stderr, "%s: %s\n", kinds[k], json_string_value(json_array_get(err, 1)));
        assert_int_equal(rc, 0);
        assert_int_equal(bytes, 4ULL * SIM_XVA_CHUNK);
        json_decref(ova);
        free(xva);
    }
}

static void test_deterministic(void **state)
{
    size_t l1, l2;
    char *a = s_export(&l1), *b = s_export(&l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(a, b, l1);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_compressed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
