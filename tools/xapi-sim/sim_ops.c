/*  sim_ops — host reboot and toolstack restart, and VM.revert, with the rules of a host:
    host.reboot needs a disabled host (HOST_NOT_DISABLED) without running guests
    (HOST_IN_USE [host, "vm", vm]) and brings it back enabled with a new
    other_config.boot_time; host.restart_agent renews other_config.agent_start_time;
    VM.revert(snapshot) puts the VM back in the snapshot's state: halted (suspended for a
    checkpoint), the snapshot's VCPUs and memory, a fresh copy of each snapshot disk in
    place of the VM's disk.                                                               */
#include <time.h>

#include "sim_call.h"

static void s_epoch(char out[32])
{
    snprintf(out, 32, "%lld.", (long long)time(NULL)); /* as a host writes it: "1700000000." */
}

static void s_other_config_set(json_t *rec, const char *key, const char *value)
{
    json_t *oc = json_object_get(rec, "other_config");
    if (!json_is_object(oc)) {
        oc = json_object();
        json_object_set_new(rec, "other_config", oc);
    }
    json_object_set_new(oc, key, json_string(value));
}

/*  host.reboot(host)                                                                         */
static int s_host_reboot(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *h = sim_call_obj(c, 1, sim_call_cls("host"));
    if (!h)
        return -1;
    json_t *hr = sim_store_json(h);
    int rc = -1;
    if (json_is_true(json_object_get(hr, "enabled"))) {
        sim_call_err(c, "HOST_NOT_DISABLED", NULL);
        goto done;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(hr, "resident_VMs"), i, e)
    {
        sim_obj_t *vmo = sim_store_get(p->store, json_string_value(e));
        json_t *vm = vmo ? sim_store_json(vmo) : NULL;
        bool guest = vm && !json_is_true(json_object_get(vm, "is_control_domain")) &&
                     !strcmp(sim_call_jstr(vm, "power_state"), "Running");
        json_decref(vm);
        if (guest) {
            sim_call_err(c, "HOST_IN_USE", h->ref, "vm", vmo->ref, NULL);
            goto done;
        }
    }
    char now[32];
    s_epoch(now);
    s_other_config_set(hr, "boot_time", now);
    s_other_config_set(hr, "agent_start_time", now);
    json_object_set_new(hr, "enabled", json_true()); /* a host boots enabled */
    json_object_set_new(
        hr, "allowed_operations",
        json_pack("[s,s,s,s,s]", "vm_migrate", "provision", "vm_resume", "evacuate", "vm_start"));
    sim_store_update(p->store, h, hr);
    rc = sim_call_void(c);
done:
    json_decref(hr);
    return rc;
}

/*  host.restart_agent(host)                                                                  */
static int s_host_restart_agent(sim_call_t *c)
{
    sim_obj_t *h = sim_call_obj(c, 1, sim_call_cls("host"));
    if (!h)
        return -1;
    json_t *hr = sim_store_json(h);
    char now[32];
    s_epoch(now);
    s_other_config_set(hr, "agent_start_time", now);
    sim_store_update(c->pool->store, h, hr);
    json_decref(hr);
    return sim_call_void(c);
}

/*  A fresh VDI from a snapshot VDI (same SR, same size), linked into its SR.                 */
static sim_obj_t *s_vdi_from(sim_pool_t *p, const char *snap_vdi)
{
    sim_obj_t *o = sim_store_get(p->store, snap_vdi);
    if (!o)
        return NULL;
    json_t *r = sim_store_json(o);
    json_object_del(r, "uuid");
    json_object_set_new(r, "VBDs", json_array());
    json_object_set_new(r, "is_a_snapshot", json_false());
    json_object_set_new(r, "snapshot_of", json_string(SIM_NULL_REF));
    json_object_set_new(r, "snapshots", json_array());
    sim_obj_t *n = sim_store_add(p->store, o->cls, r, NULL);
    sim_call_link(p, sim_call_jstr(r, "SR"), "VDIs", n->ref, true);
    json_decref(r);
    return n;
}

