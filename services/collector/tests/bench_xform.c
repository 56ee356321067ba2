/*  bench_xform: a 10 000-VM pool shaped like xapi-sim's (VM, VM_metrics, VM_guest_metrics,
    VBD, VDI, VIF per VM, 60 % running, 40 % halted; 90 % of the disks on one shared NFS SR,
    10 % on the local SR of a host; 50 hosts with metrics, local SR and PBDs) through
    xoc_xform: time to put and flush everything, RSS growth; then churn, pre-packed so that
    only xoc_xform_put/del + flush are timed: the simulator's mix (60 % VM_metrics, 15 %
    host_metrics, 10 % messages, 8 % tasks, 7 % power states), VM_metrics only, and metrics
    changes that alter every running VM's memory.size (each re-emits its VM). Figures are
    process CPU time. Usage: bench_xform [vms [changes [batch]]] (10000 50000 500).          */
#include <jansson.h>
#include <malloc.h>
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
#include "xoc_xform_int.h" /* xf_nodes */

static int s_vms = 10000;
static int s_changes = 50000;
static int s_batch = 500; /* changes per flush (one event.from answer) */

#define S_HOSTS 50
#define s_running(i) ((i) % 10 < 6)
#define s_local(i)   ((i) % 10 == 9)

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

static void s_put_host(xoc_xform_t *xf, json_t *dump, const char *href, int h)
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
    json_array_append_new(json_object_get(host, "PBDs"), json_string(s_ref(r2, "spbd", h)));
    json_object_set_new(host, "PIFs", json_array());
    json_object_set_new(host, "host_CPUs", json_array());
    for (int i = h; i < s_vms; i += S_HOSTS)
        if (s_running(i))
            json_array_append_new(json_object_get(host, "resident_VMs"),
                                  json_string(s_ref(r2, "vm", i)));
    s_put(xf, "host", s_ref(r, "host", h), host);
    SET_S(hm, "uuid", s_uuid(u, 2, h));
    s_put(xf, "host_metrics", s_ref(r, "hm", h), hm);
    json_t *vdis = json_array();
    for (int i = h; i < s_vms; i += S_HOSTS)
        if (s_local(i))
            json_array_append_new(vdis, json_string(s_ref(r2, "vdi", i)));
    json_t *sr =
        json_pack("{s:s, s:s, s:s, s:b, s:[s], s:o, s:s, s:s, s:I, s:I, s:I}", "uuid",
                  s_uuid(u, 3, h), "name_label", "Local storage", "type", "lvm", "shared", 0,
                  "PBDs", s_ref(r2, "pbd", h), "VDIs", vdis, "content_type", "user",
                  "name_description", "", "physical_size", (json_int_t)1 << 40,
                  "virtual_allocation", (json_int_t)0, "physical_utilisation", (json_int_t)0);
    s_put(xf, "SR", s_ref(r, "sr", h), sr);
    json_t *pbd = json_pack("{s:s, s:s, s:s, s:{s:s}, s:b, s:{}}", "uuid", s_uuid(u, 4, h), "host",
                            s_ref(r2, "host", h), "SR", s_ref(r, "sr", h), "device_config",
                            "device", "/dev/sda3", "currently_attached", 1, "other_config");
    s_put(xf, "PBD", s_ref(r, "pbd", h), pbd);
    json_decref(pbd);
    pbd = json_pack("{s:s, s:s, s:s, s:{s:s}, s:b, s:{}}", "uuid", s_uuid(u, 5, h), "host",
                    s_ref(r2, "host", h), "SR", "OpaqueRef:shared-sr", "device_config", "server",
                    "nfs.example", "currently_attached", 1, "other_config");
    s_put(xf, "PBD", s_ref(r, "spbd", h), pbd);
    json_decref(host);
    json_decref(hm);
    json_decref(sr);
    json_decref(pbd);
}

