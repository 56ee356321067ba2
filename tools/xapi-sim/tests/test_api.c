/*  sim_api on an in-process pool (no HTTP): sessions, errors with their parameters, generic
    class methods, event.from semantics, VM lifecycle, Async tasks.                           */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "sim_pool.h"

static sim_t *g_sim;
static sim_pool_t *g_pool;
static char g_sess[64];

/*  Calls method with params (stolen) on host 0; returns the result or NULL with *err set.   */
static json_t *s_call_on(int host, const char *method, json_t *params, json_t **err)
{
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 1024);
    sim_wr_init(&w, SIM_WR_JSON, &out);
    sim_call_t c = {.pool = g_pool,
                    .host = &g_pool->hosts[host],
                    .loopback = true,
                    .conn_fd = -1,
                    .method = method,
                    .params = params,
                    .w = &w};
    json_t *res = NULL;
    if (sim_api_call(&c) == 0)
        res = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);
    if (err)
        *err = c.err;
    else
        json_decref(c.err);
    json_decref(params);
    sim_buf_free(&out);
    return res;
}

static json_t *s_call(const char *method, json_t *params, json_t **err)
{
    return s_call_on(0, method, params, err);
}

/*  Asserts that the call fails with exactly the error `expect` (a JSON array text).         */
static void s_expect_err(const char *method, json_t *params, const char *expect)
{
    json_t *err = NULL;
    json_t *res = s_call(method, params, &err);
    assert_null(res);
    assert_non_null(err);
    char *s = json_dumps(err, JSON_COMPACT);
    assert_string_equal(s, expect);
    free(s);
    json_decref(err);
}

static int s_setup(void **state)
{
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    cfg.vms = 10;
    cfg.hosts = 2;
    g_sim = sim_new(&cfg);
    g_pool = sim_pool_at(g_sim, 0);
    json_t *r = s_call("session.login_with_password", json_pack("[s,s]", "root", "password"), NULL);
    snprintf(g_sess, sizeof g_sess, "%s", json_string_value(r));
    json_decref(r);
    return g_sim ? 0 : -1;
}

static int s_teardown(void **state)
{
    sim_destroy(&g_sim);
    return 0;
}

static const char *s_first(const char *cls, const char *field, const char *value, char *ref)
{
    char m[64];
    snprintf(m, sizeof m, "%s.get_all_records", cls);
    json_t *all = s_call(m, json_pack("[s]", g_sess), NULL);
    const char *k;
    json_t *v;
    ref[0] = '\0';
    json_object_foreach(all, k, v)
    {
        const char *f = json_string_value(json_object_get(v, field));
        if (f && !strcmp(f, value) && !json_is_true(json_object_get(v, "is_a_template")) &&
            !json_is_true(json_object_get(v, "is_control_domain"))) {
            snprintf(ref, 64, "%s", k);
            break;
        }
    }
    json_decref(all);
    return ref;
}

static void test_login(void **state)
{
    assert_true(strncmp(g_sess, "OpaqueRef:", 10) == 0);
    s_expect_err("session.login_with_password", json_pack("[s,s]", "root", "bad"),
                 "[\"SESSION_AUTHENTICATION_FAILED\",\"root\",\"Authentication failure\"]");
    json_t *err = NULL;
    assert_null(s_call_on(1, "session.login_with_password",
                          json_pack("[s,s,s,s]", "root", "password", "1.0", "t"), &err));
    char *s = json_dumps(err, JSON_COMPACT);
    assert_string_equal(s, "[\"HOST_IS_SLAVE\",\"127.0.0.1\"]");
    free(s);
    json_decref(err);
}

