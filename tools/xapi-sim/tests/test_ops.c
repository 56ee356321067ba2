/*  sim_ops (and sim_dev's memory order) on an in-process pool: host.reboot (HOST_NOT_DISABLED,
   HOST_IN_USE, back enabled with a new boot time), host.restart_agent, VM.revert (halted, settings
   and disks of the snapshot, OPERATION_NOT_ALLOWED on a VM that is not a snapshot),
   VM.checkpoint (suspended, snapshot_info; reverted to: the VM suspended). */

// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "sim_pool.h"

static sim_t *g_sim;
static sim_pool_t *g_pool;
static char g_sess[64];

/*  Calls method with params (stolen); returns the result, or NULL with *err set.            */
static json_t *s_call(const char *method, json_t *params, json_t **err)
{
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 1024);
    sim_wr_init(&w, SIM_WR_JSON, &out);
    sim_call_t c = {.pool = g_pool,
                    .host = &g_pool->hosts[0],
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

/*  The error code of a call that must fail; its params in *err_out when asked.             */
static void s_fails(const char *method, json_t *params, const char *code, json_t **err_out)
{
    json_t *err = NULL;
    json_t *res = s_call(method, params, &err);
    assert_null(res);
    assert_non_null(err);
    assert_string_equal(json_string_value(json_array_get(err, 0)), code);
    if (err_out)
        *err_out = err;
    else
        json_decref(err);
}

static void s_void(const char *method, json_t *params)
{
    json_t *err = NULL;
    json_t *res = s_call(method, params, &err);
    if (!res) {
        char *s = json_dumps(err, JSON_COMPACT);
        fail_msg("%s failed: %s", method, s);
    }
    json_decref(res);
}

static json_t *s_get(const char *cls, const char *ref, const char *field)
{
    char m[96];
    snprintf(m, sizeof m, "%s.get_%s", cls, field);
    return s_call(m, json_pack("[s,s]", g_sess, ref), NULL);
}

static int s_setup(void **state)
{
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    cfg.vms = 6;
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

/* a guest VM (not a template, not dom0) in that power state */
static void s_vm(const char *power_state, char ref[64])
{
    json_t *all = s_call("VM.get_all_records", json_pack("[s]", g_sess), NULL);
    const char *k;
    json_t *v;
    ref[0] = '\0';
    json_object_foreach(all, k, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "power_state")), power_state) &&
            !json_is_true(json_object_get(v, "is_a_template")) &&
            !json_is_true(json_object_get(v, "is_a_snapshot")) &&
            !json_is_true(json_object_get(v, "is_control_domain"))) {
            snprintf(ref, 64, "%s", k);
            break;
        }
    }
    json_decref(all);
    assert_true(ref[0] != '\0');
}

static void test_host_reboot(void **state)
{
    const char *h = g_pool->hosts[0].ref;
    json_t *err = NULL;
    s_fails("host.reboot", json_pack("[s,s]", g_sess, h), "HOST_NOT_DISABLED", &err);
    assert_int_equal(json_array_size(err), 1);
    json_decref(err);
    /* a running guest on it (started before it is disabled): HOST_IN_USE [host, "vm", vm] */
    char vm[64];
    s_vm("Halted", vm);
    s_void("VM.start_on", json_pack("[s,s,s,b,b]", g_sess, vm, h, 0, 0));
    s_void("host.disable", json_pack("[s,s]", g_sess, h));
    s_fails("host.reboot", json_pack("[s,s]", g_sess, h), "HOST_IN_USE", &err);
    assert_string_equal(json_string_value(json_array_get(err, 1)), h);
    assert_string_equal(json_string_value(json_array_get(err, 2)), "vm");
    json_decref(err);
    s_void("host.evacuate", json_pack("[s,s]", g_sess, h));
    json_t *before = s_get("host", h, "other_config");
    s_void("host.reboot", json_pack("[s,s]", g_sess, h));
    json_t *enabled = s_get("host", h, "enabled");
    assert_true(json_is_true(enabled));
    json_t *after = s_get("host", h, "other_config");
    assert_string_not_equal(json_string_value(json_object_get(before, "boot_time")),
                            json_string_value(json_object_get(after, "boot_time")));
    json_decref(before);
    json_decref(after);
    json_decref(enabled);
    s_void("VM.hard_shutdown", json_pack("[s,s]", g_sess, vm));
}