/*  The shared NFS SR that 90 % of the disks are on (VDIs: one ref per such disk).          */
static void s_put_shared_sr(xoc_xform_t *xf)
{
    char r[64], u[64];
    json_t *vdis = json_array(), *pbds = json_array();
    for (int i = 0; i < s_vms; i++)
        if (!s_local(i))
            json_array_append_new(vdis, json_string(s_ref(r, "vdi", i)));
    for (int h = 0; h < S_HOSTS; h++)
        json_array_append_new(pbds, json_string(s_ref(r, "spbd", h)));
    json_t *sr = json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:s, s:s, s:I, s:I, s:I}", "uuid",
                           s_uuid(u, 6, 0), "name_label", "NFS storage", "type", "nfs", "shared",
                           1, "PBDs", pbds, "VDIs", vdis, "content_type", "user",
                           "name_description", "", "physical_size", (json_int_t)1 << 42,
                           "virtual_allocation", (json_int_t)0, "physical_utilisation",
                           (json_int_t)0);
    s_put(xf, "SR", "OpaqueRef:shared-sr", sr);
    json_decref(sr);
}

/*  VM i's record from the prototype (running or halted as power says).                     */
static json_t *s_vm_json(json_t *vm, int i, const char *power)
{
    char u[64], r2[64], name[32];
    snprintf(name, sizeof(name), "vm-%05d", i);
    SET_S(vm, "uuid", s_uuid(u, 10, i));
    SET_S(vm, "name_label", name);
    SET_S(vm, "power_state", power);
    SET_S(vm, "resident_on",
          s_running(i) ? s_ref(r2, "host", i % S_HOSTS) : "OpaqueRef:NULL");
    SET_S(vm, "metrics", s_ref(r2, "vmm", i));
    SET_S(vm, "guest_metrics", s_ref(r2, "vmgm", i));
    json_array_set_new(json_object_get(vm, "VBDs"), 0, json_string(s_ref(r2, "vbd", i)));
    json_array_set_new(json_object_get(vm, "VIFs"), 0, json_string(s_ref(r2, "vif", i)));
    return vm;
}

static void s_put_vm(xoc_xform_t *xf, json_t *protos[6], int i)
{
    char r[64], u[64], r2[64], r3[64];
    json_t *m = protos[1], *gm = protos[2], *vbd = protos[3], *vdi = protos[4], *vif = protos[5];
    s_put(xf, "VM", s_ref(r, "vm", i), s_vm_json(protos[0], i, s_running(i) ? "Running" : "Halted"));
    SET_S(m, "uuid", s_uuid(u, 11, i));
    s_put(xf, "VM_metrics", s_ref(r, "vmm", i), m);
    SET_S(gm, "uuid", s_uuid(u, 12, i));
    s_put(xf, "VM_guest_metrics", s_ref(r, "vmgm", i), gm);
    SET_S(vbd, "uuid", s_uuid(u, 13, i));
    SET_S(vbd, "VM", s_ref(r2, "vm", i));
    SET_S(vbd, "VDI", s_ref(r3, "vdi", i));
    s_put(xf, "VBD", s_ref(r, "vbd", i), vbd);
    SET_S(vdi, "uuid", s_uuid(u, 14, i));
    SET_S(vdi, "SR", s_local(i) ? s_ref(r2, "sr", i % S_HOSTS) : "OpaqueRef:shared-sr");
    json_array_set_new(json_object_get(vdi, "VBDs"), 0, json_string(s_ref(r3, "vbd", i)));
    s_put(xf, "VDI", s_ref(r, "vdi", i), vdi);
    SET_S(vif, "uuid", s_uuid(u, 15, i));
    SET_S(vif, "VM", s_ref(r2, "vm", i));
    s_put(xf, "VIF", s_ref(r, "vif", i), vif);
}

/*  ---- churn: pre-packed changes shaped like xapi-sim's (tools/xapi-sim/sim_gen.c) ------- */

