/*  xoc_xform_keep — the fields of each class that the transforms read. put() stores only
    these (a VM record has about 100 fields, the transforms read 45): the stored pool is about
    half as big. A field read by a transform and missing here is silently lost: the unit test
    compares every object built from filtered records with the same built from whole ones.
    Each list is sorted once (pthread_once) and searched with bsearch.                       */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_xform_int.h"

#define NAMES "name_label", "name_description"
#define COMMON "uuid", "other_config", "current_operations", "tags"

static const char *s_pool[] = {COMMON, NAMES, "master", "default_SR", "suspend_image_SR",
                               "crash_dump_SR", "ha_enabled",
                               "ha_reboot_vm_on_internal_shutdown", "migration_compression",
                               "ha_statefiles", "cpu_info", "restrictions", NULL};
static const char *s_host[] = {
    COMMON, NAMES, "address", "hostname", "enabled", "cpu_info", "bios_strings",
    "license_params", "license_server", "control_domain", "resident_VMs", "PIFs", "PCIs",
    "PGPUs", "PBDs", "patches", "power_on_mode", "multipathing", "logging", "metrics",
    "software_version", "updates_requiring_reboot", "iscsi_iqn", "capabilities",
    "chipset_info", "certificates", NULL};
static const char *s_host_metrics[] = {"uuid", "live", "memory_total", "memory_free", NULL};
static const char *s_vm[] = {
    COMMON, NAMES, "power_state", "affinity", "VBDs", "VIFs", "VTPMs", "VGPUs", "snapshots",
    "parent", "HVM_boot_params", "has_vendor_device", "ha_restart_priority", "start_delay",
    "blocked_operations", "attached_PCIs", "suspend_SR", "bios_strings", "xenstore_data",
    "metrics", "guest_metrics", "platform", "VCPUs_max", "VCPUs_at_startup", "VCPUs_params",
    "memory_dynamic_min", "memory_dynamic_max", "memory_static_min", "memory_static_max",
    "resident_on", "domain_type", "HVM_boot_policy", "PV_args", "is_control_domain",
    "is_a_snapshot", "is_a_template", "is_default_template", "snapshot_time", "snapshot_of",
    "suspend_VDI", NULL};
static const char *s_vm_metrics[] = {"uuid", "VCPUs_number", "memory_actual", "start_time",
                                     "install_time", NULL};
static const char *s_vm_gm[] = {"uuid", "memory", "networks", "os_version",
                                "PV_drivers_version", "PV_drivers_detected",
                                "PV_drivers_up_to_date", NULL};
static const char *s_sr[] = {COMMON, NAMES, "type", "content_type", "shared", "physical_size",
                             "virtual_allocation", "physical_utilisation", "VDIs", "PBDs",
                             "sm_config", NULL};
static const char *s_sm[] = {COMMON, NAMES, "type", "vendor", "version", "required_api_version",
                             "configuration", "capabilities", "features", "driver_filename",
                             NULL};
static const char *s_pbd[] = {"uuid", "host", "SR", "currently_attached", "other_config",
                              "device_config", NULL};
static const char *s_pif[] = {"uuid", "host", "network", "device", "MAC", "IP", "netmask",
                              "gateway", "DNS", "ip_configuration_mode", "IPv6",
                              "ipv6_configuration_mode", "primary_address_type", "VLAN", "MTU",
                              "management", "currently_attached", "physical", "disallow_unplug",
                              "metrics", "bond_master_of", "bond_slave_of", NULL};
static const char *s_pif_metrics[] = {"uuid", "device_name", "carrier", "speed", NULL};
static const char *s_vdi[] = {COMMON, NAMES, "virtual_size", "physical_utilisation", "type",
                              "SR", "VBDs", "snapshots", "cbt_enabled", "missing", "sm_config",
                              "is_a_snapshot", "managed", "snapshot_time", "snapshot_of", NULL};
static const char *s_vbd[] = {"uuid", "VDI", "VM", "userdevice", "bootable",
                              "currently_attached", "device", "type", "mode", NULL};
static const char *s_vif[] = {"uuid", "VM", "network", "MAC", "MTU", "device",
                              "currently_attached", "locking_mode", "ipv4_allowed",
                              "ipv6_allowed", "other_config", "qos_algorithm_type",
                              "qos_algorithm_params", NULL};
