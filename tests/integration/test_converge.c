/*  Convergence and faults of the spine, on real processes: xapi-sim (2 pools) -> xoc-collector
    -> xoc-cache -> a replica in this process, all through xoc-bus. At random moments the churn
    is paused and the replica's whole state must equal the simulator's own state (sim.dump)
    put through the same transform: same ids, same types, same field values. Then the same
    after kill -9 of the collector, of the cache and of the bus during churn, a moved master,
    EVENTS_LOST, expired sessions, dropped connections, a pool added and one removed.
    No lost object, no ghost object.                                                        */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_msg.h"
#include "xoc_replica.h"
#include "xoc_testproc.h"
#include "xoc_testsim.h"
#include "xoc_xform.h"

#define HB "200" /* window 600 ms */
#define CONVERGE_MS 30000

typedef struct {
    xoc_proc_t *sim, *bus, *cache, *collector;
    char bus_ep[800];
    char cache_dir[64];
    char ports_file[128];
    char url[2][256]; /* master URL of each simulated pool */
    char pool_id[2][64];
    bool configured[2];
    xoc_bus_opts_t opts;
    zactor_t *replica;
    xoc_client_t *client;
} s_env_t;

static s_env_t s_env;

/* ---- the replica, in its own actor ------------------------------------------------------- */

static int s_each(const xoc_replica_obj_t *o, void *arg)
{
    msgpack_packer *pk = arg;
    msgpack_pack_str_with_body(pk, o->id, strlen(o->id));
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, o->type, strlen(o->type));
    msgpack_pack_str_with_body(pk, o->pool, strlen(o->pool));
    msgpack_pack_bin_with_body(pk, o->data, o->size);
    return 0;
}

/* DUMP: a msgpack map id -> [type, pool, object] (an empty frame while not synced) */
static int s_replica_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    xoc_replica_t *r = arg;
    char *cmd = zstr_recv(pipe);
    if (!cmd || streq(cmd, "$TERM")) {
        zstr_free(&cmd);
        return -1;
    }
    if (streq(cmd, "STATS")) { /* "<snapshots> <gaps> <rev>" */
        xoc_replica_stats_t st;
        xoc_replica_stats(r, &st);
        zstr_sendf(pipe, "%llu %llu %llu", (unsigned long long)st.snapshots,
                   (unsigned long long)st.gaps, (unsigned long long)xoc_replica_rev(r));
        zstr_free(&cmd);
        return 0;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (xoc_replica_synced(r)) {
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, (uint32_t)xoc_replica_count(r));
        xoc_replica_foreach(r, s_each, &pk);
    }
    zframe_t *f = zframe_new(sb.data, sb.size);
    zframe_send(&f, pipe, 0);
    msgpack_sbuffer_destroy(&sb);
    zstr_free(&cmd);
    return 0;
}

static void s_replica_actor(zsock_t *pipe, void *arg)
{
    zloop_t *loop = zloop_new();
    xoc_replica_t *r = xoc_replica_new(arg);
    xoc_replica_attach(r, loop);
    zloop_reader(loop, pipe, s_replica_pipe, r);
    zloop_set_nonstop(loop, true);
    zsock_signal(pipe, 0);
    zloop_start(loop);
    xoc_replica_destroy(&r);
    zloop_destroy(&loop);
}

/* ---- simulator control ---------------------------------------------------------------------- */

/* JSON-RPC call on a pool of the simulator; returns the result (new reference) or NULL */
static json_t *s_sim(int pool, const char *method, json_t *params)
{
    return xoc_test_sim_call(s_env.url[pool], method, params);
}

static void s_churn(int pool, int rate)
{
    json_decref(s_sim(pool, "sim.churn", json_pack("{s:i}", "rate", rate)));
}

/* ---- expected state: sim.dump through the transform ----------------------------------------- */

typedef struct {
    json_t *map; /* id -> {type, pool, object} */
    const char *pool;
} s_expect_t;

static int s_expect_emit(void *arg, bool enter, const char *id, const char *type,
                         const void *obj, size_t len)
{
    s_expect_t *e = arg;
    json_object_set_new(e->map, id,
                        json_pack("{s:s,s:s,s:o}", "type", type, "pool", e->pool ? e->pool : "",
                                  "object", xoc_json_from_mp(obj, len)));
    return 0;
}

