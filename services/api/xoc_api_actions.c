/*  xoc_api_actions — the core object actions of xo-api.md §4.3: VM lifecycle, settings,
    snapshot / revert / clone / delete, host restart / agent restart / maintenance / enable /
    disable / settings, pool settings, SR scan and settings, networks (create / set /
    delete), task cancel / destroy, message delete. Each handler resolves its object with the ACL permission of the §8.4
    capabilities table, queues the XAPI calls xo-server makes for it, and runs them through
    the pool's gateway (xoc_api_xapi.c); methods that create an object answer its id once
    the replica has it.                                                                    */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_log.h"

#define S_OPERATE XOC_API_ACL_OPERATE
#define S_ADMINISTRATE XOC_API_ACL_ADMINISTRATE
#define S_VIEW XOC_API_ACL_VIEW

/* a one-step action on params.id: method(ref) */
static int s_simple(xoc_api_call_t *call, const char *types, xoc_api_acl_perm_t perm,
                    const char *method)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", types, perm);
    if (!a)
        return 0;
    xoc_api_act_step(a, method, json_pack("[s]", xoc_api_act_ref(a)));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- VM lifecycle --------------------------------------------------------------------------- */

/* xo-server's check before a start (skipped with bypassMacAddressesCheck): the VM's VIFs
   have distinct MACs, and no running or paused VM (of any pool) has a VIF with one of
   them. A clash answers operationFailed {objectId, code: DUPLICATED_MAC_ADDRESS}. */
typedef struct {
    xoc_api_server_t *srv;
    const char *vm_id;
    json_t *filters; /* [{"MAC": mac}...] */
    bool clash;
} s_mac_scan_t;

static int s_mac_each(const xoc_replica_obj_t *obj, void *arg)
{
    s_mac_scan_t *m = arg;
    if (strcmp(obj->type, "VIF") != 0)
        return 0;
    size_t i;
    json_t *filter;
    json_array_foreach(m->filters, i, filter)
    {
        if (!xoc_api_objects_match(obj, filter))
            continue;
        json_t *vif = xoc_api_object(m->srv, obj->id);
        const char *owner = vif ? xoc_api_str(vif, "$VM") : "";
        json_t *vm = *owner && strcmp(owner, m->vm_id) ? xoc_api_object(m->srv, owner) : NULL;
        const char *ps = vm ? xoc_api_str(vm, "power_state") : "";
        m->clash = !strcmp(ps, "Running") || !strcmp(ps, "Paused");
        json_decref(vm);
        json_decref(vif);
        if (m->clash)
            return 1;
    }
    return 0;
}

static bool s_mac_clash(xoc_api_server_t *srv, const json_t *vm)
{
    s_mac_scan_t m = {.srv = srv, .vm_id = xoc_api_str(vm, "id"), .filters = json_array()};
    size_t i;
    json_t *vif_id;
    json_array_foreach(json_object_get(vm, "VIFs"), i, vif_id)
    {
        json_t *vif = xoc_api_object(srv, json_string_value(vif_id));
        const char *mac = vif ? xoc_api_str(vif, "MAC") : "";
        for (size_t k = 0; *mac && k < json_array_size(m.filters); k++)
            if (!strcmp(mac, xoc_api_str(json_array_get(m.filters, k), "MAC")))
                m.clash = true; /* twice on this VM */
        if (*mac)
            json_array_append_new(m.filters, json_pack("{s:s}", "MAC", mac));
        json_decref(vif);
    }
    if (!m.clash && json_array_size(m.filters) > 0)
        xoc_replica_foreach(srv->replica, s_mac_each, &m);
    json_decref(m.filters);
    return m.clash;
}

int xoc_api_m_vm_start(xoc_api_call_t *call)
{
    json_t *host = NULL;
    if (xoc_api_param(call, "host") && !(host = xoc_api_resolve(call, "host", "host", S_OPERATE)))
        return 0;
    json_t *vm = xoc_api_resolve(call, "id", "VM", S_OPERATE);
    if (vm && !xoc_api_flag(call, "bypassMacAddressesCheck") && s_mac_clash(call->srv, vm)) {
        xoc_api_call_fail_raw(call, 21, "operation failed",
                              json_pack("{s:s,s:s}", "objectId", xoc_api_str(vm, "id"), "code",
                                        "DUPLICATED_MAC_ADDRESS"));
        json_decref(vm);
        vm = NULL;
    }
    xoc_api_act_t *a = vm ? xoc_api_act_on(call, vm) : NULL;
    if (!a) {
        json_decref(host);
        return 0;
    }
    const char *ref = xoc_api_act_ref(a);
    const char *ps = xoc_api_str(xoc_api_act_obj(a), "power_state");
    bool force = xoc_api_flag(call, "force");
    if (!strcmp(ps, "Paused"))
        xoc_api_act_step(a, "VM.unpause", json_pack("[s]", ref));
    else if (!strcmp(ps, "Suspended"))
        xoc_api_act_step(a, "VM.resume", json_pack("[s,b,b]", ref, 0, force));
    else if (host)
        xoc_api_act_step(a, "VM.start_on",
                         json_pack("[s,s,b,b]", ref, xoc_api_str(host, "_xapiRef"), 0, force));
    else
        xoc_api_act_step(a, "VM.start", json_pack("[s,b,b]", ref, 0, force));
    json_decref(host);
    xoc_api_act_run(a, NULL);
    return 0;
}

