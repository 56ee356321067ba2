#include "sim_schema.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*  One line per class: API name, then fields as name[:type[=default]] (type s by default).  */
static const char *s_spec[] = {
    "pool uuid name_label name_description master:r default_SR:r suspend_image_SR:r "
    "crash_dump_SR:r other_config:M ha_enabled:b ha_configuration:M ha_statefiles:S "
    "ha_host_failures_to_tolerate:i ha_plan_exists_for:i ha_allow_overcommit:b "
    "ha_overcommitted:b blobs:M tags:S gui_config:M health_check_config:M wlb_url "
    "wlb_username wlb_enabled:b wlb_verify_cert:b redo_log_enabled:b redo_log_vdi:r "
    "vswitch_controller restrictions:M metadata_VDIs:S ha_cluster_stack=xhad "
    "allowed_operations:S current_operations:M guest_agent_config:M cpu_info:M "
    "policy_no_vendor_device:b live_patching_disabled:b igmp_snooping_enabled:b "
    "uefi_certificates is_psr_pending:b tls_verification_enabled:b repositories:S "
    "client_certificate_auth_enabled:b client_certificate_auth_name repository_proxy_url "
    "repository_proxy_username repository_proxy_password:r migration_compression:b "
    "coordinator_bias:b=true telemetry_uuid:r telemetry_frequency:e=weekly "
    "telemetry_next_collection:d last_update_sync:d update_sync_frequency:e=weekly "
    "update_sync_day:i update_sync_enabled:b recommendations:M license_server:M "
    "ha_reboot_vm_on_internal_shutdown:b=true",

    "host uuid name_label name_description memory_overhead:i allowed_operations:S "
    "current_operations:M API_version_major:i=2 API_version_minor:i=21 "
    "API_version_vendor=XenSource API_version_vendor_implementation:M enabled:b=true "
    "software_version:M other_config:M capabilities:S cpu_configuration:M sched_policy=credit "
    "supported_bootloaders:S resident_VMs:S logging:M PIFs:S suspend_image_sr:r "
    "crash_dump_sr:r crashdumps:S patches:S updates:S PBDs:S host_CPUs:S cpu_info:M hostname "
    "address metrics:r license_params:M ha_statefiles:S ha_network_peers:S blobs:M tags:S "
    "external_auth_type external_auth_service_name external_auth_configuration:M "
    "edition=xcp-ng license_server:M bios_strings:M power_on_mode power_on_config:M "
    "local_cache_sr:r chipset_info:M PCIs:S PGPUs:S PUSBs:S ssl_legacy:b "
    "guest_VCPUs_params:M display:e=enabled virtual_hardware_platform_versions:S "
    "control_domain:r updates_requiring_reboot:S features:S iscsi_iqn multipathing:b "
    "uefi_certificates certificates:S editions:S pending_guidances:S "
    "tls_verification_enabled:b last_software_update:d https_only:b "
    "latest_synced_updates_applied:e=unknown numa_affinity_policy:e=default_policy "
    "pending_guidances_recommended:S pending_guidances_full:S last_update_hash",

    "host_metrics uuid memory_total:i memory_free:i live:b=true last_updated:d other_config:M",

    "host_cpu uuid host:r number:i vendor speed:i modelname family:i model:i stepping "
    "flags features utilisation:f other_config:M",

    "VM uuid allowed_operations:S current_operations:M name_label name_description "
    "power_state:e=Halted user_version:i=1 is_a_template:b is_default_template:b "
    "suspend_VDI:r resident_on:r scheduled_to_be_resident_on:r affinity:r memory_overhead:i "
    "memory_target:i memory_static_max:i memory_dynamic_max:i memory_dynamic_min:i "
    "memory_static_min:i VCPUs_params:M VCPUs_max:i=1 VCPUs_at_startup:i=1 "
    "actions_after_softreboot:e=soft_reboot actions_after_shutdown:e=destroy "
    "actions_after_reboot:e=restart actions_after_crash:e=restart consoles:S VIFs:S VBDs:S "
    "VUSBs:S crash_dumps:S VTPMs:S PV_bootloader PV_kernel PV_ramdisk PV_args "
    "PV_bootloader_args PV_legacy_args HVM_boot_policy HVM_boot_params:M "
    "HVM_shadow_multiplier:f platform:M PCI_bus other_config:M domid:i=-1 domarch "
    "last_boot_CPU_flags:M is_control_domain:b metrics:r guest_metrics:r last_booted_record "
    "recommendations xenstore_data:M ha_always_run:b ha_restart_priority is_a_snapshot:b "
    "snapshot_of:r snapshots:S snapshot_time:d transportable_snapshot_id parent:r "
    "children:S bios_strings:M protection_policy:r is_snapshot_from_vmpp:b "
    "snapshot_schedule:r is_vmss_snapshot:b appliance:r start_delay:i shutdown_delay:i "
    "order:i VGPUs:S attached_PCIs:S suspend_SR:r version:i generation_id "
    "hardware_platform_version:i has_vendor_device:b requires_reboot:b reference_label "
    "domain_type:e=hvm NVRAM:M pending_guidances:S pending_guidances_recommended:S "
    "pending_guidances_full:S blobs:M tags:S blocked_operations:M snapshot_info:M "
    "snapshot_metadata groups:S",

    "VM_metrics uuid memory_actual:i VCPUs_number:i VCPUs_utilisation:M VCPUs_CPU:M "
    "VCPUs_params:M VCPUs_flags:M state:S start_time:d install_time:d last_updated:d "
    "other_config:M hvm:b nested_virt:b nomigrate:b current_domain_type:e=unspecified",

    "VM_guest_metrics uuid os_version:M netbios_name:M PV_drivers_version:M "
    "PV_drivers_up_to_date:b memory:M disks:M networks:M other:M last_updated:d "
    "other_config:M live:b can_use_hotplug_vbd:e=unspecified "
    "can_use_hotplug_vif:e=unspecified PV_drivers_detected:b services:M",

    "VBD uuid allowed_operations:S current_operations:M VM:r VDI:r device userdevice "
    "bootable:b mode:e=RW type:e=Disk unpluggable:b=true storage_lock:b empty:b "
    "other_config:M currently_attached:b status_code:i status_detail runtime_properties:M "
    "qos_algorithm_type qos_algorithm_params:M qos_supported_algorithms:S metrics:r",

    "VDI uuid name_label name_description allowed_operations:S current_operations:M SR:r "
    "VBDs:S crash_dumps:S virtual_size:i physical_utilisation:i type:e=user sharable:b "
    "read_only:b other_config:M storage_lock:b location managed:b=true missing:b parent:r "
    "xenstore_data:M sm_config:M is_a_snapshot:b snapshot_of:r snapshots:S snapshot_time:d "
    "tags:S allow_caching:b on_boot:e=persist metadata_of_pool:r metadata_latest:b "
    "is_tools_iso:b cbt_enabled:b",

    "SR uuid name_label name_description allowed_operations:S current_operations:M VDIs:S "
    "PBDs:S virtual_allocation:i physical_utilisation:i physical_size:i type content_type "
    "shared:b other_config:M tags:S sm_config:M blobs:M local_cache_enabled:b "
    "introduced_by:r clustered:b is_tools_sr:b",

    "PBD uuid host:r SR:r device_config:M currently_attached:b other_config:M",

    "VIF uuid allowed_operations:S current_operations:M device network:r VM:r MAC MTU:i=1500 "
    "other_config:M currently_attached:b status_code:i status_detail runtime_properties:M "
    "qos_algorithm_type qos_algorithm_params:M qos_supported_algorithms:S metrics:r "
    "MAC_autogenerated:b locking_mode:e=network_default ipv4_allowed:S ipv6_allowed:S "
    "ipv4_configuration_mode:e=None ipv4_addresses:S ipv4_gateway "
    "ipv6_configuration_mode:e=None ipv6_addresses:S ipv6_gateway reserved_pci:r",

    "network uuid name_label name_description allowed_operations:S current_operations:M "
    "VIFs:S PIFs:S MTU:i=1500 other_config:M bridge managed:b=true blobs:M tags:S "
    "default_locking_mode:e=unlocked assigned_ips:M purpose:S",

    "PIF uuid device network:r host:r MAC MTU:i=1500 VLAN:i=-1 metrics:r physical:b=true "
    "currently_attached:b=true ip_configuration_mode:e=None IP netmask gateway DNS "
    "bond_slave_of:r bond_master_of:S VLAN_master_of:r VLAN_slave_of:S management:b "
    "other_config:M disallow_unplug:b tunnel_access_PIF_of:S tunnel_transport_PIF_of:S "
    "ipv6_configuration_mode:e=None IPv6:S ipv6_gateway primary_address_type:e=IPv4 "
    "managed:b=true properties:M capabilities:S igmp_snooping_status:e=unknown "
    "sriov_physical_PIF_of:S sriov_logical_PIF_of:S PCI:r",

    "PIF_metrics uuid io_read_kbs:f io_write_kbs:f carrier:b=true vendor_id vendor_name "
    "device_id device_name speed:i=1000 duplex:b=true pci_bus_path last_updated:d "
    "other_config:M",

    "console uuid protocol:e=rfb location VM:r other_config:M",

    "task uuid name_label name_description allowed_operations:S current_operations:M "
    "created:d finished:d status:e=pending resident_on:r progress:f type result "
    "error_info:S other_config:M subtask_of:r subtasks:S backtrace",

    "message uuid name priority:i=3 cls:e=VM obj_uuid timestamp:d body",

    "pool_patch uuid name_label name_description version size:i pool_applied:b "
    "host_patches:S after_apply_guidance:S pool_update:r other_config:M",

    "pool_update uuid name_label name_description version installation_size:i key "
    "after_apply_guidance:S vdi:r hosts:S other_config:M enforce_homogeneity:b",

    "host_patch uuid name_label name_description version host:r applied:b "
    "timestamp_applied:d size:i pool_patch:r other_config:M",

    "SM uuid name_label name_description type vendor copyright version required_api_version "
    "configuration:M capabilities:S features:M other_config:M driver_filename "
    "required_cluster_stack:S supported_image_formats:S",
};