static void s_expect_pool(int pool, json_t *map)
{
    json_t *dump = s_sim(pool, "sim.dump", NULL);
    assert_non_null(dump);
    xoc_xform_t *x = xoc_xform_new();
    const char *cls;
    json_t *records;
    json_object_foreach(dump, cls, records)
    {
        const char *ref;
        json_t *rec;
        json_object_foreach(records, ref, rec)
        {
            msgpack_sbuffer sb;
            msgpack_sbuffer_init(&sb);
            xoc_json_to_mp(rec, &sb);
            xoc_xform_put(x, cls, ref, sb.data, sb.size);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    s_expect_t e = {map, xoc_xform_pool_id(x)};
    if (e.pool)
        snprintf(s_env.pool_id[pool], sizeof s_env.pool_id[pool], "%s", e.pool);
    xoc_xform_emit_all(x, s_expect_emit, &e);
    xoc_xform_destroy(&x);
    json_decref(dump);
}

static json_t *s_replica_state(void)
{
    zstr_send(s_env.replica, "DUMP");
    zframe_t *f = zframe_recv(s_env.replica);
    json_t *map = NULL;
    if (f && zframe_size(f) > 0) {
        map = json_object();
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, (const char *)zframe_data(f), zframe_size(f), NULL) ==
            MSGPACK_UNPACK_SUCCESS)
            for (uint32_t i = 0; i < up.data.via.map.size; i++) {
                msgpack_object *k = &up.data.via.map.ptr[i].key;
                msgpack_object *v = up.data.via.map.ptr[i].val.via.array.ptr;
                char id[512];
                snprintf(id, sizeof id, "%.*s", (int)k->via.str.size, k->via.str.ptr);
                json_object_set_new(
                    map, id,
                    json_pack("{s:s%,s:s%,s:o}", "type", v[0].via.str.ptr,
                              (size_t)v[0].via.str.size, "pool", v[1].via.str.ptr,
                              (size_t)v[1].via.str.size, "object",
                              xoc_json_from_mp(v[2].via.bin.ptr, v[2].via.bin.size)));
            }
        msgpack_unpacked_destroy(&up);
    }
    zframe_destroy(&f);
    return map;
}

/* describes the first differences; returns their count */
static int s_diff(json_t *expect, json_t *got, bool print)
{
    int n = 0;
    const char *id;
    json_t *v;
    json_object_foreach(expect, id, v)
    {
        json_t *g = json_object_get(got, id);
        if (!g || !json_equal(v, g)) {
            if (print && n < 5) {
                char *a = json_dumps(v, JSON_COMPACT), *b = g ? json_dumps(g, JSON_COMPACT) : NULL;
                print_message("  %s %s\n    expected %.600s\n    replica  %.600s\n",
                              g ? "differs" : "missing", id, a, b ? b : "-");
                free(a);
                free(b);
            }
            n++;
        }
    }
    json_object_foreach(got, id, v) if (!json_object_get(expect, id))
    {
        if (print && n < 5)
            print_message("  ghost %s (%s)\n", id,
                          json_string_value(json_object_get(v, "type")));
        n++;
    }
    return n;
}

/* ---- what a failed comparison prints, so that a rare failure explains itself ------------- */

/* the ids that differ (at most max): missing, differing or ghost */
static size_t s_diff_ids(json_t *expect, json_t *got, const char **ids, size_t max)
{
    size_t n = 0;
    const char *id;
    json_t *v;
    json_object_foreach(expect, id, v)
    {
        json_t *g = json_object_get(got, id);
        if ((!g || !json_equal(v, g)) && n < max)
            ids[n++] = id;
    }
    json_object_foreach(got, id, v) if (!json_object_get(expect, id) && n < max) ids[n++] = id;
    return n;
}

/* the cache's record of one id: its current object (cache.get) and every journal entry of
   it (cache.changes from the first revision the journal still has) */