int xoc_api_m_vm_stop(xoc_api_call_t *call)
{
    return s_simple(call, "VM", S_OPERATE,
                    xoc_api_flag(call, "force") ? "VM.hard_shutdown" : "VM.clean_shutdown");
}

int xoc_api_m_vm_restart(xoc_api_call_t *call)
{
    return s_simple(call, "VM", S_OPERATE,
                    xoc_api_flag(call, "force") ? "VM.hard_reboot" : "VM.clean_reboot");
}

int xoc_api_m_vm_power(xoc_api_call_t *call)
{
    const char *verb = strrchr(call->method->name, '.') + 1;
    if (strcmp(verb, "resume") != 0) {
        char method[32];
        snprintf(method, sizeof method, "VM.%s", verb);
        return s_simple(call, "VM", S_OPERATE, method);
    }
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "VM", S_OPERATE);
    if (!a)
        return 0;
    xoc_api_act_step(a, "VM.resume", json_pack("[s,b,b]", xoc_api_act_ref(a), 0, 0));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- vm.set ---------------------------------------------------------------------------------- */

/* a size: an integer, or a string such as "2GiB", "512 MiB", "1G", "10GB" (powers of 1024) */
bool xoc_api_size_parse(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out >= 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 64)
        return false;
    char *end;
    double n = strtod(s, &end);
    if (end == s || !(n >= 0 && n <= 9.0e18)) /* no number, NaN, negative, too big */
        return false;
    while (*end == ' ')
        end++;
    static const char units[] = "BKMGTP";
    const char *u = units;
    if (*end) {
        u = strchr(units, toupper((unsigned char)*end));
        if (!u || (end[1] && strcasecmp(end + 1, "iB") && strcasecmp(end + 1, "B")) ||
            (*u == 'B' && end[1]))
            return false;
    }
    for (const char *p = units; p < u; p++)
        n *= 1024;
    if (!(n <= 9.0e18))
        return false;
    *out = (int64_t)n;
    return true;
}

static int64_t s_int(const json_t *obj, const char *a, const char *b, size_t i)
{
    json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    if (json_is_array(v))
        v = json_array_get(v, i);
    return json_integer_value(v);
}

/* memory settings: memory / memoryMax (dynamic max), memoryMin (dynamic min),
   memoryStaticMax; a running VM changes its dynamic range only */
static int s_set_memory(xoc_api_act_t *a, const json_t *p, bool running)
{
    const json_t *vm = xoc_api_act_obj(a);
    const char *ref = xoc_api_act_ref(a);
    int64_t smin = s_int(vm, "memory", "static", 0), smax = s_int(vm, "memory", "static", 1);
    int64_t dmin = s_int(vm, "memory", "dynamic", 0), dmax = s_int(vm, "memory", "dynamic", 1);
    json_t *v;
    int64_t n;
    bool any = false;
    if ((v = json_object_get(p, "memory")) || (v = json_object_get(p, "memoryMax"))) {
        if (!xoc_api_size_parse(v, &n))
            return XOC_EINVAL;
        dmax = n;
        dmin = dmin > n ? n : dmin;
        smax = smax < n ? n : smax;
        any = true;
    }
    if ((v = json_object_get(p, "memoryMin"))) {
        if (!xoc_api_size_parse(v, &n))
            return XOC_EINVAL;
        dmin = n;
        any = true;
    }
    if ((v = json_object_get(p, "memoryStaticMax"))) {
        if (!xoc_api_size_parse(v, &n) || running)
            return running ? XOC_ESTATE : XOC_EINVAL;
        smax = n;
        dmax = dmax > n ? n : dmax;
        dmin = dmin > n ? n : dmin;
        any = true;
    }
    if (!any)
        return 0;
    if (running)
        xoc_api_act_step(a, "VM.set_memory_dynamic_range",
                         json_pack("[s,I,I]", ref, (json_int_t)dmin, (json_int_t)dmax));
    else
        xoc_api_act_step(a, "VM.set_memory_limits",
                         json_pack("[s,I,I,I,I]", ref, (json_int_t)smin, (json_int_t)smax,
                                   (json_int_t)dmin, (json_int_t)dmax));
    return 0;
}

static void s_set_cpus(xoc_api_act_t *a, const json_t *p, bool running)
{
    const json_t *vm = xoc_api_act_obj(a);
    const char *ref = xoc_api_act_ref(a);
    int64_t max = s_int(vm, "CPUs", "max", 0);
    json_t *cpus_max = json_object_get(p, "cpusMax"), *cpus = json_object_get(p, "CPUs");
    if (cpus_max) {
        max = json_integer_value(cpus_max);
        xoc_api_act_step(a, "VM.set_VCPUs_max", json_pack("[s,I]", ref, (json_int_t)max));
    }
    if (!cpus)
        return;
    int64_t n = json_integer_value(cpus);
    if (running)
        xoc_api_act_step(a, "VM.set_VCPUs_number_live", json_pack("[s,I]", ref, (json_int_t)n));
    else {
        if (n > max)
            xoc_api_act_step(a, "VM.set_VCPUs_max", json_pack("[s,I]", ref, (json_int_t)n));
        xoc_api_act_step(a, "VM.set_VCPUs_at_startup", json_pack("[s,I]", ref, (json_int_t)n));
    }
}