static void test_restart_agent(void **state)
{
    const char *h = g_pool->hosts[1].ref;
    json_t *before = s_get("host", h, "other_config");
    s_void("host.restart_agent", json_pack("[s,s]", g_sess, h));
    json_t *after = s_get("host", h, "other_config");
    assert_string_not_equal(json_string_value(json_object_get(before, "agent_start_time")),
                            json_string_value(json_object_get(after, "agent_start_time")));
    json_decref(before);
    json_decref(after);
    s_fails("host.restart_agent", json_pack("[s,s]", g_sess, "OpaqueRef:nope"), "HANDLE_INVALID",
            NULL);
}

static void test_revert(void **state)
{
    char vm[64];
    s_vm("Halted", vm);
    json_t *snap = s_call("VM.snapshot", json_pack("[s,s,s]", g_sess, vm, "before"), NULL);
    assert_non_null(snap);
    json_t *vbds = s_get("VM", vm, "VBDs");
    json_t *old_vdi = s_get("VBD", json_string_value(json_array_get(vbds, 0)), "VDI");
    /* change the VM, start it, then revert: halted, old settings, a new disk */
    s_void("VM.set_VCPUs_max", json_pack("[s,s,i]", g_sess, vm, 7));
    s_void("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0));
    s_void("VM.revert", json_pack("[s,O]", g_sess, snap));
    json_t *ps = s_get("VM", vm, "power_state");
    assert_string_equal(json_string_value(ps), "Halted");
    json_t *max = s_get("VM", vm, "VCPUs_max");
    assert_int_not_equal(json_integer_value(max), 7);
    json_t *new_vdi = s_get("VBD", json_string_value(json_array_get(vbds, 0)), "VDI");
    assert_string_not_equal(json_string_value(old_vdi), json_string_value(new_vdi));
    json_t *err = NULL;
    s_fails("VDI.get_uuid", json_pack("[s,O]", g_sess, old_vdi), "HANDLE_INVALID", NULL);
    json_t *snap_of = s_get("VDI", json_string_value(new_vdi), "is_a_snapshot");
    assert_true(json_is_false(snap_of));
    s_fails("VM.revert", json_pack("[s,s]", g_sess, vm), "OPERATION_NOT_ALLOWED", &err);
    json_decref(err);
    json_decref(snap_of);
    json_decref(new_vdi);
    json_decref(max);
    json_decref(ps);
    json_decref(old_vdi);
    json_decref(vbds);
    json_decref(snap);
}

/* VM.checkpoint: a suspended snapshot of a running VM (refused for a halted one), whose
   revert leaves the VM suspended; snapshot_info keeps the power state at snapshot time */
static void test_checkpoint(void **state)
{
    char vm[64];
    s_vm("Halted", vm);
    json_t *err = NULL;
    s_fails("VM.checkpoint", json_pack("[s,s,s]", g_sess, vm, "cp"), "VM_BAD_POWER_STATE", &err);
    assert_string_equal(json_string_value(json_array_get(err, 2)), "running");
    json_decref(err);
    json_t *disk = s_call("VM.snapshot", json_pack("[s,s,s]", g_sess, vm, "disk"), NULL);
    s_void("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0));
    json_t *cp = s_call("VM.checkpoint", json_pack("[s,s,s]", g_sess, vm, "cp"), NULL);
    assert_non_null(cp);
    json_t *cps = s_get("VM", json_string_value(cp), "power_state");
    json_t *info = s_get("VM", json_string_value(cp), "snapshot_info");
    json_t *dps = s_get("VM", json_string_value(disk), "power_state");
    json_t *dinfo = s_get("VM", json_string_value(disk), "snapshot_info");
    assert_string_equal(json_string_value(cps), "Suspended");
    assert_string_equal(json_string_value(json_object_get(info, "power-state-at-snapshot")),
                        "Running");
    assert_string_equal(json_string_value(dps), "Halted");
    assert_string_equal(json_string_value(json_object_get(dinfo, "power-state-at-snapshot")),
                        "Halted");
    s_void("VM.revert", json_pack("[s,O]", g_sess, cp));
    json_t *ps = s_get("VM", vm, "power_state");
    assert_string_equal(json_string_value(ps), "Suspended");
    s_void("VM.revert", json_pack("[s,O]", g_sess, disk));
    json_t *ps2 = s_get("VM", vm, "power_state");
    assert_string_equal(json_string_value(ps2), "Halted");
    json_decref(ps2);
    json_decref(ps);
    json_decref(dinfo);
    json_decref(dps);
    json_decref(info);
    json_decref(cps);
    json_decref(cp);
    json_decref(disk);
}

/* sim_dev: the memory order a host enforces */
static void test_memory_order(void **state)
{
    char vm[64];
    s_vm("Halted", vm);
    s_fails("VM.set_memory_limits",
            json_pack("[s,s,s,s,s,s]", g_sess, vm, "1073741824", "2147483648", "4294967296",
                      "4294967296"),
            "MEMORY_CONSTRAINT_VIOLATION_ORDER", NULL);
    s_void("VM.set_memory_limits", json_pack("[s,s,s,s,s,s]", g_sess, vm, "1073741824",
                                             "4294967296", "2147483648", "4294967296"));
    s_fails("VM.set_memory_dynamic_range",
            json_pack("[s,s,s,s]", g_sess, vm, "1073741824", "8589934592"),
            "MEMORY_CONSTRAINT_VIOLATION_ORDER", NULL);
    s_void("VM.set_memory_dynamic_range",
           json_pack("[s,s,I,I]", g_sess, vm, (json_int_t)1073741824, (json_int_t)2147483648LL));
    json_t *dmax = s_get("VM", vm, "memory_dynamic_max");
    assert_int_equal(json_integer_value(dmax), 2147483648LL);
    json_decref(dmax);
}

/* sim_vm's checks before a power operation, in XAPI's order: blocked_operations, host
   choice (NO_HOSTS_AVAILABLE, HOST_DISABLED, HOST_OFFLINE), PV drivers and features */
static void test_vm_checks(void **state)
{
    char vm[64], msg[256];
    s_vm("Halted", vm);
    s_void("VM.add_to_blocked_operations", json_pack("[s,s,s,s]", g_sess, vm, "start", "why"));
    json_t *err = NULL;
    s_fails("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), "OPERATION_BLOCKED", &err);
    snprintf(msg, sizeof msg, "[\"OPERATION_BLOCKED\",\"%s\",\"why\"]", vm);
    char *text = json_dumps(err, JSON_COMPACT);
    assert_string_equal(text, msg);
    free(text);
    json_decref(err);
    s_void("VM.remove_from_blocked_operations", json_pack("[s,s,s]", g_sess, vm, "start"));

    const char *h0 = g_pool->hosts[0].ref, *h1 = g_pool->hosts[1].ref;
    s_void("host.disable", json_pack("[s,s]", g_sess, h0));
    s_void("host.disable", json_pack("[s,s]", g_sess, h1));
    s_fails("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0), "NO_HOSTS_AVAILABLE", &err);
    assert_int_equal(json_array_size(err), 1);
    json_decref(err);
    s_fails("VM.start_on", json_pack("[s,s,s,b,b]", g_sess, vm, h0, 0, 0), "HOST_DISABLED", &err);
    assert_string_equal(json_string_value(json_array_get(err, 1)), h0);
    json_decref(err);
    s_void("host.enable", json_pack("[s,s]", g_sess, h0));
    s_void("host.enable", json_pack("[s,s]", g_sess, h1));
    json_t *hm = s_get("host", h1, "metrics");
    s_void("host_metrics.set_live", json_pack("[s,O,b]", g_sess, hm, 0));
    s_fails("VM.start_on", json_pack("[s,s,s,b,b]", g_sess, vm, h1, 0, 0), "HOST_OFFLINE", &err);
    assert_string_equal(json_string_value(json_array_get(err, 1)), h1);
    json_decref(err);
    for (int i = 0; i < 8; i++) { /* VM.start never picks the offline host */
        s_void("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0));
        json_t *on = s_get("VM", vm, "resident_on");
        assert_string_equal(json_string_value(on), h0);
        json_decref(on);
        s_void("VM.hard_shutdown", json_pack("[s,s]", g_sess, vm));
    }
    s_void("host_metrics.set_live", json_pack("[s,O,b]", g_sess, hm, 1));
    json_decref(hm);

    /* running: a clean shutdown needs PV drivers, or the shutdown feature */
    s_void("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0));
    json_t *gm = s_get("VM", vm, "guest_metrics");
    s_void("VM_guest_metrics.set_PV_drivers_version", json_pack("[s,O,{}]", g_sess, gm));
    s_void("VM_guest_metrics.set_other", json_pack("[s,O,{}]", g_sess, gm));
    s_fails("VM.clean_shutdown", json_pack("[s,s]", g_sess, vm), "VM_MISSING_PV_DRIVERS", &err);
    assert_string_equal(json_string_value(json_array_get(err, 1)), vm);
    json_decref(err);
    s_void("VM_guest_metrics.set_other", json_pack("[s,O,{s:s}]", g_sess, gm, "feature-balloon", "1"));
    s_fails("VM.clean_reboot", json_pack("[s,s]", g_sess, vm), "VM_LACKS_FEATURE", NULL);
    s_fails("VM.clean_shutdown", json_pack("[s,s]", g_sess, vm), "VM_LACKS_FEATURE", NULL);
    s_void("VM.hard_reboot", json_pack("[s,s]", g_sess, vm)); /* hard: no drivers needed */
    s_void("VM_guest_metrics.set_other", json_pack("[s,O,{s:s}]", g_sess, gm, "feature-shutdown", "1"));
    s_void("VM.clean_shutdown", json_pack("[s,s]", g_sess, vm));
    json_decref(gm);
}

/* a rolling pool upgrade (pool.other_config:rolling_upgrade_in_progress): VM.snapshot and
   VM.revert refused, VM.start still allowed */
static void test_rpu(void **state)
{
    char vm[64];
    s_vm("Halted", vm);
    s_void("pool.add_to_other_config",
           json_pack("[s,s,s,s]", g_sess, g_pool->ref, "rolling_upgrade_in_progress", "x"));
    json_t *err = NULL;
    s_fails("VM.snapshot", json_pack("[s,s,s]", g_sess, vm, "s"), "NOT_SUPPORTED_DURING_UPGRADE",
            &err);
    assert_int_equal(json_array_size(err), 1);
    json_decref(err);
    s_void("VM.start", json_pack("[s,s,b,b]", g_sess, vm, 0, 0));
    s_void("VM.hard_shutdown", json_pack("[s,s]", g_sess, vm));
    s_void("pool.remove_from_other_config",
           json_pack("[s,s,s]", g_sess, g_pool->ref, "rolling_upgrade_in_progress"));
    json_t *snap = s_call("VM.snapshot", json_pack("[s,s,s]", g_sess, vm, "s"), NULL);
    assert_non_null(snap);
    s_void("pool.add_to_other_config",
           json_pack("[s,s,s,s]", g_sess, g_pool->ref, "rolling_upgrade_in_progress", "x"));
    s_fails("VM.revert", json_pack("[s,O]", g_sess, snap), "NOT_SUPPORTED_DURING_UPGRADE", NULL);
    s_void("pool.remove_from_other_config",
           json_pack("[s,s,s]", g_sess, g_pool->ref, "rolling_upgrade_in_progress"));
    s_void("VM.revert", json_pack("[s,O]", g_sess, snap));
    json_decref(snap);
}

/* VM.destroy: a blocked destroy (OPERATION_BLOCKED), a default template (VM_IS_TEMPLATE
   [vm, "destroy"]) until its other_config:default_template goes */
static void test_destroy_checks(void **state)
{
    json_t *all = s_call("VM.get_all_records", json_pack("[s]", g_sess), NULL);
    const char *k, *tmpl = NULL;
    json_t *v;
    json_object_foreach(all, k, v)
    {
        const char *d = json_string_value(
            json_object_get(json_object_get(v, "other_config"), "default_template"));
        if (d && !strcmp(d, "true"))
            tmpl = k;
    }
    assert_non_null(tmpl);
    json_t *err = NULL;
    s_fails("VM.destroy", json_pack("[s,s]", g_sess, tmpl), "VM_IS_TEMPLATE", &err);
    assert_string_equal(json_string_value(json_array_get(err, 2)), "destroy");
    json_decref(err);
    s_void("VM.add_to_blocked_operations", json_pack("[s,s,s,s]", g_sess, tmpl, "destroy", "no"));
    s_fails("VM.destroy", json_pack("[s,s]", g_sess, tmpl), "OPERATION_BLOCKED", NULL);
    s_void("VM.remove_from_blocked_operations", json_pack("[s,s,s]", g_sess, tmpl, "destroy"));
    s_void("VM.remove_from_other_config", json_pack("[s,s,s]", g_sess, tmpl, "default_template"));
    s_void("VM.destroy", json_pack("[s,s]", g_sess, tmpl));
    json_decref(all);
}

/* sim.set_password: the old password fails, the new one logs in */
static void test_set_password(void **state)
{
    s_void("sim.set_password", json_pack("[{s:s,s:s}]", "user", "root", "password", "changed"));
    s_fails("session.login_with_password", json_pack("[s,s]", "root", "password"),
            "SESSION_AUTHENTICATION_FAILED", NULL);
    s_void("session.login_with_password", json_pack("[s,s]", "root", "changed"));
    s_void("sim.set_password", json_pack("[s,s]", "root", "password"));
    s_void("session.login_with_password", json_pack("[s,s]", "root", "password"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_reboot),
        cmocka_unit_test(test_restart_agent),
        cmocka_unit_test(test_revert),
        cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_memory_order),
        cmocka_unit_test(test_vm_checks),
        cmocka_unit_test(test_set_password),
        cmocka_unit_test(test_rpu),
        cmocka_unit_test(test_destroy_checks),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
