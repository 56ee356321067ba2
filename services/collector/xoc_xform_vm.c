/*  xoc_xform_vm — VM, VM-controller, VM-snapshot and VM-template objects (reference §3.3),
    joined with VM_metrics and VM_guest_metrics; $container from resident_on or a local SR.  */
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_xform_int.h"

static const xf_field_t s_vm[] = {
    {"name_label", "name_label", XF_STR},
    {"name_description", "name_description", XF_STR},
    {"power_state", "power_state", XF_STR},
    {"affinityHost", "affinity", XF_LINK},
    {"$VBDs", "VBDs", XF_LINKS},
    {"VIFs", "VIFs", XF_LINKS},
    {"VTPMs", "VTPMs", XF_LINKS},
    {"VGPUs", "VGPUs", XF_LINKS},
    {"$VGPUs", "VGPUs", XF_LINKS},
    {"snapshots", "snapshots", XF_LINKS},
    {"parent", "parent", XF_LINK},
    {"boot", "HVM_boot_params", XF_MAP},
    {"hasVendorDevice", "has_vendor_device", XF_BOOL},
    {"high_availability", "ha_restart_priority", XF_STR},
    {"startDelay", "start_delay", XF_INT},
    {"blockedOperations", "blocked_operations", XF_MAP},
    {"current_operations", "current_operations", XF_OPS},
    {"tags", "tags", XF_ARR},
    {"other", "other_config", XF_MAP},
    {"attachedPcis", "attached_PCIs", XF_LINKS},
    {"suspendSr", "suspend_SR", XF_LINK},
    {"bios_strings", "bios_strings", XF_MAP},
    {"xenStoreData", "xenstore_data", XF_MAP},
};

/*  What the joins give.                                                                      */
typedef struct {
    const msgpack_object *rec, *metrics, *gm, *platform, *oc;
    bool running;
} s_vm_t;

bool xf_vm_is_default_template(const msgpack_object *rec)
{
    bool def = false, tpl = false;
    xf_to_bool(xf_get(rec, "is_default_template"), &def);
    xf_to_bool(xf_get(rec, "is_a_template"), &tpl);
    /* only a template is a default template: a VM cloned from one may keep the flags */
    return tpl && (def || xf_map_str_eq(xf_get(rec, "other_config"), "default_template", "true"));
}

static void s_cpus(xf_ctx_t *c, const s_vm_t *v)
{
    int64_t max = 0, number = 0;
    xf_map_int(v->rec, "VCPUs_max", &max);
    if (!(v->running && v->gm && xf_map_int(v->metrics, "VCPUs_number", &number)))
        xf_map_int(v->rec, "VCPUs_at_startup", &number);
    xf_key(c, "CPUs");
    msgpack_pack_map(&c->pk, 2);
    xf_pack_cstr(c, "max");
    msgpack_pack_int64(&c->pk, max);
    xf_pack_cstr(c, "number");
    msgpack_pack_int64(&c->pk, number);
    int64_t cps, cap, weight;
    if (xf_map_int(v->platform, "cores-per-socket", &cps))
        xf_put_int(c, "coresPerSocket", cps);
    const msgpack_object *params = xf_get(v->rec, "VCPUs_params");
    if (xf_map_int(params, "cap", &cap))
        xf_put_int(c, "cpuCap", cap);
    if (xf_map_int(params, "weight", &weight))
        xf_put_int(c, "cpuWeight", weight);
    const char *mask = xf_cstr(c, xf_get(params, "mask"));
    if (!mask || !*mask)
        return;
    uint32_t n = 1;
    for (const char *p = mask; *p; p++)
        n += *p == ',';
    xf_key(c, "cpuMask");
    msgpack_pack_array(&c->pk, n);
    for (const char *p = mask; n-- > 0; p += strcspn(p, ",") + 1)
        msgpack_pack_int64(&c->pk, strtoll(p, NULL, 10));
}