/* other_config[key] = "true" / absent (xo-server's auto_poweron) */
static void s_other_config_flag(xoc_api_act_t *a, const char *cls, const char *key, bool on)
{
    char m[64];
    snprintf(m, sizeof m, "%s.remove_from_other_config", cls);
    xoc_api_act_step(a, m, json_pack("[s,s]", xoc_api_act_ref(a), key));
    if (on) {
        snprintf(m, sizeof m, "%s.add_to_other_config", cls);
        xoc_api_act_step(a, m, json_pack("[s,s,s]", xoc_api_act_ref(a), key, "true"));
    }
}

/* name_label / name_description of any class */
static void s_set_names(xoc_api_act_t *a, const json_t *p, const char *cls)
{
    const char *fields[] = {"name_label", "name_description"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(p, fields[i]);
        if (!v)
            continue;
        char m[64];
        snprintf(m, sizeof m, "%s.set_%s", cls, fields[i]);
        xoc_api_act_step(a, m, json_pack("[s,O]", xoc_api_act_ref(a), v));
    }
}

/* vm.setAndRestart: a step failed after the shutdown: the VM is started again, then the
   step's error is the answer (the shutdown or the start itself failing: at once) */
static bool s_restart_after_failure(xoc_api_act_t *a, int status, const json_t *fault)
{
    const char *failed = xoc_api_act_failed_method(a);
    if (!strcmp(failed, "VM.clean_shutdown") || !strcmp(failed, "VM.hard_shutdown") ||
        !strcmp(failed, "VM.start"))
        return false;
    xoc_api_act_cleanup_begin(a, status, fault);
    xoc_api_act_step(a, "VM.start", json_pack("[s,b,b]", xoc_api_act_ref(a), 0, 0));
    xoc_api_act_cleanup_run(a);
    return true;
}

int xoc_api_m_vm_set(xoc_api_call_t *call)
{
    json_t *p = call->params;
    const char *ha = xoc_api_param(call, "high_availability");
    if (ha && strcmp(ha, "restart") && strcmp(ha, "best-effort") && strcmp(ha, ""))
        return XOC_EINVAL;
    json_t *affinity = NULL;
    const char *aff = xoc_api_param(call, "affinityHost");
    if (aff && !(affinity = xoc_api_resolve(call, "affinityHost", "host", S_ADMINISTRATE)))
        return 0;
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "VM,VM-template,VM-snapshot", S_ADMINISTRATE);
    if (!a) {
        json_decref(affinity);
        return 0;
    }
    const char *ref = xoc_api_act_ref(a);
    bool running = strcmp(xoc_api_str(xoc_api_act_obj(a), "power_state"), "Halted") != 0;
    /* vm.setAndRestart: a running VM is shut down, set as a halted one, then started again
       (also when a setting fails: its error is the answer) */
    bool restart = running && !strcmp(call->method->name, "vm.setAndRestart");
    if (restart) {
        xoc_api_act_step(a, xoc_api_flag(call, "force") ? "VM.hard_shutdown" : "VM.clean_shutdown",
                         json_pack("[s]", ref));
        running = false;
    }
    s_set_names(a, p, "VM");
    s_set_cpus(a, p, running);
    int rc = s_set_memory(a, p, running);
    if (rc) {
        json_decref(affinity);
        json_t *state = NULL; /* incorrectState {actual, expected, object, property} (§2) */
        if (rc == XOC_ESTATE)
            state = json_pack("{s:s,s:s,s:s,s:s}", "actual",
                              xoc_api_str(xoc_api_act_obj(a), "power_state"), "expected", "Halted",
                              "object", xoc_api_str(xoc_api_act_obj(a), "id"), "property",
                              "power_state");
        xoc_api_act_fail(a, rc, NULL, state);
        return 0;
    }
    json_t *v;
    if ((v = json_object_get(p, "auto_poweron")))
        s_other_config_flag(a, "VM", "auto_poweron", json_is_true(v));
    if (ha)
        xoc_api_act_step(a, "VM.set_ha_restart_priority", json_pack("[s,s]", ref, ha));
    if ((v = json_object_get(p, "PV_args")))
        xoc_api_act_step(a, "VM.set_PV_args", json_pack("[s,O]", ref, v));
    if ((v = json_object_get(p, "startDelay")))
        xoc_api_act_step(a, "VM.set_start_delay", json_pack("[s,O]", ref, v));
    if (json_object_get(p, "affinityHost"))
        xoc_api_act_step(
            a, "VM.set_affinity",
            json_pack("[s,s]", ref,
                      affinity ? xoc_api_str(affinity, "_xapiRef") : "OpaqueRef:NULL"));
    json_decref(affinity);
    if (restart) {
        xoc_api_act_step(a, "VM.start", json_pack("[s,b,b]", ref, 0, 0));
        xoc_api_act_on_fail_step(a, NULL, s_restart_after_failure);
    }
    xoc_api_act_run(a, NULL);
    return 0;
}

/* vm.setBootOrder {vm, order}: an HVM guest's boot order ("cdn": disk, CD, network), the other
   boot parameters kept */
