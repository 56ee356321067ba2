/*  sim_ser: records served from their kept serialized form give the very bytes a direct
    write gives (JSON-RPC v1 and v2 and XML-RPC answers of every get_all_records and of
    event.from, whole envelopes), before and after changes of every kind (churn of every
    kind, set_, add_to_, remove_from_, a record replaced whole, objects added and removed),
    and a change is seen in the kept form. Also the edge cases of the kept form: the first
    and last member patched, records nested deeper than the form keeps, a writer too deep.   */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <inttypes.h>
#include <string.h>

#include "sim_pool.h"
#include "sim_rec.h"
#include "sim_rpc.h"

static sim_t *g_sim;
static sim_pool_t *g_pool;
static char g_sess[64];

/*  One whole answer (envelope included) of method(params) over transport mode/version.     */
static void s_answer(sim_buf_t *out, sim_wr_mode_t mode, int version, const char *method,
                     json_t *params)
{
    sim_rpc_req_t req = {.mode = mode, .version = version, .id = json_integer(7)};
    sim_wr_t w;
    sim_rpc_begin(&req, out, &w, 0);
    sim_call_t c = {.pool = g_pool,
                    .host = &g_pool->hosts[0],
                    .loopback = true,
                    .conn_fd = -1,
                    .method = method,
                    .params = params,
                    .w = &w};
    int rc = sim_api_call(&c);
    assert_int_equal(rc, 0);
    sim_rpc_end(&req, out, 0);
    json_decref(c.err);
    json_decref(req.id);
    json_decref(params);
}

/*  Every get_all_records and an event.from of everything, in one mode: one buffer.          */
static char *s_all(sim_wr_mode_t mode, int version, size_t *len)
{
    sim_buf_t out;
    sim_buf_init(&out, 1 << 16);
    for (int i = 0; i < sim_schema_count(); i++) {
        char m[96];
        snprintf(m, sizeof m, "%s.get_all_records", sim_schema_class(i)->name);
        s_answer(&out, mode, version, m, json_pack("[s]", g_sess));
        snprintf(m, sizeof m, "%s.get_record", sim_schema_class(i)->name);
        sim_store_lock(g_pool->store);
        sim_obj_t *o = sim_store_at(g_pool->store, i, 0);
        char ref[64] = "";
        if (o)
            snprintf(ref, sizeof ref, "%s", o->ref);
        sim_store_unlock(g_pool->store);
        if (*ref)
            s_answer(&out, mode, version, m, json_pack("[s,s]", g_sess, ref));
    }
    s_answer(&out, mode, version, "event.from",
             json_pack("[s,[s],s,f]", g_sess, "*", "", 0.0));
    s_answer(&out, mode, version, "sim.dump", json_array());
    return sim_buf_take(&out, len);
}

static void s_set_ser_max(size_t bytes)
{
    sim_store_lock(g_pool->store);
    sim_store_set_ser_max(g_pool->store, bytes);
    sim_store_unlock(g_pool->store);
}

static size_t s_ser_bytes(void)
{
    sim_store_lock(g_pool->store);
    size_t n = sim_store_ser_bytes(g_pool->store);
    sim_store_unlock(g_pool->store);
    return n;
}

/*  The answers of every transport, from kept forms (twice: filling, then reusing) and
    direct (forms dropped), are the same bytes. Returns the JSON v2 answer (caller frees).  */
static char *s_check_same(size_t *jlen)
{
    static const struct {
        sim_wr_mode_t mode;
        int version;
    } tr[] = {{SIM_WR_XML, 0}, {SIM_WR_JSON, 1}, {SIM_WR_JSON, 2}};
    char *ret = NULL;
    for (size_t t = 0; t < sizeof tr / sizeof tr[0]; t++) {
        size_t la, lb, lc;
        char *a = s_all(tr[t].mode, tr[t].version, &la); /* kept forms made (or patched) */
        assert_true(s_ser_bytes() > 0);
        char *b = s_all(tr[t].mode, tr[t].version, &lb); /* kept forms reused */
        s_set_ser_max(0);
        assert_int_equal(s_ser_bytes(), 0);
        char *c = s_all(tr[t].mode, tr[t].version, &lc); /* direct */
        assert_int_equal(s_ser_bytes(), 0);
        s_set_ser_max(SIM_STORE_SER_MAX);
        assert_int_equal(la, lc);
        assert_int_equal(lb, lc);
        assert_memory_equal(a, c, lc);
        assert_memory_equal(b, c, lc);
        free(a);
        free(b);
        if (tr[t].version == 2) {
            *jlen = lc;
            ret = c;
        } else {
            free(c);
        }
    }
    /* the kept forms stay filled for what follows (changes patch or drop them) */
    size_t n;
    free(s_all(SIM_WR_XML, 0, &n));
    free(s_all(SIM_WR_JSON, 2, &n));
    return ret;
}