static void s_explain_cache(const char *id)
{
    xoc_reply_t r;
    xoc_msg_get_t get = {.id = xoc_str(id)};
    int rc = xoc_client_call_msg(s_env.client, "cache", "cache.get", XOC_MSG_GET, &get, 5000, &r);
    xoc_msg_t m;
    if (rc == 0 && xoc_reply_decode(&r, XOC_MSG_OBJ, &m) == 0)
        print_message("  cache.get %s: rev %llu %.*s\n", id, (unsigned long long)m.obj.rev,
                      (int)m.obj.op.len, m.obj.op.ptr);
    else
        print_message("  cache.get %s: %s (%s)\n", id, xoc_strerror(rc), r.reason);
    xoc_reply_clear(&r);
    char line[2048] = "";
    size_t len = 0;
    uint64_t since = 1;
    for (int page = 0; page < 100; page++) {
        xoc_msg_journal_t req = {.since = since, .limit = 5000};
        rc = xoc_client_call_msg(s_env.client, "cache", "cache.changes", XOC_MSG_JOURNAL, &req,
                                 5000, &r);
        if (rc || xoc_reply_decode(&r, XOC_MSG_JOURNAL, &m) != 0) {
            print_message("  cache.changes since %llu: %s (%s)\n", (unsigned long long)since,
                          xoc_strerror(rc), r.reason);
            xoc_reply_clear(&r);
            break;
        }
        if (page == 0 && m.journal.since > since) /* pruned below: start where it begins */
            since = m.journal.since;
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        bool more = m.journal.more;
        if (msgpack_unpack_next(&up, (const char *)m.journal.items.ptr, m.journal.items.len,
                                NULL) == MSGPACK_UNPACK_SUCCESS &&
            up.data.type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t i = 0; i < up.data.via.array.size; i++) {
                msgpack_object *e = up.data.via.array.ptr[i].via.array.ptr;
                if (up.data.via.array.ptr[i].via.array.size < 3)
                    continue;
                uint64_t rev = e[0].via.u64;
                since = rev + 1;
                if (e[2].via.str.size == strlen(id) && !memcmp(e[2].via.str.ptr, id, strlen(id)) &&
                    len < sizeof line - 40)
                    len += (size_t)snprintf(line + len, sizeof line - len, " %llu:%.*s",
                                            (unsigned long long)rev, (int)e[1].via.str.size,
                                            e[1].via.str.ptr);
            }
        else
            more = false;
        msgpack_unpacked_destroy(&up);
        xoc_reply_clear(&r);
        if (!more)
            break;
    }
    print_message("  journal of %s (rev:op):%s\n", id, len ? line : " none");
}

/* after a failed comparison: the replica's counters, the collector's view of each server,
   and what the cache holds and recorded for the ids that differ */
static void s_explain(json_t *expect, json_t *got)
{
    char *st = (zstr_send(s_env.replica, "STATS"), zstr_recv(s_env.replica));
    print_message("  replica (snapshots gaps rev): %s\n", st ? st : "-");
    zstr_free(&st);
    xoc_reply_t r;
    xoc_msg_t m;
    int rc = xoc_client_call(s_env.client, "collector", "collector.status", NULL, 0, 5000, &r);
    if (rc == 0 && xoc_reply_decode(&r, XOC_MSG_CFG, &m) == 0) {
        json_t *items = xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len);
        char *s = json_dumps(items, JSON_COMPACT | JSON_SORT_KEYS);
        print_message("  collector.status: %.1500s\n", s ? s : "-");
        free(s);
        json_decref(items);
    } else
        print_message("  collector.status: %s (%s)\n", xoc_strerror(rc), r.reason);
    xoc_reply_clear(&r);
    const char *ids[5];
    size_t n = got ? s_diff_ids(expect, got, ids, 5) : 0;
    for (size_t i = 0; i < n; i++)
        s_explain_cache(ids[i]);
}

