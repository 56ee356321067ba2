/*  sim_dev — devices, storage and VM settings that xo-server calls besides the lifecycle:
    VBD/VIF plug and unplug, VBD insert/eject, VDI.resize, SR.scan, VM memory and VCPU
    setters, VM.assert_can_boot_here, VM.provision.                                           */
#include "sim_call.h"

/*  Sets fields of the object named by param 1 from params 2.. (names in `fields`, types
    coerced by the schema).                                                                   */
static int s_set(sim_call_t *c, const char *cls, const char *const *fields, int n)
{
    const sim_class_t *k = sim_call_cls(cls);
    sim_obj_t *o = sim_call_obj(c, 1, k);
    if (!o)
        return -1;
    json_t *r = sim_store_json(o);
    json_t *set = json_object();
    for (int i = 0; i < n; i++)
        json_object_set(set, fields[i], json_array_get(c->params, (size_t)i + 2));
    sim_rec_coerce(k, set);
    json_object_update(r, set);
    json_decref(set);
    sim_store_update(c->pool->store, o, r);
    json_decref(r);
    return sim_call_void(c);
}

static int s_plug(sim_call_t *c)
{
    const char *dot = strchr(c->method, '.');
    char cls[8];
    snprintf(cls, sizeof cls, "%.*s", (int)(dot - c->method), c->method);
    sim_obj_t *o = sim_call_obj(c, 1, sim_call_cls(cls));
    if (!o)
        return -1;
    json_t *r = sim_store_json(o);
    bool plug = !strcmp(dot + 1, "plug");
    bool attached = json_is_true(json_object_get(r, "currently_attached"));
    if (plug == attached) {
        json_decref(r);
        return sim_call_err(c, plug ? "DEVICE_ALREADY_ATTACHED" : "DEVICE_ALREADY_DETACHED", o->ref,
                            NULL);
    }
    json_object_set_new(r, "currently_attached", json_boolean(plug));
    json_object_set_new(r, "allowed_operations",
                        plug ? json_pack("[s,s]", "unplug", "unplug_force")
                             : json_pack("[s,s]", "attach", "plug"));
    sim_store_update(c->pool->store, o, r);
    json_decref(r);
    return sim_call_void(c);
}

static int s_vbd_media(sim_call_t *c)
{
    sim_obj_t *vbd = sim_call_obj(c, 1, sim_call_cls("VBD"));
    bool insert = !strcmp(c->method, "VBD.insert");
    sim_obj_t *vdi = vbd && insert ? sim_call_obj(c, 2, sim_call_cls("VDI")) : NULL;
    if (!vbd || (insert && !vdi))
        return -1;
    json_t *r = sim_store_json(vbd);
    if (strcmp(sim_call_jstr(r, "type"), "CD")) {
        json_decref(r);
        return sim_call_err(c, "VBD_NOT_REMOVABLE_MEDIA", vbd->ref, NULL);
    }
    bool empty = json_is_true(json_object_get(r, "empty"));
    if (insert != empty) {
        json_decref(r);
        return sim_call_err(c, insert ? "VBD_NOT_EMPTY" : "VBD_IS_EMPTY", vbd->ref, NULL);
    }
    json_object_set_new(r, "empty", json_boolean(!insert));
    json_object_set_new(r, "VDI", json_string(insert ? vdi->ref : SIM_NULL_REF));
    sim_store_update(c->pool->store, vbd, r);
    json_decref(r);
    return sim_call_void(c);
}

static int s_vdi_resize(sim_call_t *c)
{
    static const char *const f[] = {"virtual_size"};
    return s_set(c, "VDI", f, 1);
}

/*  The order a host enforces: static_min <= dynamic_min <= dynamic_max <= static_max, else
    MEMORY_CONSTRAINT_VIOLATION_ORDER []. Params from `first` are the new values of the
    fields named in f (the VM's others stay).                                                */
static bool s_memory_order_ok(sim_call_t *c, const char *const *f, size_t n)
{
    static const char *const order[] = {"memory_static_min", "memory_dynamic_min",
                                        "memory_dynamic_max", "memory_static_max"};
    const char *ref = sim_call_str(c, 1);
    sim_obj_t *vmo = ref ? sim_store_get(c->pool->store, ref) : NULL;
    if (!vmo)
        return true; /* s_set reports HANDLE_INVALID */
    json_t *vm = sim_store_json(vmo);
    int64_t v[4];
    for (size_t i = 0; i < 4; i++) {
        v[i] = json_integer_value(json_object_get(vm, order[i]));
        for (size_t j = 0; j < n; j++)
            if (!strcmp(f[j], order[i]) && !sim_call_int(c, 2 + j, &v[i]))
                v[i] = -1;
    }
    json_decref(vm);
    return v[0] >= 0 && v[0] <= v[1] && v[1] <= v[2] && v[2] <= v[3];
}

static int s_memory_limits(sim_call_t *c)
{
    static const char *const f[] = {"memory_static_min", "memory_static_max", "memory_dynamic_min",
                                    "memory_dynamic_max"};
    if (!s_memory_order_ok(c, f, 4))
        return sim_call_err(c, "MEMORY_CONSTRAINT_VIOLATION_ORDER", NULL);
    return s_set(c, "VM", f, 4);
}

static int s_memory_dynamic(sim_call_t *c)
{
    static const char *const f[] = {"memory_dynamic_min", "memory_dynamic_max"};
    if (!s_memory_order_ok(c, f, 2))
        return sim_call_err(c, "MEMORY_CONSTRAINT_VIOLATION_ORDER", NULL);
    return s_set(c, "VM", f, 2);
}

static int s_vcpus_live(sim_call_t *c)
{
    static const char *const f[] = {"VCPUs_at_startup"};
    return s_set(c, "VM", f, 1);
}

/*  Checks only that both objects exist (a simulated host can boot anything).               */
static int s_vm_check(sim_call_t *c)
{
    if (!sim_call_obj(c, 1, sim_call_cls("VM")))
        return -1;
    if (json_array_size(c->params) > 2 && !sim_call_obj(c, 2, sim_call_cls("host")))
        return -1;
    return sim_call_void(c);
}

static int s_sr_scan(sim_call_t *c)
{
    return sim_call_obj(c, 1, sim_call_cls("SR")) ? sim_call_void(c) : -1;
}

const sim_method_t sim_dev_methods[] = {
    {"VBD.plug", 2, 2, s_plug, false, true},
    {"VBD.unplug", 2, 2, s_plug, false, true},
    {"VIF.plug", 2, 2, s_plug, false, true},
    {"VIF.unplug", 2, 2, s_plug, false, true},
    {"VBD.insert", 3, 3, s_vbd_media, false, true},
    {"VBD.eject", 2, 2, s_vbd_media, false, true},
    {"VDI.resize", 3, 3, s_vdi_resize, false, true},
    {"SR.scan", 2, 2, s_sr_scan, false, true},
    {"VM.set_memory_limits", 6, 6, s_memory_limits, false, true},
    {"VM.set_memory_dynamic_range", 4, 4, s_memory_dynamic, false, true},
    {"VM.set_VCPUs_number_live", 3, 3, s_vcpus_live, false, true},
    {"VM.assert_can_boot_here", 3, 3, s_vm_check, false, false},
    {"VM.provision", 2, 2, s_vm_check, false, true},
};

const size_t sim_dev_nmethods = sizeof sim_dev_methods / sizeof sim_dev_methods[0];