static void test_errors(void **state)
{
    s_expect_err("VM.nope", json_pack("[s]", g_sess), "[\"MESSAGE_METHOD_UNKNOWN\",\"VM.nope\"]");
    s_expect_err("VM.get_record", json_pack("[s]", g_sess),
                 "[\"MESSAGE_PARAMETER_COUNT_MISMATCH\",\"VM.get_record\",\"2\",\"1\"]");
    s_expect_err("VM.get_all", json_pack("[s]", "OpaqueRef:x"),
                 "[\"SESSION_INVALID\",\"OpaqueRef:x\"]");
    s_expect_err("VM.get_record", json_pack("[s,s]", g_sess, "OpaqueRef:y"),
                 "[\"HANDLE_INVALID\",\"VM\",\"OpaqueRef:y\"]");
    s_expect_err("SR.get_by_uuid", json_pack("[s,s]", g_sess, "nope"),
                 "[\"UUID_INVALID\",\"SR\",\"nope\"]");
}

static void test_generic(void **state)
{
    char vm[64];
    s_first("VM", "power_state", "Halted", vm);
    assert_true(vm[0]);
    json_t *rec = s_call("VM.get_record", json_pack("[s,s]", g_sess, vm), NULL);
    assert_true(json_object_size(rec) >= 90);
    json_t *r =
        s_call("VM.get_by_uuid", json_pack("[s,O]", g_sess, json_object_get(rec, "uuid")), NULL);
    assert_string_equal(json_string_value(r), vm);
    json_decref(r);
    json_decref(rec);
    json_decref(s_call("VM.set_name_label", json_pack("[s,s,s]", g_sess, vm, "renamed"), NULL));
    r = s_call("VM.get_name_label", json_pack("[s,s]", g_sess, vm), NULL);
    assert_string_equal(json_string_value(r), "renamed");
    json_decref(r);
    json_decref(
        s_call("VM.add_to_other_config", json_pack("[s,s,s,s]", g_sess, vm, "k", "v"), NULL));
    s_expect_err("VM.add_to_other_config", json_pack("[s,s,s,s]", g_sess, vm, "k", "w"),
                 "[\"MAP_DUPLICATE_KEY\",\"other_config\",\"k\",\"v\"]");
    json_decref(s_call("VM.remove_from_other_config", json_pack("[s,s,s]", g_sess, vm, "k"), NULL));
    json_decref(s_call("VM.add_tags", json_pack("[s,s,s]", g_sess, vm, "t1"), NULL));
    r = s_call("VM.get_tags", json_pack("[s,s]", g_sess, vm), NULL);
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    r = s_call("system.listMethods", json_array(), NULL);
    assert_true(json_array_size(r) > 1000);
    json_decref(r);
}

static json_t *s_from(const char *classes, const char *token, double timeout)
{
    return s_call("event.from", json_pack("[s,[s],s,f]", g_sess, classes, token, timeout), NULL);
}

static void *s_later_change(void *arg)
{
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    json_decref(s_call("pool.set_name_description",
                       json_pack("[s,s,s]", g_sess, g_pool->ref, "changed"), NULL));
    return NULL;
}

