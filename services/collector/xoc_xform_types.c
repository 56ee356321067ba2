/*  xoc_xform_types — storage, network, messages, tasks, patches, devices (reference §3.3).  */
#include <string.h>
#include <strings.h>

#include "xoc_xform_int.h"

#define NAME_FIELDS                                                                              \
    {"name_label", "name_label", XF_STR}, { "name_description", "name_description", XF_STR }

/*  ---- storage -------------------------------------------------------------------------- */

static const xf_field_t s_sr[] = {
    NAME_FIELDS,
    {"SR_type", "type", XF_STR},
    {"content_type", "content_type", XF_STR},
    {"shared", "shared", XF_BOOL},
    {"size", "physical_size", XF_INT},
    {"usage", "virtual_allocation", XF_INT},
    {"physical_usage", "physical_utilisation", XF_INT},
    {"VDIs", "VDIs", XF_LINKS},
    {"$PBDs", "PBDs", XF_LINKS},
    {"current_operations", "current_operations", XF_OPS},
    {"tags", "tags", XF_ARR},
    {"other_config", "other_config", XF_MAP},
    {"sm_config", "sm_config", XF_MAP},
};

static const char *s_thin_types[] = {"ext", "file", "nfs", "smb", "xfs", "zfs", "cephfs",
                                     "glusterfs", "moosefs", "iso", "udev", "largeblock"};
static const char *s_thick_types[] = {"lvm", "lvmoiscsi", "lvmohba", "lvmofcoe", "linstor"};

static const char *s_allocation(xf_ctx_t *c, const msgpack_object *rec)
{
    const char *a = xf_cstr(c, xf_get(xf_get(rec, "sm_config"), "allocation"));
    if (a && *a)
        return a;
    const char *t = xf_cstr(c, xf_get(rec, "type"));
    for (size_t i = 0; t && i < sizeof(s_thin_types) / sizeof(*s_thin_types); i++)
        if (strcmp(t, s_thin_types[i]) == 0)
            return "thin";
    for (size_t i = 0; t && i < sizeof(s_thick_types) / sizeof(*s_thick_types); i++)
        if (strcmp(t, s_thick_types[i]) == 0)
            return "thick";
    return "unknown";
}

bool xf_sr_hostless(const msgpack_object *rec)
{
    bool shared = false;
    const msgpack_object *pbds = xf_get(rec, "PBDs");
    return (xf_to_bool(xf_get(rec, "shared"), &shared) && shared) || !pbds ||
           pbds->type != MSGPACK_OBJECT_ARRAY || pbds->via.array.size == 0;
}

const char *xf_sr_host(xf_ctx_t *c, const msgpack_object *rec)
{
    if (xf_sr_hostless(rec))
        return NULL;
    const msgpack_object *pbds = xf_get(rec, "PBDs");
    const msgpack_object *pbd = xf_fetch(c, &pbds->via.array.ptr[0], XF_PBD);
    return pbd ? xf_link(c, xf_get(pbd, "host")) : NULL;
}

const char *xf_sr(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_sr);
    xf_put_str(c, "allocationStrategy", s_allocation(c, rec));
    const char *host = xf_sr_host(c, rec);
    if (host || xf_pool_id(c))
        xf_put_str(c, "$container", host ? host : xf_pool_id(c));
    xf_put_bool(c, "inMaintenanceMode",
                xf_get(xf_get(rec, "other_config"), "xo:maintenanceState") != NULL);
    return "SR";
}

static const xf_field_t s_sm[] = {
    NAME_FIELDS,
    {"SM_type", "type", XF_STR},
    {"vendor", "vendor", XF_STR},
    {"version", "version", XF_STR},
    {"required_api_version", "required_api_version", XF_STR},
    {"configuration", "configuration", XF_MAP},
    {"capabilities", "capabilities", XF_ARR},
    {"features", "features", XF_MAPI},
    {"driver_filename", "driver_filename", XF_STR},
    {"other_config", "other_config", XF_MAP},
};

const char *xf_sm(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_sm);
    return "SM";
}

static const xf_field_t s_pbd[] = {
    {"host", "host", XF_LINK},
    {"SR", "SR", XF_LINK},
    {"attached", "currently_attached", XF_BOOL},
    {"otherConfig", "other_config", XF_MAP},
};