typedef struct {
    bool del;
    const char *cls;
    char ref[64];
    msgpack_sbuffer sb;
} change_t;

typedef struct {
    json_t *vm, *m, *hm;
    unsigned long long seed, seq;
    int nmsg, msg_first, ntask;
    bool *paused;
} churn_t;

static unsigned long long s_rand(churn_t *ch)
{
    ch->seed = ch->seed * 6364136223846793005ull + 1442695040888963407ull;
    return ch->seed >> 33;
}

static void s_pack_change(change_t *c, const char *cls, const char *ref, const json_t *rec)
{
    msgpack_packer pk;
    c->cls = cls;
    snprintf(c->ref, sizeof(c->ref), "%s", ref);
    msgpack_sbuffer_init(&c->sb);
    if (!rec)
        return;
    msgpack_packer_init(&pk, &c->sb, msgpack_sbuffer_write);
    s_pack(&pk, rec);
}

/*  VM_metrics / host_metrics: last_updated, other_config.sim-seq and VCPUs_utilisation
    move (fields no transform reads); host_metrics: memory_free too.                        */
static void s_churn_metrics(churn_t *ch, change_t *c, bool host)
{
    char r[64], u[64], now[32], seq[24];
    snprintf(now, sizeof(now), "20261125T21:%02llu:%02lluZ", ch->seq / 60 % 60, ch->seq % 60);
    snprintf(seq, sizeof(seq), "%llu", ++ch->seq);
    json_t *rec = host ? ch->hm : ch->m;
    SET_S(rec, "last_updated", now);
    json_object_set_new(rec, "other_config", json_pack("{s:s}", "sim-seq", seq));
    if (host) {
        int h = (int)(s_rand(ch) % S_HOSTS);
        json_object_set_new(rec, "memory_free", json_integer((json_int_t)(s_rand(ch) << 20)));
        SET_S(rec, "uuid", s_uuid(u, 2, h));
        s_pack_change(c, "host_metrics", s_ref(r, "hm", h), rec);
        return;
    }
    int i = (int)(s_rand(ch) % (unsigned)s_vms);
    json_object_set_new(rec, "VCPUs_utilisation",
                        json_pack("{s:f, s:f}", "0", (s_rand(ch) % 10000) / 1e4, "1",
                                  (s_rand(ch) % 10000) / 1e4));
    SET_S(rec, "uuid", s_uuid(u, 11, i));
    s_pack_change(c, "VM_metrics", s_ref(r, "vmm", i), rec);
}

static void s_churn_message(churn_t *ch, change_t *c)
{
    char r[64], u[64], body[64];
    if (ch->nmsg - ch->msg_first >= 500) { /* the simulator keeps the last 500 */
        c->del = true;
        s_pack_change(c, "message", s_ref(r, "msg", ch->msg_first++), NULL);
        return;
    }
    snprintf(body, sizeof(body), "churn %llu", ++ch->seq);
    json_t *rec = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "uuid",
                            s_uuid(u, 20, ch->nmsg), "name", "VM_STARTED", "priority", 5, "cls",
                            "VM", "obj_uuid", s_uuid(u, 10, (int)(s_rand(ch) % s_vms)),
                            "timestamp", "20261125T21:00:00Z", "body", body);
    s_pack_change(c, "message", s_ref(r, "msg", ch->nmsg++), rec);
    json_decref(rec);
}

/*  A task appears pending, its progress moves, it succeeds, it is destroyed.               */
static void s_churn_task(churn_t *ch, change_t *c)
{
    char r[64], u[64];
    int t = ch->ntask / 4, step = ch->ntask++ % 4;
    s_ref(r, "task", t);
    if (step == 3) {
        c->del = true;
        s_pack_change(c, "task", r, NULL);
        return;
    }
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:[s], s:{}, s:s, s:{}}", "uuid",
        s_uuid(u, 21, t), "name_label", "Async.VM.start", "name_description", "",
        "status", step == 2 ? "success" : "pending", "progress", step / 2.0, "created",
        "20261125T21:00:00Z", "finished", step == 2 ? "20261125T21:00:01Z" : "19700101T00:00:00Z",
        "result", "", "allowed_operations", "cancel", "current_operations", "resident_on",
        s_ref(u, "host", t % S_HOSTS), "other_config");
    s_pack_change(c, "task", r, rec);
    json_decref(rec);
}

