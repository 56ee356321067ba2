/*  sim_vm — VM lifecycle with power-state rules (start … destroy, clone, copy, snapshot,
    pool_migrate) and host.evacuate; allowed_operations, resident_on, consoles and metrics
    follow.                                                                                     */
#include "sim_call.h"

/* ------------------------------------------------------------------------------------------ */
/*  VM lifecycle                                                                              */

enum { PS_HALTED = 1, PS_RUNNING = 2, PS_PAUSED = 4, PS_SUSPENDED = 8 };

static int s_ps(const char *s)
{
    return !strcmp(s, "Halted")      ? PS_HALTED
           : !strcmp(s, "Running")   ? PS_RUNNING
           : !strcmp(s, "Paused")    ? PS_PAUSED
           : !strcmp(s, "Suspended") ? PS_SUSPENDED
                                     : 0;
}

typedef struct {
    const char *method;
    int from;           /* allowed power states */
    const char *expect; /* expected state in VM_BAD_POWER_STATE */
    const char *to;
    int host_param; /* index of a host param (start_on, resume_on), 0 if none */
} s_power_t;

static const s_power_t s_power[] = {
    {"VM.start", PS_HALTED, "halted", "Running", 0},
    {"VM.start_on", PS_HALTED, "halted", "Running", 2},
    {"VM.clean_shutdown", PS_RUNNING, "running", "Halted", 0},
    {"VM.hard_shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "running", "Halted", 0},
    {"VM.shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "running", "Halted", 0},
    {"VM.clean_reboot", PS_RUNNING, "running", "Running", 0},
    {"VM.hard_reboot", PS_RUNNING | PS_PAUSED, "running", "Running", 0},
    {"VM.suspend", PS_RUNNING, "running", "Suspended", 0},
    {"VM.resume", PS_SUSPENDED, "suspended", "Running", 0},
    {"VM.resume_on", PS_SUSPENDED, "suspended", "Running", 2},
    {"VM.pause", PS_RUNNING, "running", "Paused", 0},
    {"VM.unpause", PS_PAUSED, "paused", "Running", 0},
};

static void s_lower(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        dst[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    dst[i] = '\0';
}

/*  Console objects exist while the VM runs, as on a host.                                   */
static void s_vm_consoles(sim_pool_t *p, sim_obj_t *vmo, json_t *vm, bool running)
{
    json_t *cons = json_object_get(vm, "consoles");
    if (running && json_array_size(cons) == 0) {
        char loc[200];
        json_t *cr = json_pack("{s:s, s:s}", "protocol", "rfb", "VM", vmo->ref);
        sim_obj_t *co = sim_store_add(p->store, sim_call_cls_id("console"), cr, NULL);
        sim_gen_console_location(p, sim_call_jstr(vm, "resident_on"), co->uuid, loc, sizeof loc);
        json_object_set_new(cr, "location", json_string(loc));
        sim_store_update(p->store, co, cr);
        json_decref(cr);
        sim_call_set_add(vm, "consoles", co->ref);
    } else if (!running) {
        size_t i;
        json_t *e;
        json_array_foreach(cons, i, e)
        {
            sim_obj_t *co = sim_store_get(p->store, json_string_value(e));
            if (co)
                sim_store_remove(p->store, co);
        }
        json_array_clear(cons);
    }
}

static void s_vm_metrics(sim_pool_t *p, json_t *vm, const char *state)
{
    sim_obj_t *m = sim_store_get(p->store, sim_call_jstr(vm, "metrics"));
    if (!m)
        return;
    json_t *r = sim_store_json(m);
    char now[32];
    sim_gen_now(now);
    bool up = !strcmp(state, "Running") || !strcmp(state, "Paused");
    json_object_set_new(r, "state", up ? json_pack("[s]", "running") : json_array());
    if (up)
        json_object_set_new(r, "start_time", json_string(now));
    json_object_set_new(r, "last_updated", json_string(now));
    json_t *target = json_object_get(vm, "memory_target");
    json_object_set_new(r, "memory_actual", json_integer(up ? json_integer_value(target) : 0));
    sim_store_update(p->store, m, r);
    json_decref(r);
}

/*  Moves the VM to state `to` on host (or off any host).                                    */
static void s_vm_set_state(sim_pool_t *p, sim_obj_t *vmo, json_t *vm, const char *to,
                           const char *host)
{
    const char *old_host = sim_call_jstr(vm, "resident_on");
    bool up = !strcmp(to, "Running") || !strcmp(to, "Paused");
    if (strcmp(old_host, SIM_NULL_REF) && (!up || strcmp(old_host, host)))
        sim_call_link(p, old_host, "resident_VMs", vmo->ref, false);
    if (up && strcmp(old_host, host))
        sim_call_link(p, host, "resident_VMs", vmo->ref, true);
    json_object_set_new(vm, "resident_on", json_string(up ? host : SIM_NULL_REF));
    if (up && (!strcmp(json_string_value(json_object_get(vm, "power_state")), "Halted") ||
               !strcmp(json_string_value(json_object_get(vm, "power_state")), "Suspended")))
        json_object_set_new(vm, "domid", json_integer(1 + (int64_t)(sim_gen_rand(p) % 4000)));
    if (!up)
        json_object_set_new(vm, "domid", json_integer(-1));
    json_object_set_new(vm, "power_state", json_string(to));
    s_vm_consoles(p, vmo, vm, up);
    s_vm_metrics(p, vm, to);
    sim_gen_vm_ops(vm);
}

/*  Is the host up (its host_metrics.live) and enabled?                                      */
static bool s_host_live(sim_pool_t *p, const char *host)
{
    sim_obj_t *h = sim_store_get(p->store, host);
    json_t *hr = h ? sim_store_json(h) : NULL;
    sim_obj_t *m = hr ? sim_store_get(p->store, sim_call_jstr(hr, "metrics")) : NULL;
    json_t *mr = m ? sim_store_json(m) : NULL;
    bool live = !mr || !json_is_false(json_object_get(mr, "live")); /* no metrics: up */
    json_decref(mr);
    json_decref(hr);
    return h && live;
}

static bool s_host_enabled(sim_pool_t *p, const char *host)
{
    sim_obj_t *h = sim_store_get(p->store, host);
    json_t *hr = h ? sim_store_json(h) : NULL;
    bool on = hr && !json_is_false(json_object_get(hr, "enabled"));
    json_decref(hr);
    return on;
}

/*  XAPI's host choice for VM.start / VM.resume: a random live, enabled host; NULL if none
    (NO_HOSTS_AVAILABLE). Memory is not accounted here.                                      */
static sim_obj_t *s_choose_host(sim_pool_t *p)
{
    int cls = sim_call_cls_id("host");
    size_t n = sim_store_count(p->store, cls), ok = 0;
    sim_obj_t *cand[64];
    for (size_t i = 0; i < n && ok < 64; i++) {
        sim_obj_t *h = sim_store_at(p->store, cls, i);
        if (h && s_host_live(p, h->ref) && s_host_enabled(p, h->ref))
            cand[ok++] = h;
    }
    return ok ? cand[sim_gen_rand(p) % ok] : NULL;
}

/*  The checks of XAPI's VM.check_operation_error that the simulator models, in XAPI's
    order: blocked_operations (OPERATION_BLOCKED [vm, reason]) before the power state; then,
    for a clean shutdown / reboot of a running HVM guest, its PV drivers as its guest
    metrics report them: a PV_drivers_version means full drivers (every feature); without
    one, a guest that reports no `feature-*` at all has no drivers (VM_MISSING_PV_DRIVERS
    [vm]) and one that reports features but not this one lacks it (VM_LACKS_FEATURE [vm]:
    feature-shutdown, or feature-poweroff / feature-reboot). A VM without guest metrics (a
    fresh clone: the simulator does not model the guest agent) is not checked.
    0, or -1 with the error set.                                                            */
static int s_blocked(sim_call_t *c, sim_obj_t *vmo, json_t *vm, const char *op)
{
    json_t *why = json_object_get(json_object_get(vm, "blocked_operations"), op);
    if (!json_is_string(why))
        return 0;
    return sim_call_err(c, "OPERATION_BLOCKED", vmo->ref, json_string_value(why), NULL);
}

static bool s_has(json_t *other, const char *feature)
{
    const char *v = json_string_value(json_object_get(other, feature));
    return v && strcmp(v, "0") != 0;
}

static int s_drivers(sim_call_t *c, sim_obj_t *vmo, json_t *vm, const char *op)
{
    bool shutdown = !strcmp(op, "clean_shutdown"), reboot = !strcmp(op, "clean_reboot");
    if ((!shutdown && !reboot) || strcmp(sim_call_jstr(vm, "power_state"), "Running") != 0 ||
        strcmp(sim_call_jstr(vm, "domain_type"), "pv") == 0)
        return 0;
    sim_obj_t *gm = sim_store_get(c->pool->store, sim_call_jstr(vm, "guest_metrics"));
    if (!gm)
        return 0;
    json_t *g = sim_store_json(gm);
    json_t *other = json_object_get(g, "other");
    bool full = json_object_size(json_object_get(g, "PV_drivers_version")) > 0;
    bool any = false;
    const char *k;
    json_t *v;
    json_object_foreach(other, k, v) any |= !strncmp(k, "feature-", 8);
    bool ok = full || s_has(other, "feature-shutdown") ||
              s_has(other, shutdown ? "feature-poweroff" : "feature-reboot");
    json_decref(g);
    if (ok)
        return 0;
    return sim_call_err(c, any ? "VM_LACKS_FEATURE" : "VM_MISSING_PV_DRIVERS", vmo->ref, NULL);
}

static int s_vm_power(sim_call_t *c, const s_power_t *op)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = sim_call_obj(c, 1, sim_call_cls("VM"));
    sim_obj_t *host = NULL;
    if (!vmo)
        return -1;
    if (op->host_param && !(host = sim_call_obj(c, (size_t)op->host_param, sim_call_cls("host"))))
        return -1;
    json_t *vm = sim_store_json(vmo);
    int rc = -1;
    const char *ps = sim_call_jstr(vm, "power_state");
    if (json_is_true(json_object_get(vm, "is_a_template"))) {
        sim_call_err(c, "VM_IS_TEMPLATE", vmo->ref, NULL);
        goto cleanup_vm;
    }
    if (json_is_true(json_object_get(vm, "is_control_domain"))) {
        sim_call_err(c, "OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0", NULL);
        goto cleanup_vm;
    }
    if (s_blocked(c, vmo, vm, op->method + 3) != 0)
        goto cleanup_vm;
    if (!(s_ps(ps) & op->from)) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        sim_call_err(c, "VM_BAD_POWER_STATE", vmo->ref, op->expect, actual, NULL);
        goto cleanup_vm;
    }
    if (s_drivers(c, vmo, vm, op->method + 3) != 0)
        goto cleanup_vm;
    /* a host given (start_on, resume_on) must be up (HOST_OFFLINE, as the master's
       forwarding reports it) and enabled (HOST_DISABLED) */
    if (host && !s_host_live(p, host->ref)) {
        sim_call_err(c, "HOST_OFFLINE", host->ref, NULL);
        goto cleanup_vm;
    }
    if (host && !s_host_enabled(p, host->ref)) {
        sim_call_err(c, "HOST_DISABLED", host->ref, NULL);
        goto cleanup_vm;
    }
    const char *target = host ? host->ref : sim_call_jstr(vm, "resident_on");
    if (!strcmp(target, SIM_NULL_REF)) {
        sim_obj_t *h = s_choose_host(p);
        if (!h) {
            sim_call_err(c, "NO_HOSTS_AVAILABLE", NULL);
            goto cleanup_vm;
        }
        target = h->ref;
    }
    char tgt[64];
    snprintf(tgt, sizeof tgt, "%s", target);
    s_vm_set_state(p, vmo, vm, op->to, tgt);
    sim_store_update(p->store, vmo, vm);
    sim_wr_str(c->w, "");
    rc = 0;
cleanup_vm:
    json_decref(vm);
    return rc;
}

static int s_vm_power_call(sim_call_t *c)
{
    for (size_t i = 0; i < sizeof s_power / sizeof s_power[0]; i++)
        if (!strcmp(c->method, s_power[i].method))
            return s_vm_power(c, &s_power[i]);
    return sim_call_err(c, "MESSAGE_METHOD_UNKNOWN", c->method, NULL);
}

/*  Copies the object named by ref with fields overridden by `over`; returns the new ref.     */
static sim_obj_t *s_dup(sim_pool_t *p, const char *ref, json_t *over)
{
    sim_obj_t *o = sim_store_get(p->store, ref);
    if (!o)
        return NULL;
    json_t *r = sim_store_json(o);
    json_object_del(r, "uuid");
    json_object_update(r, over);
    sim_obj_t *n = sim_store_add(p->store, o->cls, r, NULL);
    json_decref(r);
    return n;
}

/*  Clones the VBDs (and their VDIs) of src onto the new VM.                                  */
static void s_clone_vbds(sim_pool_t *p, json_t *src, sim_obj_t *nvm, json_t *nrec, const char *sr,
                         bool snapshot)
{
    json_t *vbds = json_object_get(src, "VBDs");
    json_t *newvbds = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(vbds, i, e)
    {
        sim_obj_t *vbd = sim_store_get(p->store, json_string_value(e));
        json_t *vr = vbd ? sim_store_json(vbd) : NULL;
        const char *vdi_ref = vr ? sim_call_jstr(vr, "VDI") : SIM_NULL_REF;
        char nvdi[64] = SIM_NULL_REF;
        sim_obj_t *vdi = sim_store_get(p->store, vdi_ref);
        if (vdi) {
            json_t *ov = json_pack("{s:[], s:b, s:s}", "VBDs", "is_a_snapshot", snapshot,
                                   "snapshot_of", snapshot ? vdi_ref : SIM_NULL_REF);
            if (sr)
                json_object_set_new(ov, "SR", json_string(sr));
            sim_obj_t *nv = s_dup(p, vdi_ref, ov);
            json_decref(ov);
            json_t *nvr = sim_store_json(nv);
            snprintf(nvdi, sizeof nvdi, "%s", nv->ref);
            sim_call_link(p, sim_call_jstr(nvr, "SR"), "VDIs", nv->ref, true);
            json_decref(nvr);
        }
        if (vr) {
            json_t *ov =
                json_pack("{s:s, s:s, s:b}", "VM", nvm->ref, "VDI", nvdi, "currently_attached", 0);
            sim_obj_t *nb = s_dup(p, vbd->ref, ov);
            json_decref(ov);
            json_array_append_new(newvbds, json_string(nb->ref));
            if (strcmp(nvdi, SIM_NULL_REF))
                sim_call_link(p, nvdi, "VBDs", nb->ref, true);
        }
        json_decref(vr);
    }
    json_object_set_new(nrec, "VBDs", newvbds);
}

static void s_clone_vifs(sim_pool_t *p, json_t *src, sim_obj_t *nvm, json_t *nrec)
{
    json_t *vifs = json_object_get(src, "VIFs");
    json_t *nv = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(vifs, i, e)
    {
        uint64_t r = sim_gen_rand(p);
        char mac[24];
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", 0x02 | (unsigned)(r & 0xfc),
                 (unsigned)(r >> 8) & 0xff, (unsigned)(r >> 16) & 0xff, (unsigned)(r >> 24) & 0xff,
                 (unsigned)(r >> 32) & 0xff, (unsigned)(r >> 40) & 0xff);
        json_t *ov =
            json_pack("{s:s, s:s, s:b}", "VM", nvm->ref, "MAC", mac, "currently_attached", 0);
        sim_obj_t *o = s_dup(p, json_string_value(e), ov);
        json_decref(ov);
        if (!o)
            continue;
        json_array_append_new(nv, json_string(o->ref));
        json_t *vr = sim_store_json(o);
        sim_call_link(p, sim_call_jstr(vr, "network"), "VIFs", o->ref, true);
        json_decref(vr);
    }
    json_object_set_new(nrec, "VIFs", nv);
}

