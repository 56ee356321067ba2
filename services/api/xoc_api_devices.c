/*  xoc_api_devices — a VM's devices (xo-api.md §4.3; §11 items 12–14): its CD drive
    (vm.insertCd, vm.ejectCd), its disks (disk.create, vm.attachDisk, vdi.set, vdi.delete) and
    its network interfaces (vm.createInterface, vif.connect, vif.disconnect, vif.delete).
    A new VBD or VIF of a running (or paused) VM is plugged at once, as xo-server does. The
    objects of one call must be in one pool: its XAPI calls run through that pool's gateway.
    Methods that create an object answer its id once the replica has it.                   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_log.h"

#define S_OPERATE XOC_API_ACL_OPERATE
#define S_ADMINISTRATE XOC_API_ACL_ADMINISTRATE
#define S_VIEW XOC_API_ACL_VIEW
#define S_VM_TYPES "VM,VM-template"
#define S_VDI_TYPES "VDI,VDI-snapshot,VDI-unmanaged"
#define S_SLOTS 64 /* devices a VM may have of one kind (userdevice / VIF device numbers) */

static bool s_running(const json_t *vm)
{
    const char *ps = xoc_api_str(vm, "power_state");
    return !strcmp(ps, "Running") || !strcmp(ps, "Paused");
}

/* the second object of a call is in the first's pool (true), else the call is answered with
   invalidParameters (the objects stay the caller's to release) */
static bool s_same_pool(xoc_api_call_t *call, const json_t *first, const json_t *second,
                        const char *param)
{
    if (!strcmp(xoc_api_str(first, "$pool"), xoc_api_str(second, "$pool")))
        return true;
    char msg[128];
    snprintf(msg, sizeof msg, "%s: not in the pool of %s", param, xoc_api_str(first, "id"));
    xoc_api_call_fail(call, XOC_EINVAL, msg, NULL);
    return false;
}

/* the VM's devices of one kind (list: "$VBDs" or "VIFs") as objects, in the VM's order; the
   caller frees the array */
static json_t *s_devices(xoc_api_server_t *srv, const json_t *vm, const char *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(vm, list), i, id)
    {
        json_t *dev = xoc_api_object(srv, json_string_value(id));
        if (dev)
            json_array_append_new(out, dev);
    }
    return out;
}

/* the first device number not used by the VM's devices (field: "position" of its VBDs,
   "device" of its VIFs), as a string; false when all S_SLOTS are taken */
static bool s_free_slot(const json_t *devices, const char *field, char *out, size_t size)
{
    bool used[S_SLOTS] = {false};
    size_t i;
    json_t *dev;
    json_array_foreach(devices, i, dev)
    {
        char *end;
        const char *s = xoc_api_str(dev, field);
        long n = strtol(s, &end, 10);
        if (*s && !*end && n >= 0 && n < S_SLOTS)
            used[n] = true;
    }
    for (int n = 0; n < S_SLOTS; n++)
        if (!used[n]) {
            snprintf(out, size, "%d", n);
            return true;
        }
    return false;
}

/* the device number asked (params[param], a string of digits) or the first free one; false
   when the call was answered with the error */
static bool s_slot(xoc_api_call_t *call, const json_t *devices, const char *param,
                   const char *field, char *out, size_t size)
{
    const char *asked = xoc_api_param(call, param);
    if (asked) {
        if (strspn(asked, "0123456789") != strlen(asked) || strlen(asked) > 3) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: a device number", param);
            xoc_api_call_fail(call, XOC_EINVAL, msg, NULL);
            return false;
        }
        snprintf(out, size, "%s", asked);
        return true;
    }
    if (s_free_slot(devices, field, out, size))
        return true;
    xoc_api_call_fail(call, XOC_EINVAL, "no free device number on this VM", NULL);
    return false;
}

/* a copy of what the action keeps, with key set to value (stolen); strings read from the
   kept object before are freed with it */
static void s_keep_set(xoc_api_act_t *a, const char *key, json_t *value)
{
    const json_t *kept = xoc_api_act_kept(a);
    json_t *next = json_is_object(kept) ? json_deep_copy(kept) : json_object();
    json_object_set_new(next, key, value);
    xoc_api_act_keep(a, next);
}

static const char *s_kept(const xoc_api_act_t *a, const char *key)
{
    return json_string_value(json_object_get(xoc_api_act_kept(a), key));
}

/* a new device's XAPI ref, the result of its create step, or NULL (the action was failed) */
static const char *s_new_ref(xoc_api_act_t *a, const char *what)
{
    const char *ref = json_string_value(xoc_api_act_result(a));
    if (ref && !strncmp(ref, "OpaqueRef:", 10))
        return ref;
    char msg[64];
    snprintf(msg, sizeof msg, "no ref for the new %s", what);
    xoc_api_act_fail(a, XOC_EXAPI, msg, NULL);
    return NULL;
}

/* the object awaited is in the replica: its id is the answer */
static void s_answer_id(xoc_api_act_t *a)
{
    xoc_api_act_done(a, json_string(xoc_api_act_wait_id(a)));
}

/* after <class>.get_uuid: wait for the new object in the replica, then answer its id */
static void s_got_uuid(xoc_api_act_t *a)
{
    xoc_api_act_wait_result(a, s_answer_id);
}