static int s_setup(void **state)
{
    (void)state;
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    cfg.vms = 12;
    cfg.hosts = 2;
    g_sim = sim_new(&cfg);
    if (!g_sim)
        return -1;
    g_pool = sim_pool_at(g_sim, 0);
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 256);
    sim_wr_init(&w, SIM_WR_JSON, &out);
    sim_call_t c = {.pool = g_pool,
                    .host = &g_pool->hosts[0],
                    .loopback = true,
                    .conn_fd = -1,
                    .method = "session.login_with_password",
                    .params = json_pack("[s,s]", "root", "password"),
                    .w = &w};
    if (sim_api_call(&c) != 0)
        return -1;
    json_t *r = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);
    snprintf(g_sess, sizeof g_sess, "%s", json_string_value(r));
    json_decref(r);
    json_decref(c.params);
    sim_buf_free(&out);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    sim_destroy(&g_sim);
    return 0;
}

static json_t *s_call(const char *method, json_t *params)
{
    sim_buf_t out;
    sim_buf_init(&out, 256);
    s_answer(&out, SIM_WR_JSON, 2, method, params);
    json_t *r = json_loadb(out.data, out.len, 0, NULL);
    sim_buf_free(&out);
    return r;
}

static void test_same_bytes(void **state)
{
    (void)state;
    size_t l0, l1;
    char *before = s_check_same(&l0);
    /* churn of every kind: fields patched in place (vm_memory, vm_description, vm_tags),
       records replaced whole (metrics, power, tasks), objects added and removed (messages) */
    static const char *mixes[] = {"vm_memory:1",  "vm_description:1", "vm_tags:1", "vm_metrics:1",
                                  "host_metrics:1", "power:1",         "task:1",    "message:1"};
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        sim_store_lock(g_pool->store);
        int rc = sim_gen_mix_parse(mixes[i], g_pool->churn_mix);
        sim_gen_churn(g_pool, 40);
        sim_store_unlock(g_pool->store);
        assert_int_equal(rc, 0);
    }
    /* generic setters: a whole-record change through the API */
    json_t *vms = s_call("VM.get_all", json_pack("[s]", g_sess));
    const char *vm = json_string_value(json_array_get(json_object_get(vms, "result"), 3));
    assert_non_null(vm);
    json_decref(s_call("VM.set_name_label", json_pack("[s,s,s]", g_sess, vm, "a <new> & \"name\"")));
    json_decref(s_call("VM.add_to_other_config", json_pack("[s,s,s,s]", g_sess, vm, "k", "v\n")));
    json_decref(s_call("VM.remove_from_other_config", json_pack("[s,s,s]", g_sess, vm, "k")));
    json_decref(vms);
    char *after = s_check_same(&l1);
    /* the changes are in what is served: the kept forms did not hide them */
    assert_true(l0 != l1 || memcmp(before, after, l0) != 0);
    assert_non_null(strstr(after, "a <new> & \\\"name\\\""));
    assert_non_null(strstr(after, "churn-"));
    free(before);
    free(after);
}