/*  A snapshot is halted (its VM's power state kept in snapshot_info); a checkpoint is a
    snapshot of a running VM with its memory: suspended.                                   */
typedef enum { S_CLONE, S_COPY, S_SNAPSHOT, S_CHECKPOINT } s_clone_kind_t;

static int s_vm_clone_kind(sim_call_t *c, s_clone_kind_t kind)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = sim_call_obj(c, 1, sim_call_cls("VM"));
    const char *name = sim_call_str(c, 2);
    const char *sr = NULL;
    if (!vmo)
        return -1;
    if (kind == S_COPY && !(sr = sim_call_str(c, 3)))
        return sim_call_err(c, "HANDLE_INVALID", "SR", "", NULL);
    if (kind == S_COPY && strcmp(sr, "") && strcmp(sr, SIM_NULL_REF) &&
        !sim_call_obj(c, 3, sim_call_cls("SR")))
        return -1;
    if (sr && (!strcmp(sr, "") || !strcmp(sr, SIM_NULL_REF)))
        sr = NULL;
    bool snap = kind == S_SNAPSHOT || kind == S_CHECKPOINT;
    if (snap && sim_call_rpu(p))
        return sim_call_err(c, "NOT_SUPPORTED_DURING_UPGRADE", NULL);
    json_t *vm = sim_store_json(vmo);
    const char *ps = sim_call_jstr(vm, "power_state");
    if (kind == S_CHECKPOINT && strcmp(ps, "Running")) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return sim_call_err(c, "VM_BAD_POWER_STATE", vmo->ref, "running", actual, NULL);
    }
    if (!snap && strcmp(ps, "Halted") && strcmp(ps, "Suspended") &&
        !json_is_true(json_object_get(vm, "is_a_template"))) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return sim_call_err(c, "VM_BAD_POWER_STATE", vmo->ref, "halted", actual, NULL);
    }
    char now[32];
    sim_gen_now(now);
    json_t *n = json_deep_copy(vm);
    json_object_del(n, "uuid");
    json_object_set_new(n, "name_label", json_string(name ? name : ""));
    json_object_set_new(n, "power_state",
                        json_string(kind == S_CHECKPOINT ? "Suspended" : "Halted"));
    json_object_set_new(n, "snapshot_info",
                        snap ? json_pack("{s:s}", "power-state-at-snapshot", ps) : json_object());
    json_object_set_new(n, "resident_on", json_string(SIM_NULL_REF));
    json_object_set_new(n, "domid", json_integer(-1));
    json_object_set_new(n, "snapshots", json_array());
    json_object_set_new(n, "consoles", json_array());
    json_object_set_new(n, "current_operations", json_object());
    json_object_set_new(n, "is_a_snapshot", json_boolean(snap));
    json_object_set_new(n, "snapshot_of",
                        json_string(snap ? vmo->ref : SIM_NULL_REF));
    json_object_set_new(n, "snapshot_time", json_string(snap ? now : SIM_NULL_DATE));
    json_object_set_new(n, "parent", json_string(snap ? SIM_NULL_REF : vmo->ref));
    json_t *none = json_object();
    sim_obj_t *mo = s_dup(p, sim_call_jstr(vm, "metrics"), none);
    json_decref(none);
    json_object_set_new(n, "metrics", json_string(mo ? mo->ref : SIM_NULL_REF));
    json_object_set_new(n, "guest_metrics", json_string(SIM_NULL_REF));
    json_object_set_new(n, "VBDs", json_array());
    json_object_set_new(n, "VIFs", json_array());
    sim_gen_vm_ops(n);
    if (snap)
        json_object_set_new(n, "allowed_operations",
                            json_pack("[s,s,s,s]", "clone", "copy", "destroy", "export"));
    sim_obj_t *no = sim_store_add(p->store, vmo->cls, n, NULL);
    s_clone_vbds(p, vm, no, n, sr, snap);
    s_clone_vifs(p, vm, no, n);
    sim_store_update(p->store, no, n);
    if (snap) {
        sim_call_set_add(vm, "snapshots", no->ref);
        sim_store_update(p->store, vmo, vm);
    }
    json_decref(n);
    json_decref(vm);
    sim_wr_str(c->w, no->ref);
    return 0;
}