static bool s_secret_key(const msgpack_object *k)
{
    char buf[128];
    if (!xf_is_str(k) || k->via.str.size >= sizeof(buf))
        return false;
    memcpy(buf, k->via.str.ptr, k->via.str.size);
    buf[k->via.str.size] = '\0';
    return strcasestr(buf, "password") || strcasestr(buf, "secret") ||
           strcasestr(buf, "chappassword");
}

const char *xf_pbd(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pbd);
    const msgpack_object *dc = xf_get(rec, "device_config");
    if (!dc || dc->type != MSGPACK_OBJECT_MAP) {
        xf_field(c, "device_config", dc, XF_MAP);
        return "PBD";
    }
    xf_key(c, "device_config");
    if (msgpack_pack_map(&c->pk, dc->via.map.size) != 0)
        c->oom = true;
    for (uint32_t i = 0; i < dc->via.map.size; i++) {
        const msgpack_object_kv *kv = &dc->via.map.ptr[i];
        if (msgpack_pack_object(&c->pk, kv->key) != 0)
            c->oom = true;
        if (s_secret_key(&kv->key))
            xf_pack_cstr(c, "* obfuscated *");
        else if (msgpack_pack_object(&c->pk, kv->val) != 0)
            c->oom = true;
    }
    return "PBD";
}

static const xf_field_t s_vdi[] = {
    NAME_FIELDS,
    {"size", "virtual_size", XF_INT},
    {"usage", "physical_utilisation", XF_INT},
    {"VDI_type", "type", XF_STR},
    {"$SR", "SR", XF_LINK},
    {"$VBDs", "VBDs", XF_LINKS},
    {"snapshots", "snapshots", XF_LINKS},
    {"cbt_enabled", "cbt_enabled", XF_BOOL},
    {"missing", "missing", XF_BOOL},
    {"current_operations", "current_operations", XF_OPS},
    {"other_config", "other_config", XF_MAP},
    {"tags", "tags", XF_ARR},
};

/*  Own usage plus the usage of every VHD ancestor (sm_config.vhd-parent, a uuid).          */
static int64_t s_chain_usage(xf_ctx_t *c, int64_t usage, const msgpack_object *parent)
{
    for (int depth = 0; depth < 256 && xf_is_str(parent); depth++) {
        const msgpack_object *p = xf_fetch_vdi_uuid(c, parent);
        int64_t u = 0;
        if (!p)
            break;
        if (xf_to_int(xf_get(p, "physical_utilisation"), &u) && u > 0 && usage < INT64_MAX - u)
            usage += u;
        parent = xf_get(xf_get(p, "sm_config"), "vhd-parent");
    }
    return usage;
}

const char *xf_vdi(xf_ctx_t *c, const msgpack_object *rec)
{
    bool snap = false, managed = true;
    int64_t usage;
    XF_FIELDS(c, rec, s_vdi);
    const msgpack_object *smc = xf_get(rec, "sm_config");
    const msgpack_object *parent = xf_get(smc, "vhd-parent");
    if (xf_is_str(parent))
        xf_put_obj(c, "parent", parent);
    const msgpack_object *fmt = xf_get(smc, "image-format");
    if (xf_is_str(fmt))
        xf_put_obj(c, "image_format", fmt);
    xf_to_bool(xf_get(rec, "is_a_snapshot"), &snap);
    xf_to_bool(xf_get(rec, "managed"), &managed);
    if (snap) {
        xf_field(c, "snapshot_time", xf_get(rec, "snapshot_time"), XF_TIME);
        xf_field(c, "$snapshot_of", xf_get(rec, "snapshot_of"), XF_LINK);
        return "VDI-snapshot";
    }
    if (managed && xf_to_int(xf_get(rec, "physical_utilisation"), &usage))
        xf_put_int(c, "chainPhysicalUsage", s_chain_usage(c, usage, parent));
    return managed ? "VDI" : "VDI-unmanaged";
}

static const xf_field_t s_vbd[] = {
    {"VDI", "VDI", XF_LINK},
    {"VM", "VM", XF_LINK},
    {"position", "userdevice", XF_STR},
    {"bootable", "bootable", XF_BOOL},
    {"attached", "currently_attached", XF_BOOL},
};