/*  A running VM pauses, a paused one runs.                                                  */
static void s_churn_power(churn_t *ch, change_t *c)
{
    char r[64];
    int i = (int)(s_rand(ch) % (unsigned)s_vms);
    while (!s_running(i))
        i = (i + 1) % s_vms;
    ch->paused[i] = !ch->paused[i];
    s_pack_change(c, "VM", s_ref(r, "vm", i),
                  s_vm_json(ch->vm, i, ch->paused[i] ? "Paused" : "Running"));
}

/*  n changes: the simulator's mix (60 % VM_metrics, 15 % host_metrics, 10 % messages, 8 %
    tasks, 7 % power states), or only one kind (only = the percentile that picks it).        */
static change_t *s_churn_gen(churn_t *ch, int n, int only)
{
    change_t *v = calloc((size_t)n, sizeof(*v));
    assert_non_null(v);
    for (int i = 0; i < n; i++) {
        unsigned long long r = only >= 0 ? (unsigned long long)only : s_rand(ch) % 100;
        if (r < 60)
            s_churn_metrics(ch, &v[i], false);
        else if (r < 75)
            s_churn_metrics(ch, &v[i], true);
        else if (r < 85)
            s_churn_message(ch, &v[i]);
        else if (r < 93)
            s_churn_task(ch, &v[i]);
        else
            s_churn_power(ch, &v[i]);
    }
    return v;
}