/*  memory: {dynamic, static, size, usage?}                                                  */
static void s_memory(xf_ctx_t *c, const s_vm_t *v)
{
    int64_t dmin = 0, dmax = 0, smin = 0, smax = 0, used = 0, total = 0, actual = 0;
    xf_map_int(v->rec, "memory_dynamic_min", &dmin);
    xf_map_int(v->rec, "memory_dynamic_max", &dmax);
    xf_map_int(v->rec, "memory_static_min", &smin);
    xf_map_int(v->rec, "memory_static_max", &smax);
    const msgpack_object *gmm = xf_get(v->gm, "memory");
    bool has_usage = v->running && xf_map_int(gmm, "used", &used) &&
                     xf_map_int(gmm, "total", &total);
    int64_t size = dmax;
    if (has_usage)
        size = total;
    else if (v->running && xf_map_int(v->metrics, "memory_actual", &actual))
        size = actual;
    xf_key(c, "memory");
    msgpack_pack_map(&c->pk, has_usage ? 4 : 3);
    xf_pack_cstr(c, "dynamic");
    msgpack_pack_array(&c->pk, 2);
    msgpack_pack_int64(&c->pk, dmin);
    msgpack_pack_int64(&c->pk, dmax);
    xf_pack_cstr(c, "static");
    msgpack_pack_array(&c->pk, 2);
    msgpack_pack_int64(&c->pk, smin);
    msgpack_pack_int64(&c->pk, smax);
    xf_pack_cstr(c, "size");
    msgpack_pack_int64(&c->pk, size);
    if (has_usage) {
        xf_pack_cstr(c, "usage");
        msgpack_pack_int64(&c->pk, used);
    }
}

/*  Host owning a local SR that one of the VM's disks is on.                                 */
static const char *s_local_host(xf_ctx_t *c, const msgpack_object *rec)
{
    const msgpack_object *vbds = xf_get(rec, "VBDs");
    if (!vbds || vbds->type != MSGPACK_OBJECT_ARRAY)
        return NULL;
    for (uint32_t i = 0; i < vbds->via.array.size; i++) {
        const msgpack_object *vbd = xf_fetch(c, &vbds->via.array.ptr[i], XF_VBD);
        const msgpack_object *vdi = xf_fetch(c, xf_get(vbd, "VDI"), XF_VDI);
        const char *host = xf_fetch_sr_host(c, xf_get(vdi, "SR"));
        if (host)
            return host;
    }
    return NULL;
}

static void s_container(xf_ctx_t *c, const msgpack_object *rec)
{
    const char *id = xf_link(c, xf_get(rec, "resident_on"));
    if (!id)
        id = s_local_host(c, rec);
    if (!id)
        id = xf_pool_id(c);
    if (id)
        xf_put_str(c, "$container", id);
}

/*  addresses, mainIpAddress, os_version from the guest metrics.                             */
static void s_guest_net(xf_ctx_t *c, const s_vm_t *v)
{
    const msgpack_object *nets = xf_get(v->gm, "networks");
    if (nets && nets->type == MSGPACK_OBJECT_MAP) {
        xf_put_obj(c, "addresses", nets);
    } else {
        if (v->gm)
            xf_bad(c, "addresses", nets);
        xf_key(c, "addresses");
        msgpack_pack_map(&c->pk, 0);
    }
    const msgpack_object *ip = xf_get(nets, "0/ipv4/0");
    if (!xf_is_str(ip))
        ip = xf_get(nets, "0/ip");
    for (uint32_t i = 0; !xf_is_str(ip) && nets && nets->type == MSGPACK_OBJECT_MAP &&
                         i < nets->via.map.size;
         i++)
        if (xf_is_str(&nets->via.map.ptr[i].val))
            ip = &nets->via.map.ptr[i].val;
    if (xf_is_str(ip) && ip->via.str.size > 0)
        xf_put_obj(c, "mainIpAddress", ip);
    const msgpack_object *os = xf_get(v->gm, "os_version");
    if (os && os->type == MSGPACK_OBJECT_MAP)
        xf_put_obj(c, "os_version", os);
    else
        xf_put_null(c, "os_version");
}