/*  Direct write and kept form of one object at writer level `depth`, in both modes.         */
static void s_compare_obj(sim_obj_t *o, int depth)
{
    const sim_class_t *c = sim_schema_class(o->cls);
    for (int m = 0; m < 2; m++) {
        sim_buf_t a, b;
        sim_wr_t wa, wb;
        sim_buf_init(&a, 1024);
        sim_buf_init(&b, 1024);
        sim_wr_init(&wa, (sim_wr_mode_t)m, &a);
        sim_wr_init(&wb, (sim_wr_mode_t)m, &b);
        for (int d = 0; d < depth; d++) {
            sim_wr_map_begin(&wa), sim_wr_map_begin(&wb);
            sim_wr_key(&wa, "k", 1), sim_wr_key(&wb, "k", 1);
            sim_wr_arr_begin(&wa), sim_wr_arr_begin(&wb);
            sim_wr_str(&wa, "x"), sim_wr_str(&wb, "x");
        }
        sim_rec_write(&wa, c, o->rec, o->len);
        sim_store_write(g_pool->store, &wb, o);
        sim_wr_str(&wa, "after"), sim_wr_str(&wb, "after");
        for (int d = 0; d < depth; d++) {
            sim_wr_arr_end(&wa), sim_wr_arr_end(&wb);
            sim_wr_map_end(&wa), sim_wr_map_end(&wb);
        }
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.data, b.data, a.len);
        sim_buf_free(&a);
        sim_buf_free(&b);
    }
}

static void test_edges(void **state)
{
    (void)state;
    /* no lock: the pool serves nobody (sim_start not called), and an assertion failing
       with the lock held would hang the teardown */
    sim_store_t *st = g_pool->store;
    const sim_class_t *vmc = sim_schema_find("VM");
    sim_obj_t *o = sim_store_at(st, vmc->id, 2);
    s_compare_obj(o, 0); /* kept forms made */
    size_t kept = sim_store_ser_bytes(st);
    assert_true(kept > 0);
    /* the first member (no comma before it in JSON) and the last one patched */
    json_t *v = json_string("first\"member");
    assert_true(sim_store_set_field(st, o, 0, v));
    json_decref(v);
    v = json_pack("{s:s,s:[i,f,b]}", "a", "<&>", "b", 1, 2.5, 1);
    assert_true(sim_store_set_field(st, o, vmc->nfields - 1, v));
    json_decref(v);
    assert_true(sim_store_ser_bytes(st) > kept); /* patched, not dropped */
    s_compare_obj(o, 0);
    /* shrinking in place, then growing within the room left */
    v = json_string("");
    assert_true(sim_store_set_field(st, o, 0, v));
    json_decref(v);
    s_compare_obj(o, 0);
    v = json_string("abc");
    assert_true(sim_store_set_field(st, o, 0, v));
    json_decref(v);
    s_compare_obj(o, 0);
    s_compare_obj(o, 10);
    /* a writer so deep that the kept bytes would differ: written directly, same bytes */
    s_compare_obj(o, 28);
    s_compare_obj(o, 31);
    /* a value nested deeper than a kept form holds: the form is dropped, bytes the same */
    json_t *deep = json_string("bottom");
    for (int i = 0; i < 40; i++)
        deep = json_pack("[o]", deep);
    int oc = sim_schema_field(vmc, "other_config");
    json_t *ocv = json_pack("{s:o}", "deep", deep);
    assert_true(sim_store_set_field(st, o, oc, ocv));
    json_decref(ocv);
    s_compare_obj(o, 0);
    s_compare_obj(o, 5);
    /* a removed object holds no kept form */
    sim_obj_t *m = sim_store_at(st, vmc->id, 3);
    s_compare_obj(m, 0);
    size_t before = sim_store_ser_bytes(st);
    sim_store_remove(st, m);
    assert_true(sim_store_ser_bytes(st) < before);
}

/*  Ints are written without printf: the same digits as "%" PRId64, in both modes.           */
static void test_ints(void **state)
{
    (void)state;
    static const int64_t v[] = {0, 1, -1, 9, 10, -10, 123456789, 4294967296LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char want[128];
        sim_buf_t b;
        sim_wr_t w;
        sim_buf_init(&b, 16);
        sim_wr_init(&w, SIM_WR_JSON, &b);
        sim_wr_int(&w, v[i]);
        sim_wr_i4(&w, v[i]);
        snprintf(want, sizeof want, "%" PRId64 ",%" PRId64, v[i], v[i]);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        sim_buf_reset(&b);
        sim_wr_init(&w, SIM_WR_XML, &b);
        sim_wr_int(&w, v[i]);
        sim_wr_i4(&w, v[i]);
        snprintf(want, sizeof want, "<value>%" PRId64 "</value><value><i4>%" PRId64 "</i4></value>",
                 v[i], v[i]);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.data, want, b.len);
        sim_buf_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_ints),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