static void test_events(void **state)
{
    json_t *all = s_from("*", "", 0.0);
    json_t *stats = s_call("sim.stats", json_array(), NULL);
    assert_int_equal(json_array_size(json_object_get(all, "events")),
                     json_integer_value(json_object_get(stats, "objects")));
    assert_true(json_is_integer(json_object_get(json_object_get(all, "valid_ref_counts"), "vm")));
    json_decref(all);
    json_t *tok = s_call("event.inject", json_pack("[s,s,s]", g_sess, "pool", g_pool->ref), NULL);
    json_t *r = s_from("pool", json_string_value(tok), 0.0);
    json_t *evs = json_object_get(r, "events");
    assert_int_equal(json_array_size(evs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "operation")),
                        "mod");
    assert_string_equal(json_string_value(json_object_get(json_array_get(evs, 0), "class")),
                        "pool");
    /* nothing new: blocks for the timeout, then returns no event */
    const char *t2 = json_string_value(json_object_get(r, "token"));
    int64_t t0 = sim_now_ms();
    json_t *empty = s_from("pool", t2, 0.3);
    assert_true(sim_now_ms() - t0 >= 250);
    assert_int_equal(json_array_size(json_object_get(empty, "events")), 0);
    /* a change wakes a blocked call at once */
    pthread_t th;
    pthread_create(&th, NULL, s_later_change, NULL);
    t0 = sim_now_ms();
    json_t *woke = s_from("pool", json_string_value(json_object_get(empty, "token")), 10.0);
    assert_true(sim_now_ms() - t0 < 5000);
    assert_int_equal(json_array_size(json_object_get(woke, "events")), 1);
    pthread_join(th, NULL);
    /* deletion */
    char vm[64];
    s_first("VM", "power_state", "Halted", vm);
    const char *t3 = json_string_value(json_object_get(woke, "token"));
    json_decref(s_call("sim.remove_object", json_pack("[{s:s}]", "ref", vm), NULL));
    json_t *del = s_from("VM", t3, 0.0);
    json_t *ev = json_array_get(json_object_get(del, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "operation")), "del");
    assert_null(json_object_get(ev, "snapshot"));
    /* a token made too old */
    json_decref(s_call("sim.events_lost", json_array(), NULL));
    char tk[64];
    snprintf(tk, sizeof tk, "%s", json_string_value(json_object_get(del, "token")));
    s_expect_err("event.from", json_pack("[s,[s],s,f]", g_sess, "VM", tk, 0.0),
                 "[\"EVENTS_LOST\"]");
    s_expect_err("event.from", json_pack("[s,[s],s,f]", g_sess, "VM", "zz", 0.0),
                 "[\"EVENT_FROM_TOKEN_PARSE_FAILURE\",\"zz\"]");
    s_expect_err("event.from", json_pack("[s,[s],s,f]", g_sess, "nope", "", 0.0),
                 "[\"EVENT_SUBSCRIPTION_PARSE_FAILURE\",\"nope\"]");
    json_decref(del);
    json_decref(woke);
    json_decref(empty);
    json_decref(r);
    json_decref(tok);
    json_decref(stats);
}