const char *xf_vbd(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_vbd);
    const msgpack_object *dev = xf_get(rec, "device");
    if (xf_is_str(dev) && dev->via.str.size > 0)
        xf_put_obj(c, "device", dev);
    else
        xf_put_null(c, "device");
    xf_put_bool(c, "is_cd_drive", xf_map_str_eq(rec, "type", "CD"));
    xf_put_bool(c, "read_only", xf_map_str_eq(rec, "mode", "RO"));
    return "VBD";
}

/*  ---- network -------------------------------------------------------------------------- */

static const xf_field_t s_vif[] = {
    {"$VM", "VM", XF_LINK},
    {"$network", "network", XF_LINK},
    {"MAC", "MAC", XF_STR},
    {"MTU", "MTU", XF_INT},
    {"device", "device", XF_STR},
    {"attached", "currently_attached", XF_BOOL},
    {"lockingMode", "locking_mode", XF_STR},
    {"allowedIpv4Addresses", "ipv4_allowed", XF_ARR},
    {"allowedIpv6Addresses", "ipv6_allowed", XF_ARR},
    {"other_config", "other_config", XF_MAP},
};

const char *xf_vif(xf_ctx_t *c, const msgpack_object *rec)
{
    double kbps;
    XF_FIELDS(c, rec, s_vif);
    xf_put_bool(c, "txChecksumming",
                xf_map_str_eq(xf_get(rec, "other_config"), "ethtool-tx", "true"));
    if (xf_map_str_eq(rec, "qos_algorithm_type", "ratelimit") &&
        xf_to_num(xf_get(xf_get(rec, "qos_algorithm_params"), "kbps"), &kbps))
        xf_put_num(c, "rateLimit", kbps);
    return "VIF";
}

static const xf_field_t s_network[] = {
    NAME_FIELDS,
    {"bridge", "bridge", XF_STR},
    {"MTU", "MTU", XF_INT},
    {"PIFs", "PIFs", XF_LINKS},
    {"VIFs", "VIFs", XF_LINKS},
    {"current_operations", "current_operations", XF_OPS},
    {"tags", "tags", XF_ARR},
    {"other_config", "other_config", XF_MAP},
};

/*  Non-empty array.                                                                          */
static bool s_nonempty(const msgpack_object *a)
{
    return a && a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size > 0;
}

const char *xf_network(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_network);
    const msgpack_object *purpose = xf_get(rec, "purpose");
    xf_put_bool(c, "automatic", xf_map_str_eq(xf_get(rec, "other_config"), "automatic", "true"));
    xf_put_bool(c, "defaultIsLocked", xf_map_str_eq(rec, "default_locking_mode", "disabled"));
    xf_put_bool(c, "nbd", xf_array_has(purpose, "nbd"));
    xf_put_bool(c, "insecureNbd", xf_array_has(purpose, "insecure_nbd"));
    bool bonded = false;
    const msgpack_object *pifs = xf_get(rec, "PIFs");
    for (uint32_t i = 0; s_nonempty(pifs) && i < pifs->via.array.size && !bonded; i++)
        bonded = s_nonempty(xf_get(xf_fetch(c, &pifs->via.array.ptr[i], XF_PIF),
                                   "bond_master_of"));
    xf_put_bool(c, "isBonded", bonded);
    return "network";
}

static const xf_field_t s_pif[] = {
    {"$host", "host", XF_LINK},
    {"$network", "network", XF_LINK},
    {"device", "device", XF_STR},
    {"mac", "MAC", XF_STR},
    {"ip", "IP", XF_STR},
    {"netmask", "netmask", XF_STR},
    {"gateway", "gateway", XF_STR},
    {"dns", "DNS", XF_STR},
    {"mode", "ip_configuration_mode", XF_STR},
    {"ipv6", "IPv6", XF_ARR},
    {"ipv6Mode", "ipv6_configuration_mode", XF_STR},
    {"primaryAddressType", "primary_address_type", XF_STR},
    {"vlan", "VLAN", XF_INT},
    {"mtu", "MTU", XF_INT},
    {"management", "management", XF_BOOL},
    {"attached", "currently_attached", XF_BOOL},
    {"physical", "physical", XF_BOOL},
    {"disallowUnplug", "disallow_unplug", XF_BOOL},
};

