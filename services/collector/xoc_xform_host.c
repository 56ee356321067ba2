/*  xoc_xform_host — pool and host objects (reference §3.3), joined with host_metrics, the
    master host and Certificate records.                                                      */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "xoc_xform_int.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

/*  Packs {cores, sockets} from a cpu_info map (0 when unknown).                             */
static void s_cpus(xf_ctx_t *c, const msgpack_object *cpu_info)
{
    int64_t cores = 0, sockets = 0;
    xf_map_int(cpu_info, "cpu_count", &cores);
    xf_map_int(cpu_info, "socket_count", &sockets);
    xf_key(c, "cpus");
    msgpack_pack_map(&c->pk, 2);
    xf_pack_cstr(c, "cores");
    msgpack_pack_int64(&c->pk, cores);
    xf_pack_cstr(c, "sockets");
    msgpack_pack_int64(&c->pk, sockets);
}

/*  ---- pool ----------------------------------------------------------------------------- */

static const xf_field_t s_pool[] = {
    {"name_description", "name_description", XF_STR},
    {"master", "master", XF_LINK},
    {"default_SR", "default_SR", XF_LINK},
    {"suspendSr", "suspend_image_SR", XF_LINK},
    {"crashDumpSr", "crash_dump_SR", XF_LINK},
    {"HA_enabled", "ha_enabled", XF_BOOL},
    {"haRebootVmOnInternalShutdown", "ha_reboot_vm_on_internal_shutdown", XF_BOOL},
    {"current_operations", "current_operations", XF_OPS},
    {"tags", "tags", XF_ARR},
    {"otherConfig", "other_config", XF_MAP},
    {"migrationCompression", "migration_compression", XF_BOOL},
};

/*  haSrs: the SRs of the HA statefile VDIs.                                                 */
static void s_ha_srs(xf_ctx_t *c, const msgpack_object *rec)
{
    const msgpack_object *sf = xf_get(rec, "ha_statefiles");
    uint32_t n = sf && sf->type == MSGPACK_OBJECT_ARRAY ? sf->via.array.size : 0, k = 0;
    const char **ids = msgpack_zone_malloc(&c->zone, sizeof(*ids) * (n ? n : 1));
    if (!ids) {
        c->oom = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *vdi = xf_fetch(c, &sf->via.array.ptr[i], XF_VDI);
        if ((ids[k] = xf_link(c, xf_get(vdi, "SR"))) != NULL)
            k++;
    }
    xf_key(c, "haSrs");
    msgpack_pack_array(&c->pk, k);
    for (uint32_t i = 0; i < k; i++)
        xf_pack_cstr(c, ids[i]);
}

const char *xf_pool(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_pool);
    const msgpack_object *master = xf_fetch(c, xf_get(rec, "master"), XF_HOST);
    const msgpack_object *name = xf_get(rec, "name_label");
    if (!xf_is_str(name) || name->via.str.size == 0)
        name = xf_get(master, "name_label");
    xf_field(c, "name_label", name, XF_STR);
    s_ha_srs(c, rec);
    xf_put_bool(c, "auto_poweron",
                xf_map_str_eq(xf_get(rec, "other_config"), "auto_poweron", "true"));
    s_cpus(c, xf_get(rec, "cpu_info"));
    const msgpack_object *pv = xf_get(xf_get(master, "software_version"), "platform_version");
    if (xf_is_str(pv))
        xf_put_obj(c, "platform_version", pv);
    const msgpack_object *restr = xf_get(rec, "restrictions");
    xf_put_bool(c, "zstdSupported", !xf_map_str_eq(restr, "restrict_zstd_export", "true"));
    xf_put_bool(c, "vtpmSupported", xf_map_str_eq(restr, "restrict_vtpm", "false"));
    return "pool";
}

/*  ---- host ----------------------------------------------------------------------------- */

static const xf_field_t s_host[] = {
    {"name_label", "name_label", XF_STR},
    {"name_description", "name_description", XF_STR},
    {"address", "address", XF_STR},
    {"hostname", "hostname", XF_STR},
    {"enabled", "enabled", XF_BOOL},
    {"CPUs", "cpu_info", XF_MAP},
    {"bios_strings", "bios_strings", XF_MAP},
    {"license_params", "license_params", XF_MAP},
    {"license_server", "license_server", XF_MAP},
    {"controlDomain", "control_domain", XF_LINK},
    {"residentVms", "resident_VMs", XF_LINKS},
    {"PIFs", "PIFs", XF_LINKS},
    {"$PIFs", "PIFs", XF_LINKS},
    {"PCIs", "PCIs", XF_LINKS},
    {"$PCIs", "PCIs", XF_LINKS},
    {"PGPUs", "PGPUs", XF_LINKS},
    {"$PGPUs", "PGPUs", XF_LINKS},
    {"$PBDs", "PBDs", XF_LINKS},
    {"patches", "patches", XF_LINKS},
    {"powerOnMode", "power_on_mode", XF_STR},
    {"multipathing", "multipathing", XF_BOOL},
    {"logging", "logging", XF_MAP},
    {"otherConfig", "other_config", XF_MAP},
    {"current_operations", "current_operations", XF_OPS},
    {"tags", "tags", XF_ARR},
};