/*  PV drivers and agent.                                                                     */
static void s_guest_tools(xf_ctx_t *c, const s_vm_t *v)
{
    const msgpack_object *pvd = xf_get(v->gm, "PV_drivers_version");
    const char *ma = xf_cstr(c, xf_get(pvd, "major")), *mi = xf_cstr(c, xf_get(pvd, "minor"));
    const char *mc = xf_cstr(c, xf_get(pvd, "micro")), *bu = xf_cstr(c, xf_get(pvd, "build"));
    bool detected = ma && *ma, b = false;
    if (xf_to_bool(xf_get(v->gm, "PV_drivers_detected"), &b))
        detected = b;
    xf_put_bool(c, "pvDriversDetected", v->gm && detected);
    char ver[128] = "";
    if (ma && *ma)
        snprintf(ver, sizeof(ver), "%.20s.%.20s.%.20s%s%.20s", ma, mi ? mi : "0", mc ? mc : "0",
                 bu && *bu ? "-" : "", bu ? bu : "");
    if (!v->gm || !ma || !*ma) {
        xf_put_bool(c, "xenTools", false);
    } else {
        xf_put_str(c, "pvDriversVersion", ver);
        xf_key(c, "xenTools");
        msgpack_pack_map(&c->pk, 3);
        xf_pack_cstr(c, "major");
        msgpack_pack_int64(&c->pk, strtoll(ma, NULL, 10));
        xf_pack_cstr(c, "minor");
        msgpack_pack_int64(&c->pk, mi ? strtoll(mi, NULL, 10) : 0);
        xf_pack_cstr(c, "version");
        xf_pack_cstr(c, ver);
    }
    if (v->gm && xf_to_bool(xf_get(v->gm, "PV_drivers_up_to_date"), &b))
        xf_put_bool(c, "pvDriversUpToDate", b);
    const msgpack_object *os = xf_get(v->gm, "os_version");
    xf_put_bool(c, "managementAgentDetected",
                v->gm && ((os && os->type == MSGPACK_OBJECT_MAP && os->via.map.size > 0) ||
                          (ma && *ma)));
}

/*  virtualizationMode and the HVM / PV specific fields.                                    */
static void s_virt(xf_ctx_t *c, const s_vm_t *v)
{
    const char *dt = xf_cstr(c, xf_get(v->rec, "domain_type"));
    const char *policy = xf_cstr(c, xf_get(v->rec, "HVM_boot_policy"));
    const char *mode = dt && *dt && strcmp(dt, "unspecified") != 0 ? dt
                       : policy && *policy                         ? "hvm"
                                                                   : "pv";
    xf_put_str(c, "virtualizationMode", mode);
    const msgpack_object *p = v->platform;
    xf_put_bool(c, "secureBoot", xf_map_str_eq(p, "secureboot", "true"));
    xf_put_bool(c, "needsVtpm", xf_map_str_eq(p, "vtpm", "true"));
    xf_put_bool(c, "viridian", xf_map_str_eq(p, "viridian", "true"));
    bool nested = xf_map_str_eq(p, "exp-nested-hvm", "true") ||
                  xf_map_str_eq(p, "nested-virt", "true");
    xf_put_bool(c, "isNestedVirtEnabled", nested);
    xf_put_bool(c, "expNestedHvm", nested);
    const msgpack_object *nic = xf_get(p, "nic_type");
    if (xf_is_str(nic))
        xf_put_obj(c, "nicType", nic);
    if (strcmp(mode, "hvm") == 0) {
        const msgpack_object *vga = xf_get(p, "vga");
        int64_t vram = 4;
        if (xf_is_str(vga) && vga->via.str.size > 0)
            xf_put_obj(c, "vga", vga);
        else
            xf_put_str(c, "vga", "cirrus");
        xf_map_int(p, "videoram", &vram);
        xf_put_int(c, "videoram", vram);
    } else {
        xf_field(c, "PV_args", xf_get(v->rec, "PV_args"), XF_STR);
    }
}