static int s_vm_clone(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_CLONE);
}

static int s_vm_copy(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_COPY);
}

static int s_vm_snapshot(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_SNAPSHOT);
}

static int s_vm_checkpoint(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_CHECKPOINT);
}

/*  Removes the objects named in a set field of rec, unlinking them from their other owner.   */
static void s_remove_refs(sim_pool_t *p, json_t *rec, const char *field, const char *back_field,
                          const char *back_set)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rec, field), i, e)
    {
        sim_obj_t *o = sim_store_get(p->store, json_string_value(e));
        if (!o)
            continue;
        if (back_field) {
            json_t *r = sim_store_json(o);
            sim_call_link(p, sim_call_jstr(r, back_field), back_set, o->ref, false);
            json_decref(r);
        }
        sim_store_remove(p->store, o);
    }
}

static int s_vm_destroy(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = sim_call_obj(c, 1, sim_call_cls("VM"));
    if (!vmo)
        return -1;
    json_t *vm = sim_store_json(vmo);
    const char *ps = sim_call_jstr(vm, "power_state");
    if (s_blocked(c, vmo, vm, "destroy") != 0) {
        json_decref(vm);
        return -1;
    }
    if (strcmp(ps, "Halted") && strcmp(ps, "Suspended")) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return sim_call_err(c, "VM_BAD_POWER_STATE", vmo->ref, "halted", actual, NULL);
    }
    /* XAPI refuses to destroy a default template (other_config:default_template=true) */
    if (json_is_true(json_object_get(vm, "is_a_template")) &&
        !json_is_true(json_object_get(vm, "is_a_snapshot")) &&
        !strcmp(sim_call_jstr(json_object_get(vm, "other_config"), "default_template"), "true")) {
        json_decref(vm);
        return sim_call_err(c, "VM_IS_TEMPLATE", vmo->ref, "destroy", NULL);
    }
    s_remove_refs(p, vm, "VBDs", "VDI", "VBDs");
    s_remove_refs(p, vm, "VIFs", "network", "VIFs");
    s_remove_refs(p, vm, "consoles", NULL, NULL);
    const char *owned[] = {"metrics", "guest_metrics"};
    for (int i = 0; i < 2; i++) {
        sim_obj_t *o = sim_store_get(p->store, sim_call_jstr(vm, owned[i]));
        if (o)
            sim_store_remove(p->store, o);
    }
    const char *of = sim_call_jstr(vm, "snapshot_of");
    if (strcmp(of, SIM_NULL_REF))
        sim_call_link(p, of, "snapshots", vmo->ref, false);
    sim_store_remove(p->store, vmo);
    json_decref(vm);
    sim_wr_str(c->w, "");
    return 0;
}