static void test_lifecycle(void **state)
{
    char vm[64], msg[256];
    s_first("VM", "power_state", "Halted", vm);
    json_decref(s_call("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), NULL));
    snprintf(msg, sizeof msg, "[\"VM_BAD_POWER_STATE\",\"%s\",\"halted\",\"running\"]", vm);
    s_expect_err("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), msg);
    json_decref(s_call("VM.pause", json_pack("[s,s]", g_sess, vm), NULL));
    snprintf(msg, sizeof msg, "[\"VM_BAD_POWER_STATE\",\"%s\",\"running\",\"paused\"]", vm);
    s_expect_err("VM.clean_shutdown", json_pack("[s,s]", g_sess, vm), msg);
    json_t *ops = s_call("VM.get_allowed_operations", json_pack("[s,s]", g_sess, vm), NULL);
    bool unpause = false;
    for (size_t i = 0; i < json_array_size(ops); i++)
        unpause |= !strcmp(json_string_value(json_array_get(ops, i)), "unpause");
    assert_true(unpause);
    json_decref(ops);
    json_decref(s_call("VM.unpause", json_pack("[s,s]", g_sess, vm), NULL));
    json_t *from = s_call("VM.get_resident_on", json_pack("[s,s]", g_sess, vm), NULL);
    const char *other = strcmp(json_string_value(from), g_pool->hosts[0].ref)
                            ? g_pool->hosts[0].ref
                            : g_pool->hosts[1].ref;
    json_decref(s_call("VM.pool_migrate", json_pack("[s,s,s,{}]", g_sess, vm, other), NULL));
    json_t *now = s_call("VM.get_resident_on", json_pack("[s,s]", g_sess, vm), NULL);
    assert_string_equal(json_string_value(now), other);
    json_decref(s_call("host.evacuate", json_pack("[s,s]", g_sess, other), NULL));
    json_decref(now);
    now = s_call("VM.get_resident_on", json_pack("[s,s]", g_sess, vm), NULL);
    assert_string_not_equal(json_string_value(now), other);
    json_t *res = s_call("host.get_resident_VMs", json_pack("[s,s]", g_sess, other), NULL);
    assert_int_equal(json_array_size(res), 1); /* only its dom0 */
    json_decref(res);
    json_decref(now);
    json_decref(from);
    json_decref(s_call("VM.hard_shutdown", json_pack("[s,s]", g_sess, vm), NULL));
    json_t *clone = s_call("VM.clone", json_pack("[s,s,s]", g_sess, vm, "c1"), NULL);
    assert_non_null(clone);
    json_t *vbds = s_call("VM.get_VBDs", json_pack("[s,O]", g_sess, clone), NULL);
    assert_int_equal(json_array_size(vbds), 1);
    json_decref(vbds);
    json_decref(s_call("VM.destroy", json_pack("[s,O]", g_sess, clone), NULL));
    json_decref(clone);
}

static void test_async(void **state)
{
    char vm[64];
    s_first("VM", "power_state", "Halted", vm);
    json_t *task = s_call("Async.VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), NULL);
    assert_non_null(task);
    for (int i = 0; i < 20; i++) {
        sim_store_lock(g_pool->store);
        sim_api_tick_jobs(g_pool);
        sim_store_unlock(g_pool->store);
    }
    json_t *rec = s_call("task.get_record", json_pack("[s,O]", g_sess, task), NULL);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "success");
    assert_true(json_real_value(json_object_get(rec, "progress")) == 1.0);
    json_decref(rec);
    /* a failing Async call ends in failure with error_info */
    json_t *t2 = s_call("Async.VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), NULL);
    for (int i = 0; i < 20; i++) {
        sim_store_lock(g_pool->store);
        sim_api_tick_jobs(g_pool);
        sim_store_unlock(g_pool->store);
    }
    rec = s_call("task.get_record", json_pack("[s,O]", g_sess, t2), NULL);
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "failure");
    assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "error_info"), 0)),
                        "VM_BAD_POWER_STATE");
    json_decref(rec);
    /* generic methods have Async variants too */
    json_t *t3 = s_call("Async.VM.set_name_description",
                        json_pack("[s,s,s]", g_sess, vm, "async-set"), NULL);
    for (int i = 0; i < 20; i++) {
        sim_store_lock(g_pool->store);
        sim_api_tick_jobs(g_pool);
        sim_store_unlock(g_pool->store);
    }
    json_t *d = s_call("VM.get_name_description", json_pack("[s,s]", g_sess, vm), NULL);
    assert_string_equal(json_string_value(d), "async-set");
    json_decref(d);
    json_decref(t3);
    json_decref(t2);
    json_decref(task);
}

static void test_legacy_events(void **state)
{
    char vm[64], msg[128];
    s_first("VM", "power_state", "Halted", vm);
    snprintf(msg, sizeof msg, "[\"SESSION_NOT_REGISTERED\",\"%s\"]", g_sess);
    s_expect_err("event.next", json_pack("[s]", g_sess), msg);
    json_decref(s_call("event.register", json_pack("[s,[s]]", g_sess, "vm"), NULL));
    json_decref(s_call("VM.set_name_description", json_pack("[s,s,s]", g_sess, vm, "x"), NULL));
    json_t *evs = s_call("event.next", json_pack("[s]", g_sess), NULL);
    assert_true(json_array_size(evs) >= 1);
    json_t *last = json_array_get(evs, json_array_size(evs) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "ref")), vm);
    assert_non_null(json_object_get(last, "obj_uuid"));
    json_decref(evs);
    json_decref(s_call("event.unregister", json_pack("[s,[s]]", g_sess, "vm"), NULL));
    s_expect_err("event.next", json_pack("[s]", g_sess), msg);
}