/*  power_state and memory from host_metrics.                                                */
static void s_host_metrics(xf_ctx_t *c, const msgpack_object *rec)
{
    const msgpack_object *m = xf_fetch(c, xf_get(rec, "metrics"), XF_HOST_METRICS);
    bool live = false;
    int64_t total = 0, free_ = 0;
    if (m) {
        xf_to_bool(xf_get(m, "live"), &live);
        xf_map_int(m, "memory_total", &total);
        xf_map_int(m, "memory_free", &free_);
    }
    xf_put_str(c, "power_state", !m ? "Unknown" : live ? "Running" : "Halted");
    xf_key(c, "memory");
    msgpack_pack_map(&c->pk, 2);
    xf_pack_cstr(c, "usage");
    msgpack_pack_int64(&c->pk, live ? total - free_ : 0);
    xf_pack_cstr(c, "size");
    msgpack_pack_int64(&c->pk, total > 0 ? (int64_t)(ceil((double)total / GIB) * GIB) : 0);
}

/*  supplementalPacks: software_version entries "author:name" = "description, version X,
    build Y, ...".                                                                            */
static void s_supp_pack(xf_ctx_t *c, const msgpack_object_kv *kv)
{
    const char *key = xf_cstr(c, &kv->key), *val = xf_cstr(c, &kv->val);
    const char *colon = key ? strchr(key, ':') : NULL;
    const char *desc = val ? val : "", *comma = strchr(desc, ',');
    const char *ver = val ? strstr(val, "version ") : NULL;
    const char *build = val ? strstr(val, "build ") : NULL;
    msgpack_pack_map(&c->pk, 5);
    xf_pack_cstr(c, "name");
    xf_pack_cstr(c, colon ? colon + 1 : "");
    xf_pack_cstr(c, "author");
    msgpack_pack_str_with_body(&c->pk, key ? key : "", colon ? (size_t)(colon - key) : 0);
    xf_pack_cstr(c, "description");
    msgpack_pack_str_with_body(&c->pk, desc, comma ? (size_t)(comma - desc) : strlen(desc));
    const char *parts[2] = {ver ? ver + 8 : "", build ? build + 6 : ""};
    const char *names[2] = {"version", "build"};
    for (int i = 0; i < 2; i++) {
        xf_pack_cstr(c, names[i]);
        msgpack_pack_str_with_body(&c->pk, parts[i], strcspn(parts[i], ","));
    }
}

static bool s_is_pack(const msgpack_object_kv *kv)
{
    return xf_is_str(&kv->key) && xf_is_str(&kv->val) &&
           memchr(kv->key.via.str.ptr, ':', kv->key.via.str.size) != NULL;
}

static void s_host_software(xf_ctx_t *c, const msgpack_object *sv)
{
    xf_field(c, "version", xf_get(sv, "product_version"), XF_STR);
    xf_field(c, "productBrand", xf_get(sv, "product_brand"), XF_STR);
    xf_field(c, "build", xf_get(sv, "build_number"), XF_STR);
    uint32_t n = 0, total = sv && sv->type == MSGPACK_OBJECT_MAP ? sv->via.map.size : 0;
    for (uint32_t i = 0; i < total; i++)
        n += s_is_pack(&sv->via.map.ptr[i]);
    xf_key(c, "supplementalPacks");
    msgpack_pack_array(&c->pk, n);
    for (uint32_t i = 0; i < total; i++)
        if (s_is_pack(&sv->via.map.ptr[i]))
            s_supp_pack(c, &sv->via.map.ptr[i]);
}

/*  A time given as a decimal string of seconds ("1700000000." in other_config).            */
static void s_secs(xf_ctx_t *c, const char *out, const msgpack_object *v)
{
    double f;
    if (xf_to_num(v, &f))
        xf_put_int(c, out, (int64_t)f);
}