const char *xf_pif(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pif);
    const msgpack_object *m = xf_fetch(c, xf_get(rec, "metrics"), XF_PIF_METRICS);
    if (m) {
        xf_field(c, "deviceName", xf_get(m, "device_name"), XF_STR);
        xf_field(c, "carrier", xf_get(m, "carrier"), XF_BOOL);
        xf_field(c, "speed", xf_get(m, "speed"), XF_INT);
    }
    const msgpack_object *masters = xf_get(rec, "bond_master_of");
    const msgpack_object *slave_of = xf_get(rec, "bond_slave_of");
    bool is_slave = xf_is_str(slave_of) && !xf_str_eq(slave_of, "OpaqueRef:NULL");
    xf_put_bool(c, "isBondMaster", s_nonempty(masters));
    xf_put_bool(c, "isBondSlave", is_slave);
    if (is_slave)
        xf_field(c, "bondMaster", xf_get(xf_fetch(c, slave_of, XF_BOND), "master"), XF_LINK);
    if (s_nonempty(masters)) {
        const msgpack_object *bond = xf_fetch(c, &masters->via.array.ptr[0], XF_BOND);
        if (bond)
            xf_field(c, "bondSlaves", xf_get(bond, "slaves"), XF_LINKS);
    }
    return "PIF";
}

static const xf_field_t s_bond[] = {
    {"master", "master", XF_LINK},
    {"slaves", "slaves", XF_LINKS},
    {"mode", "mode", XF_STR},
    {"primarySlave", "primary_slave", XF_LINK},
    {"properties", "properties", XF_MAP},
    {"linksUp", "links_up", XF_INT},
};

const char *xf_bond(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_bond);
    return "bond";
}

/*  ---- messages, tasks ------------------------------------------------------------------ */

static const xf_field_t s_message[] = {
    {"name", "name", XF_STR},
    {"body", "body", XF_STR},
    {"time", "timestamp", XF_TIME},
    {"$object", "obj_uuid", XF_STR},
};

const char *xf_message(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_message);
    return "message";
}

static const xf_field_t s_task[] = {
    NAME_FIELDS,
    {"status", "status", XF_STR},
    {"progress", "progress", XF_NUM},
    {"created", "created", XF_TIME},
    {"finished", "finished", XF_TIME},
    {"result", "result", XF_STR},
    {"allowedOperations", "allowed_operations", XF_ARR},
    {"current_operations", "current_operations", XF_OPS},
    {"$host", "resident_on", XF_LINK},
};

const char *xf_task(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_task);
    xf_put_str(c, "xapiRef", xf_self_ref(c));
    const msgpack_object *at = xf_get(xf_get(rec, "other_config"), "applies_to");
    if (xf_is_str(at))
        xf_put_obj(c, "applies_to", at);
    return "task";
}

/*  ---- patches -------------------------------------------------------------------------- */

static const xf_field_t s_host_patch[] = {
    {"name", "name_label", XF_STR},
    {"description", "name_description", XF_STR},
    {"applied", "applied", XF_BOOL},
    {"time", "timestamp_applied", XF_TIME},
    {"size", "size", XF_INT},
    {"pool_patch", "pool_patch", XF_LINK},
    {"$host", "host", XF_LINK},
};

const char *xf_host_patch(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_host_patch);
    const msgpack_object *pp = xf_fetch(c, xf_get(rec, "pool_patch"), XF_POOL_PATCH);
    if (pp) {
        xf_field(c, "guidance", xf_get(pp, "after_apply_guidance"), XF_ARR);
        const msgpack_object *pu = xf_fetch(c, xf_get(pp, "pool_update"), XF_POOL_UPDATE);
        if (pu)
            xf_field(c, "enforceHomogeneity", xf_get(pu, "enforce_homogeneity"), XF_BOOL);
    }
    return "patch";
}

static const xf_field_t s_pool_patch[] = {
    {"name", "name_label", XF_STR},
    {"description", "name_description", XF_STR},
    {"version", "version", XF_STR},
    {"size", "size", XF_INT},
    {"applied", "pool_applied", XF_BOOL},
    {"guidance", "after_apply_guidance", XF_ARR},
    {"$patches", "host_patches", XF_LINKS},
};

const char *xf_pool_patch(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pool_patch);
    return "pool_patch";
}

/*  ---- devices -------------------------------------------------------------------------- */

static const xf_field_t s_pci[] = {
    {"class_name", "class_name", XF_STR},
    {"device_name", "device_name", XF_STR},
    {"vendor_name", "vendor_name", XF_STR},
    {"pci_id", "pci_id", XF_STR},
    {"$host", "host", XF_LINK},
};