int xoc_api_m_vm_set_boot_order(xoc_api_call_t *call)
{
    const char *order = xoc_api_param(call, "order");
    size_t n = strlen(order);
    bool ok = n > 0 && n <= 3 && strspn(order, "cdn") == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = strchr(order + i + 1, order[i]) == NULL; /* each device once */
    if (!ok) {
        xoc_api_call_fail(call, XOC_EINVAL, "order: c (disk), d (CD), n (network), each once",
                          NULL);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_new(call, "vm", "VM,VM-template", S_OPERATE);
    if (!a)
        return 0;
    const json_t *vm = xoc_api_act_obj(a);
    if (strcmp(xoc_api_str(vm, "virtualizationMode"), "hvm") != 0) {
        xoc_api_act_fail(a, XOC_EINVAL, "the boot order is only for HVM guests", NULL);
        return 0;
    }
    json_t *boot = json_object_get(vm, "boot");
    json_t *params = json_is_object(boot) ? json_deep_copy(boot) : json_object();
    json_object_set_new(params, "order", json_string(order));
    xoc_api_act_step(a, "VM.set_HVM_boot_params", json_pack("[s,o]", xoc_api_act_ref(a), params));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* vm.convertToTemplate {id}: administrate on the VM and on its pool; a halted VM */
int xoc_api_m_vm_convert_to_template(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "id", "VM", S_ADMINISTRATE);
    if (!vm)
        return 0;
    if (xoc_api_acl_check(call, xoc_api_str(vm, "$pool"), S_ADMINISTRATE) != 0) {
        json_decref(vm);
        return 0;
    }
    const char *ps = xoc_api_str(vm, "power_state");
    if (strcmp(ps, "Halted") != 0) { /* as XAPI: a template cannot run */
        char actual[32];
        snprintf(actual, sizeof actual, "%s", ps);
        for (char *p = actual; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        char msg[96];
        snprintf(msg, sizeof msg, "VM state is %s but should be halted", actual);
        xoc_api_call_fail_raw(call, 13, msg,
                              json_pack("{s:s,s:s,s:s}", "objectId", xoc_api_str(vm, "id"),
                                        "expected", "halted", "actual", actual));
        json_decref(vm);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a)
        return 0;
    xoc_api_act_step(a, "VM.set_is_a_template", json_pack("[s,b]", xoc_api_act_ref(a), 1));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- snapshot, revert, clone: new objects ------------------------------------------------------
 */

static void s_answer_new_id(xoc_api_act_t *a)
{
    xoc_api_act_done(a, json_string(xoc_api_act_wait_id(a)));
}

/* the caller's admin ACL on the new object is written (or could not be: the object exists
   all the same, so its id is answered; the failure is logged) */
static void s_granted(void *arg, int status)
{
    xoc_api_act_t *a = arg;
    if (status != 0)
        xoc_warn("vm: the caller's admin ACL on id=%s could not be written: %s",
                 xoc_api_act_wait_id(a), xoc_strerror(status));
    s_answer_new_id(a);
}

/* the new object is in the replica: a non-admin caller receives an admin ACL on it (§8.4,
   as xo-server does for vm.snapshot / vm.clone / vm.create), before the answer, so that the
   object is in his view (and pushed to him) when he gets its id */
void xoc_api_act_grant_new(xoc_api_act_t *a)
{
    xoc_api_call_t *call = xoc_api_act_call(a);
    const char *uid = xoc_api_str(call->user, "id");
    if (xoc_api_acl_is_admin(call->user) || !*uid) {
        s_answer_new_id(a);
        return;
    }
    xoc_api_access_grant(call->srv, uid, xoc_api_act_wait_id(a), "admin", s_granted, a);
}

/* vm.snapshot / vm.clone also need operate on the SRs of the VM's disks (xo-server's
   check on SRs; super-admins pass). 0, or the call was answered with unauthorized. */
static int s_check_srs(xoc_api_call_t *call, const json_t *vm)
{
    int rc = 0;
    size_t i;
    json_t *vbd_id;
    json_array_foreach(json_object_get(vm, "$VBDs"), i, vbd_id)
    {
        json_t *vbd = xoc_api_object(call->srv, json_string_value(vbd_id));
        json_t *vdi = vbd && !json_is_true(json_object_get(vbd, "is_cd_drive"))
                          ? xoc_api_object(call->srv, xoc_api_str(vbd, "VDI"))
                          : NULL;
        const char *sr = vdi ? xoc_api_str(vdi, "$SR") : "";
        if (*sr)
            rc = xoc_api_acl_check(call, sr, S_OPERATE);
        json_decref(vdi);
        json_decref(vbd);
        if (rc)
            break;
    }
    return rc;
}

/* after VM.get_uuid: wait for the new object in the replica, then answer its id */
static void s_got_uuid(xoc_api_act_t *a)
{
    xoc_api_act_wait_result(a, xoc_api_act_grant_new);
}

/* the same for objects whose creator gets no ACL (networks) */
static void s_got_uuid_plain(xoc_api_act_t *a)
{
    xoc_api_act_wait_result(a, s_answer_new_id);
}

/* the last step returned the new VM's ref: optional description, then its uuid */
static void s_got_new_ref(xoc_api_act_t *a)
{
    const char *ref = json_string_value(xoc_api_act_result(a));
    if (!ref || strncmp(ref, "OpaqueRef:", 10) != 0) {
        xoc_api_act_fail(a, XOC_EXAPI, "no ref for the new VM", NULL);
        return;
    }
    const char *desc = xoc_api_param(xoc_api_act_call(a), "description");
    if (desc)
        xoc_api_act_step(a, "VM.set_name_description", json_pack("[s,s]", ref, desc));
    xoc_api_act_step(a, "VM.get_uuid", json_pack("[s]", ref));
    xoc_api_act_run(a, s_got_uuid);
}

int xoc_api_m_vm_snapshot(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "id", "VM", S_OPERATE);
    if (!vm)
        return 0;
    if (s_check_srs(call, vm) != 0) {
        json_decref(vm);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a)
        return 0;
    char name[512];
    const char *given = xoc_api_param(call, "name");
    if (given)
        snprintf(name, sizeof name, "%s", given);
    else { /* xo-server's default: <name_label>_<ISO date> */
        char date[40];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        snprintf(name, sizeof name, "%s_%s", xoc_api_str(xoc_api_act_obj(a), "name_label"), date);
    }
    /* with its memory (saveMemory): a checkpoint, which XAPI refuses unless the VM runs */
    xoc_api_act_step(a, xoc_api_flag(call, "saveMemory") ? "VM.checkpoint" : "VM.snapshot",
                     json_pack("[s,s]", xoc_api_act_ref(a), name));
    xoc_api_act_run(a, s_got_new_ref);
    return 0;
}

/* vm.revert, as xo-server does it: the snapshot's power state at snapshot time is read,
   VM.revert leaves the VM halted (suspended for a checkpoint), and a VM that was running
   when snapshotted is started (resumed) again; that last call's failure is only logged:
   the revert itself succeeded. */
static bool s_restart_failed(xoc_api_act_t *a, int status, const json_t *fault)
{
    xoc_warn("vm.revert: the VM reverted, but starting it again failed: %s %s",
             xoc_err_name(status), json_string_value(json_array_get(fault, 0)) ?: "");
    xoc_api_act_done(a, NULL);
    return true;
}

static void s_revert_restart(xoc_api_act_t *a)
{
    const char *ps = json_string_value(xoc_api_act_result(a)),
               *vm = json_string_value(xoc_api_act_kept(a));
    const char *method = !ps                        ? NULL
                         : !strcmp(ps, "Halted")    ? "VM.start"
                         : !strcmp(ps, "Suspended") ? "VM.resume"
                                                    : NULL;
    if (!method) {
        xoc_api_act_done(a, NULL);
        return;
    }
    xoc_api_act_step(a, method, json_pack("[s,b,b]", vm, 0, 0));
    xoc_api_act_on_fail_step(a, method, s_restart_failed);
    xoc_api_act_run(a, NULL);
}

static void s_revert_info(xoc_api_act_t *a)
{
    const char *was =
        json_string_value(json_object_get(xoc_api_act_result(a), "power-state-at-snapshot"));
    const char *vm = json_string_value(xoc_api_act_kept(a));
    xoc_api_act_step(a, "VM.revert", json_pack("[s]", xoc_api_act_ref(a)));
    if (!was || strcmp(was, "Running") != 0 || !vm || !*vm) {
        xoc_api_act_run(a, NULL);
        return;
    }
    xoc_api_act_step(a, "VM.get_power_state", json_pack("[s]", vm));
    xoc_api_act_on_fail_step(a, "VM.get_power_state", s_restart_failed);
    xoc_api_act_run(a, s_revert_restart);
}

int xoc_api_m_vm_revert(xoc_api_call_t *call)
{
    json_t *snap = xoc_api_resolve(call, "snapshot", "VM-snapshot", S_VIEW);
    if (!snap)
        return 0;
    /* and operate on the VM it is a snapshot of */
    const char *of = xoc_api_str(snap, "$snapshot_of");
    if (*of && xoc_api_acl_check(call, of, S_OPERATE) != 0) {
        json_decref(snap);
        return 0;
    }
    json_t *vm = *of ? xoc_api_object(call->srv, of) : NULL;
    char vm_ref[96];
    snprintf(vm_ref, sizeof vm_ref, "%s", vm ? xoc_api_str(vm, "_xapiRef") : "");
    json_decref(vm);
    xoc_api_act_t *a = xoc_api_act_on(call, snap);
    if (!a)
        return 0;
    xoc_api_act_keep(a, json_string(vm_ref));
    xoc_api_act_step(a, "VM.get_snapshot_info", json_pack("[s]", xoc_api_act_ref(a)));
    xoc_api_act_run(a, s_revert_info);
    return 0;
}

int xoc_api_m_vm_clone(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "id", "VM,VM-snapshot,VM-template", S_ADMINISTRATE);
    if (!vm)
        return 0;
    if (s_check_srs(call, vm) != 0) {
        json_decref(vm);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a)
        return 0;
    const char *ref = xoc_api_act_ref(a), *name = xoc_api_param(call, "name");
    if (xoc_api_flag(call, "full_copy")) /* a NULL SR: each disk copied in its own SR */
        xoc_api_act_step(a, "VM.copy", json_pack("[s,s,s]", ref, name, "OpaqueRef:NULL"));
    else
        xoc_api_act_step(a, "VM.clone", json_pack("[s,s]", ref, name));
    xoc_api_act_run(a, s_got_new_ref);
    return 0;
}

/* vm.migrate {vm, targetHost, migrationNetwork?, force?}: within the VM's pool, a live
   VM.pool_migrate (options force and network: migrationNetwork, else the pool's
   other_config["xo:migrationNetwork"]). Another pool, or a new SR for the disks (sr,
   mapVdisSrs, mapVifsNetworks), needs VM.migrate_send and the other pool's gateway: not
   carried out yet, refused with invalidParameters before anything moves. */
int xoc_api_m_vm_migrate(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "vm", "VM", S_ADMINISTRATE);
    json_t *host = vm ? xoc_api_resolve(call, "targetHost", "host", S_ADMINISTRATE) : NULL;
    json_t *net = NULL;
    if (host && xoc_api_param(call, "migrationNetwork") &&
        !(net = xoc_api_resolve(call, "migrationNetwork", "network", S_ADMINISTRATE))) {
        json_decref(host);
        host = NULL;
    }
    if (!host) {
        json_decref(vm);
        return 0;
    }
    const char *why = NULL, *pool = xoc_api_str(vm, "$pool");
    if (strcmp(pool, xoc_api_str(host, "$pool")))
        why = "targetHost: in another pool (migration between pools is not supported yet)";
    else if (json_object_get(call->params, "sr") || json_object_get(call->params, "mapVdisSrs") ||
             json_object_get(call->params, "mapVifsNetworks"))
        why = "sr, mapVdisSrs, mapVifsNetworks: storage migration is not supported yet";
    else if (net && strcmp(pool, xoc_api_str(net, "$pool")))
        why = "migrationNetwork: not in the VM's pool";
    json_t *options = json_pack("{s:s,s:s}", "live", "true", "force",
                                xoc_api_flag(call, "force") ? "true" : "false");
    const char *net_ref = net ? xoc_api_str(net, "_xapiRef") : "";
    json_t *pool_obj = !why && !net ? xoc_api_object(call->srv, pool) : NULL;
    const char *dflt = xoc_api_str(json_object_get(pool_obj, "other_config"),
                                   "xo:migrationNetwork");
    json_t *dnet = *dflt ? xoc_api_object(call->srv, dflt) : NULL;
    if (dnet && !strcmp(xoc_api_str(dnet, "$pool"), pool))
        net_ref = xoc_api_str(dnet, "_xapiRef");
    if (*net_ref)
        json_object_set_new(options, "network", json_string(net_ref));
    json_decref(dnet);
    json_decref(pool_obj);
    json_decref(net);
    char host_ref[96];
    snprintf(host_ref, sizeof host_ref, "%s", xoc_api_str(host, "_xapiRef"));
    json_decref(host);
    if (why) {
        xoc_api_call_fail(call, XOC_EINVAL, why, NULL);
        json_decref(options);
        json_decref(vm);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a) {
        json_decref(options);
        return 0;
    }
    xoc_api_act_step(a, "VM.pool_migrate",
                     json_pack("[s,s,o]", xoc_api_act_ref(a), host_ref, options));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* ---- vm.delete ----------------------------------------------------------------------------------
 */

/* refs of the VM's disks (not CD drives) that no other VM uses: json array */
static json_t *s_own_disks(xoc_api_server_t *srv, const json_t *vm)
{
    json_t *refs = json_array();
    size_t i;
    json_t *vbd_id;
    json_array_foreach(json_object_get(vm, "$VBDs"), i, vbd_id)
    {
        json_t *vbd = xoc_api_object(srv, json_string_value(vbd_id));
        json_t *vdi = vbd && !json_is_true(json_object_get(vbd, "is_cd_drive"))
                          ? xoc_api_object(srv, xoc_api_str(vbd, "VDI"))
                          : NULL;
        if (vdi && json_array_size(json_object_get(vdi, "$VBDs")) <= 1 &&
            *xoc_api_str(vdi, "_xapiRef"))
            json_array_append_new(refs, json_string(xoc_api_str(vdi, "_xapiRef")));
        json_decref(vdi);
        json_decref(vbd);
    }
    return refs;
}

static void s_acls_dropped(void *arg, int status)
{
    xoc_api_act_t *a = arg;
    if (status != 0)
        xoc_warn("vm.delete: the ACLs on id=%s could not all be removed: %s",
                 xoc_api_str(xoc_api_act_obj(a), "id"), xoc_strerror(status));
    /* then the disks (kept), if asked */
    size_t i;
    json_t *d;
    json_array_foreach(xoc_api_act_kept(a), i, d)
        xoc_api_act_step(a, "VDI.destroy", json_pack("[O]", d));
    xoc_api_act_run(a, NULL);
}

/* VM.destroy succeeded: the ACLs whose object is the VM go (§8.1), then the disks */
static void s_vm_destroyed(xoc_api_act_t *a)
{
    xoc_api_access_drop(xoc_api_act_call(a)->srv, xoc_api_str(xoc_api_act_obj(a), "id"), true,
                        s_acls_dropped, a);
}

int xoc_api_m_vm_delete(xoc_api_call_t *call)
{
    json_t *vm = xoc_api_resolve(call, "id", "VM,VM-snapshot,VM-template", S_ADMINISTRATE);
    if (!vm)
        return 0;
    json_t *blocked = json_object_get(json_object_get(vm, "blockedOperations"), "destroy");
    bool dflt = json_is_true(json_object_get(vm, "isDefaultTemplate"));
    const char *why = NULL, *reason = "";
    if (blocked && !xoc_api_flag(call, "force") && !xoc_api_flag(call, "forceBlockedOperation"))
        why = "destroy", reason = json_is_string(blocked) ? json_string_value(blocked) : "";
    else if (dflt && !xoc_api_flag(call, "forceDeleteDefaultTemplate"))
        why = "destroy", reason = "VM is default template";
    if (why) {
        char msg[128];
        snprintf(msg, sizeof msg, "forbidden operation: %s", why);
        xoc_api_call_fail_raw(call, 5, msg,
                              json_pack("{s:s,s:s}", "operation", why, "reason", reason));
        json_decref(vm);
        return 0;
    }
    json_t *disks = xoc_api_flag(call, "deleteDisks") ? s_own_disks(call->srv, vm) : json_array();
    xoc_api_act_t *a = xoc_api_act_on(call, vm);
    if (!a) {
        json_decref(disks);
        return 0;
    }
    const char *ref = xoc_api_act_ref(a);
    /* a forced deletion first clears what XAPI's VM.destroy refuses (OPERATION_BLOCKED,
       VM_IS_TEMPLATE of a default template), as xo-server does */
    if (blocked)
        xoc_api_act_step(a, "VM.remove_from_blocked_operations",
                         json_pack("[s,s]", ref, "destroy"));
    if (dflt)
        xoc_api_act_step(a, "VM.remove_from_other_config",
                         json_pack("[s,s]", ref, "default_template"));
    if (strcmp(xoc_api_str(vm, "power_state"), "Halted") && *xoc_api_str(vm, "power_state"))
        xoc_api_act_step(a, "VM.hard_shutdown", json_pack("[s]", ref));
    xoc_api_act_step(a, "VM.destroy", json_pack("[s]", ref));
    xoc_api_act_keep(a, disks);
    xoc_api_act_run(a, s_vm_destroyed);
    return 0;
}

/* ---- host
 * ---------------------------------------------------------------------------------------- */

/* evacuation failed: enable the host again, then answer the evacuation's error (kept as
   [status, fault]) */
static void s_answer_saved(xoc_api_act_t *a)
{
    const json_t *kept = xoc_api_act_kept(a);
    json_t *fault = json_array_get(kept, 1);
    xoc_api_act_fail_fault(a, (int)json_integer_value(json_array_get(kept, 0)),
                           json_is_array(fault) ? fault : NULL);
}

static bool s_evacuate_failed(xoc_api_act_t *a, int status, const json_t *fault)
{
    xoc_api_act_keep(a, json_pack("[i,O]", status, fault ? (json_t *)fault : json_null()));
    xoc_api_act_on_fail_step(a, NULL, NULL);
    /* the steps left are dropped: only the re-enable runs */
    xoc_api_act_clear_steps(a);
    xoc_api_act_step(a, "host.enable", json_pack("[s]", xoc_api_act_ref(a)));
    xoc_api_act_run(a, s_answer_saved);
    return true;
}

/* force: the evacuation's failure is ignored, the next steps run (xo-server's force) */
static bool s_evacuate_ignored(xoc_api_act_t *a, int status, const json_t *fault)
{
    xoc_info("host evacuation failed, going on (force) host=%s",
             xoc_api_str(xoc_api_act_obj(a), "id"));
    xoc_api_act_on_fail_step(a, NULL, NULL);
    xoc_api_act_run(a, NULL);
    return true;
}

/* disable, evacuate (on failure: enable again and fail, or go on with force), then
   `after` if any */
static void s_clear_host(xoc_api_act_t *a, const char *after, bool force)
{
    const char *ref = xoc_api_act_ref(a);
    xoc_api_act_step(a, "host.disable", json_pack("[s]", ref));
    xoc_api_act_step(a, "host.evacuate", json_pack("[s]", ref));
    if (after)
        xoc_api_act_step(a, after, json_pack("[s]", ref));
    xoc_api_act_on_fail_step(a, "host.evacuate", force ? s_evacuate_ignored : s_evacuate_failed);
    xoc_api_act_run(a, NULL);
}

int xoc_api_m_host_restart(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "host", S_OPERATE);
    if (a)
        s_clear_host(a, "host.reboot", xoc_api_flag(call, "force"));
    return 0;
}