/* VBD.create's record: a disk or CD drive of vm_ref (every field XAPI requires) */
static json_t *s_vbd_record(const char *vm_ref, const char *vdi_ref, const char *slot, bool cd,
                            bool bootable, const char *mode)
{
    return json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:b,s:b,s:{},s:s,s:{}}", "VM", vm_ref, "VDI",
                     vdi_ref, "userdevice", slot, "bootable", bootable, "mode", mode, "type",
                     cd ? "CD" : "Disk", "empty", 0, "unpluggable", 1, "other_config",
                     "qos_algorithm_type", "", "qos_algorithm_params");
}

/* a VBD was created (the last step's result): plugged when the VM runs ("running" kept),
   then `then` (NULL: answer true) */
static void s_plug_new(xoc_api_act_t *a, const char *cls, xoc_api_act_fn *then)
{
    const char *ref = s_new_ref(a, cls);
    if (!ref)
        return;
    if (json_is_true(json_object_get(xoc_api_act_kept(a), "running"))) {
        char method[32];
        snprintf(method, sizeof method, "%s.plug", cls);
        xoc_api_act_step(a, method, json_pack("[s]", ref));
    }
    xoc_api_act_run(a, then);
}

static void s_vbd_created(xoc_api_act_t *a)
{
    s_plug_new(a, "VBD", NULL);
}

/* ---- CD drive ------------------------------------------------------------------------------- */

/* the VM's CD drive (new reference), or NULL */
static json_t *s_cd_drive(xoc_api_server_t *srv, const json_t *vm)
{
    json_t *vbds = s_devices(srv, vm, "$VBDs"), *found = NULL;
    size_t i;
    json_t *vbd;
    json_array_foreach(vbds, i, vbd) if (json_is_true(json_object_get(vbd, "is_cd_drive")))
    {
        found = json_incref(vbd);
        break;
    }
    json_decref(vbds);
    return found;
}

/* an eject that finds the drive empty already did its job: the action goes on. The replica
   may lag behind the pool (an insert just made), so the pool decides, not the replica. */
static bool s_eject_empty(xoc_api_act_t *a, int status, const json_t *fault)
{
    (void)status;
    if (strcmp(json_string_value(json_array_get(fault, 0)) ?: "", "VBD_IS_EMPTY") != 0)
        return false;
    xoc_api_act_run(a, NULL);
    return true;
}

static void s_eject(xoc_api_act_t *a, const json_t *drive)
{
    xoc_api_act_step(a, "VBD.eject", json_pack("[s]", xoc_api_str(drive, "_xapiRef")));
    xoc_api_act_on_fail_step(a, "VBD.eject", s_eject_empty);
}

/* vm.insertCd {id, cd_id, force}: into the VM's CD drive (what it holds is ejected first
   when force; else XAPI's VBD_NOT_EMPTY), or into a new CD drive when it has none (the next
   free position, read-only, plugged if the VM runs) */
int xoc_api_m_vm_insert_cd(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "id", S_VM_TYPES, S_OPERATE);
    if (!vm)
        return 0;
    json_t *cd = xoc_api_resolve(call, "cd_id", S_VDI_TYPES, S_VIEW);
    if (!cd) {
        json_decref(vm);
        return 0;
    }
    bool same = s_same_pool(call, vm, cd, "cd_id");
    char cd_ref[96];
    snprintf(cd_ref, sizeof cd_ref, "%s", xoc_api_str(cd, "_xapiRef"));
    json_decref(cd);
    if (!same) {
        json_decref(vm);
        return 0;
    }
    json_t *drive = s_cd_drive(call->srv, vm);
    json_t *vbds = drive ? NULL : s_devices(call->srv, vm, "$VBDs");
    char slot[8];
    bool ok = drive || s_free_slot(vbds, "position", slot, sizeof slot);
    json_decref(vbds);
    if (!ok) {
        xoc_api_call_fail(call, XOC_EINVAL, "no free device number on this VM", NULL);
        json_decref(vm);
        return 0;
    }
    bool running = s_running(vm);
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a) {
        json_decref(drive);
        return 0;
    }
    if (drive) {
        if (xoc_api_flag(call, "force"))
            s_eject(a, drive);
        xoc_api_act_step(a, "VBD.insert",
                         json_pack("[s,s]", xoc_api_str(drive, "_xapiRef"), cd_ref));
        json_decref(drive);
        xoc_api_act_run(a, NULL);
        return 0;
    }
    s_keep_set(a, "running", json_boolean(running));
    xoc_api_act_step(a, "VBD.create",
                     json_pack("[o]", s_vbd_record(xoc_api_act_ref(a), cd_ref, slot, true, false,
                                                   "RO")));
    xoc_api_act_run(a, s_vbd_created);
    return 0;
}

