/*  xoc_xform_keep — the fields of each class that the transforms read. put() stores only
    these (a VM record has about 100 fields, the transforms read 45): the stored pool is about
    half as big. A field read by a transform and missing here is silently lost: the unit test
    compares every object built from filtered records with the same built from whole ones.
    The filter works on the msgpack bytes (kept pairs copied as they are, nothing unpacked),
    so that put() can compare them with the stored record before anything else. Each list is
    sorted once (pthread_once, by length then bytes) and searched with bsearch.              */
#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
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
typedef struct {
    const char *p;
    size_t n;
} s_key_t;

static s_key_t s_keys[XF_NCLASSES][64]; /* each list sorted by length, then bytes */
static size_t s_counts[XF_NCLASSES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static int s_cmp_key(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return memcmp(x->p, y->p, x->n);
}

static void s_init(void)
{
    for (int i = 0; i < XF_NCLASSES; i++) {
        size_t n = 0;
        for (; s_lists[i] && s_lists[i][n]; n++) {
            assert(n < sizeof(s_keys[i]) / sizeof(s_keys[i][0]));
            s_keys[i][n] = (s_key_t){s_lists[i][n], strlen(s_lists[i][n])};
        }
        if (n)
            qsort(s_keys[i], n, sizeof(s_key_t), s_cmp_key);
        s_counts[i] = n;
    }
}

static bool s_keep(int cls, const char *p, size_t n)
{
    s_key_t k = {p, n};
    return n > 0 && bsearch(&k, s_keys[cls], s_counts[cls], sizeof(s_key_t), s_cmp_key) != NULL;
}

/*  A str key at p: its bytes and the size of the whole key; false when not a str.          */
static bool s_str_key(const uint8_t *p, size_t left, const char **s, size_t *n, size_t *size)
{
    size_t hdr = 0, len = 0;
    if (p[0] >= 0xa0 && p[0] <= 0xbf) {
        hdr = 1;
        len = p[0] & 0x1f;
    } else if (p[0] == 0xd9 && left >= 2) {
        hdr = 2;
        len = p[1];
    } else if (p[0] == 0xda && left >= 3) {
        hdr = 3;
        len = ((size_t)p[1] << 8) | p[2];
    } else if (p[0] == 0xdb && left >= 5) {
        hdr = 5;
        len = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
    } else {
        return false;
    }
    if (hdr + len > left)
        return false;
    *s = (const char *)p + hdr;
    *n = len;
    *size = hdr + len;
    return true;
}

/*  Map header at p: *count entries, *hdr bytes; false when not a map.                       */
static bool s_map_header(const uint8_t *p, size_t len, uint32_t *count, size_t *hdr)
{
    if (len >= 1 && p[0] >= 0x80 && p[0] <= 0x8f) {
        *count = p[0] & 0x0f;
        *hdr = 1;
    } else if (len >= 3 && p[0] == 0xde) {
        *count = ((uint32_t)p[1] << 8) | p[2];
        *hdr = 3;
    } else if (len >= 5 && p[0] == 0xdf) {
        *count = ((uint32_t)p[1] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 8) | p[4];
        *hdr = 5;
    } else {
        return false;
    }
    return true;
}

/*  Writes the map header of n entries in front of the pairs packed after 5 reserved bytes.  */
static void s_fix_header(msgpack_sbuffer *out, size_t base, uint32_t n)
{
    uint8_t h[5];
    size_t hl;
    if (n < 16) {
        h[0] = (uint8_t)(0x80 | n);
        hl = 1;
    } else if (n < 65536) {
        h[0] = 0xde, h[1] = (uint8_t)(n >> 8), h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = 0xdf, h[1] = (uint8_t)(n >> 24), h[2] = (uint8_t)(n >> 16);
        h[3] = (uint8_t)(n >> 8), h[4] = (uint8_t)n;
        hl = 5;
    }
    char *d = out->data + base;
    memmove(d + hl, d + 5, out->size - base - 5);
    memcpy(d, h, hl);
    out->size -= 5 - hl;
}

int xf_keep_fields(int cls, const uint8_t *rec, size_t len, msgpack_sbuffer *out, size_t *used)
{
    pthread_once(&s_once, s_init);
    uint32_t count, kept = 0;
    size_t pos;
    if (cls < 0 || cls >= XF_NCLASSES || !s_counts[cls] || !s_map_header(rec, len, &count, &pos))
        return 1;
    if ((uint64_t)count * 2 > len - pos) /* as xf_mp_check: a value takes a byte at least */
        return XOC_EPROTO;
    size_t base = out->size;
    static const char zero[5];
    if (msgpack_sbuffer_write(out, zero, sizeof(zero)) != 0)
        return XOC_ENOMEM;
    /* keys and values sit one level below the record: one level less for their own */
    const int depth = XF_MAX_DEPTH - 1;
    int rc;
    for (uint32_t i = 0; i < count; i++) {
        const char *k = NULL;
        size_t n = 0, ksize = 0, vsize = 0;
        if (pos >= len)
            return XOC_EPROTO;
        bool str = s_str_key(rec + pos, len - pos, &k, &n, &ksize);
        if (!str && (rc = xf_mp_check_depth(rec + pos, len - pos, &ksize, depth)) != 0)
            return rc;
        if (pos + ksize >= len)
            return XOC_EPROTO;
        if ((rc = xf_mp_check_depth(rec + pos + ksize, len - pos - ksize, &vsize, depth)) != 0)
            return rc;
        if (str && s_keep(cls, k, n)) {
            if (msgpack_sbuffer_write(out, (const char *)rec + pos, ksize + vsize) != 0)
                return XOC_ENOMEM;
            kept++;
        }
        pos += ksize + vsize;
    }
    s_fix_header(out, base, kept);
    *used = pos;
    return 0;
}