/* with churn paused: the replica must reach exactly the simulator's state */
static void s_assert_converges(const char *when)
{
    long long t0 = xoc_test_now_ms();
    json_t *expect = json_object();
    for (int p = 0; p < 2; p++)
        if (s_env.configured[p])
            s_expect_pool(p, expect);
    int diff = -1;
    json_t *got = NULL;
    while (xoc_test_now_ms() - t0 < CONVERGE_MS) {
        json_decref(got);
        got = s_replica_state();
        if (got && (diff = s_diff(expect, got, false)) == 0)
            break;
        zclock_sleep(50); /* polling the replica's state with a deadline */
    }
    if (diff != 0 && got)
        s_diff(expect, got, true);
    if (diff != 0)
        s_explain(expect, got);
    print_message("%s: %zu objects, %s after %lld ms\n", when, json_object_size(expect),
                  diff == 0 ? "converged" : "NOT converged", xoc_test_now_ms() - t0);
    assert_int_equal(diff, 0);
    json_decref(expect);
    json_decref(got);
}

/* ---- processes ------------------------------------------------------------------------------ */

static void s_start_bus(void)
{
    s_env.bus = xoc_test_start_bus(s_env.bus_ep[0] ? s_env.bus_ep : NULL, HB, NULL,
                                   s_env.bus_ep, sizeof s_env.bus_ep);
    assert_non_null(s_env.bus);
}

static void s_start_cache(void)
{
    char *argv[] = {(char *)xoc_test_bin("services/cache/xoc-cache"), "--bus.endpoint",
                    s_env.bus_ep, "--bus.heartbeat_ms", HB, "--cache.path", s_env.cache_dir,
                    "--log.level", "warn", NULL};
    s_env.cache = xoc_proc_start(argv, "xoc-cache: ready", 10000);
    assert_non_null(s_env.cache);
}

static void s_start_collector(void)
{
    char *argv[] = {(char *)xoc_test_bin("services/collector/xoc-collector"), "--bus.endpoint",
                    s_env.bus_ep, "--bus.heartbeat_ms", HB, "--log.level", "warn", NULL};
    s_env.collector = xoc_proc_start(argv, "xoc-collector: ready", 10000);
    assert_non_null(s_env.collector);
}

static void s_read_ports(void)
{
    json_t *hosts = json_load_file(s_env.ports_file, 0, NULL);
    assert_non_null(hosts);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        if (!json_is_true(json_object_get(h, "master")))
            continue;
        const char *pool = json_string_value(json_object_get(h, "pool"));
        int p = strcmp(pool, "pool1") == 0 ? 0 : 1;
        snprintf(s_env.url[p], sizeof s_env.url[p], "%s",
                 json_string_value(json_object_get(h, "url")));
    }
    json_decref(hosts);
    assert_true(s_env.url[0][0] && s_env.url[1][0]);
}

static void s_configure(int pool, bool add)
{
    char key[16];
    snprintf(key, sizeof key, "s%d", pool + 1);
    msgpack_sbuffer val;
    msgpack_sbuffer_init(&val);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s}", "host", s_env.url[pool], "username", "root",
                            "password", "password", "label", key);
    xoc_json_to_mp(rec, &val);
    json_decref(rec);
    xoc_msg_cfg_t cfg = {.db = XOC_STR("servers"), .key = xoc_str(key),
                         .value = {(const uint8_t *)val.data, add ? (uint32_t)val.size : 0}};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(s_env.client, "cache", add ? "config.set" : "config.delete",
                                 XOC_MSG_CFG, &cfg, 5000, &r);
    assert_int_equal(rc, 0);
    xoc_reply_clear(&r);
    msgpack_sbuffer_destroy(&val);
    s_env.configured[pool] = add;
}

static int s_group_setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(s_env.cache_dir, sizeof s_env.cache_dir, "/tmp/xoc-converge-XXXXXX");
    assert_non_null(mkdtemp(s_env.cache_dir));
    snprintf(s_env.ports_file, sizeof s_env.ports_file, "%s/ports.json", s_env.cache_dir);
    strcat(s_env.cache_dir, "/db");
    char *sim[] = {(char *)xoc_test_bin("tools/xapi-sim/xapi-sim"), "--pools", "2", "--hosts",
                   "3", "--vms", "40", "--ports-file", s_env.ports_file, "--log-level", "warn",
                   NULL};
    s_env.sim = xoc_proc_start(sim, "xapi-sim: ready", 20000);
    assert_non_null(s_env.sim);
    s_read_ports();
    s_start_bus();
    xoc_bus_endpoints_parse(s_env.bus_ep, &s_env.opts);
    s_env.opts.heartbeat_ms = 200;
    s_env.opts.liveness = 3;
    s_start_cache();
    s_start_collector();
    s_env.client = xoc_client_new(&s_env.opts);
    s_env.replica = zactor_new(s_replica_actor, &s_env.opts);
    s_configure(0, true);
    return 0;
}