/*  VM.pool_migrate(vm, host, options): a running or paused VM moves to another host.        */
static int s_vm_pool_migrate(sim_call_t *c)
{
    sim_obj_t *vmo = sim_call_obj(c, 1, sim_call_cls("VM"));
    sim_obj_t *host = vmo ? sim_call_obj(c, 2, sim_call_cls("host")) : NULL;
    if (!host)
        return -1;
    json_t *vm = sim_store_json(vmo);
    const char *ps = sim_call_jstr(vm, "power_state");
    if (strcmp(ps, "Running") && strcmp(ps, "Paused")) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return sim_call_err(c, "VM_BAD_POWER_STATE", vmo->ref, "running", actual, NULL);
    }
    char to[16];
    snprintf(to, sizeof to, "%s", ps);
    s_vm_set_state(c->pool, vmo, vm, to, host->ref);
    sim_store_update(c->pool->store, vmo, vm);
    json_decref(vm);
    sim_wr_str(c->w, "");
    return 0;
}

/*  host.evacuate(host): its running VMs move to the other hosts (HOST_NOT_ENOUGH_FREE_MEMORY
    in a one-host pool with guests on it).                                                   */
static int s_host_evacuate(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *h = sim_call_obj(c, 1, sim_call_cls("host"));
    if (!h)
        return -1;
    json_t *hr = sim_store_json(h);
    json_t *vms = json_deep_copy(json_object_get(hr, "resident_VMs"));
    json_decref(hr);
    /* nothing to move (only dom0): nothing to fail, even in a one-host pool */
    size_t guests = 0, k;
    json_t *g;
    json_array_foreach(vms, k, g)
    {
        sim_obj_t *o = sim_store_get(p->store, json_string_value(g));
        json_t *r = o ? sim_store_json(o) : NULL;
        guests += r && !json_is_true(json_object_get(r, "is_control_domain"));
        json_decref(r);
    }
    if (p->nhosts < 2 && guests > 0) {
        json_decref(vms);
        return sim_call_err(c, "HOST_NOT_ENOUGH_FREE_MEMORY", "0", "0", NULL);
    }
    int next = 0;
    size_t i;
    json_t *e;
    json_array_foreach(vms, i, e)
    {
        sim_obj_t *vmo = sim_store_get(p->store, json_string_value(e));
        json_t *vm = vmo ? sim_store_json(vmo) : NULL;
        if (vm && !json_is_true(json_object_get(vm, "is_control_domain"))) {
            if (!strcmp(p->hosts[next % p->nhosts].ref, h->ref))
                next++;
            char to[16];
            snprintf(to, sizeof to, "%s", sim_call_jstr(vm, "power_state"));
            s_vm_set_state(p, vmo, vm, to, p->hosts[next++ % p->nhosts].ref);
            sim_store_update(p->store, vmo, vm);
        }
        json_decref(vm);
    }
    json_decref(vms);
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Methods of this module                                                                     */

const sim_method_t sim_vm_methods[] = {
    {"VM.start", 4, 4, s_vm_power_call, false, true},
    {"VM.start_on", 5, 5, s_vm_power_call, false, true},
    {"VM.clean_shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.hard_shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.clean_reboot", 2, 2, s_vm_power_call, false, true},
    {"VM.hard_reboot", 2, 2, s_vm_power_call, false, true},
    {"VM.suspend", 2, 2, s_vm_power_call, false, true},
    {"VM.resume", 4, 4, s_vm_power_call, false, true},
    {"VM.resume_on", 5, 5, s_vm_power_call, false, true},
    {"VM.pause", 2, 2, s_vm_power_call, false, true},
    {"VM.unpause", 2, 2, s_vm_power_call, false, true},
    {"VM.clone", 3, 3, s_vm_clone, false, true},
    {"VM.copy", 4, 4, s_vm_copy, false, true},
    {"VM.snapshot", 3, 4, s_vm_snapshot, false, true},
    {"VM.checkpoint", 3, 3, s_vm_checkpoint, false, true},
    {"VM.destroy", 2, 2, s_vm_destroy, false, true},
    {"VM.pool_migrate", 4, 4, s_vm_pool_migrate, false, true},
    {"host.evacuate", 2, 2, s_host_evacuate, false, true},
};

const size_t sim_vm_nmethods = sizeof sim_vm_methods / sizeof sim_vm_methods[0];