int xoc_api_m_host_restart_agent(xoc_api_call_t *call)
{
    return s_simple(call, "host", S_ADMINISTRATE, "host.restart_agent");
}

int xoc_api_m_host_maintenance(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "host", S_ADMINISTRATE);
    if (!a)
        return 0;
    if (xoc_api_flag(call, "maintenance"))
        s_clear_host(a, NULL, false);
    else {
        xoc_api_act_step(a, "host.enable", json_pack("[s]", xoc_api_act_ref(a)));
        xoc_api_act_run(a, NULL);
    }
    return 0;
}

int xoc_api_m_host_enable(xoc_api_call_t *call)
{
    bool enable = strcmp(call->method->name, "host.enable") == 0;
    return s_simple(call, "host", S_ADMINISTRATE, enable ? "host.enable" : "host.disable");
}

/* <type>.set of the names only (host.set, sr.set): params.id, then its set_name_* calls */
static int s_names_only(xoc_api_call_t *call, const char *type, xoc_api_acl_perm_t perm)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", type, perm);
    if (!a)
        return 0;
    s_set_names(a, call->params, type);
    xoc_api_act_run(a, NULL);
    return 0;
}

int xoc_api_m_host_set(xoc_api_call_t *call)
{
    return s_names_only(call, "host", S_ADMINISTRATE);
}