static int s_group_teardown(void **state)
{
    zactor_destroy(&s_env.replica);
    xoc_client_destroy(&s_env.client);
    bool clean = xoc_proc_stop_clean(&s_env.collector);
    clean &= xoc_proc_stop_clean(&s_env.cache);
    clean &= xoc_proc_stop_clean(&s_env.bus);
    clean &= xoc_proc_stop_clean(&s_env.sim);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %.*s", (int)(strlen(s_env.cache_dir) - 3), s_env.cache_dir);
    if (system(cmd) != 0)
        print_message("could not remove %s\n", s_env.cache_dir);
    curl_global_cleanup();
    assert_true(clean); /* every process stops cleanly on SIGTERM */
    return 0;
}

/* runs churn on the configured pools for a random while, then pauses it */
static void s_churn_for(int min_ms, int max_ms)
{
    for (int p = 0; p < 2; p++)
        if (s_env.configured[p])
            s_churn(p, 300);
    long long end = xoc_test_now_ms() + min_ms + rand() % (max_ms - min_ms + 1);
    while (xoc_test_now_ms() < end)
        zclock_sleep(20); /* letting churn run: the duration is the point, nothing to wait for */
    for (int p = 0; p < 2; p++)
        s_churn(p, 0);
}

/* ---- scenarios ------------------------------------------------------------------------------- */

static void test_initial_load(void **state)
{
    s_assert_converges("initial load of pool1");
}

static void test_churn_at_random_moments(void **state)
{
    for (int i = 0; i < 3; i++) {
        s_churn_for(200, 1500);
        s_assert_converges("after churn");
    }
}