static const char *s_network[] = {COMMON, NAMES, "bridge", "MTU", "PIFs", "VIFs",
                                  "default_locking_mode", "purpose", NULL};
static const char *s_message[] = {"uuid", "name", "body", "timestamp", "obj_uuid", NULL};
static const char *s_task[] = {COMMON, NAMES, "status", "progress", "created", "finished",
                               "result", "allowed_operations", "resident_on", NULL};
static const char *s_host_patch[] = {"uuid", "name_label", "name_description", "applied",
                                     "timestamp_applied", "size", "pool_patch", "host", NULL};
static const char *s_pool_patch[] = {"uuid", "name_label", "name_description", "version",
                                     "size", "pool_applied", "after_apply_guidance",
                                     "host_patches", "pool_update", NULL};
static const char *s_pool_update[] = {"uuid", "enforce_homogeneity", NULL};
static const char *s_certificate[] = {"uuid", "fingerprint", "not_after", NULL};

/*  Classes without a list (PCI, PGPU, VGPU, GPU_group, VGPU_type, VTPM, PUSB, VUSB,
    USB_group, Bond: small records, few per pool) are stored whole.                          */
static const char **s_lists[XF_NCLASSES] = {
    [XF_POOL] = s_pool, [XF_HOST] = s_host, [XF_HOST_METRICS] = s_host_metrics,
    [XF_VM] = s_vm, [XF_VM_METRICS] = s_vm_metrics, [XF_VM_GUEST_METRICS] = s_vm_gm,
    [XF_SR] = s_sr, [XF_SM] = s_sm, [XF_PBD] = s_pbd, [XF_PIF] = s_pif,
    [XF_PIF_METRICS] = s_pif_metrics, [XF_VDI] = s_vdi, [XF_VBD] = s_vbd, [XF_VIF] = s_vif,
    [XF_NETWORK] = s_network, [XF_MESSAGE] = s_message, [XF_TASK] = s_task,
    [XF_HOST_PATCH] = s_host_patch, [XF_POOL_PATCH] = s_pool_patch,
    [XF_POOL_UPDATE] = s_pool_update, [XF_CERTIFICATE] = s_certificate,
};
static size_t s_counts[XF_NCLASSES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static int s_cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void s_init(void)
{
    for (int i = 0; i < XF_NCLASSES; i++) {
        size_t n = 0;
        while (s_lists[i] && s_lists[i][n])
            n++;
        if (n)
            qsort(s_lists[i], n, sizeof(*s_lists[i]), s_cmp_name);
        s_counts[i] = n;
    }
}

typedef struct {
    const char *p;
    size_t n;
} s_key_t;

static int s_cmp_key(const void *key, const void *elem)
{
    const s_key_t *k = key;
    const char *e = *(const char *const *)elem;
    size_t el = strlen(e);
    int c = memcmp(k->p, e, k->n < el ? k->n : el);
    return c ? c : (k->n > el) - (k->n < el);
}

static bool s_keep(int cls, const msgpack_object *key)
{
    if (key->type != MSGPACK_OBJECT_STR || key->via.str.size == 0)
        return false;
    s_key_t k = {key->via.str.ptr, key->via.str.size};
    return bsearch(&k, s_lists[cls], s_counts[cls], sizeof(char *), s_cmp_key) != NULL;
}

int xf_keep_fields(int cls, const msgpack_object *rec, msgpack_sbuffer *out)
{
    pthread_once(&s_once, s_init);
    if (cls < 0 || cls >= XF_NCLASSES || !s_counts[cls] || rec->type != MSGPACK_OBJECT_MAP)
        return 1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    uint32_t n = 0;
    for (uint32_t i = 0; i < rec->via.map.size; i++)
        n += s_keep(cls, &rec->via.map.ptr[i].key);
    int rc = msgpack_pack_map(&pk, n);
    for (uint32_t i = 0; i < rec->via.map.size && rc == 0; i++)
        if (s_keep(cls, &rec->via.map.ptr[i].key)) {
            rc |= msgpack_pack_object(&pk, rec->via.map.ptr[i].key);
            rc |= msgpack_pack_object(&pk, rec->via.map.ptr[i].val);
        }
    return rc ? -1 : 0;
}