/*  The snapshot VDI at a userdevice of the snapshot, or NULL.                                */
static const char *s_snap_vdi(sim_pool_t *p, json_t *snap, const char *userdevice, char *out)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(snap, "VBDs"), i, e)
    {
        sim_obj_t *b = sim_store_get(p->store, json_string_value(e));
        json_t *br = b ? sim_store_json(b) : NULL;
        bool hit = br && !strcmp(sim_call_jstr(br, "userdevice"), userdevice) &&
                   strcmp(sim_call_jstr(br, "VDI"), SIM_NULL_REF);
        if (hit)
            snprintf(out, 64, "%s", sim_call_jstr(br, "VDI"));
        json_decref(br);
        if (hit)
            return out;
    }
    return NULL;
}

/*  Each disk of the VM that the snapshot has: replaced by a fresh copy of the snapshot's.   */
static void s_revert_disks(sim_pool_t *p, json_t *vm, json_t *snap)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(vm, "VBDs"), i, e)
    {
        sim_obj_t *b = sim_store_get(p->store, json_string_value(e));
        json_t *br = b ? sim_store_json(b) : NULL;
        char sv[64];
        if (br && s_snap_vdi(p, snap, sim_call_jstr(br, "userdevice"), sv)) {
            sim_obj_t *old = sim_store_get(p->store, sim_call_jstr(br, "VDI"));
            sim_obj_t *nv = s_vdi_from(p, sv);
            if (nv) {
                json_object_set_new(br, "VDI", json_string(nv->ref));
                sim_store_update(p->store, b, br);
                sim_call_link(p, nv->ref, "VBDs", b->ref, true);
            }
            if (old && nv) {
                json_t * or = sim_store_json(old);
                sim_call_link(p, sim_call_jstr(or, "SR"), "VDIs", old->ref, false);
                json_decref(or);
                sim_store_remove(p->store, old);
            }
        }
        json_decref(br);
    }
}

/*  VM.revert(snapshot)                                                                       */
static int s_vm_revert(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *so = sim_call_obj(c, 1, sim_call_cls("VM"));
    if (!so)
        return -1;
    if (sim_call_rpu(p))
        return sim_call_err(c, "NOT_SUPPORTED_DURING_UPGRADE", NULL);
    json_t *snap = sim_store_json(so);
    sim_obj_t *vmo = json_is_true(json_object_get(snap, "is_a_snapshot"))
                         ? sim_store_get(p->store, sim_call_jstr(snap, "snapshot_of"))
                         : NULL;
    if (!vmo) {
        json_decref(snap);
        return sim_call_err(c, "OPERATION_NOT_ALLOWED", "VM is not a snapshot", NULL);
    }
    json_t *vm = sim_store_json(vmo);
    const char *ps = sim_call_jstr(vm, "power_state");
    /* the VM takes the snapshot's state: halted (disks only) or suspended (a checkpoint) */
    const char *to = !strcmp(sim_call_jstr(snap, "power_state"), "Suspended") ? "Suspended"
                                                                               : "Halted";
    if (strcmp(ps, to)) {
        const char *host = sim_call_jstr(vm, "resident_on");
        if (strcmp(host, SIM_NULL_REF))
            sim_call_link(p, host, "resident_VMs", vmo->ref, false);
        json_object_set_new(vm, "resident_on", json_string(SIM_NULL_REF));
        json_object_set_new(vm, "domid", json_integer(-1));
        json_object_set_new(vm, "power_state", json_string(to));
    }
    const char *copied[] = {
        "VCPUs_max",          "VCPUs_at_startup",   "memory_static_min", "memory_static_max",
        "memory_dynamic_min", "memory_dynamic_max", "memory_target",     "PV_args",
        "platform",           "HVM_boot_params"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        json_t *v = json_object_get(snap, copied[i]);
        if (v)
            json_object_set(vm, copied[i], v);
    }
    s_revert_disks(p, vm, snap);
    sim_gen_vm_ops(vm);
    sim_store_update(p->store, vmo, vm);
    json_decref(vm);
    json_decref(snap);
    return sim_call_void(c);
}

const sim_method_t sim_ops_methods[] = {
    {"host.reboot", 2, 2, s_host_reboot, false, true},
    {"host.restart_agent", 2, 2, s_host_restart_agent, false, true},
    {"VM.revert", 2, 2, s_vm_revert, false, true},
};

const size_t sim_ops_nmethods = sizeof sim_ops_methods / sizeof sim_ops_methods[0];