/* vm.ejectCd {id}: empties the VM's CD drive (true when there is nothing to eject) */
int xoc_api_m_vm_eject_cd(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", S_VM_TYPES, S_OPERATE);
    if (!a)
        return 0;
    json_t *drive = s_cd_drive(call->srv, xoc_api_act_obj(a));
    if (drive)
        s_eject(a, drive);
    json_decref(drive);
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- disks ---------------------------------------------------------------------------------- */

/* mode param: "RO" or "RW" (default `dflt`); NULL when the call was answered */
static const char *s_mode(xoc_api_call_t *call, const char *dflt)
{
    const char *mode = xoc_api_param(call, "mode");
    if (!mode)
        return dflt;
    if (!strcmp(mode, "RO") || !strcmp(mode, "RW"))
        return mode;
    xoc_api_call_fail(call, XOC_EINVAL, "mode: RO or RW", NULL);
    return NULL;
}

/* vm.attachDisk {vm, vdi, position?, mode?, bootable?}: a new VBD (plugged if the VM runs) */
int xoc_api_m_vm_attach_disk(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "vm", S_VM_TYPES, S_ADMINISTRATE);
    if (!vm)
        return 0;
    json_t *vdi = xoc_api_resolve(call, "vdi", S_VDI_TYPES, S_ADMINISTRATE);
    if (!vdi) {
        json_decref(vm);
        return 0;
    }
    bool same = s_same_pool(call, vm, vdi, "vdi"); /* false: answered, call is gone */
    char vdi_ref[96], slot[8];
    snprintf(vdi_ref, sizeof vdi_ref, "%s", xoc_api_str(vdi, "_xapiRef"));
    json_decref(vdi);
    json_t *vbds = same ? s_devices(call->srv, vm, "$VBDs") : NULL;
    const char *mode = same ? s_mode(call, "RW") : NULL;
    bool ok = mode && s_slot(call, vbds, "position", "position", slot, sizeof slot);
    json_decref(vbds);
    if (!ok) {
        json_decref(vm);
        return 0;
    }
    bool running = s_running(vm);
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a)
        return 0;
    s_keep_set(a, "running", json_boolean(running));
    xoc_api_act_step(a, "VBD.create",
                     json_pack("[o]", s_vbd_record(xoc_api_act_ref(a), vdi_ref, slot, false,
                                                   xoc_api_flag(call, "bootable"), mode)));
    xoc_api_act_run(a, s_vbd_created);
    return 0;
}

/* disk.create: the VDI exists; its uuid kept, then attached to the VM if one was given */
static void s_disk_answer(xoc_api_act_t *a)
{
    char id[128];
    snprintf(id, sizeof id, "%s", s_kept(a, "uuid") ? s_kept(a, "uuid") : "");
    xoc_api_act_wait(a, id, s_answer_id);
}

static void s_disk_attached(xoc_api_act_t *a)
{
    s_plug_new(a, "VBD", s_disk_answer);
}

static void s_disk_uuid(xoc_api_act_t *a)
{
    if (!s_kept(a, "vm")) {
        s_got_uuid(a);
        return;
    }
    s_keep_set(a, "uuid", json_copy((json_t *)xoc_api_act_result(a))); /* a new kept object */
    xoc_api_call_t *call = xoc_api_act_call(a);
    xoc_api_act_step(a, "VBD.create",
                     json_pack("[o]", s_vbd_record(s_kept(a, "vm"), s_kept(a, "vdi"), s_kept(a, "slot"),
                                                   false, xoc_api_flag(call, "bootable"),
                                                   s_kept(a, "mode"))));
    xoc_api_act_run(a, s_disk_attached);
}

static void s_disk_created(xoc_api_act_t *a)
{
    const char *ref = s_new_ref(a, "VDI");
    if (!ref)
        return;
    s_keep_set(a, "vdi", json_string(ref));
    xoc_api_act_step(a, "VDI.get_uuid", json_pack("[s]", ref));
    xoc_api_act_run(a, s_disk_uuid);
}

/* disk.create {name, size, sr, vm?, bootable?, mode?, position?}: a new VDI on the SR
   (administrate), attached to the VM (administrate) when given; answers the VDI's id */
int xoc_api_m_disk_create(xoc_api_call_t *call)
{
    int64_t size;
    if (!xoc_api_size_parse(json_object_get(call->params, "size"), &size) || size <= 0) {
        xoc_api_call_fail(call, XOC_EINVAL, "size: bytes, or a size such as \"10GiB\"", NULL);
        return 0;
    }
    json_t *sr = xoc_api_resolve(call, "sr", "SR", S_ADMINISTRATE);
    if (!sr)
        return 0;
    json_t *vm = NULL, *kept = json_object();
    const char *mode = s_mode(call, "RW");
    if (!mode) {
        json_decref(sr);
        json_decref(kept);
        return 0;
    }
    if (xoc_api_param(call, "vm")) {
        char slot[8];
        vm = xoc_api_resolve(call, "vm", S_VM_TYPES, S_ADMINISTRATE);
        json_t *vbds = vm ? s_devices(call->srv, vm, "$VBDs") : NULL;
        bool ok = vm && s_same_pool(call, sr, vm, "vm") &&
                  s_slot(call, vbds, "position", "position", slot, sizeof slot);
        json_decref(vbds);
        if (ok) {
            json_object_set_new(kept, "vm", json_string(xoc_api_str(vm, "_xapiRef")));
            json_object_set_new(kept, "running", json_boolean(s_running(vm)));
            json_object_set_new(kept, "slot", json_string(slot));
            json_object_set_new(kept, "mode", json_string(mode));
        }
        json_decref(vm);
        if (!ok) {
            json_decref(sr);
            json_decref(kept);
            return 0;
        }
    }
    xoc_api_act_t *a = xoc_api_act_on(call, sr);
    if (!a) {
        json_decref(kept);
        return 0;
    }
    xoc_api_act_keep(a, kept);
    json_t *rec = json_pack("{s:s,s:s,s:s,s:I,s:s,s:b,s:b,s:{},s:{},s:{},s:[]}", "name_label",
                            xoc_api_param(call, "name"), "name_description", "", "SR",
                            xoc_api_act_ref(a), "virtual_size", (json_int_t)size, "type", "user",
                            "sharable", 0, "read_only", 0, "other_config", "xenstore_data",
                            "sm_config", "tags");
    xoc_api_act_step(a, "VDI.create", json_pack("[o]", rec));
    xoc_api_act_run(a, s_disk_created);
    return 0;
}