static void s_reboot_required(xf_ctx_t *c, const msgpack_object *rec, const msgpack_object *sv)
{
    const msgpack_object *oc = xf_get(rec, "other_config");
    double boot = 0, installed = 0;
    bool req;
    if (xf_map_str_eq(sv, "product_brand", "XCP-ng"))
        req = xf_to_num(xf_get(oc, "boot_time"), &boot) &&
              xf_to_num(xf_get(oc, "rpm_patch_installation_time"), &installed) &&
              boot < installed;
    else {
        const msgpack_object *u = xf_get(rec, "updates_requiring_reboot");
        req = u && u->type == MSGPACK_OBJECT_ARRAY && u->via.array.size > 0;
    }
    xf_put_bool(c, "rebootRequired", req);
    s_secs(c, "startTime", xf_get(oc, "boot_time"));
    s_secs(c, "agentStartTime", xf_get(oc, "agent_start_time"));
}

static void s_certificates(xf_ctx_t *c, const msgpack_object *rec)
{
    const msgpack_object *certs = xf_get(rec, "certificates");
    uint32_t n = certs && certs->type == MSGPACK_OBJECT_ARRAY ? certs->via.array.size : 0, k = 0;
    const msgpack_object **found = msgpack_zone_malloc(&c->zone, sizeof(*found) * (n ? n : 1));
    if (!found) {
        c->oom = true;
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        if ((found[k] = xf_fetch(c, &certs->via.array.ptr[i], XF_CERTIFICATE)) != NULL)
            k++;
    xf_key(c, "certificates");
    msgpack_pack_array(&c->pk, k);
    for (uint32_t i = 0; i < k; i++) {
        const msgpack_object *fp = xf_get(found[i], "fingerprint");
        int64_t t = 0;
        msgpack_pack_map(&c->pk, 2);
        xf_pack_cstr(c, "fingerprint");
        if (xf_is_str(fp))
            msgpack_pack_object(&c->pk, *fp);
        else
            msgpack_pack_str(&c->pk, 0);
        xf_pack_cstr(c, "notAfter");
        if (xf_to_time(xf_get(found[i], "not_after"), &t))
            msgpack_pack_int64(&c->pk, t);
        else
            msgpack_pack_nil(&c->pk);
    }
}

/*  "8.2.1" >= major.minor.                                                                   */
static bool s_version_ge(const msgpack_object *v, int major, int minor)
{
    char buf[32];
    int ma = 0, mi = 0;
    if (!xf_is_str(v) || v->via.str.size >= sizeof(buf))
        return false;
    memcpy(buf, v->via.str.ptr, v->via.str.size);
    buf[v->via.str.size] = '\0';
    if (sscanf(buf, "%d.%d", &ma, &mi) < 1)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

const char *xf_host(xf_ctx_t *c, const msgpack_object *rec)
{
    XF_FIELDS(c, rec, s_host);
    s_host_metrics(c, rec);
    s_cpus(c, xf_get(rec, "cpu_info"));
    const msgpack_object *sv = xf_get(rec, "software_version");
    s_host_software(c, sv);
    xf_field(c, "license_expiry", xf_get(xf_get(rec, "license_params"), "expiry"), XF_TIME);
    s_reboot_required(c, rec, sv);
    const msgpack_object *iqn = xf_get(rec, "iscsi_iqn");
    if (!xf_is_str(iqn) || iqn->via.str.size == 0)
        iqn = xf_get(xf_get(rec, "other_config"), "iscsi_iqn");
    if (xf_is_str(iqn))
        xf_put_obj(c, "iscsiIqn", iqn);
    bool hvm = false;
    const msgpack_object *caps = xf_get(rec, "capabilities");
    for (uint32_t i = 0; caps && caps->type == MSGPACK_OBJECT_ARRAY && i < caps->via.array.size;
         i++) {
        const msgpack_object *e = &caps->via.array.ptr[i];
        hvm |= xf_is_str(e) && e->via.str.size >= 3 && memcmp(e->via.str.ptr, "hvm", 3) == 0;
    }
    xf_put_bool(c, "hvmCapable", hvm);
    xf_key(c, "chipset_info");
    msgpack_pack_map(&c->pk, 1);
    xf_pack_cstr(c, "iommu");
    bool iommu = xf_map_str_eq(xf_get(rec, "chipset_info"), "iommu", "true");
    iommu ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk);
    s_certificates(c, rec);
    xf_put_bool(c, "zstdSupported", s_version_ge(xf_get(sv, "platform_version"), 3, 1));
    return "host";
}