/*  Applies the changes, flushing every s_batch (one event.from answer); prints the cost.   */
static void s_churn_run(xoc_xform_t *xf, change_t *v, int n, const char *what)
{
    count_t cc = {0};
    double t0 = s_now();
    for (int i = 0; i < n; i++) {
        if (v[i].del)
            assert_int_equal(xoc_xform_del(xf, v[i].cls, v[i].ref), 0);
        else
            assert_int_equal(xoc_xform_put(xf, v[i].cls, v[i].ref, v[i].sb.data, v[i].sb.size),
                             0);
        if (i % s_batch == s_batch - 1)
            assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    }
    assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    double t = s_now() - t0;
    printf("bench_xform: churn %s changes=%d batch=%d cpu=%.3fs %.2fus/change (%.0f changes/s) "
           "xo_updates=%zu (enters=%zu exits=%zu)\n",
           what, n, s_batch, t, t * 1e6 / n, n / t, cc.enters + cc.exits, cc.enters, cc.exits);
    for (int i = 0; i < n; i++)
        msgpack_sbuffer_destroy(&v[i].sb);
    free(v);
    printf("bench_xform:   after: nodes=%zu objects=%zu heap in use=%zuKB\n", xf_nodes(xf),
           xoc_xform_count(xf), mallinfo2().uordblks / 1024);
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
    json_object_foreach(json_object_get(dump, "VM"), k, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name_label")), "vm-00001") == 0)
            vref = k;
    }
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
    for (int h = 0; h < S_HOSTS; h++)
        s_put_host(xf, dump, href, h);
    for (int i = 0; i < s_vms; i++)
        s_put_vm(xf, protos, i);
    s_put_shared_sr(xf);
    double t1 = s_now();
    count_t c = {0};
    assert_int_equal(xoc_xform_flush(xf, s_count, &c), 0);
    double t2 = s_now();
    long rss1 = s_rss_kb();
    int nrec = 1 + S_HOSTS * 5 + 1 + 6 * s_vms;
    printf("bench_xform: vms=%d records=%d record_bytes=%zu put=%.3fs flush=%.3fs (cpu) "
           "objects=%zu (enters=%zu bytes=%zu) rss_before=%ldKB rss_after=%ldKB delta=%ldKB\n",
           s_vms, nrec, s_bytes, t1 - t0, t2 - t1, xoc_xform_count(xf), c.enters, c.bytes, rss0,
           rss1, rss1 - rss0);
    assert_int_equal(xoc_xform_count(xf), 1 + S_HOSTS * 4 + 1 + 4 * s_vms);
    /* churn as the simulator makes it, then VM_metrics only */
    json_t *hm = s_proto(dump, "host_metrics", json_string_value(json_object_get(
                                                   json_object_get(json_object_get(dump, "host"),
                                                                   href),
                                                   "metrics")));
    churn_t ch = {.vm = vm, .m = json_deep_copy(protos[1]), .hm = hm, .seed = 42,
                  .paused = calloc((size_t)s_vms, sizeof(bool))};
    assert_non_null(ch.paused);
    s_churn_run(xf, s_churn_gen(&ch, s_changes, -1), s_changes, "sim-mix");
    s_churn_run(xf, s_churn_gen(&ch, s_changes, 0), s_changes, "VM_metrics-only");
    s_churn_run(xf, s_churn_gen(&ch, s_changes / 10, 60), s_changes / 10, "host_metrics-only");
    s_churn_run(xf, s_churn_gen(&ch, s_changes / 10, 75), s_changes / 10, "messages-only");
    s_churn_run(xf, s_churn_gen(&ch, s_changes / 10, 85), s_changes / 10, "tasks-only");
    s_churn_run(xf, s_churn_gen(&ch, s_changes / 10, 93), s_changes / 10, "power-only");
    /* metrics changes that alter memory.size of every running VM: each re-emits its VM */
    json_t *m = protos[1];
    char u[64];
    t0 = s_now();
    count_t cc = {0};
    int nrun = 0;
    for (int i = 0; i < s_vms; i++) {
        SET_S(m, "uuid", s_uuid(u, 11, i));
        json_object_set_new(m, "memory_actual", json_integer(1000000 + i));
        s_put(xf, "VM_metrics", s_ref(r, "vmm", i), m);
        nrun += s_running(i);
        if (i % 1000 == 999)
            assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    }
    assert_int_equal(xoc_xform_flush(xf, s_count, &cc), 0);
    t1 = s_now();
    printf("bench_xform: churn memory_actual (json packing included) changes=%d cpu=%.3fs "
           "%.2fus/change (%.0f/s) enters=%zu rss=%ldKB\n",
           s_vms, t1 - t0, (t1 - t0) * 1e6 / s_vms, s_vms / (t1 - t0), cc.enters, s_rss_kb());
    assert_int_equal(cc.enters, (size_t)nrun);
    /* full image */
    count_t ca = {0};
    t0 = s_now();
    assert_int_equal(xoc_xform_emit_all(xf, s_count, &ca), 0);
    printf("bench_xform: emit_all objects=%zu cpu=%.3fs\n", ca.enters, s_now() - t0);
    xoc_xform_destroy(&xf);
    for (int i = 0; i < 6; i++)
        json_decref(protos[i]);
    json_decref(ch.m);
    json_decref(hm);
    free(ch.paused);
    json_decref(pool);
    json_decref(dump);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        s_vms = atoi(argv[1]);
    if (argc > 2)
        s_changes = atoi(argv[2]);
    if (argc > 3)
        s_batch = atoi(argv[3]);
    if (s_vms < 10 || s_changes < 1 || s_batch < 1) {
        fprintf(stderr, "usage: bench_xform [vms >= 10 [changes [batch]]]\n");
        return 2;
    }
    xoc_log_init("bench_xform", XOC_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(bench_pool)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