/* vdi.set {id, name_label?, name_description?, size?}: administrate; a new size grows the
   disk (VDI.resize; XAPI refuses shrinking) */
int xoc_api_m_vdi_set(xoc_api_call_t *call)
{
    json_t *size_v = json_object_get(call->params, "size");
    int64_t size = 0;
    if (size_v && (!xoc_api_size_parse(size_v, &size) || size <= 0)) {
        xoc_api_call_fail(call, XOC_EINVAL, "size: bytes, or a size such as \"10GiB\"", NULL);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_new(call, "id", S_VDI_TYPES, S_ADMINISTRATE);
    if (!a)
        return 0;
    const char *ref = xoc_api_act_ref(a), *v;
    if ((v = xoc_api_param(call, "name_label")))
        xoc_api_act_step(a, "VDI.set_name_label", json_pack("[s,s]", ref, v));
    if ((v = xoc_api_param(call, "name_description")))
        xoc_api_act_step(a, "VDI.set_name_description", json_pack("[s,s]", ref, v));
    if (size_v)
        xoc_api_act_step(a, "VDI.resize", json_pack("[s,I]", ref, (json_int_t)size));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* vdi.delete {id}: VDI.destroy (XAPI refuses a disk in use: VDI_IN_USE) */
int xoc_api_m_vdi_delete(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", S_VDI_TYPES, S_ADMINISTRATE);
    if (!a)
        return 0;
    xoc_api_act_step(a, "VDI.destroy", json_pack("[s]", xoc_api_act_ref(a)));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- network interfaces ----------------------------------------------------------------- */

static void s_vif_created(xoc_api_act_t *a)
{
    const char *ref = s_new_ref(a, "VIF");
    if (!ref)
        return;
    if (json_is_true(json_object_get(xoc_api_act_kept(a), "running")))
        xoc_api_act_step(a, "VIF.plug", json_pack("[s]", ref));
    xoc_api_act_step(a, "VIF.get_uuid", json_pack("[s]", ref));
    xoc_api_act_run(a, s_got_uuid);
}

/* an array param of strings, or [] when absent; NULL when the call was answered */
static json_t *s_addresses(xoc_api_call_t *call, const char *param)
{
    json_t *v = json_object_get(call->params, param);
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) if (!json_is_string(s))
    {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: an array of addresses", param);
        xoc_api_call_fail(call, XOC_EINVAL, msg, NULL);
        return NULL;
    }
    return v ? json_copy(v) : json_array();
}

/* vm.createInterface {vm, network, position?, mac?, allowedIpv4Addresses?,
   allowedIpv6Addresses?}: a new VIF (MAC "" lets XAPI choose one; allowed addresses lock it
   to them), plugged if the VM runs; answers the VIF's id */
int xoc_api_m_vm_create_interface(xoc_api_call_t *call)
{
    json_t *v4 = s_addresses(call, "allowedIpv4Addresses");
    json_t *v6 = v4 ? s_addresses(call, "allowedIpv6Addresses") : NULL;
    json_t *vm = v6 ? xoc_api_resolve(call, "vm", S_VM_TYPES, S_ADMINISTRATE) : NULL;
    json_t *net = vm ? xoc_api_resolve(call, "network", "network", S_VIEW) : NULL;
    if (!net || !s_same_pool(call, vm, net, "network")) {
        json_decref(v4);
        json_decref(v6);
        json_decref(net);
        json_decref(vm);
        return 0;
    }
    char slot[8];
    json_t *vifs = s_devices(call->srv, vm, "VIFs");
    bool ok = s_slot(call, vifs, "position", "device", slot, sizeof slot);
    json_decref(vifs);
    json_int_t mtu = json_integer_value(json_object_get(net, "MTU"));
    char net_ref[96];
    snprintf(net_ref, sizeof net_ref, "%s", xoc_api_str(net, "_xapiRef"));
    json_decref(net);
    bool running = s_running(vm);
    xoc_api_act_t *a = ok ? xoc_api_act_on(call, vm) : NULL;
    if (!a) {
        if (!ok)
            json_decref(vm);
        json_decref(v4);
        json_decref(v6);
        return 0;
    }
    bool locked = json_array_size(v4) || json_array_size(v6);
    const char *mac = xoc_api_param(call, "mac");
    s_keep_set(a, "running", json_boolean(running));
    json_t *rec = json_pack("{s:s,s:s,s:s,s:s,s:I,s:{},s:s,s:{},s:s,s:o,s:o}", "device", slot,
                            "network", net_ref, "VM", xoc_api_act_ref(a), "MAC", mac ? mac : "",
                            "MTU", mtu > 0 ? mtu : (json_int_t)1500, "other_config",
                            "qos_algorithm_type", "", "qos_algorithm_params", "locking_mode",
                            locked ? "locked" : "network_default", "ipv4_allowed", v4,
                            "ipv6_allowed", v6);
    xoc_api_act_step(a, "VIF.create", json_pack("[o]", rec));
    xoc_api_act_run(a, s_vif_created);
    return 0;
}

/* vif.connect / vif.disconnect {id}: VIF.plug / VIF.unplug (operate) */
int xoc_api_m_vif_connect(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "VIF", S_OPERATE);
    if (!a)
        return 0;
    bool plug = !strcmp(call->method->name, "vif.connect");
    xoc_api_act_step(a, plug ? "VIF.plug" : "VIF.unplug", json_pack("[s]", xoc_api_act_ref(a)));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* vif.delete {id}: unplugged first when attached, then VIF.destroy (administrate) */
int xoc_api_m_vif_delete(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "VIF", S_ADMINISTRATE);
    if (!a)
        return 0;
    const char *ref = xoc_api_act_ref(a);
    if (json_is_true(json_object_get(xoc_api_act_obj(a), "attached")))
        xoc_api_act_step(a, "VIF.unplug", json_pack("[s]", ref));
    xoc_api_act_step(a, "VIF.destroy", json_pack("[s]", ref));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- vm.create -------------------------------------------------------------------------------- */

/* What vm.create does, in order: VM.clone of the template, VM.provision (the template's
   disks), no longer a template, the settings, the VIFs asked, the boot order of an
   installation, then the new disks one by one (VDI.create + VBD.create on positions free
   among the VBDs the pool reports), the installation ISO in a new CD drive, VM.start when
   asked. A step that fails after the clone destroys the new VM and answers the step's
   error: no half-made VM is left behind (nor the disks made for it). The plan lives in the
   action's kept object: {vm, disks: [{sr, size, name, description}], cd, start, steps,
   slots, next, made}. */

static void s_vmc_next_disk(xoc_api_act_t *a);

/* the creation failed after the clone: the new VM and the disks made for it go, then the
   step's error is the answer */
static bool s_vmc_failed(xoc_api_act_t *a, int status, const json_t *fault)
{
    xoc_api_act_cleanup_begin(a, status, fault);
    xoc_api_act_step(a, "VM.destroy", json_pack("[s]", s_kept(a, "vm")));
    size_t i;
    json_t *vdi;
    json_array_foreach(json_object_get(xoc_api_act_kept(a), "made"), i, vdi)
        xoc_api_act_step(a, "VDI.destroy", json_pack("[O]", vdi));
    xoc_api_act_cleanup_run(a);
    return true;
}

/* the VM is made: no more clean-up, its id once in the replica */
static void s_vmc_uuid(xoc_api_act_t *a)
{
    xoc_api_act_on_fail_step(a, NULL, NULL);
    xoc_api_act_wait_result(a, xoc_api_act_grant_new);
}

static void s_vmc_disk_made(xoc_api_act_t *a)
{
    const char *vdi = s_new_ref(a, "VDI");
    if (!vdi)
        return;
    const json_t *k = xoc_api_act_kept(a);
    json_int_t i = json_integer_value(json_object_get(k, "next"));
    json_t *made = json_deep_copy(json_object_get(k, "made")); /* destroyed if a step fails */
    json_array_append_new(made ? made : (made = json_array()), json_string(vdi));
    s_keep_set(a, "made", made); /* k is freed: read the kept object again */
    const char *slot = json_string_value(
        json_array_get(json_object_get(xoc_api_act_kept(a), "slots"), (size_t)i));
    xoc_api_act_step(a, "VBD.create",
                     json_pack("[o]", s_vbd_record(s_kept(a, "vm"), vdi, slot, false, i == 0,
                                                   "RW")));
    s_keep_set(a, "next", json_integer(i + 1));
    xoc_api_act_run(a, s_vmc_next_disk);
}

static void s_vmc_next_disk(xoc_api_act_t *a)
{
    const json_t *k = xoc_api_act_kept(a);
    const json_t *disks = json_object_get(k, "disks");
    size_t i = (size_t)json_integer_value(json_object_get(k, "next"));
    const char *vm = s_kept(a, "vm");
    if (i < json_array_size(disks)) {
        const json_t *d = json_array_get(disks, i);
        json_t *rec = json_pack("{s:O,s:O,s:O,s:O,s:s,s:b,s:b,s:{},s:{},s:{},s:[]}", "name_label",
                                json_object_get(d, "name"), "name_description",
                                json_object_get(d, "description"), "SR", json_object_get(d, "sr"),
                                "virtual_size", json_object_get(d, "size"), "type", "user",
                                "sharable", 0, "read_only", 0, "other_config", "xenstore_data",
                                "sm_config", "tags");
        xoc_api_act_step(a, "VDI.create", json_pack("[o]", rec));
        xoc_api_act_run(a, s_vmc_disk_made);
        return;
    }
    const char *cd = s_kept(a, "cd");
    if (cd) /* the installation ISO, on the slot after the disks' */
        xoc_api_act_step(a, "VBD.create",
                         json_pack("[o]", s_vbd_record(vm, cd,
                                                       json_string_value(json_array_get(
                                                           json_object_get(k, "slots"), i)),
                                                       true, false, "RO")));
    if (json_is_true(json_object_get(k, "start")))
        xoc_api_act_step(a, "VM.start", json_pack("[s,b,b]", vm, 0, 0));
    xoc_api_act_step(a, "VM.get_uuid", json_pack("[s]", vm));
    xoc_api_act_run(a, s_vmc_uuid);
}

/* the VBDs the new VM has (its template's, and those VM.provision made): the new disks and
   the CD drive take the first positions they leave free */
static void s_vmc_vbds(xoc_api_act_t *a)
{
    json_t *used = json_array();
    const char *key;
    json_t *rec;
    json_object_foreach((json_t *)xoc_api_act_result(a), key, rec)
        json_array_append_new(used, json_pack("{s:O}", "position",
                                              json_object_get(rec, "userdevice")));
    size_t want = json_array_size(json_object_get(xoc_api_act_kept(a), "disks")) + 1;
    json_t *slots = json_array();
    for (size_t n = 0; n < want; n++) {
        char slot[8];
        if (!s_free_slot(used, "position", slot, sizeof slot)) {
            json_decref(used);
            json_decref(slots);
            json_t *why = json_pack("[s]", "no free device number on the new VM");
            s_vmc_failed(a, XOC_EINVAL, why);
            json_decref(why);
            return;
        }
        json_array_append_new(slots, json_string(slot));
        json_array_append_new(used, json_pack("{s:s}", "position", slot));
    }
    json_decref(used);
    s_keep_set(a, "slots", slots);
    s_vmc_next_disk(a);
}

/* the clone exists: its settings, VIFs and boot order, then what its VBDs are */
static void s_vmc_cloned(xoc_api_act_t *a)
{
    const char *ref = s_new_ref(a, "VM");
    if (!ref)
        return;
    s_keep_set(a, "vm", json_string(ref));
    ref = s_kept(a, "vm");
    xoc_api_act_on_fail_step(a, NULL, s_vmc_failed);
    const json_t *k = xoc_api_act_kept(a), *settings = json_object_get(k, "steps");
    xoc_api_act_step(a, "VM.provision", json_pack("[s]", ref));
    xoc_api_act_step(a, "VM.set_is_a_template", json_pack("[s,b]", ref, 0));
    xoc_api_act_step(a, "VM.remove_from_other_config", json_pack("[s,s]", ref, "default_template"));
    size_t i;
    json_t *st;
    json_array_foreach(settings, i, st) /* [method, [args after the VM's ref]] */
    {
        const char *method = json_string_value(json_array_get(st, 0));
        json_t *params;
        if (!strcmp(method, "VIF.create")) { /* [record]: the VM's ref goes into it */
            json_t *rec = json_deep_copy(json_array_get(json_array_get(st, 1), 0));
            json_object_set_new(rec, "VM", json_string(ref));
            params = json_pack("[o]", rec);
        } else {
            params = json_pack("[s]", ref);
            json_array_extend(params, json_array_get(st, 1));
        }
        xoc_api_act_step(a, method, params);
    }
    char query[160];
    snprintf(query, sizeof query, "field \"VM\" = \"%s\"", ref);
    xoc_api_act_step(a, "VBD.get_all_records_where", json_pack("[s]", query));
    xoc_api_act_run(a, s_vmc_vbds);
}

/* params of vm.create not carried out yet: refused before anything is made */
static const char *const s_vmc_unsupported[] = {"cloudConfig", "networkConfig", "vgpuType",
                                                "gpuGroup", "resourceSet", "createVtpm"};

/* the settings vm.create applies after the clone, as [method, [args...]] (the VM's ref is
   put first); NULL when the call was answered */
static json_t *s_vmc_settings(xoc_api_call_t *call, const json_t *tpl)
{
    json_t *steps = json_array(), *v;
    const char *s;
    if ((s = xoc_api_param(call, "name_description")))
        json_array_append_new(steps, json_pack("[s,[s]]", "VM.set_name_description", s));
    if ((v = json_object_get(call->params, "CPUs"))) {
        json_int_t n = json_integer_value(v);
        json_int_t max = json_integer_value(json_object_get(json_object_get(tpl, "CPUs"), "max"));
        /* VCPUs_at_startup <= VCPUs_max at every step */
        const char *first = n > max ? "VM.set_VCPUs_max" : "VM.set_VCPUs_at_startup";
        const char *second = n > max ? "VM.set_VCPUs_at_startup" : "VM.set_VCPUs_max";
        json_array_append_new(steps, json_pack("[s,[I]]", first, n));
        json_array_append_new(steps, json_pack("[s,[I]]", second, n));
    }
    int64_t mem;
    if ((v = json_object_get(call->params, "memory"))) {
        if (!xoc_api_size_parse(v, &mem) || mem <= 0) {
            xoc_api_call_fail(call, XOC_EINVAL, "memory: bytes, or a size such as \"2GiB\"",
                              NULL);
            json_decref(steps);
            return NULL;
        }
        json_int_t smin = json_integer_value(
            json_array_get(json_object_get(json_object_get(tpl, "memory"), "static"), 0));
        if (smin <= 0 || smin > mem)
            smin = mem;
        json_array_append_new(steps, json_pack("[s,[I,I,I,I]]", "VM.set_memory_limits", smin,
                                               (json_int_t)mem, (json_int_t)mem,
                                               (json_int_t)mem));
    }
    if ((s = xoc_api_param(call, "affinityHost"))) {
        json_t *h = xoc_api_object(call->srv, s);
        bool ok = h && !strcmp(xoc_api_str(h, "type"), "host") &&
                  !strcmp(xoc_api_str(h, "$pool"), xoc_api_str(tpl, "$pool"));
        if (ok)
            json_array_append_new(steps, json_pack("[s,[s]]", "VM.set_affinity",
                                                   xoc_api_str(h, "_xapiRef")));
        json_decref(h);
        if (!ok) {
            xoc_api_call_fail(call, XOC_EINVAL, "affinityHost: not a host of the pool", NULL);
            json_decref(steps);
            return NULL;
        }
    }
    return steps;
}

/* an object of the template's pool named by a param value, of one type; NULL when the call
   was answered (noSuchObject, or invalidParameters for another pool) */
static json_t *s_vmc_member(xoc_api_call_t *call, const json_t *tpl, const char *id,
                            const char *type, const char *what)
{
    json_t *o = id ? xoc_api_object(call->srv, id) : NULL;
    if (!o || strcmp(xoc_api_str(o, "type"), type) != 0) {
        json_decref(o);
        xoc_api_call_fail_raw(call, 1, "no such object",
                              json_pack("{s:s,s:s}", "id", id ? id : "", "type", type));
        return NULL;
    }
    if (strcmp(xoc_api_str(o, "$pool"), xoc_api_str(tpl, "$pool")) != 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s: not in the template's pool", what);
        xoc_api_call_fail(call, XOC_EINVAL, msg, NULL);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* VDIs [{size, SR, name_label?, name_description?}] → the plan's disks; false: answered */
static bool s_vmc_disks(xoc_api_call_t *call, const json_t *tpl, json_t *plan)
{
    json_t *disks = json_array();
    json_object_set_new(plan, "disks", disks);
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(call->params, "VDIs"), i, d)
    {
        int64_t size;
        if (!json_is_object(d) || !xoc_api_size_parse(json_object_get(d, "size"), &size) ||
            size <= 0) {
            xoc_api_call_fail(call, XOC_EINVAL, "VDIs: [{size, SR, name_label?}]", NULL);
            return false;
        }
        json_t *sr = s_vmc_member(call, tpl, json_string_value(json_object_get(d, "SR")), "SR",
                                  "VDIs[].SR");
        if (!sr)
            return false;
        const char *name = json_string_value(json_object_get(d, "name_label"));
        char dflt[300];
        snprintf(dflt, sizeof dflt, "%s %zu", xoc_api_param(call, "name_label"), i);
        const char *desc = json_string_value(json_object_get(d, "name_description"));
        json_array_append_new(disks, json_pack("{s:s,s:I,s:s,s:s}", "sr",
                                               xoc_api_str(sr, "_xapiRef"), "size",
                                               (json_int_t)size, "name", name ? name : dflt,
                                               "description", desc ? desc : ""));
        json_decref(sr);
    }
    return true;
}

/* VIFs [{network, mac?, allowedIpv4Addresses?, allowedIpv6Addresses?}] → VIF.create steps on
   the devices the template's VIFs leave free; false: answered */
static bool s_vmc_vifs(xoc_api_call_t *call, const json_t *tpl, json_t *steps)
{
    json_t *used = s_devices(call->srv, tpl, "VIFs");
    size_t i;
    json_t *v;
    bool ok = true;
    json_array_foreach(json_object_get(call->params, "VIFs"), i, v)
    {
        json_t *net = json_is_object(v) ? s_vmc_member(call, tpl,
                                                       json_string_value(json_object_get(v, "network")),
                                                       "network", "VIFs[].network")
                                        : NULL;
        char slot[8];
        if (!net || !s_free_slot(used, "device", slot, sizeof slot)) {
            if (net || !json_is_object(v))
                xoc_api_call_fail(call, XOC_EINVAL, "VIFs: [{network, mac?}]", NULL);
            json_decref(net);
            ok = false;
            break;
        }
        json_array_append_new(used, json_pack("{s:s}", "device", slot));
        json_t *v4 = json_object_get(v, "allowedIpv4Addresses"),
               *v6 = json_object_get(v, "allowedIpv6Addresses");
        bool locked = json_array_size(v4) || json_array_size(v6);
        const char *mac = json_string_value(json_object_get(v, "mac"));
        json_int_t mtu = json_integer_value(json_object_get(net, "MTU"));
        json_t *rec = json_pack("{s:s,s:s,s:s,s:I,s:{},s:s,s:{},s:s,s:o,s:o}", "device", slot,
                                "network", xoc_api_str(net, "_xapiRef"), "MAC", mac ? mac : "",
                                "MTU", mtu > 0 ? mtu : (json_int_t)1500, "other_config",
                                "qos_algorithm_type", "", "qos_algorithm_params",
                                "locking_mode", locked ? "locked" : "network_default",
                                "ipv4_allowed", json_is_array(v4) ? json_copy(v4) : json_array(),
                                "ipv6_allowed", json_is_array(v6) ? json_copy(v6) : json_array());
        json_decref(net);
        json_array_append_new(steps, json_pack("[s,[o]]", "VIF.create", rec)); /* "VM" added */
    }
    json_decref(used);
    return ok;
}

/* vm.create {name_label, template, name_description?, CPUs?, memory?, affinityHost?, VDIs?,
   VIFs?, installation? {method: cdrom (repository: an ISO's VDI) | network},
   bootAfterCreate?}: administrate on the template's pool (the template itself needs no ACL,
   as in xo-server); answers the new VM's id (a non-admin caller gets an admin ACL on it).
   existingDisks and the params of s_vmc_unsupported are refused with invalidParameters. */
int xoc_api_m_vm_create(xoc_api_call_t *call)
{
    for (size_t i = 0; i < sizeof s_vmc_unsupported / sizeof s_vmc_unsupported[0]; i++) {
        json_t *v = json_object_get(call->params, s_vmc_unsupported[i]);
        if (v && !json_is_null(v) && !json_is_false(v)) {
            char msg[96];
            snprintf(msg, sizeof msg, "%s: not supported yet", s_vmc_unsupported[i]);
            xoc_api_call_fail(call, XOC_EINVAL, msg, NULL);
            return 0;
        }
    }
    json_t *existing = json_object_get(call->params, "existingDisks");
    if (json_is_object(existing) && json_object_size(existing) > 0) {
        xoc_api_call_fail(call, XOC_EINVAL, "existingDisks: not supported yet", NULL);
        return 0;
    }
    const char *tid = xoc_api_param(call, "template");
    json_t *tpl = xoc_api_object(call->srv, tid);
    const char *type = xoc_api_str(tpl, "type");
    if (!tpl || (strcmp(type, "VM-template") && strcmp(type, "VM") && strcmp(type, "VM-snapshot"))) {
        json_decref(tpl);
        xoc_api_call_fail_raw(call, 1, "no such object",
                              json_pack("{s:s,s:s}", "id", tid, "type", "VM-template"));
        return 0;
    }
    if (xoc_api_acl_check(call, xoc_api_str(tpl, "$pool"), S_ADMINISTRATE) != 0) {
        json_decref(tpl);
        return 0;
    }
    /* a helper that answers the call (returns false / NULL) frees it: nothing reads it after */
    json_t *plan = json_object(), *steps = s_vmc_settings(call, tpl);
    bool ok = steps && s_vmc_disks(call, tpl, plan) && s_vmc_vifs(call, tpl, steps);
    json_t *inst = ok ? json_object_get(call->params, "installation") : NULL;
    const char *method = json_string_value(json_object_get(inst, "method"));
    if (ok && inst && !json_is_null(inst)) {
        const char *order = NULL;
        if (method && !strcmp(method, "cdrom")) {
            json_t *iso = s_vmc_member(call, tpl,
                                       json_string_value(json_object_get(inst, "repository")),
                                       "VDI", "installation.repository");
            ok = iso != NULL;
            if (iso)
                json_object_set_new(plan, "cd", json_string(xoc_api_str(iso, "_xapiRef")));
            json_decref(iso);
            order = "dcn";
        } else if (method && !strcmp(method, "network"))
            order = "ncd";
        else {
            xoc_api_call_fail(call, XOC_EINVAL, "installation.method: cdrom or network", NULL);
            ok = false;
        }
        if (ok && !strcmp(xoc_api_str(tpl, "virtualizationMode"), "hvm")) {
            json_t *boot = json_object_get(tpl, "boot");
            json_t *params = json_is_object(boot) ? json_deep_copy(boot) : json_object();
            json_object_set_new(params, "order", json_string(order));
            json_array_append_new(steps, json_pack("[s,[o]]", "VM.set_HVM_boot_params", params));
        }
    }
    if (!ok) {
        json_decref(steps);
        json_decref(plan);
        json_decref(tpl);
        return 0;
    }
    json_object_set_new(plan, "steps", steps);
    json_object_set_new(plan, "start", json_boolean(xoc_api_flag(call, "bootAfterCreate")));
    json_object_set_new(plan, "next", json_integer(0));
    xoc_api_act_t *a = xoc_api_act_on(call, tpl);
    if (!a) {
        json_decref(plan);
        return 0;
    }
    xoc_api_act_keep(a, plan);
    xoc_api_act_step(a, "VM.clone", json_pack("[s,s]", xoc_api_act_ref(a),
                                              xoc_api_param(call, "name_label")));
    xoc_api_act_run(a, s_vmc_cloned);
    return 0;
}