static void test_xapi_gateway_vm_start(void **state)
{
    json_t *dump = s_sim(0, "sim.dump", NULL);
    const char *ref = NULL, *r;
    json_t *vm;
    json_object_foreach(json_object_get(dump, "VM"), r, vm)
    {
        if (!json_is_true(json_object_get(vm, "is_a_template")) &&
            !json_is_true(json_object_get(vm, "is_control_domain")) &&
            !json_is_true(json_object_get(vm, "is_a_snapshot")) &&
            strcmp(json_string_value(json_object_get(vm, "power_state")), "Halted") == 0) {
            ref = r;
            break;
        }
    }
    assert_non_null(ref);
    char service[128];
    snprintf(service, sizeof service, "xapi.%s", s_env.pool_id[0]);
    json_t *params = json_pack("[s,b,b]", ref, 0, 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_json_to_mp(params, &sb);
    xoc_msg_xapi_call_t call = {.pool = xoc_str(s_env.pool_id[0]), .method = XOC_STR("VM.start"),
                                .params = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    xoc_reply_t rep;
    int rc = -1;
    for (long long end = xoc_test_now_ms() + 10000; xoc_test_now_ms() < end;) {
        rc = xoc_client_call_msg(s_env.client, service, "xapi.call", XOC_MSG_XAPI_CALL, &call,
                                 10000, &rep);
        if (rc != XOC_ENOSERVICE)
            break;
        xoc_reply_clear(&rep);
    }
    assert_int_equal(rc, 0);
    xoc_reply_clear(&rep);
    /* the same call again: the host's own error, with its code and parameters */
    rc = xoc_client_call_msg(s_env.client, service, "xapi.call", XOC_MSG_XAPI_CALL, &call, 10000,
                             &rep);
    assert_int_equal(rc, XOC_EXAPI);
    print_message("second VM.start: %s\n", rep.reason);
    assert_non_null(strstr(rep.reason, "VM_BAD_POWER_STATE"));
    xoc_reply_clear(&rep);
    msgpack_sbuffer_destroy(&sb);
    json_decref(params);
    json_decref(dump);
    s_assert_converges("after VM.start through the gateway");
}

/* the gateway carries out several calls at once (collector.gateway_lanes): a call that
   takes seconds (event.from waiting for changes that do not come) does not hold a quick
   one sent after it */
static void s_on_slow(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    *(int *)arg = reply->status == 0 ? 1 : -1;
    if (reply->status)
        print_message("slow call: %d %s\n", reply->status, reply->reason);
}

static int s_gateway_call(const char *method, json_t *params, xoc_reply_t *rep)
{
    char service[128];
    snprintf(service, sizeof service, "xapi.%s", s_env.pool_id[0]);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_json_to_mp(params, &sb);
    xoc_msg_xapi_call_t call = {.pool = xoc_str(s_env.pool_id[0]), .method = xoc_str(method),
                                .params = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    int rc = xoc_client_call_msg(s_env.client, service, "xapi.call", XOC_MSG_XAPI_CALL, &call,
                                 10000, rep);
    msgpack_sbuffer_destroy(&sb);
    json_decref(params);
    return rc;
}

static void test_xapi_gateway_lanes(void **state)
{
    xoc_reply_t rep;
    assert_int_equal(s_gateway_call("event.get_current_id", json_array(), &rep), 0);
    xoc_msg_t m;
    assert_int_equal(xoc_reply_decode(&rep, XOC_MSG_XAPI_CALL, &m), 0);
    json_t *id = xoc_json_from_mp(m.xapi_call.result.ptr, m.xapi_call.result.len);
    assert_true(json_is_integer(id)); /* XAPI: int */
    json_t *token = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
    json_decref(id);
    xoc_reply_clear(&rep);
    /* the slow one: SR events after now, waiting up to 3 s (nothing changes SRs here) */
    json_t *params = json_pack("[[s],O,f]", "SR", token, 3.0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_json_to_mp(params, &sb);
    xoc_msg_xapi_call_t call = {.pool = xoc_str(s_env.pool_id[0]),
                                .method = XOC_STR("event.from"),
                                .params = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    assert_int_equal(xoc_msg_xapi_call_encode(&call, &body), 0);
    char service[128];
    snprintf(service, sizeof service, "xapi.%s", s_env.pool_id[0]);
    int slow = 0;
    assert_int_equal(xoc_client_send(s_env.client, service, "xapi.call", body.data, body.size,
                                     10000, s_on_slow, &slow),
                     0);
    zclock_sleep(200); /* the slow call reaches a lane first */
    long long t0 = xoc_test_now_ms();
    assert_int_equal(s_gateway_call("VM.get_all", json_array(), &rep), 0);
    long long quick_ms = xoc_test_now_ms() - t0;
    xoc_reply_clear(&rep);
    print_message("quick call answered in %lld ms while the slow one waits\n", quick_ms);
    assert_int_equal(slow, 0); /* answered before the slow call, not after it */
    for (long long end = xoc_test_now_ms() + 10000; !slow && xoc_test_now_ms() < end;)
        xoc_client_pump(s_env.client, 100);
    assert_int_equal(slow, 1);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&sb);
    json_decref(params);
    json_decref(token);
}

static void s_kill_during_churn(xoc_proc_t **p, void (*restart)(void), const char *what)
{
    for (int pl = 0; pl < 2; pl++)
        if (s_env.configured[pl])
            s_churn(pl, 300);
    zclock_sleep(300 + rand() % 700); /* churn running before the kill */
    xoc_proc_kill(*p, SIGKILL);
    xoc_proc_wait(*p, 5000);
    xoc_proc_stop(p);
    zclock_sleep(200 + rand() % 500); /* churn while it is down */
    restart();
    zclock_sleep(300 + rand() % 700); /* churn after the restart; convergence is polled below */
    for (int pl = 0; pl < 2; pl++)
        s_churn(pl, 0);
    s_assert_converges(what);
}

static void test_kill_collector(void **state)
{
    s_kill_during_churn(&s_env.collector, s_start_collector, "after kill -9 of the collector");
}

static void test_kill_cache(void **state)
{
    s_kill_during_churn(&s_env.cache, s_start_cache, "after kill -9 of the cache");
}

static void test_kill_bus(void **state)
{
    s_kill_during_churn(&s_env.bus, s_start_bus, "after kill -9 of the bus");
}

static void s_fault(const char *method, json_t *params, const char *what)
{
    s_churn(0, 300);
    zclock_sleep(300); /* churn running when the fault hits: the duration is the point */
    json_decref(s_sim(0, method, params));
    zclock_sleep(500); /* churn going on while the collector recovers */
    s_churn(0, 0);
    s_assert_converges(what);
}

static void test_master_moved(void **state)
{
    s_fault("sim.move_master", json_pack("{s:i}", "host", 1), "after the master moved");
}

static void test_events_lost(void **state)
{
    s_fault("sim.events_lost", NULL, "after EVENTS_LOST");
}

/* the epoch of pool1's connection once the collector reports it connected (0 meanwhile) */
static unsigned long long s_connected_epoch(void)
{
    xoc_reply_t r;
    xoc_msg_t m;
    unsigned long long epoch = 0;
    if (xoc_client_call(s_env.client, "collector", "collector.status", NULL, 0, 5000, &r) == 0 &&
        xoc_reply_decode(&r, XOC_MSG_CFG, &m) == 0) {
        json_t *items = xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len);
        json_t *s1 = json_object_get(items, "s1");
        if (!strcmp(json_string_value(json_object_get(s1, "status")) ?: "", "connected"))
            epoch = (unsigned long long)json_integer_value(json_object_get(s1, "epoch"));
        json_decref(items);
    }
    xoc_reply_clear(&r);
    return epoch;
}

/* reloads (EVENTS_LOST) while tasks come and go every few milliseconds: a task created after
   a load's event token, read by the load and destroyed before the next event.from gets no
   event at all (XAPI reports nothing for an object created and destroyed since a token), so
   a load that read <class>.get_all_records after taking the token kept it as a ghost. The
   simulator churns in bursts every 10 ms, so a burst falls inside a load's few milliseconds
   only now and then (in about one reload of fifteen here): 40 reloads, each compared. */
static void test_reload_during_task_churn(void **state)
{
    for (int i = 0; i < 40; i++) {
        json_decref(s_sim(0, "sim.churn", json_pack("{s:i,s:s}", "rate", 2000, "mix", "task:1")));
        zclock_sleep(50); /* task churn running when the fault hits: the duration is the point */
        unsigned long long epoch = s_connected_epoch(), now = epoch;
        json_decref(s_sim(0, "sim.events_lost", NULL));
        /* the churn goes on until the collector has loaded the pool again */
        for (long long end = xoc_test_now_ms() + 20000;
             (now == 0 || now == epoch) && xoc_test_now_ms() < end; zclock_sleep(10))
            now = s_connected_epoch();
        zclock_sleep(50); /* and a few bursts more, that end the tasks the load read */
        json_decref(s_sim(0, "sim.churn", json_pack("{s:i,s:s}", "rate", 0, "mix", "default")));
        assert_true(now != 0 && now != epoch);
        char when[64];
        snprintf(when, sizeof when, "after reload %d during task churn", i + 1);
        s_assert_converges(when);
    }
}

static void test_sessions_expired(void **state)
{
    s_fault("sim.expire_sessions", NULL, "after expired sessions");
}

static void test_connections_dropped(void **state)
{
    s_fault("sim.drop_connections", NULL, "after dropped connections");
}

/* the configured host and the master the collector follows both go down (their addresses
   close every request unanswered): the collector has to reconnect through the remembered
   third member, at its address with the configured URL's scheme and port (as xo-server's
   client does), and the replica converges */
static void test_member_failover(void **state)
{
    char orig[sizeof s_env.url[0]];
    snprintf(orig, sizeof orig, "%s", s_env.url[0]);
    const char *at = strstr(orig, "127.0.0.1");
    assert_non_null(at); /* host n of pool 1 listens on 127.0.0.<n+1>, at the same port */
    snprintf(s_env.url[0], sizeof s_env.url[0], "%.*s127.0.0.3%s", (int)(at - orig), orig,
             at + 9); /* the simulator's controls through host 2 from now on */
    json_decref(s_sim(0, "sim.move_master", json_pack("{s:i}", "host", 1)));
    s_churn(0, 100);
    zclock_sleep(300); /* the collector follows the master to host 1 */
    json_decref(s_sim(0, "sim.move_master", json_pack("{s:i}", "host", 2)));
    for (int h = 0; h < 2; h++)
        json_decref(s_sim(0, "sim.host_down", json_pack("{s:i,s:i}", "host", h, "ms", 60000)));
    json_decref(s_sim(0, "sim.drop_connections", NULL));
    zclock_sleep(500); /* churn going on while the collector recovers */
    s_churn(0, 0);
    s_assert_converges("after the configured host and the master went down");
    for (int h = 0; h < 2; h++)
        json_decref(s_sim(0, "sim.host_down", json_pack("{s:i,s:i}", "host", h, "ms", 0)));
    snprintf(s_env.url[0], sizeof s_env.url[0], "%s", orig);
}

/* a change whose revision skips ahead (lost events): the replica must take a new snapshot,
   never apply it, and end exactly at the simulator's state */
static void test_replica_gap_resyncs(void **state)
{
    unsigned long long snaps0, gaps0, rev0, snaps1 = 0, gaps1 = 0, rev1;
    char *st = (zstr_send(s_env.replica, "STATS"), zstr_recv(s_env.replica));
    assert_int_equal(sscanf(st, "%llu %llu %llu", &snaps0, &gaps0, &rev0), 3);
    zstr_free(&st);
    xoc_bus_opts_t o = s_env.opts;
    zsock_t *pub = xoc_bus_connect(ZMQ_PUB, o.pub, &o);
    static const uint8_t obj[] = {0x81, 0xa2, 'i', 'd', 0xa5, 'g', 'h', 'o', 's', 't'};
    xoc_msg_obj_t ghost = {.rev = rev0 + 5, .op = XOC_STR("enter"), .id = XOC_STR("ghost"),
                           .type = XOC_STR("VM"), .pool = XOC_STR("nowhere"),
                           .object = {obj, sizeof obj}, .last = true};
    /* publish until the replica reacts (the subscription may take a moment to reach us) */
    for (long long end = xoc_test_now_ms() + 10000; gaps1 <= gaps0 && xoc_test_now_ms() < end;) {
        xoc_bus_publish(pub, "obj.VM.nowhere", XOC_MSG_OBJ, &ghost);
        zclock_sleep(50); /* polling the replica's counters with a deadline */
        st = (zstr_send(s_env.replica, "STATS"), zstr_recv(s_env.replica));
        sscanf(st, "%llu %llu %llu", &snaps1, &gaps1, &rev1);
        zstr_free(&st);
    }
    zsock_destroy(&pub);
    print_message("gap detected: gaps %llu -> %llu, snapshots %llu -> %llu\n", gaps0, gaps1,
                  snaps0, snaps1);
    assert_true(gaps1 > gaps0);
    s_assert_converges("after a forced revision gap");
    st = (zstr_send(s_env.replica, "STATS"), zstr_recv(s_env.replica));
    sscanf(st, "%llu %llu %llu", &snaps1, &gaps1, &rev1);
    zstr_free(&st);
    assert_true(snaps1 > snaps0); /* it resynchronised by a new snapshot */
}

static void test_pool_added_and_removed(void **state)
{
    s_configure(1, true);
    s_assert_converges("pool2 added at run time");
    s_churn_for(200, 800);
    s_assert_converges("both pools after churn");
    s_configure(0, false);
    s_assert_converges("pool1 removed at run time");
}

int main(void)
{
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    zsys_init();
    zsys_set_logstream(NULL);
    printf("seed %u\n", seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_load),
        cmocka_unit_test(test_churn_at_random_moments),
        cmocka_unit_test(test_xapi_gateway_vm_start),
        cmocka_unit_test(test_xapi_gateway_lanes),
        cmocka_unit_test(test_kill_collector),
        cmocka_unit_test(test_kill_cache),
        cmocka_unit_test(test_kill_bus),
        cmocka_unit_test(test_master_moved),
        cmocka_unit_test(test_events_lost),
        cmocka_unit_test(test_reload_during_task_churn),
        cmocka_unit_test(test_sessions_expired),
        cmocka_unit_test(test_connections_dropped),
        cmocka_unit_test(test_member_failover),
        cmocka_unit_test(test_replica_gap_resyncs),
        cmocka_unit_test(test_pool_added_and_removed),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
