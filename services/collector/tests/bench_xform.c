/*  bench_xform: a 10 000-VM pool (records shaped like the simulator's: VM, VM_metrics,
    VM_guest_metrics, VBD, VDI, VIF per VM; 50 hosts with metrics, dom0, local SR and PBD)
    through xoc_xform: time to put and flush everything, RSS growth, then churn (metrics
    changes, each re-emitting its VM). Usage: bench_xform [vms]                               */
#include <jansson.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h> /* after stdarg, stddef, setjmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_log.h"
#include "xoc_xform.h"

static int s_vms = 10000;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts); /* CPU time: robust on a loaded machine */
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long s_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void s_pack(msgpack_packer *pk, const json_t *j)
{
    const char *k;
    json_t *e;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, e)
        {
            msgpack_pack_str_with_body(pk, k, strlen(k));
            s_pack(pk, e);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, e) s_pack(pk, e);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

static size_t s_bytes;

static void s_put(xoc_xform_t *xf, const char *cls, const char *ref, const json_t *rec)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_pack(&pk, rec);
    s_bytes += sb.size;
    assert_int_equal(xoc_xform_put(xf, cls, ref, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/*  The first record of cls in the dump whose name_label (or, for the others, any) matches. */
static json_t *s_proto(json_t *dump, const char *cls, const char *ref)
{
    return json_deep_copy(json_object_get(json_object_get(dump, cls), ref));
}

static char *s_ref(char *buf, const char *kind, int i)
{
    snprintf(buf, 64, "OpaqueRef:%s-%08d-0000-4000-8000-000000000000", kind, i);
    return buf;
}

static char *s_uuid(char *buf, int kind, int i)
{
    snprintf(buf, 64, "%08x-%04x-4000-8000-000000000000", i, kind);
    return buf;
}

typedef struct {
    size_t enters, exits, bytes;
} count_t;

static int s_count(void *arg, bool enter, const char *id, const char *type, const void *obj,
                   size_t len)
{
    count_t *c = arg;
    c->enters += enter;
    c->exits += !enter;
    c->bytes += len;
    return 0;
}

#define SET_S(o, k, v) json_object_set_new((o), (k), json_string(v))

static void s_put_host(xoc_xform_t *xf, json_t *dump, const char *href, const char *pref, int h)
{
    char r[64], u[64], r2[64];
    json_t *host = s_proto(dump, "host", href);
    json_t *hm = s_proto(dump, "host_metrics", json_string_value(json_object_get(host, "metrics")));
    SET_S(host, "uuid", s_uuid(u, 1, h));
    SET_S(host, "metrics", s_ref(r2, "hm", h));
    SET_S(host, "control_domain", s_ref(r2, "dom0", h));
    json_object_set_new(host, "resident_VMs", json_array());
    json_object_set_new(host, "PBDs", json_array());
    json_array_append_new(json_object_get(host, "PBDs"), json_string(s_ref(r2, "pbd", h)));
    json_object_set_new(host, "PIFs", json_array());
    json_object_set_new(host, "host_CPUs", json_array());
    for (int i = h; i < s_vms; i += 50)
        json_array_append_new(json_object_get(host, "resident_VMs"),
                              json_string(s_ref(r2, "vm", i)));
    s_put(xf, "host", s_ref(r, "host", h), host);
    SET_S(hm, "uuid", s_uuid(u, 2, h));
    s_put(xf, "host_metrics", s_ref(r, "hm", h), hm);
    json_t *sr =
        json_pack("{s:s, s:s, s:s, s:b, s:[s], s:[], s:s, s:s, s:I, s:I, s:I}", "uuid",
                  s_uuid(u, 3, h), "name_label", "Local storage", "type", "lvm", "shared", 0,
                  "PBDs", s_ref(r2, "pbd", h), "VDIs", "content_type", "user", "name_description",
                  "", "physical_size", (json_int_t)1 << 40, "virtual_allocation", (json_int_t)0,
                  "physical_utilisation", (json_int_t)0);
    s_put(xf, "SR", s_ref(r, "sr", h), sr);
    json_t *pbd = json_pack("{s:s, s:s, s:s, s:{s:s}, s:b, s:{}}", "uuid", s_uuid(u, 4, h), "host",
                            s_ref(r2, "host", h), "SR", s_ref(r, "sr", h), "device_config",
                            "device", "/dev/sda3", "currently_attached", 1, "other_config");
    s_put(xf, "PBD", s_ref(r, "pbd", h), pbd);
    (void)pref;
    json_decref(host);
    json_decref(hm);
    json_decref(sr);
    json_decref(pbd);
}

static void s_put_vm(xoc_xform_t *xf, json_t *protos[6], int i)
{
    char r[64], u[64], r2[64], r3[64];
    json_t *vm = protos[0], *m = protos[1], *gm = protos[2], *vbd = protos[3], *vdi = protos[4],
           *vif = protos[5];
    char name[32];
    snprintf(name, sizeof(name), "vm-%05d", i);
    SET_S(vm, "uuid", s_uuid(u, 10, i));
    SET_S(vm, "name_label", name);
    SET_S(vm, "resident_on", s_ref(r2, "host", i % 50));
    SET_S(vm, "metrics", s_ref(r2, "vmm", i));
    SET_S(vm, "guest_metrics", s_ref(r2, "vmgm", i));
    json_array_set_new(json_object_get(vm, "VBDs"), 0, json_string(s_ref(r2, "vbd", i)));
    json_array_set_new(json_object_get(vm, "VIFs"), 0, json_string(s_ref(r2, "vif", i)));
    s_put(xf, "VM", s_ref(r, "vm", i), vm);
    SET_S(m, "uuid", s_uuid(u, 11, i));
    s_put(xf, "VM_metrics", s_ref(r, "vmm", i), m);
    SET_S(gm, "uuid", s_uuid(u, 12, i));
    s_put(xf, "VM_guest_metrics", s_ref(r, "vmgm", i), gm);
    SET_S(vbd, "uuid", s_uuid(u, 13, i));
    SET_S(vbd, "VM", s_ref(r2, "vm", i));
    SET_S(vbd, "VDI", s_ref(r3, "vdi", i));
    s_put(xf, "VBD", s_ref(r, "vbd", i), vbd);
    SET_S(vdi, "uuid", s_uuid(u, 14, i));
    SET_S(vdi, "SR", s_ref(r2, "sr", i % 50));
    json_array_set_new(json_object_get(vdi, "VBDs"), 0, json_string(s_ref(r3, "vbd", i)));
    s_put(xf, "VDI", s_ref(r, "vdi", i), vdi);
    SET_S(vif, "uuid", s_uuid(u, 15, i));
    SET_S(vif, "VM", s_ref(r2, "vm", i));
    s_put(xf, "VIF", s_ref(r, "vif", i), vif);
}

static void bench_pool(void **state)
{
    const char *src = getenv("XOC_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/services/collector/tests/data/sim_pool.json",
             src ? src : "../..");
    json_t *dump = json_load_file(path, 0, NULL);
    assert_non_null(dump);
    /* prototypes: vm-00001 and its records */
    const char *vref = NULL, *k;
    json_t *v;
    json_object_foreach(json_object_get(dump, "VM"), k,
                        v) if (strcmp(json_string_value(json_object_get(v, "name_label")),
                                      "vm-00001") == 0) vref = k;
    assert_non_null(vref);
    json_t *vm = s_proto(dump, "VM", vref);
    const char *vbdref = json_string_value(json_array_get(json_object_get(vm, "VBDs"), 0));
    const char *vifref = json_string_value(json_array_get(json_object_get(vm, "VIFs"), 0));
    json_t *vbd = s_proto(dump, "VBD", vbdref);
    json_t *protos[6] = {
        vm,
        s_proto(dump, "VM_metrics", json_string_value(json_object_get(vm, "metrics"))),
        s_proto(dump, "VM_guest_metrics", json_string_value(json_object_get(vm, "guest_metrics"))),
        vbd,
        s_proto(dump, "VDI", json_string_value(json_object_get(vbd, "VDI"))),
        s_proto(dump, "VIF", vifref)};
    const char *pref = NULL;
    char href[128];
    json_t *pool = NULL;
    json_object_foreach(json_object_get(dump, "pool"), k, v)
    {
        pref = k;
        pool = json_deep_copy(v);
    }
    snprintf(href, sizeof(href), "%s", json_string_value(json_object_get(pool, "master")));
    long rss0 = s_rss_kb();
    xoc_xform_t *xf = xoc_xform_new();
    double t0 = s_now();
    char r[64];
    SET_S(pool, "master", s_ref(r, "host", 0));
    s_put(xf, "pool", pref, pool);
    for (int h = 0; h < 50; h++)
        s_put_host(xf, dump, href, pref, h);
    for (int i = 0; i < s_vms; i++)
        s_put_vm(xf, protos, i);
    double t1 = s_now();
    count_t c = {0};
    assert_int_equal(xoc_xform_flush(xf, s_count, &c), 0);
    double t2 = s_now();
    long rss1 = s_rss_kb();
    printf("bench_xform: vms=%d records=%d record_bytes=%zu put=%.3fs flush=%.3fs (cpu) "
           "objects=%zu "
           "(enters=%zu bytes=%zu) rss_before=%ldKB rss_after=%ldKB delta=%ldKB\n",
           s_vms, 1 + 50 * 4 + 6 * s_vms, s_bytes, t1 - t0, t2 - t1, xoc_xform_count(xf), c.enters,
           c.bytes, rss0, rss1, rss1 - rss0);
    assert_int_equal(xoc_xform_count(xf), 1 + 50 * 3 + 4 * s_vms);
    /* churn: every VM's metrics changes once, flushed by 1000 */
    json_t *m = protos[1];
    char u[64];
    t0 = s_now();
    count_t cc = {0};
    for (int i = 0; i < s_vms; i++) {
        SET_S(m, "uuid", s_uuid(u, 11, i));
        json_object_set_new(m, "memory_actual", json_integer(1000000 + i));
        s_put(xf, "VM_metrics", s_ref(r, "vmm", i), m);
        if (i % 1000 == 999)
            assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    }
    assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    t1 = s_now();
    printf("bench_xform: churn changes=%d cpu=%.3fs (%.0f/s) enters=%zu rss=%ldKB\n", s_vms,
           t1 - t0, s_vms / (t1 - t0), cc.enters, s_rss_kb());
    assert_int_equal(cc.enters, (size_t)s_vms);
    /* full image */
    count_t ca = {0};
    t0 = s_now();
    assert_int_equal(xoc_xform_emit_all(xf, s_count, &ca), 0);
    printf("bench_xform: emit_all objects=%zu cpu=%.3fs\n", ca.enters, s_now() - t0);
    xoc_xform_destroy(&xf);
    for (int i = 0; i < 6; i++)
        json_decref(protos[i]);
    json_decref(pool);
    json_decref(dump);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        s_vms = atoi(argv[1]);
    xoc_log_init("bench_xform", XOC_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench_pool)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