/*  A JSON value as msgpack (the xo:* entries of other_config hold JSON).                   */
static void s_pack_json(xf_ctx_t *c, const json_t *j)
{
    const char *k;
    json_t *e;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(&c->pk, json_object_size(j));
        json_object_foreach((json_t *)j, k, e) {
            xf_pack_cstr(c, k);
            s_pack_json(c, e);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(&c->pk, json_array_size(j));
        json_array_foreach(j, i, e)
            s_pack_json(c, e);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(&c->pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(&c->pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(&c->pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(&c->pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(&c->pk);
        break;
    default:
        msgpack_pack_nil(&c->pk);
    }
}

/*  Field `out` from JSON text in other_config[key]; the raw string if it is not JSON.      */
static void s_json_field(xf_ctx_t *c, const char *out, const msgpack_object *oc, const char *key)
{
    const msgpack_object *s = xf_get(oc, key);
    if (!xf_is_str(s))
        return;
    json_t *j = json_loadb(s->via.str.ptr, s->via.str.size, JSON_DECODE_ANY, NULL);
    if (!j) {
        xf_put_obj(c, out, s);
        return;
    }
    xf_key(c, out);
    s_pack_json(c, j);
    json_decref(j);
}

static void s_xo_fields(xf_ctx_t *c, const s_vm_t *v)
{
    const char *uuid = xf_cstr(c, xf_get(v->rec, "uuid"));
    char key[16];
    snprintf(key, sizeof(key), "xo:%.8s", uuid ? uuid : "");
    s_json_field(c, "creation", v->oc, key);
    const msgpack_object *notes = xf_get(v->oc, "xo:notes");
    if (xf_is_str(notes))
        xf_put_obj(c, "notes", notes);
    s_json_field(c, "resourceSet", v->oc, "xo:resource_set");
    xf_put_bool(c, "auto_poweron", xf_map_str_eq(v->oc, "auto_poweron", "true"));
    xf_put_bool(c, "isFirmwareSupported", true);
    xf_key(c, "vulnerabilities");
    msgpack_pack_map(&c->pk, 0);
}

/*  One <disk .../> of other_config.disks.                                                    */
static void s_pack_disk(xf_ctx_t *c, xmlNode *n)
{
    static const char *attrs[] = {"bootable", "size", "sr", "device", "type"};
    static const char *outs[] = {"bootable", "size", "SR", "device", "type"};
    msgpack_pack_map(&c->pk, 5);
    for (int i = 0; i < 5; i++) {
        xmlChar *a = xmlGetProp(n, (const xmlChar *)attrs[i]);
        const char *s = a ? (const char *)a : "";
        xf_pack_cstr(c, outs[i]);
        if (i == 0)
            strcmp(s, "true") == 0 ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk);
        else if (i == 1)
            msgpack_pack_int64(&c->pk, strtoll(s, NULL, 10));
        else
            xf_pack_cstr(c, s);
        xmlFree(a);
    }
}

static bool s_is_disk(const xmlNode *n)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, "disk") == 0;
}

static void s_disks(xf_ctx_t *c, const msgpack_object *oc)
{
    const msgpack_object *x = xf_get(oc, "disks");
    xmlDoc *doc = NULL;
    if (xf_is_str(x) && x->via.str.size > 0 && x->via.str.size < (1u << 20))
        doc = xmlReadMemory(x->via.str.ptr, (int)x->via.str.size, "disks.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    uint32_t n = 0;
    for (xmlNode *d = root ? root->children : NULL; d; d = d->next)
        n += s_is_disk(d);
    xf_pack_cstr(c, "disks");
    msgpack_pack_array(&c->pk, n);
    for (xmlNode *d = root ? root->children : NULL; d; d = d->next)
        if (s_is_disk(d))
            s_pack_disk(c, d);
    xmlFreeDoc(doc);
}

static void s_template_info(xf_ctx_t *c, const s_vm_t *v)
{
    const msgpack_object *arch = xf_get(v->oc, "install-arch");
    const msgpack_object *repo = xf_get(v->oc, "install-repository");
    const char *methods = xf_cstr(c, xf_get(v->oc, "install-methods"));
    xf_key(c, "template_info");
    msgpack_pack_map(&c->pk, 2 + xf_is_str(arch) + xf_is_str(repo));
    if (xf_is_str(arch)) {
        xf_pack_cstr(c, "arch");
        msgpack_pack_object(&c->pk, *arch);
    }
    s_disks(c, v->oc);
    uint32_t n = methods && *methods ? 1 : 0;
    for (const char *p = methods; n && *p; p++)
        n += *p == ',';
    xf_pack_cstr(c, "install_methods");
    msgpack_pack_array(&c->pk, n);
    for (const char *p = methods; n-- > 0; p += strcspn(p, ",") + 1)
        msgpack_pack_str_with_body(&c->pk, p, strcspn(p, ","));
    if (xf_is_str(repo)) {
        xf_pack_cstr(c, "install_repository");
        msgpack_pack_object(&c->pk, *repo);
    }
}

/*  The type, and the fields that only snapshots / templates have.                           */
static const char *s_kind(xf_ctx_t *c, const s_vm_t *v)
{
    bool ctl = false, snap = false, tpl = false;
    xf_to_bool(xf_get(v->rec, "is_control_domain"), &ctl);
    xf_to_bool(xf_get(v->rec, "is_a_snapshot"), &snap);
    xf_to_bool(xf_get(v->rec, "is_a_template"), &tpl);
    if (ctl)
        return "VM-controller";
    if (snap) {
        xf_field(c, "snapshot_time", xf_get(v->rec, "snapshot_time"), XF_TIME);
        xf_field(c, "$snapshot_of", xf_get(v->rec, "snapshot_of"), XF_LINK);
        xf_field(c, "suspendVdi", xf_get(v->rec, "suspend_VDI"), XF_LINK);
        return "VM-snapshot";
    }
    if (tpl) {
        xf_put_bool(c, "isDefaultTemplate", xf_vm_is_default_template(v->rec));
        s_template_info(c, v);
        return "VM-template";
    }
    return "VM";
}

const char *xf_vm(xf_ctx_t *c, const msgpack_object *rec)
{
    s_vm_t v = {.rec = rec};
    v.metrics = xf_fetch(c, xf_get(rec, "metrics"), XF_VM_METRICS);
    v.gm = xf_fetch(c, xf_get(rec, "guest_metrics"), XF_VM_GUEST_METRICS);
    v.platform = xf_get(rec, "platform");
    v.oc = xf_get(rec, "other_config");
    v.running = xf_map_str_eq(rec, "power_state", "Running") ||
                xf_map_str_eq(rec, "power_state", "Paused");
    XF_FIELDS(c, rec, s_vm);
    s_cpus(c, &v);
    s_memory(c, &v);
    s_container(c, rec);
    s_guest_net(c, &v);
    s_guest_tools(c, &v);
    s_virt(c, &v);
    s_xo_fields(c, &v);
    if (v.metrics) {
        xf_field(c, "startTime", xf_get(v.metrics, "start_time"), XF_TIME);
        xf_field(c, "installTime", xf_get(v.metrics, "install_time"), XF_TIME);
    } else { /* no metrics (yet) is normal */
        xf_put_null(c, "startTime");
        xf_put_null(c, "installTime");
    }
    return s_kind(c, &v);
}