const char *xf_pci(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pci);
    return "PCI";
}

static const xf_field_t s_pgpu[] = {
    {"pci", "PCI", XF_LINK},
    {"host", "host", XF_LINK},
    {"$host", "host", XF_LINK},
    {"gpuGroup", "GPU_group", XF_LINK},
    {"enabledVgpuTypes", "enabled_VGPU_types", XF_LINKS},
    {"supportedVgpuTypes", "supported_VGPU_types", XF_LINKS},
    {"vgpus", "resident_VGPUs", XF_LINKS},
    {"dom0Access", "dom0_access", XF_STR},
    {"isSystemDisplayDevice", "is_system_display_device", XF_BOOL},
};

const char *xf_pgpu(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pgpu);
    return "PGPU";
}

static const xf_field_t s_vgpu[] = {
    {"currentlyAttached", "currently_attached", XF_BOOL},
    {"device", "device", XF_STR},
    {"gpuGroup", "GPU_group", XF_LINK},
    {"otherConfig", "other_config", XF_MAP},
    {"resident_on", "resident_on", XF_LINK},
    {"vgpuType", "type", XF_LINK},
    {"vm", "VM", XF_LINK},
};

const char *xf_vgpu(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_vgpu);
    return "vgpu";
}

static const xf_field_t s_gpu_group[] = {
    NAME_FIELDS,
    {"allocation", "allocation_algorithm", XF_STR},
    {"enabledVgpuTypes", "enabled_VGPU_types", XF_LINKS},
    {"supportedVgpuTypes", "supported_VGPU_types", XF_LINKS},
    {"PGPUs", "PGPUs", XF_LINKS},
    {"vgpus", "VGPUs", XF_LINKS},
    {"other_config", "other_config", XF_MAP},
};

const char *xf_gpu_group(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_gpu_group);
    return "gpuGroup";
}

static const xf_field_t s_vgpu_type[] = {
    {"modelName", "model_name", XF_STR},
    {"vendorName", "vendor_name", XF_STR},
    {"framebufferSize", "framebuffer_size", XF_INT},
    {"maxHeads", "max_heads", XF_INT},
    {"maxResolutionX", "max_resolution_x", XF_INT},
    {"maxResolutionY", "max_resolution_y", XF_INT},
    {"gpuGroups", "enabled_on_GPU_groups", XF_LINKS},
    {"vgpus", "VGPUs", XF_LINKS},
};

const char *xf_vgpu_type(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_vgpu_type);
    return "vgpuType";
}

static const xf_field_t s_vtpm[] = {
    {"vm", "VM", XF_LINK},
    {"backend", "backend", XF_LINK},
    {"isUnique", "is_unique", XF_BOOL},
    {"isProtected", "is_protected", XF_BOOL},
};

const char *xf_vtpm(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_vtpm);
    return "VTPM";
}

static const xf_field_t s_pusb[] = {
    {"description", "description", XF_STR},
    {"host", "host", XF_LINK},
    {"passthroughEnabled", "passthrough_enabled", XF_BOOL},
    {"usbGroup", "USB_group", XF_LINK},
    {"vendorId", "vendor_id", XF_STR},
    {"vendorDesc", "vendor_desc", XF_STR},
    {"productId", "product_id", XF_STR},
    {"productDesc", "product_desc", XF_STR},
    {"serial", "serial", XF_STR},
    {"version", "version", XF_STR},
    {"path", "path", XF_STR},
    {"speed", "speed", XF_NUM},
};

const char *xf_pusb(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pusb);
    return "PUSB";
}

static const xf_field_t s_vusb[] = {
    {"vm", "VM", XF_LINK},
    {"usbGroup", "USB_group", XF_LINK},
    {"attached", "currently_attached", XF_BOOL},
    {"otherConfig", "other_config", XF_MAP},
};

const char *xf_vusb(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_vusb);
    return "VUSB";
}

static const xf_field_t s_usb_group[] = {
    NAME_FIELDS,
    {"PUSBs", "PUSBs", XF_LINKS},
    {"VUSBs", "VUSBs", XF_LINKS},
    {"otherConfig", "other_config", XF_MAP},
};

const char *xf_usb_group(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_usb_group);
    return "USB_group";
}