static void test_create_destroy(void **state)
{
    char vm[64], net[64];
    s_first("VM", "power_state", "Halted", vm);
    s_first("network", "bridge", "xenbr0", net);
    json_t *vif = s_call("VIF.create",
                         json_pack("[s,{s:s,s:s,s:s,s:s,s:s}]", g_sess, "VM", vm, "network", net,
                                   "device", "1", "MAC", "02:00:00:00:00:01", "MTU", "9000"),
                         NULL);
    assert_non_null(vif);
    json_t *mtu = s_call("VIF.get_MTU", json_pack("[s,O]", g_sess, vif), NULL);
    assert_int_equal(json_integer_value(mtu), 9000); /* coerced from the XML-RPC string */
    json_decref(mtu);
    json_t *vifs = s_call("VM.get_VIFs", json_pack("[s,s]", g_sess, vm), NULL);
    assert_int_equal(json_array_size(vifs), 2);
    json_decref(vifs);
    json_decref(s_call("VIF.plug", json_pack("[s,O]", g_sess, vif), NULL));
    json_t *err = NULL;
    assert_null(s_call("VIF.plug", json_pack("[s,O]", g_sess, vif), &err));
    assert_string_equal(json_string_value(json_array_get(err, 0)), "DEVICE_ALREADY_ATTACHED");
    json_decref(err);
    json_decref(s_call("VIF.destroy", json_pack("[s,O]", g_sess, vif), NULL));
    vifs = s_call("VM.get_VIFs", json_pack("[s,s]", g_sess, vm), NULL);
    assert_int_equal(json_array_size(vifs), 1);
    json_decref(vifs);
    json_decref(vif);
    json_decref(s_call("VM.set_memory_limits",
                       json_pack("[s,s,s,s,s,s]", g_sess, vm, "1073741824", "4294967296",
                                 "2147483648", "4294967296"),
                       NULL));
    json_t *m = s_call("VM.get_memory_static_max", json_pack("[s,s]", g_sess, vm), NULL);
    assert_int_equal(json_integer_value(m), 4294967296LL);
    json_decref(m);
}

/*  Churn of one kind (sim.churn's mix), n changes applied at once; returns the events since
    then (every class), as event.from gives them.                                            */
static json_t *s_churn_events(const char *mix, int n)
{
    json_t *now = s_from("*", "", 0.0);
    json_t *tok = json_incref(json_object_get(now, "token"));
    json_decref(now);
    json_decref(s_call("sim.churn", json_pack("[{s:i,s:s}]", "rate", 0, "mix", mix), NULL));
    sim_store_lock(g_pool->store);
    sim_gen_churn(g_pool, n);
    sim_store_unlock(g_pool->store);
    json_t *r = s_from("*", json_string_value(tok), 0.0);
    json_decref(tok);
    return r;
}

