/*  sim_gen — builds a pool (hosts, networks, SRs, templates, VMs with disks, VIFs and metrics)
    with field values like a real XCP-ng 8.2 pool's, and applies random churn.               */
#include "sim_pool.h"
#include "sim_rec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GIB (1024LL * 1024 * 1024)
#define MIB (1024LL * 1024)

uint64_t sim_gen_rand(sim_pool_t *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

void sim_gen_now(char out[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y%m%dT%H:%M:%SZ", &tm);
}

void sim_gen_console_location(sim_pool_t *p, const char *host_ref, const char *uuid, char *out,
                              size_t n)
{
    const sim_host_t *h = &p->hosts[p->master];
    for (int i = 0; i < p->nhosts; i++)
        if (!strcmp(p->hosts[i].ref, host_ref))
            h = &p->hosts[i];
    snprintf(out, n, "%s://%s:%d/console?uuid=%s",
             p->cfg->tls_cert || p->cfg->tls ? "https" : "http", h->ip, h->port, uuid);
}

void sim_gen_fix_consoles(sim_pool_t *p)
{
    int id = sim_schema_find("console")->id;
    int vm_id = sim_schema_find("VM")->id;
    for (size_t i = 0; i < sim_store_count(p->store, id); i++) {
        sim_obj_t *o = sim_store_at(p->store, id, i);
        json_t *r = sim_store_json(o);
        sim_obj_t *vm = sim_store_get(p->store, json_string_value(json_object_get(r, "VM")));
        json_t *vr = vm && vm->cls == vm_id ? sim_store_json(vm) : NULL;
        char loc[200];
        sim_gen_console_location(p, vr ? json_string_value(json_object_get(vr, "resident_on")) : "",
                                 o->uuid, loc, sizeof loc);
        json_object_set_new(r, "location", json_string(loc));
        sim_store_update(p->store, o, r);
        json_decref(vr);
        json_decref(r);
    }
}

static int s_cls(const char *name)
{
    return sim_schema_find(name)->id;
}

static void s_ref(char out[64])
{
    char u[40];
    sim_uuid(u);
    snprintf(out, 64, "OpaqueRef:%s", u);
}

static sim_obj_t *s_add(sim_pool_t *p, const char *cls, json_t *rec, const char *ref)
{
    sim_obj_t *o = sim_store_add(p->store, s_cls(cls), rec, ref);
    json_decref(rec);
    return o;
}

/*  Builds a JSON value from a jansson pack format, aborting on a format error (programmer).  */
#define S_PACK(...) json_pack(__VA_ARGS__)

static const char *s_ops_halted[] = {"changing_dynamic_range",
                                     "changing_static_range",
                                     "changing_shadow_memory",
                                     "changing_VCPUs",
                                     "changing_memory_limits",
                                     "make_into_template",
                                     "provision",
                                     "start",
                                     "start_on",
                                     "clone",
                                     "copy",
                                     "snapshot",
                                     "destroy",
                                     "export",
                                     "metadata_export",
                                     "migrate_send",
                                     "create_vtpm",
                                     NULL};
static const char *s_ops_running[] = {"changing_dynamic_range",
                                      "changing_VCPUs_live",
                                      "hard_shutdown",
                                      "clean_shutdown",
                                      "hard_reboot",
                                      "clean_reboot",
                                      "suspend",
                                      "pause",
                                      "snapshot",
                                      "checkpoint",
                                      "pool_migrate",
                                      "migrate_send",
                                      "changing_shadow_memory_live",
                                      NULL};
static const char *s_ops_paused[] = {"unpause",  "hard_shutdown", "hard_reboot",
                                     "snapshot", "checkpoint",    NULL};
static const char *s_ops_suspended[] = {"resume", "resume_on", "hard_shutdown", "snapshot", "clone",
                                        "copy",   "export",    "destroy",       NULL};
static const char *s_ops_none[] = {NULL};
static const char *s_ops_template[] = {"changing_NVRAM",
                                       "changing_dynamic_range",
                                       "changing_shadow_memory",
                                       "changing_static_range",
                                       "make_into_template",
                                       "migrate_send",
                                       "destroy",
                                       "export",
                                       "clone",
                                       "copy",
                                       "provision",
                                       NULL};

void sim_gen_vm_ops(json_t *vm)
{
    const char *ps = json_string_value(json_object_get(vm, "power_state"));
    const char **ops = s_ops_halted;
    if (json_is_true(json_object_get(vm, "is_control_domain")))
        ops = s_ops_none;
    else if (json_is_true(json_object_get(vm, "is_a_template")))
        ops = s_ops_template;
    else if (ps && !strcmp(ps, "Running"))
        ops = s_ops_running;
    else if (ps && !strcmp(ps, "Paused"))
        ops = s_ops_paused;
    else if (ps && !strcmp(ps, "Suspended"))
        ops = s_ops_suspended;
    json_t *a = json_array();
    for (int i = 0; ops[i]; i++)
        json_array_append_new(a, json_string(ops[i]));
    json_object_set_new(vm, "allowed_operations", a);
}

static json_t *s_software_version(void)
{
    return S_PACK("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                  "product_version", "8.2.1", "product_version_text", "8.2",
                  "product_version_text_short", "8.2", "platform_name", "XCP", "platform_version",
                  "3.2.1", "product_brand", "XCP-ng", "build_number", "release/yangtze/master/58",
                  "hostname", "localhost", "date", "2023-11-27", "dbv", "0.0.1", "xapi", "1.20",
                  "xen", "4.13.5-9.38", "linux", "4.19.0+1", "xencenter_min", "2.16",
                  "xencenter_max", "2.16", "network_backend", "openvswitch");
}

static json_t *s_cpu_info(void)
{
    return S_PACK("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "cpu_count", "16",
                  "socket_count", "2", "vendor", "GenuineIntel", "speed", "2394.454", "modelname",
                  "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", "family", "6", "model", "63",
                  "stepping", "2", "flags",
                  "fpu de tsc msr pae mce cx8 apic sep mca cmov pat clflush acpi mmx fxsr sse "
                  "sse2 ht syscall nx lm constant_tsc rep_good nopl nonstop_tsc cpuid pni "
                  "pclmulqdq monitor est ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave "
                  "avx f16c rdrand hypervisor lahf_lm abm cpuid_fault fsgsbase bmi1 avx2 bmi2 "
                  "erms xsaveopt",
                  "features", "77fefbff-bfebfbff-00000021-2c100800", "features_pv",
                  "17c9cbf5-f6f83203-2191cbf5-00000023-00000001-00000329-00000000-00000000-"
                  "00001000-8c000000",
                  "features_hvm",
                  "17cbfbff-f7fa3223-2d93fbff-00000023-00000001-000007ab-00000000-00000000-"
                  "00001000-9c000000");
}

static void s_gen_pool_object(sim_pool_t *p, const char *master, const char *sr)
{
    json_t *r =
        S_PACK("{s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s,s:s,s:s}, s:o, s:{s:s,s:s}, "
               "s:[s,s], s:b}",
               "name_label", p->name, "name_description", "Simulated pool", "master", master,
               "default_SR", sr, "suspend_image_SR", sr, "crash_dump_SR", sr, "other_config",
               "cpuid_feature_mask", "ffffff7f-ffffffff-ffffffff-ffffffff", "memory-ratio-hvm",
               "0.25", "memory-ratio-pv", "0.25", "cpu_info", s_cpu_info(), "restrictions",
               "restrict_vswitch_controller", "false", "restrict_lab", "false",
               "allowed_operations", "ha_enable", "cluster_create", "tls_verification_enabled", 1);
    s_add(p, "pool", r, p->ref);
}

typedef struct {
    char net[64]; /* pool-wide network on eth0 */
    char shared_sr[64];
    json_t *net_vifs; /* owner sets filled while generating, written once at the end */
    json_t *sr_vdis;
    json_t *host_vms;   /* per host: array of resident VMs */
    json_t *local_srs;  /* per host: ref */
    json_t *local_vdis; /* per host: array */
    int64_t sr_alloc;
    /* the visible churn's classes and fields, found once: VM (power_state, is_control_domain,
       metrics in schema order; name_description, tags), VM_metrics (memory_actual) */
    bool churn_ready;
    int vm_cls, vm_read[3], vm_power, vm_desc, vm_tags, vmm_cls, vmm_mem;
} s_ctx_t;

static s_ctx_t *s_ctx(sim_pool_t *p)
{
    if (!p->gen_ctx)
        p->gen_ctx = calloc(1, sizeof(s_ctx_t));
    return p->gen_ctx;
}

void sim_gen_free(sim_pool_t *p)
{
    s_ctx_t *x = p->gen_ctx;
    if (!x)
        return;
    json_decref(x->net_vifs);
    json_decref(x->sr_vdis);
    json_decref(x->host_vms);
    json_decref(x->local_srs);
    json_decref(x->local_vdis);
    free(x);
    p->gen_ctx = NULL;
}

static void s_gen_host(sim_pool_t *p, int i, const s_ctx_t *x)
{
    sim_host_t *h = &p->hosts[i];
    char metrics[64], dom0[64], dom0m[64], pif[64], pifm[64], lsr[64], lpbd[64], spbd[64];
    char name[96], hostname[96], now[32], iqn[96];
    s_ref(metrics), s_ref(dom0), s_ref(dom0m), s_ref(pif), s_ref(pifm);
    s_ref(lsr), s_ref(lpbd), s_ref(spbd);
    sim_gen_now(now);
    snprintf(name, sizeof name, "%s-host%02d", p->name, i + 1);
    snprintf(hostname, sizeof hostname, "%s", name);
    snprintf(iqn, sizeof iqn, "iqn.2024-01.com.example:%08x", (unsigned)sim_gen_rand(p));
    s_add(p, "host_metrics",
          S_PACK("{s:I, s:I, s:b, s:s}", "memory_total", 256 * GIB, "memory_free", 200 * GIB,
                 "live", 1, "last_updated", now),
          metrics);
    s_add(p, "VM_metrics",
          S_PACK("{s:I, s:i, s:[s], s:s, s:s, s:b}", "memory_actual", 4 * GIB, "VCPUs_number", 8,
                 "state", "running", "start_time", now, "last_updated", now, "hvm", 0),
          dom0m);
    json_t *vm = S_PACK(
        "{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, "
        "s:i, s:s, s:s, s:s}",
        "name_label", "Control domain on host: ", "name_description",
        "The domain which manages physical devices and manages other domains", "power_state",
        "Running", "is_control_domain", 1, "resident_on", h->ref, "memory_target", 4 * GIB,
        "memory_static_max", 4 * GIB, "memory_dynamic_max", 4 * GIB, "memory_dynamic_min", 4 * GIB,
        "memory_static_min", 4 * GIB, "memory_overhead", 0LL, "VCPUs_max", 8, "VCPUs_at_startup", 8,
        "domid", 0, "metrics", dom0m, "domain_type", "pv", "domarch", "x64");
    char dname[160];
    snprintf(dname, sizeof dname, "Control domain on host: %s", name);
    json_object_set_new(vm, "name_label", json_string(dname));
    sim_gen_vm_ops(vm);
    s_add(p, "VM", vm, dom0);
    s_add(p, "PIF_metrics",
          S_PACK("{s:s, s:s, s:s, s:s, s:s}", "vendor_name", "Intel Corporation", "device_name",
                 "I350 Gigabit Network", "vendor_id", "8086", "device_id", "1521", "last_updated",
                 now),
          pifm);
    char mac[24];
    snprintf(mac, sizeof mac, "0c:c4:7a:%02x:%02x:%02x", p->index & 0xff, i & 0xff,
             (unsigned)sim_gen_rand(p) & 0xff);
    s_add(p, "PIF",
          S_PACK("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:{s:s}, s:[s]}", "device", "eth0",
                 "network", x->net, "host", h->ref, "MAC", mac, "metrics", pifm,
                 "ip_configuration_mode", "Static", "IP", h->ip, "netmask", "255.0.0.0",
                 "management", 1, "properties", "gro", "on", "capabilities", "fcoe"),
          pif);
    s_add(p, "SR",
          S_PACK("{s:s, s:s, s:s, s:s, s:b, s:I, s:[s], s:{s:s}}", "name_label", "Local storage",
                 "name_description", "", "type", "ext", "content_type", "user", "shared", 0,
                 "physical_size", 1024 * GIB, "PBDs", lpbd, "other_config", "i18n-key",
                 "local-storage"),
          lsr);
    s_add(p, "PBD",
          S_PACK("{s:s, s:s, s:{s:s}, s:b}", "host", h->ref, "SR", lsr, "device_config", "device",
                 "/dev/sda3", "currently_attached", 1),
          lpbd);
    s_add(p, "PBD",
          S_PACK("{s:s, s:s, s:{s:s,s:s,s:s}, s:b}", "host", h->ref, "SR", x->shared_sr,
                 "device_config", "server", "10.0.0.5", "serverpath", "/export/sr", "options", "",
                 "currently_attached", 1),
          spbd);
    json_t *hr =
        S_PACK("{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:[s], s:[s], s:s, s:I, s:s, "
               "s:[s,s,s,s,s], s:[s,s], s:{s:s,s:s}, s:{s:s,s:s}, s:s, s:[i,i,i], "
               "s:{s:s}, s:s, s:b}",
               "name_label", name, "name_description", "Default install", "hostname", hostname,
               "address", h->ip, "software_version", s_software_version(), "cpu_info", s_cpu_info(),
               "metrics", metrics, "PIFs", pif, "PBDs", lpbd, "control_domain", dom0,
               "memory_overhead", 1400 * MIB, "iscsi_iqn", iqn, "allowed_operations", "vm_migrate",
               "provision", "vm_resume", "evacuate", "vm_start", "supported_bootloaders", "pygrub",
               "eliloader", "license_params", "sku_type", "free", "expiry", "20380119T03:14:07Z",
               "bios_strings", "bios-vendor", "Dell Inc.", "system-product-name", "PowerEdge R630",
               "last_software_update", now, "virtual_hardware_platform_versions", 0, 1, 2,
               "chipset_info", "iommu", "true", "edition", "xcp-ng", "tls_verification_enabled", 1);
    json_array_append_new(json_object_get(hr, "PBDs"), json_string(spbd));
    json_object_set_new(hr, "other_config",
                        S_PACK("{s:s, s:s, s:s}", "agent_start_time", "1700000000.", "boot_time",
                               "1699990000.", "iscsi_iqn", iqn));
    json_object_set_new(hr, "resident_VMs", json_pack("[s]", dom0));
    json_t *cpus = json_array();
    for (int c = 0; c < 16; c++) {
        char cpu[64];
        s_ref(cpu);
        s_add(p, "host_cpu",
              S_PACK("{s:s, s:i, s:s, s:I, s:s, s:i, s:i, s:s, s:s, s:s, s:f}", "host", h->ref,
                     "number", c, "vendor", "GenuineIntel", "speed", (json_int_t)2394, "modelname",
                     "Intel(R) Xeon(R) CPU E5-2630 v3 @ 2.40GHz", "family", 6, "model", 63,
                     "stepping", "2", "flags", "fpu de tsc msr pae", "features",
                     "77fefbff-bfebfbff-00000021-2c100800", "utilisation", 0.05),
              cpu);
        json_array_append_new(cpus, json_string(cpu));
    }
    json_object_set_new(hr, "host_CPUs", cpus);
    s_add(p, "host", hr, h->ref);
    json_array_append_new(x->local_srs, json_string(lsr));
    json_array_append_new(x->host_vms, json_pack("[s]", dom0));
    json_array_append_new(x->local_vdis, json_array());
}

static void s_gen_shared(sim_pool_t *p, s_ctx_t *x)
{
    char hostnet[64], iso[64], tools[64];
    s_ref(x->net), s_ref(x->shared_sr), s_ref(hostnet), s_ref(iso), s_ref(tools);
    s_add(p, "network",
          S_PACK("{s:s, s:s, s:s, s:{}}", "name_label", "Pool-wide network associated with eth0",
                 "name_description", "", "bridge", "xenbr0", "other_config"),
          x->net);
    s_add(p, "network",
          S_PACK("{s:s, s:s, s:s, s:{s:s,s:s,s:s,s:s}}", "name_label",
                 "Host internal management network", "name_description",
                 "Network on which guests will be assigned a private link-local "
                 "IP address which can be used to talk XenAPI",
                 "bridge", "xenapi", "other_config", "is_guest_installer_network", "true",
                 "is_host_internal_management_network", "true", "ip_begin", "169.254.0.1", "ip_end",
                 "169.254.255.254"),
          hostnet);
    s_add(p, "SR",
          S_PACK("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:[s]}", "name_label", "XCP-ng Tools", "type",
                 "iso", "content_type", "iso", "name_description", "XCP-ng Tools ISOs", "shared", 1,
                 "is_tools_sr", 1, "physical_size", 0LL, "VDIs", tools),
          iso);
    s_add(p, "VDI",
          S_PACK("{s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:s}", "name_label", "guest-tools.iso",
                 "name_description", "XCP-ng VM Tools ISO", "SR", iso, "type", "user",
                 "virtual_size", 60 * MIB, "is_tools_iso", 1, "read_only", 1, "location",
                 "guest-tools.iso"),
          tools);
    static const char *sms[][2] = {{"nfs", "NFS VHD"},        {"ext", "Local EXT3 VHD"},
                                   {"lvm", "Local LVM"},      {"iso", "ISO"},
                                   {"udev", "Local Devices"}, {"lvmoiscsi", "LVHD over iSCSI"}};
    for (size_t i = 0; i < sizeof sms / sizeof sms[0]; i++)
        s_add(p, "SM",
              S_PACK("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s,s,s,s], s:s}", "name_label", sms[i][1],
                     "type", sms[i][0], "vendor", "Citrix Systems Inc", "copyright",
                     "(C) 2008 Citrix Systems Inc", "version", "1.0", "required_api_version", "1.0",
                     "capabilities", "SR_PROBE", "SR_UPDATE", "VDI_CREATE", "VDI_DELETE",
                     "driver_filename", "/opt/xensource/sm/SR"),
              NULL);
}

static const char *s_templates[] = {
    "Debian Bookworm 12",  "Debian Bullseye 11", "Ubuntu Jammy Jellyfish 22.04",
    "CentOS Stream 9",     "Rocky Linux 9",      "Windows Server 2022 (64-bit)",
    "Windows 10 (64-bit)", "Other install media"};

static json_t *s_vm_base(const char *name, const char *tmpl)
{
    char seed[40];
    sim_uuid(seed);
    json_t *vm = S_PACK(
        "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:s, s:{s:s,s:s}, "
        "s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}, "
        "s:{s:s,s:s,s:s,s:s,s:s}, s:s, s:s, s:i, s:b, s:s, s:{s:s,s:s}}",
        "name_label", name, "name_description", "", "memory_overhead", 18 * MIB, "memory_target",
        0LL, "memory_static_max", 2 * GIB, "memory_dynamic_max", 2 * GIB, "memory_dynamic_min",
        2 * GIB, "memory_static_min", 512 * MIB, "VCPUs_max", 2, "VCPUs_at_startup", 2,
        "HVM_boot_policy", "BIOS order", "HVM_boot_params", "order", "cd", "firmware", "bios",
        "platform", "timeoffset", "0", "device-model", "qemu-upstream-compat", "videoram", "8",
        "hpet", "true", "secureboot", "false", "vga", "std", "nx", "true", "viridian", "false",
        "acpi", "1", "apic", "true", "pae", "true", "cores-per-socket", "2", "other_config",
        "base_template_name", tmpl, "import_task", SIM_NULL_REF, "mac_seed", seed,
        "install-methods", "cdrom,nfs,http,ftp", "linux_template", "true", "recommendations",
        "<restrictions><restriction field=\"memory-static-max\" max=\"1649267441664\"/>"
        "<restriction field=\"vcpus-max\" max=\"32\"/><restriction field=\"has-vendor-device\" "
        "value=\"false\"/><restriction field=\"allow-gpu-passthrough\" value=\"1\"/>"
        "<restriction field=\"allow-vgpu\" value=\"1\"/><restriction field=\"allow-network-"
        "hotplug\" value=\"1\"/><restriction field=\"allow-vbd-hotplug\" value=\"1\"/>"
        "<restriction max=\"255\" property=\"number-of-vbds\"/><restriction max=\"7\" "
        "property=\"number-of-vifs\"/></restrictions>",
        "generation_id", "0:0", "hardware_platform_version", 2, "has_vendor_device", 0,
        "domain_type", "hvm", "xenstore_data", "vm-data", "", "vm-data/mmio-hole-size",
        "268435456");
    json_object_set_new(vm, "bios_strings",
                        S_PACK("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "bios-vendor", "Xen",
                               "bios-version", "", "system-manufacturer", "Xen",
                               "system-product-name", "HVM domU", "system-version", "",
                               "system-serial-number", "", "oem-1", "Xen", "oem-2",
                               "MS_VM_CERT/SHA1/bdbeb6e0a816d43fa6d3fe8aaef04c2bad9d3e3d"));
    return vm;
}

static void s_gen_templates(sim_pool_t *p)
{
    for (size_t i = 0; i < sizeof s_templates / sizeof s_templates[0]; i++) {
        char m[64];
        s_ref(m);
        s_add(p, "VM_metrics", S_PACK("{s:b}", "hvm", 1), m);
        json_t *vm = s_vm_base(s_templates[i], s_templates[i]);
        json_object_set_new(vm, "is_a_template", json_true());
        json_object_set_new(vm, "is_default_template", json_true());
        json_object_set_new(vm, "metrics", json_string(m));
        json_object_set_new(json_object_get(vm, "other_config"), "default_template",
                            json_string("true"));
        sim_gen_vm_ops(vm);
        s_add(p, "VM", vm, NULL);
    }
}

static void s_gen_vm_guest(sim_pool_t *p, const char *gm, int n)
{
    char ip[32], now[32];
    sim_gen_now(now);
    snprintf(ip, sizeof ip, "10.%d.%d.%d", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    s_add(p, "VM_guest_metrics",
          S_PACK("{s:{s:s,s:s,s:s,s:s,s:s}, s:{s:s,s:s,s:s,s:s}, s:b, s:{s:s,s:s,s:s}, "
                 "s:{s:s,s:s,s:s}, s:s, s:b, s:s, s:s, s:b}",
                 "os_version", "name", "Debian GNU/Linux 12 (bookworm)", "uname", "6.1.0-18-amd64",
                 "distro", "debian", "major", "12", "minor", "5", "PV_drivers_version", "major",
                 "8", "minor", "2", "micro", "0", "build", "1", "PV_drivers_up_to_date", 1,
                 "networks", "0/ip", ip, "0/ipv4/0", ip, "0/ipv6/0", "fe80::a8bb:ccff:fe00:1",
                 "other", "feature-balloon", "1", "has-vendor-device", "0",
                 "platform-feature-multiprocessor-suspend", "1", "last_updated", now, "live", 1,
                 "can_use_hotplug_vbd", "yes", "can_use_hotplug_vif", "yes", "PV_drivers_detected",
                 1),
          gm);
}

sim_obj_t *sim_gen_vm(sim_pool_t *p, const char *name, bool running)
{
    s_ctx_t *x = s_ctx(p);
    int n = (int)sim_store_count(p->store, s_cls("VM"));
    int hi = (int)(sim_gen_rand(p) % (uint64_t)p->nhosts);
    char vmr[64], m[64], gm[64], vbd[64], vdi[64], vif[64], now[32], mac[24], dname[96];
    s_ref(vmr), s_ref(m), s_ref(gm), s_ref(vbd), s_ref(vdi), s_ref(vif);
    sim_gen_now(now);
    bool local = sim_gen_rand(p) % 10 == 0;
    const char *sr =
        local ? json_string_value(json_array_get(x->local_srs, (size_t)hi)) : x->shared_sr;
    int64_t size = p->cfg->disk_size;
    uint64_t r = sim_gen_rand(p);
    snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned)(r & 0xfc) | 0x02,
             (unsigned)(r >> 8) & 0xff, (unsigned)(r >> 16) & 0xff, (unsigned)(r >> 24) & 0xff,
             (unsigned)(r >> 32) & 0xff, (unsigned)(r >> 40) & 0xff);
    snprintf(dname, sizeof dname, "%s 0", name);
    s_add(p, "VM_metrics",
          S_PACK("{s:I, s:i, s:{s:f,s:f}, s:o, s:s, s:s, s:s, s:b, s:s}", "memory_actual",
                 running ? 2 * GIB : 0LL, "VCPUs_number", running ? 2 : 0, "VCPUs_utilisation", "0",
                 running ? 0.0123 : 0.0, "1", running ? 0.0234 : 0.0, "state",
                 running ? json_pack("[s]", "running") : json_array(), "start_time",
                 running ? now : SIM_NULL_DATE, "install_time", now, "last_updated", now, "hvm", 1,
                 "current_domain_type", running ? "hvm" : "unspecified"),
          m);
    s_gen_vm_guest(p, gm, n);
    s_add(p, "VDI",
          S_PACK("{s:s, s:s, s:s, s:[s], s:I, s:I, s:s, s:{s:s}, s:[s,s,s,s,s,s,s,s]}",
                 "name_label", dname, "name_description", "Created by template provisioner", "SR",
                 sr, "VBDs", vbd, "virtual_size", size, "physical_utilisation", size / 3,
                 "location", vdi + 10, "sm_config", "vdi_type", "vhd", "allowed_operations",
                 "clone", "copy", "resize", "snapshot", "destroy", "forget", "update",
                 "generate_config"),
          vdi);
    s_add(p, "VBD",
          S_PACK("{s:s, s:s, s:s, s:s, s:b, s:b, s:[s], s:[s], s:{s:s}}", "VM", vmr, "VDI", vdi,
                 "device", "xvda", "userdevice", "0", "bootable", 1, "currently_attached", running,
                 "allowed_operations", running ? "unplug" : "attach", "qos_supported_algorithms",
                 "ionice", "other_config", "owner", ""),
          vbd);
    s_add(p, "VIF",
          S_PACK("{s:s, s:s, s:s, s:s, s:b, s:b, s:[s], s:[s]}", "device", "0", "network", x->net,
                 "VM", vmr, "MAC", mac, "MAC_autogenerated", 1, "currently_attached", running,
                 "allowed_operations", running ? "unplug" : "attach", "qos_supported_algorithms",
                 "ratelimit"),
          vif);
    json_t *vm = s_vm_base(name, s_templates[n % 8]);
    if (running) {
        char con[64];
        s_ref(con);
        sim_obj_t *co =
            s_add(p, "console", S_PACK("{s:s, s:s}", "protocol", "rfb", "VM", vmr), con);
        char loc[200];
        sim_gen_console_location(p, p->hosts[hi].ref, co->uuid, loc, sizeof loc);
        json_t *cr = sim_store_json(co);
        json_object_set_new(cr, "location", json_string(loc));
        sim_store_update(p->store, co, cr);
        json_decref(cr);
        json_object_set_new(vm, "consoles", json_pack("[s]", con));
    }
    json_t *over = S_PACK("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:I, s:i, s:s, s:s}", "power_state",
                          running ? "Running" : "Halted", "resident_on",
                          running ? p->hosts[hi].ref : SIM_NULL_REF, "metrics", m, "guest_metrics",
                          gm, "VBDs", vbd, "VIFs", vif, "memory_target", running ? 2 * GIB : 0LL,
                          "domid", running ? 1 + n % 4000 : -1, "domarch", running ? "x64" : "",
                          "snapshot_time", SIM_NULL_DATE);
    json_object_update(vm, over);
    json_decref(over);
    sim_gen_vm_ops(vm);
    sim_obj_t *o = sim_store_add(p->store, s_cls("VM"), vm, vmr);
    json_decref(vm);
    if (x->net_vifs == NULL) {
        /* after generation: link at once */
        json_t *net = sim_store_json(sim_store_get(p->store, x->net));
        json_array_append_new(json_object_get(net, "VIFs"), json_string(vif));
        sim_store_update(p->store, sim_store_get(p->store, x->net), net);
        json_decref(net);
        sim_obj_t *so = sim_store_get(p->store, sr);
        json_t *srr = sim_store_json(so);
        json_array_append_new(json_object_get(srr, "VDIs"), json_string(vdi));
        sim_store_update(p->store, so, srr);
        json_decref(srr);
        if (running) {
            sim_obj_t *ho = sim_store_get(p->store, p->hosts[hi].ref);
            json_t *hr = sim_store_json(ho);
            json_array_append_new(json_object_get(hr, "resident_VMs"), json_string(vmr));
            sim_store_update(p->store, ho, hr);
            json_decref(hr);
        }
    } else {
        json_array_append_new(x->net_vifs, json_string(vif));
        json_array_append_new(local ? json_array_get(x->local_vdis, (size_t)hi) : x->sr_vdis,
                              json_string(vdi));
        if (running)
            json_array_append_new(json_array_get(x->host_vms, (size_t)hi), json_string(vmr));
        x->sr_alloc += size;
    }
    return o;
}

static void s_set_field(sim_pool_t *p, const char *ref, const char *field, json_t *v)
{
    sim_obj_t *o = sim_store_get(p->store, ref);
    json_t *r = sim_store_json(o);
    json_object_set_new(r, field, v);
    sim_store_update(p->store, o, r);
    json_decref(r);
}

static void s_gen_finish(sim_pool_t *p, s_ctx_t *x)
{
    s_set_field(p, x->net, "VIFs", x->net_vifs);
    json_t *pifs = json_array();
    for (int i = 0; i < p->nhosts; i++) {
        sim_obj_t *h = sim_store_get(p->store, p->hosts[i].ref);
        json_t *hr = sim_store_json(h);
        json_array_extend(pifs, json_object_get(hr, "PIFs"));
        json_object_set(hr, "resident_VMs", json_array_get(x->host_vms, (size_t)i));
        sim_store_update(p->store, h, hr);
        json_decref(hr);
        s_set_field(p, json_string_value(json_array_get(x->local_srs, (size_t)i)), "VDIs",
                    json_incref(json_array_get(x->local_vdis, (size_t)i)));
    }
    s_set_field(p, x->net, "PIFs", pifs);
    json_t *pbds = json_array();
    const sim_class_t *pbd = sim_schema_find("PBD");
    for (size_t i = 0; i < sim_store_count(p->store, pbd->id); i++) {
        sim_obj_t *o = sim_store_at(p->store, pbd->id, i);
        json_t *r = sim_store_json(o);
        if (!strcmp(json_string_value(json_object_get(r, "SR")), x->shared_sr))
            json_array_append_new(pbds, json_string(o->ref));
        json_decref(r);
    }
    s_set_field(p, x->shared_sr, "PBDs", pbds);
    s_set_field(p, x->shared_sr, "VDIs", x->sr_vdis);
    s_set_field(p, x->shared_sr, "virtual_allocation", json_integer(x->sr_alloc));
    s_set_field(p, x->shared_sr, "physical_utilisation", json_integer(x->sr_alloc / 3));
    json_decref(x->host_vms);
    json_decref(x->local_vdis);
    x->net_vifs = x->sr_vdis = x->host_vms = x->local_vdis = NULL; /* local_srs stays */
}

static void s_gen_updates(sim_pool_t *p)
{
    json_t *hosts = json_array();
    for (int i = 0; i < p->nhosts; i++)
        json_array_append_new(hosts, json_string(p->hosts[i].ref));
    s_add(p, "pool_update",
          S_PACK("{s:s, s:s, s:s, s:I, s:s, s:[s], s:o}", "name_label", "XS82ECU1001",
                 "name_description", "Cumulative update 1", "version", "1.0", "installation_size",
                 200 * MIB, "key", "XS82ECU1001", "after_apply_guidance", "restartHost", "hosts",
                 hosts),
          NULL);
}

void sim_gen_pool(sim_pool_t *p)
{
    s_ctx_t *x = s_ctx(p);
    memset(x, 0, sizeof *x);
    x->net_vifs = json_array();
    x->sr_vdis = json_array();
    x->host_vms = json_array();
    x->local_srs = json_array();
    x->local_vdis = json_array();
    s_gen_shared(p, x);
    s_add(p, "SR",
          S_PACK("{s:s, s:s, s:s, s:s, s:b, s:I, s:{s:s}, "
                 "s:[s,s,s,s,s,s,s,s,s,s,s,s]}",
                 "name_label", "NFS storage", "name_description",
                 "NFS SR [10.0.0.5:"
                 "/export/sr]",
                 "type", "nfs", "content_type", "user", "shared", 1, "physical_size", 4096 * GIB,
                 "other_config", "auto-scan", "true", "allowed_operations", "unplug", "plug",
                 "pbd_create", "update", "pbd_destroy", "vdi_resize", "vdi_clone", "scan",
                 "vdi_snapshot", "vdi_create", "vdi_destroy", "forget"),
          x->shared_sr);
    for (int i = 0; i < p->nhosts; i++)
        s_gen_host(p, i, x);
    s_gen_pool_object(p, p->hosts[p->master].ref, x->shared_sr);
    s_gen_templates(p);
    for (int i = 0; i < p->cfg->vms; i++) {
        char name[64];
        snprintf(name, sizeof name, "vm-%05d", i + 1);
        sim_gen_vm(p, name, sim_gen_rand(p) % 10 < 6);
    }
    s_gen_updates(p);
    s_gen_finish(p, x);
}

/* ------------------------------------------------------------------------------------------ */
/*  Churn                                                                                     */

static sim_obj_t *s_pick(sim_pool_t *p, const char *cls)
{
    int id = s_cls(cls);
    size_t n = sim_store_count(p->store, id);
    return n ? sim_store_at(p->store, id, sim_gen_rand(p) % n) : NULL;
}

static void s_churn_metrics(sim_pool_t *p, const char *cls)
{
    sim_obj_t *o = s_pick(p, cls);
    if (!o)
        return;
    json_t *r = sim_store_json(o);
    char now[32], seq[24];
    sim_gen_now(now);
    snprintf(seq, sizeof seq, "%" PRIu64, ++p->churn_seq);
    json_object_set_new(r, "last_updated", json_string(now));
    json_t *oc = json_object_get(r, "other_config");
    json_object_set_new(oc, "sim-seq", json_string(seq));
    if (!strcmp(cls, "host_metrics")) {
        json_object_set_new(r, "memory_free",
                            json_integer(180 * GIB + (int64_t)(sim_gen_rand(p) % (40 * GIB))));
    } else {
        json_t *u = json_object_get(r, "VCPUs_utilisation");
        const char *k;
        json_t *v;
        json_object_foreach(u, k, v) json_real_set(v, (double)(sim_gen_rand(p) % 10000) / 1e4);
    }
    sim_store_update(p->store, o, r);
    json_decref(r);
}

static void s_churn_power(sim_pool_t *p)
{
    for (int tries = 0; tries < 8; tries++) {
        sim_obj_t *o = s_pick(p, "VM");
        json_t *r = sim_store_json(o);
        const char *ps = json_string_value(json_object_get(r, "power_state"));
        bool dom0 = json_is_true(json_object_get(r, "is_control_domain"));
        bool cur = json_object_size(json_object_get(r, "current_operations")) > 0;
        if (!dom0 && !cur && (!strcmp(ps, "Running") || !strcmp(ps, "Paused"))) {
            json_object_set_new(r, "power_state",
                                json_string(!strcmp(ps, "Running") ? "Paused" : "Running"));
            p->churn_seq++;
            sim_gen_vm_ops(r);
            sim_store_update(p->store, o, r);
            json_decref(r);
            return;
        }
        json_decref(r);
    }
}

static void s_churn_message(sim_pool_t *p)
{
    int id = s_cls("message");
    static const char *names[] = {"VM_STARTED", "VM_SHUTDOWN", "ALARM", "HOST_SYNC_DATA_FAILED",
                                  "VM_SNAPSHOTTED"};
    sim_obj_t *vm = s_pick(p, "VM");
    char now[32], body[64];
    sim_gen_now(now);
    snprintf(body, sizeof body, "churn %" PRIu64, ++p->churn_seq);
    s_add(p, "message",
          S_PACK("{s:s, s:i, s:s, s:s, s:s, s:s}", "name", names[sim_gen_rand(p) % 5], "priority",
                 5, "cls", "VM", "obj_uuid", vm ? vm->uuid : "", "timestamp", now, "body", body),
          NULL);
    if (sim_store_count(p->store, id) > 500)
        sim_store_remove(p->store, sim_store_at(p->store, id, 0));
}

/*  Tasks as a host shows them: one appears pending, its progress moves, it ends in success,
    and finished ones are destroyed (at most a few churn tasks live at once).               */
static void s_churn_task(sim_pool_t *p)
{
    int id = s_cls("task");
    sim_obj_t *pending = NULL, *finished = NULL;
    int mine = 0;
    for (size_t i = 0; i < sim_store_count(p->store, id); i++) {
        sim_obj_t *o = sim_store_at(p->store, id, i);
        json_t *r = sim_store_json(o);
        if (!strcmp(json_string_value(json_object_get(r, "name_description")), "xapi-sim churn")) {
            mine++;
            bool pend = !strcmp(json_string_value(json_object_get(r, "status")), "pending");
            if (pend && !pending)
                pending = o;
            if (!pend && !finished)
                finished = o;
        }
        json_decref(r);
    }
    char now[32];
    sim_gen_now(now);
    p->churn_seq++;
    if (pending) {
        json_t *r = sim_store_json(pending);
        double prog = json_real_value(json_object_get(r, "progress")) + 0.5;
        json_object_set_new(r, "progress", json_real(prog >= 1.0 ? 1.0 : prog));
        if (prog >= 1.0) {
            json_object_set_new(r, "status", json_string("success"));
            json_object_set_new(r, "finished", json_string(now));
            json_object_set_new(r, "allowed_operations", json_array());
        }
        sim_store_update(p->store, pending, r);
        json_decref(r);
    } else if (finished && mine >= 3) {
        sim_store_remove(p->store, finished);
    } else {
        s_add(p, "task",
              S_PACK("{s:s, s:s, s:s, s:s, s:[s], s:s}", "name_label", "Async.VM.snapshot",
                     "name_description", "xapi-sim churn", "created", now, "status", "pending",
                     "allowed_operations", "cancel", "resident_on", p->hosts[p->master].ref),
              NULL);
    }
}

/*  Changes an xo-visible field of a random VM: the memory_actual of a running VM's metrics
    (its memory.usage), or the VM's name_description or tags, each to a value it never had. */
static s_ctx_t *s_churn_ctx(sim_pool_t *p)
{
    s_ctx_t *x = s_ctx(p);
    if (!x->churn_ready) {
        const sim_class_t *vmc = sim_schema_find("VM"), *mc = sim_schema_find("VM_metrics");
        static const char *reads[3] = {"power_state", "is_control_domain", "metrics"};
        for (int i = 0; i < 3; i++)
            x->vm_read[i] = sim_schema_field(vmc, reads[i]);
        for (int i = 0; i < 3; i++) /* ascending, for sim_rec_fields */
            for (int j = i + 1; j < 3; j++)
                if (x->vm_read[j] < x->vm_read[i]) {
                    int t = x->vm_read[i];
                    x->vm_read[i] = x->vm_read[j];
                    x->vm_read[j] = t;
                }
        x->vm_power = sim_schema_field(vmc, "power_state");
        x->vm_desc = sim_schema_field(vmc, "name_description");
        x->vm_tags = sim_schema_field(vmc, "tags");
        x->vmm_cls = mc->id;
        x->vmm_mem = sim_schema_field(mc, "memory_actual");
        x->vm_cls = vmc->id;
        x->churn_ready = true;
    }
    return x;
}

static sim_obj_t *s_pick_id(sim_pool_t *p, int id)
{
    size_t n = sim_store_count(p->store, id);
    return n ? sim_store_at(p->store, id, sim_gen_rand(p) % n) : NULL;
}

static void s_churn_vm_memory(sim_pool_t *p)
{
    s_ctx_t *x = s_churn_ctx(p);
    const sim_class_t *vmc = sim_schema_class(x->vm_cls);
    for (int tries = 0; tries < 16; tries++) {
        sim_obj_t *o = s_pick_id(p, x->vm_cls);
        if (!o)
            return;
        /* a VM that is not running is passed over before anything is decoded */
        size_t n;
        const char *run = sim_rec_str(vmc, o->rec, o->len, x->vm_power, &n);
        if (!run || n != 7 || memcmp(run, "Running", 7) != 0)
            continue;
        json_t *f[3], *ps = NULL, *dom0 = NULL, *mref = NULL;
        sim_rec_fields(vmc, o->rec, o->len, x->vm_read, 3, f);
        for (int i = 0; i < 3; i++) {
            const char *name = vmc->fields[x->vm_read[i]].name;
            json_t **slot = !strcmp(name, "power_state") ? &ps : !strcmp(name, "metrics") ? &mref
                                                                                          : &dom0;
            *slot = f[i];
        }
        sim_obj_t *m = !json_is_true(dom0) && !strcmp(json_string_value(ps), "Running")
                           ? sim_store_get(p->store, json_string_value(mref))
                           : NULL;
        json_decref(ps), json_decref(dom0), json_decref(mref);
        if (!m || m->cls != x->vmm_cls)
            continue;
        uint64_t seq = ++p->churn_seq;
        /* 1-4 GiB in MiB steps; seq makes each value differ from the one before */
        json_t *v = json_integer((int64_t)(1024 + seq % 3072) * 1024 * 1024);
        sim_store_set_field(p->store, m, x->vmm_mem, v);
        json_decref(v);
        return;
    }
}

static void s_churn_vm_field(sim_pool_t *p, bool tags)
{
    s_ctx_t *x = s_churn_ctx(p);
    sim_obj_t *o = s_pick_id(p, x->vm_cls);
    if (!o)
        return;
    char s[48];
    snprintf(s, sizeof s, "churn-%" PRIu64, ++p->churn_seq);
    json_t *v = tags ? json_pack("[s]", s) : json_string(s);
    sim_store_set_field(p->store, o, tags ? x->vm_tags : x->vm_desc, v);
    json_decref(v);
}

static const char *s_kinds[SIM_CHURN_KINDS] = {
    [SIM_CHURN_VM_METRICS] = "vm_metrics",
    [SIM_CHURN_HOST_METRICS] = "host_metrics",
    [SIM_CHURN_MESSAGE] = "message",
    [SIM_CHURN_TASK] = "task",
    [SIM_CHURN_POWER] = "power",
    [SIM_CHURN_VM_MEMORY] = "vm_memory",
    [SIM_CHURN_VM_DESCRIPTION] = "vm_description",
    [SIM_CHURN_VM_TAGS] = "vm_tags",
};

int sim_gen_mix_parse(const char *text, int mix[SIM_CHURN_KINDS])
{
    if (!text || !strcmp(text, "default"))
        text = "vm_metrics:60,host_metrics:15,message:10,task:8,power:7";
    else if (!strcmp(text, "visible"))
        text = "vm_memory:50,vm_description:25,vm_tags:25";
    int w[SIM_CHURN_KINDS] = {0};
    long total = 0;
    const char *s = text;
    while (*s) {
        size_t n = strcspn(s, ":");
        int k = 0;
        while (k < SIM_CHURN_KINDS && (strlen(s_kinds[k]) != n || strncmp(s, s_kinds[k], n)))
            k++;
        if (k == SIM_CHURN_KINDS || s[n] != ':')
            return -1;
        char *end;
        long v = strtol(s + n + 1, &end, 10);
        if (end == s + n + 1 || v < 0 || v > 1000000 || (*end && (*end != ',' || !end[1])))
            return -1;
        w[k] = (int)v;
        total += v;
        s = *end ? end + 1 : end;
    }
    if (total <= 0)
        return -1;
    memcpy(mix, w, sizeof w);
    return 0;
}

bool sim_churn_mix_valid(const char *text)
{
    int mix[SIM_CHURN_KINDS];
    return sim_gen_mix_parse(text, mix) == 0;
}

void sim_gen_churn(sim_pool_t *p, int n)
{
    long total = 0;
    for (int k = 0; k < SIM_CHURN_KINDS; k++)
        total += p->churn_mix[k];
    for (int i = 0; i < n && total > 0; i++) {
        long r = (long)(sim_gen_rand(p) % (uint64_t)total);
        int k = 0;
        while (r >= p->churn_mix[k])
            r -= p->churn_mix[k++];
        switch (k) {
        case SIM_CHURN_VM_METRICS:
            s_churn_metrics(p, "VM_metrics");
            break;
        case SIM_CHURN_HOST_METRICS:
            s_churn_metrics(p, "host_metrics");
            break;
        case SIM_CHURN_MESSAGE:
            s_churn_message(p);
            break;
        case SIM_CHURN_TASK:
            s_churn_task(p);
            break;
        case SIM_CHURN_POWER:
            s_churn_power(p);
            break;
        case SIM_CHURN_VM_MEMORY:
            s_churn_vm_memory(p);
            break;
        case SIM_CHURN_VM_DESCRIPTION:
            s_churn_vm_field(p, false);
            break;
        default:
            s_churn_vm_field(p, true);
            break;
        }
    }
}
