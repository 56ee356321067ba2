/*  Allocation failures in the XAPI decoders and encoders: the Nth allocation of a decode
    fails, for every N; the answer must be an error (or a success when the failure was
    absorbed), never a crash. malloc/calloc/realloc are interposed in this program and
    forward to glibc; with sanitizers (their own allocator) the test is skipped.
    yajl does not check its own allocations (yajl_alloc, yajl_buf): allocations made from
    inside libyajl are never failed here — a known limit of that library.                   */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_xapi.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define S_SANITIZED 1
#endif
#endif

#ifndef S_SANITIZED
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t n, size_t m);
void *__libc_realloc(void *p, size_t n);
void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);

static long s_count = -1; /* allocations seen while counting (-1: not counting) */
static long s_fail_at;    /* the allocation number that fails (0: none) */

static bool s_from_yajl(void *caller)
{
    Dl_info info;
    return dladdr(caller, &info) && info.dli_fname && strstr(info.dli_fname, "libyajl");
}

static bool s_fail_now(void *caller)
{
    if (s_count < 0 || s_from_yajl(caller))
        return false;
    return ++s_count == s_fail_at;
}

void *malloc(size_t n)
{
    return s_fail_now(__builtin_return_address(0)) ? NULL : __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    return s_fail_now(__builtin_return_address(0)) ? NULL : __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    return s_fail_now(__builtin_return_address(0)) ? NULL : __libc_realloc(p, n);
}

static const char s_xml[] =
    "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>"
    "Status</name><value>Success</value></member><member><name>Value</name><value><struct>"
    "<member><name>events</name><value><array><data><value><struct><member><name>class"
    "</name><value>vm</value></member><member><name>ref</name><value>OpaqueRef:a</value>"
    "</member><member><name>snapshot</name><value><struct><member><name>tags</name><value>"
    "<array><data><value>x</value></data></array></value></member></struct></value></member>"
    "</struct></value></data></array></value></member><member><name>token</name><value>t"
    "</value></member></struct></value></member></struct></value></param></params>"
    "</methodResponse>";

static const char s_xml_fail[] =
    "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct><member><name>"
    "Status</name><value>Failure</value></member><member><name>ErrorDescription</name><value>"
    "<array><data><value>HOST_IS_SLAVE</value><value>10.0.0.2</value></data></array></value>"
    "</member></struct></value></param></params></methodResponse>";

static const char s_json[] =
    "{\"jsonrpc\":\"2.0\",\"result\":{\"events\":[{\"class\":\"vm\",\"ref\":\"OpaqueRef:a\","
    "\"snapshot\":{\"tags\":[\"x\"],\"n\":1}}],\"token\":\"t\"},\"id\":1}";

static const char s_json_fail[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"HOST_IS_SLAVE\",\"data\":"
    "[\"10.0.0.2\"]},\"id\":1}";

static int s_entry(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    return 0;
}

typedef int(s_decode_fn)(const void *, size_t, const xoc_xapi_decode_opts_t *,
                         msgpack_sbuffer *, xoc_xapi_fault_t *);

/*  Runs one decode with the fail_at-th allocation failing; returns allocations counted.   */
static long s_run(s_decode_fn *decode, const char *body, long fail_at, int *rc)
{
    xoc_xapi_decode_opts_t o = {.mode = XOC_XAPI_EVENTS, .on_entry = s_entry};
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    xoc_xapi_fault_t f = {0};
    s_fail_at = fail_at;
    s_count = 0;
    *rc = decode(body, strlen(body), &o, &out, &f);
    long n = s_count;
    s_count = -1;
    if (*rc != XOC_EXAPI && *rc != 0)
        assert_int_equal(out.size, 0);
    xoc_xapi_fault_clear(&f);
    msgpack_sbuffer_destroy(&out);
    return n;
}

static void s_every_failure(s_decode_fn *decode, const char *body, int ok_rc)
{
    int rc;
    long total = s_run(decode, body, 0, &rc);
    assert_int_equal(rc, ok_rc);
    assert_true(total > 0);
    for (long n = 1; n <= total; n++) {
        s_run(decode, body, n, &rc);
        if (rc != ok_rc && rc != XOC_ENOMEM && rc != XOC_EPROTO && rc != XOC_ETRUNCATED)
            fail_msg("allocation %ld of %ld failed: rc %d", n, total, rc);
    }
}

static void test_decoders_survive_every_failure(void **state)
{
    s_every_failure(xoc_xapi_decode_xmlrpc, s_xml, 0);
    s_every_failure(xoc_xapi_decode_xmlrpc, s_xml_fail, XOC_EXAPI);
    s_every_failure(xoc_xapi_decode_jsonrpc, s_json, 0);
    s_every_failure(xoc_xapi_decode_jsonrpc, s_json_fail, XOC_EXAPI);
}

static void test_encoders_survive_every_failure(void **state)
{
    msgpack_sbuffer p;
    msgpack_sbuffer_init(&p);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "a&b", 3);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_double(&pk, 1.5);
    for (int t = 0; t < 2; t++) {
        for (long n = 1; n < 64; n++) {
            msgpack_sbuffer out;
            msgpack_sbuffer_init(&out);
            s_fail_at = n;
            s_count = 0;
            int rc = t ? xoc_xapi_encode_jsonrpc("VM.x", p.data, p.size, 1, &out)
                       : xoc_xapi_encode_xmlrpc("VM.x", p.data, p.size, &out);
            s_count = -1;
            assert_true(rc == 0 || rc == XOC_ENOMEM || rc == XOC_EINVAL);
            if (rc)
                assert_int_equal(out.size, 0);
            msgpack_sbuffer_destroy(&out);
        }
    }
    msgpack_sbuffer_destroy(&p);
}
#endif

int main(void)
{
#ifdef S_SANITIZED
    printf("test_xapi_oom: skipped under sanitizers (they own the allocator)\n");
    return 0;
#else
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decoders_survive_every_failure),
        cmocka_unit_test(test_encoders_survive_every_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