static void test_churn_mix(void **state)
{
    /* visible kinds: each change alters a field that the xo VM object shows, and only it */
    json_t *vms0 = s_call("VM.get_all_records", json_pack("[s]", g_sess), NULL);
    json_t *r = s_churn_events("vm_description:1", 20);
    json_t *evs = json_object_get(r, "events");
    assert_true(json_array_size(evs) >= 1 && json_array_size(evs) <= 20);
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev)
    {
        assert_string_equal(json_string_value(json_object_get(ev, "class")), "vm");
        json_t *snap = json_deep_copy(json_object_get(ev, "snapshot"));
        const char *d = json_string_value(json_object_get(snap, "name_description"));
        assert_memory_equal(d, "churn-", 6);
        json_t *old = json_object_get(vms0, json_string_value(json_object_get(ev, "ref")));
        json_object_set(snap, "name_description", json_object_get(old, "name_description"));
        assert_true(json_equal(snap, old));
        json_decref(snap);
    }
    json_decref(vms0);
    json_decref(r);
    r = s_churn_events("vm_tags:1", 20);
    json_array_foreach(json_object_get(r, "events"), i, ev)
    {
        json_t *tags = json_object_get(json_object_get(ev, "snapshot"), "tags");
        assert_string_equal(json_string_value(json_object_get(ev, "class")), "vm");
        assert_int_equal(json_array_size(tags), 1);
        assert_memory_equal(json_string_value(json_array_get(tags, 0)), "churn-", 6);
    }
    json_decref(r);
    /* memory_actual of running VMs' metrics only, a new value each time */
    json_t *before = s_call("VM_metrics.get_all_records", json_pack("[s]", g_sess), NULL);
    r = s_churn_events("vm_memory:1", 20);
    evs = json_object_get(r, "events");
    assert_true(json_array_size(evs) >= 1);
    json_t *vms = s_call("VM.get_all_records", json_pack("[s]", g_sess), NULL);
    json_array_foreach(evs, i, ev)
    {
        assert_string_equal(json_string_value(json_object_get(ev, "class")), "vm_metrics");
        const char *ref = json_string_value(json_object_get(ev, "ref"));
        json_t *old = json_object_get(json_object_get(before, ref), "memory_actual");
        json_t *now = json_object_get(json_object_get(ev, "snapshot"), "memory_actual");
        assert_true(json_integer_value(now) != json_integer_value(old));
        const char *k; /* its VM */
        json_t *vm;
        int owners = 0;
        json_object_foreach(vms, k, vm)
        {
            if (strcmp(json_string_value(json_object_get(vm, "metrics")), ref))
                continue;
            owners++;
            assert_string_equal(json_string_value(json_object_get(vm, "power_state")), "Running");
            assert_false(json_is_true(json_object_get(vm, "is_control_domain")));
        }
        assert_int_equal(owners, 1);
    }
    json_decref(vms);
    json_decref(r);
    json_decref(before);
    /* the default mix again: hidden metrics, messages, tasks, power states; never the above */
    before = s_call("VM.get_all_records", json_pack("[s]", g_sess), NULL);
    r = s_churn_events("default", 200);
    json_array_foreach(json_object_get(r, "events"), i, ev)
    {
        json_t *snap = json_object_get(ev, "snapshot");
        const char *cls = json_string_value(json_object_get(ev, "class"));
        assert_true(!strcmp(cls, "vm_metrics") || !strcmp(cls, "host_metrics") ||
                    !strcmp(cls, "message") || !strcmp(cls, "task") || !strcmp(cls, "vm"));
        if (!strcmp(cls, "vm")) {
            json_t *old = json_object_get(before, json_string_value(json_object_get(ev, "ref")));
            assert_true(json_equal(json_object_get(snap, "name_description"),
                                   json_object_get(old, "name_description")));
            assert_true(json_equal(json_object_get(snap, "tags"), json_object_get(old, "tags")));
        }
    }
    json_decref(r);
    json_decref(before);
    /* bad mixes are refused and leave the mix as it was */
    int mix[SIM_CHURN_KINDS];
    memcpy(mix, g_pool->churn_mix, sizeof mix);
    const char *bad[] = {"nope:1", "vm_tags", "vm_tags:", "vm_tags:-1", "vm_tags:0",
                         "vm_tags:1,", "vm_tags:1x", "vm_tags:2000000", ""};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *err = NULL;
        assert_null(s_call("sim.churn", json_pack("[{s:i,s:s}]", "rate", 0, "mix", bad[k]), &err));
        assert_non_null(err);
        json_decref(err);
        assert_false(sim_churn_mix_valid(bad[k]));
    }
    assert_memory_equal(mix, g_pool->churn_mix, sizeof mix);
    assert_true(sim_churn_mix_valid("visible"));
    assert_true(sim_churn_mix_valid("vm_memory:3,power:0,task:1"));
    assert_int_equal(sim_gen_mix_parse("visible", mix), 0);
    assert_int_equal(mix[SIM_CHURN_VM_METRICS], 0);
    assert_true(mix[SIM_CHURN_VM_MEMORY] > 0 && mix[SIM_CHURN_VM_TAGS] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_login),         cmocka_unit_test(test_errors),
        cmocka_unit_test(test_generic),       cmocka_unit_test(test_events),
        cmocka_unit_test(test_lifecycle),     cmocka_unit_test(test_async),
        cmocka_unit_test(test_legacy_events), cmocka_unit_test(test_create_destroy),
        cmocka_unit_test(test_churn_mix),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