#define S_NCLASSES ((int)(sizeof s_spec / sizeof s_spec[0]))

static sim_class_t s_classes[S_NCLASSES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_parse_field(sim_field_t *f, const char *tok, size_t n)
{
    memset(f, 0, sizeof *f);
    f->type = 's';
    const char *colon = memchr(tok, ':', n);
    const char *eq = memchr(tok, '=', n);
    const char *name_end = colon ? colon : (eq ? eq : tok + n);
    snprintf(f->name, sizeof f->name, "%.*s", (int)(name_end - tok), tok);
    if (colon)
        f->type = colon[1];
    if (eq)
        snprintf(f->def, sizeof f->def, "%.*s", (int)(tok + n - eq - 1), eq + 1);
}

static void s_parse_class(int id, const char *spec)
{
    sim_class_t *c = &s_classes[id];
    c->id = id;
    int ntok = 0;
    for (const char *p = spec; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        ntok++;
        while (*p && *p != ' ')
            p++;
    }
    c->fields = calloc((size_t)ntok, sizeof(sim_field_t));
    const char *p = spec;
    int i = -1;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if (i < 0) {
            c->name = strndup(start, (size_t)(p - start));
            for (size_t k = 0; k < sizeof c->lname - 1 && c->name[k]; k++)
                c->lname[k] = (char)tolower((unsigned char)c->name[k]);
        } else {
            s_parse_field(&c->fields[i], start, (size_t)(p - start));
        }
        i++;
    }
    c->nfields = i;
}