/* ---- pool, SR, task, message
 * ----------------------------------------------------------------------- */

int xoc_api_m_pool_set(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "pool", S_ADMINISTRATE);
    if (!a)
        return 0;
    s_set_names(a, call->params, "pool");
    json_t *v = json_object_get(call->params, "auto_poweron");
    if (v)
        s_other_config_flag(a, "pool", "auto_poweron", json_is_true(v));
    xoc_api_act_run(a, NULL);
    return 0;
}

/* pool.setDefaultSr {sr}: administrate on the SR and on its pool */
int xoc_api_m_pool_set_default_sr(xoc_api_call_t *call)
{
    json_t *sr = xoc_api_resolve(call, "sr", "SR", S_ADMINISTRATE);
    if (!sr)
        return 0;
    json_t *pool = xoc_api_object(call->srv, xoc_api_str(sr, "$pool"));
    if (!pool) {
        json_decref(sr);
        return XOC_ENOENT;
    }
    if (xoc_api_acl_check(call, xoc_api_str(pool, "id"), S_ADMINISTRATE) != 0) {
        json_decref(pool);
        json_decref(sr);
        return 0;
    }
    char sr_ref[96];
    snprintf(sr_ref, sizeof sr_ref, "%s", xoc_api_str(sr, "_xapiRef"));
    json_decref(sr);
    xoc_api_act_t *a = xoc_api_act_on(call, pool);
    if (!a)
        return 0;
    xoc_api_act_step(a, "pool.set_default_SR", json_pack("[s,s]", xoc_api_act_ref(a), sr_ref));
    xoc_api_act_run(a, NULL);
    return 0;
}

int xoc_api_m_sr_scan(xoc_api_call_t *call)
{
    return s_simple(call, "SR", S_OPERATE, "SR.scan");
}

int xoc_api_m_sr_set(xoc_api_call_t *call)
{
    return s_names_only(call, "SR", S_OPERATE);
}

/* ---- networks ------------------------------------------------------------------------------ */

static void s_network_made(xoc_api_act_t *a)
{
    const char *ref = json_string_value(xoc_api_act_result(a));
    if (!ref || strncmp(ref, "OpaqueRef:", 10) != 0) {
        xoc_api_act_fail(a, XOC_EXAPI, "no ref for the new network", NULL);
        return;
    }
    xoc_api_act_step(a, "network.get_uuid", json_pack("[s]", ref));
    xoc_api_act_run(a, s_got_uuid_plain);
}

/* network.create {pool, name, description?, mtu?}: a private network of the pool (no PIF:
   VLANs on a PIF and bonds are not supported yet: 10); answers its id */
int xoc_api_m_network_create(xoc_api_call_t *call)
{
    if (json_object_get(call->params, "pif") || json_object_get(call->params, "vlan")) {
        xoc_api_call_fail(call, XOC_EINVAL, "pif, vlan: VLANs are not supported yet", NULL);
        return 0;
    }
    json_int_t mtu = json_integer_value(json_object_get(call->params, "mtu"));
    if (json_object_get(call->params, "mtu") && (mtu < 68 || mtu > 65535)) {
        xoc_api_call_fail(call, XOC_EINVAL, "mtu: 68 to 65535", NULL);
        return 0;
    }
    xoc_api_act_t *a = xoc_api_act_new(call, "pool", "pool", S_ADMINISTRATE);
    if (!a)
        return 0;
    const char *desc = xoc_api_param(call, "description");
    json_t *rec = json_pack("{s:s,s:s,s:I,s:{},s:[]}", "name_label", xoc_api_param(call, "name"),
                            "name_description", desc ? desc : "", "MTU",
                            mtu ? mtu : (json_int_t)1500, "other_config", "tags");
    xoc_api_act_step(a, "network.create", json_pack("[o]", rec));
    xoc_api_act_run(a, s_network_made);
    return 0;
}