static void s_init(void)
{
    for (int i = 0; i < S_NCLASSES; i++)
        s_parse_class(i, s_spec[i]);
}

void sim_schema_init(void)
{
    pthread_once(&s_once, s_init);
}

int sim_schema_count(void)
{
    return S_NCLASSES;
}

const sim_class_t *sim_schema_class(int id)
{
    sim_schema_init();
    return id >= 0 && id < S_NCLASSES ? &s_classes[id] : NULL;
}

const sim_class_t *sim_schema_find(const char *name)
{
    sim_schema_init();
    for (int i = 0; name && i < S_NCLASSES; i++)
        if (strcasecmp(s_classes[i].name, name) == 0)
            return &s_classes[i];
    return NULL;
}

int sim_schema_field(const sim_class_t *c, const char *name)
{
    for (int i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i].name, name) == 0)
            return i;
    return -1;
}

json_t *sim_schema_default(const sim_field_t *f)
{
    switch (f->type) {
    case 'i':
        return json_integer(f->def[0] ? strtoll(f->def, NULL, 10) : 0);
    case 'f':
        return json_real(0.0);
    case 'b':
        return json_boolean(strcmp(f->def, "true") == 0);
    case 'd':
        return json_string(SIM_NULL_DATE);
    case 'r':
        return json_string(SIM_NULL_REF);
    case 'S':
        return json_array();
    case 'M':
        return json_object();
    default:
        return json_string(f->def);
    }
}