/* network.set {id, name_label?, name_description?, defaultIsLocked?, automatic?} */
int xoc_api_m_network_set(xoc_api_call_t *call)
{
    xoc_api_act_t *a = xoc_api_act_new(call, "id", "network", S_ADMINISTRATE);
    if (!a)
        return 0;
    const char *ref = xoc_api_act_ref(a);
    s_set_names(a, call->params, "network");
    json_t *v;
    if ((v = json_object_get(call->params, "defaultIsLocked")))
        xoc_api_act_step(a, "network.set_default_locking_mode",
                         json_pack("[s,s]", ref, json_is_true(v) ? "disabled" : "unlocked"));
    if ((v = json_object_get(call->params, "automatic"))) { /* other_config, as xo-server */
        xoc_api_act_step(a, "network.remove_from_other_config",
                         json_pack("[s,s]", ref, "automatic"));
        xoc_api_act_step(a, "network.add_to_other_config",
                         json_pack("[s,s,s]", ref, "automatic",
                                   json_is_true(v) ? "true" : "false"));
    }
    xoc_api_act_run(a, NULL);
    return 0;
}

int xoc_api_m_network_delete(xoc_api_call_t *call)
{
    return s_simple(call, "network", S_ADMINISTRATE, "network.destroy");
}

int xoc_api_m_task_cancel(xoc_api_call_t *call)
{
    bool cancel = strcmp(call->method->name, "task.cancel") == 0;
    return s_simple(call, "task", S_ADMINISTRATE, cancel ? "task.cancel" : "task.destroy");
}

int xoc_api_m_message_delete(xoc_api_call_t *call)
{
    return s_simple(call, "message", S_ADMINISTRATE, "message.destroy");
}
