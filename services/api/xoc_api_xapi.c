/*  xoc_api_xapi — how an action reaches a pool: the target object resolved from the replica
    (xo-api.md §4.1 `resolve`: type check, noSuchObject, ACL permission), then XAPI calls
    carried out one after the other by the pool's gateway (bus service `xapi.<poolId>`,
    method `xapi.call`, never blocking the actor), XAPI faults turned into the error objects
    of §2 as xo-server does, and the bounded wait for a new object to reach the replica.

        xoc_api_act_t *a = xoc_api_act_new(call, "id", "VM", XOC_API_ACL_OPERATE);
        if (!a) return 0;                          (the call was answered: no such object...)
        xoc_api_act_step(a, "VM.start", json_pack("[sbb]", ref, false, false));
        xoc_api_act_run(a, NULL);                  (answers true when every step succeeded)  */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_msg.h"

#define S_WAIT_TICK_MS 5 /* a poll only while a call waits: see xoc_api_act_wait */

struct xoc_api_act {
    xoc_api_call_t *call;
    json_t *obj; /* the target object (replica copy) */
    char pool[64];
    json_t *steps;   /* [[method, params, flags], ...] still to run */
    json_t *last;    /* result of the last step */
    char method[96]; /* step in flight */
    json_t *params;  /* its params */
    xoc_api_act_fn *then;
    xoc_api_act_fail_fn *on_fail;
    char on_fail_method[96]; /* the step the hook is for ("" = any) */
    char fail_method[96];    /* the step that failed (its error is answered later) */
    json_t *fail_params;
    json_t *kept; /* the handler's data, freed with the action */
    /* the failure a clean-up answers once its steps ran (xoc_api_act_cleanup_begin) */
    int saved_status;
    json_t *saved_fault, *saved_params;
    char saved_method[96];
    /* bounded wait for an object */
    char wait_id[128];
    int64_t wait_until;
};

/* ---- objects of the replica ---------------------------------------------------------------- */

json_t *xoc_api_object(xoc_api_server_t *srv, const char *id)
{
    const xoc_replica_obj_t *o = id ? xoc_replica_get(srv->replica, id) : NULL;
    return o ? xoc_json_from_mp(o->data, o->size) : NULL;
}

const char *xoc_api_param(const xoc_api_call_t *call, const char *name)
{
    return json_string_value(json_object_get(call->params, name));
}

bool xoc_api_flag(const xoc_api_call_t *call, const char *name)
{
    return json_is_true(json_object_get(call->params, name));
}

const char *xoc_api_str(const json_t *obj, const char *field)
{
    const char *s = json_string_value(json_object_get(obj, field));
    return s ? s : "";
}

static bool s_type_in(const char *type, const char *types)
{
    size_t n = strlen(type);
    for (const char *p = types; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, type, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

/* noSuchObject as xo-server words it: "no such <types> <id>", data {id, type} */
static void s_no_such(xoc_api_call_t *call, const char *id, const char *types)
{
    char msg[400];
    snprintf(msg, sizeof msg, "no such %s %s", types, id);
    json_t *type = json_string(types);
    if (strchr(types, ',')) {
        json_decref(type);
        type = json_array();
        char buf[200];
        snprintf(buf, sizeof buf, "%s", types);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(type, json_string(t));
    }
    xoc_api_call_fail(call, XOC_ENOENT, msg, json_pack("{s:s,s:o}", "id", id, "type", type));
}

json_t *xoc_api_resolve(xoc_api_call_t *call, const char *param, const char *types,
                        xoc_api_acl_perm_t perm)
{
    const char *id = json_string_value(json_object_get(call->params, param));
    json_t *obj = xoc_api_object(call->srv, id);
    if (!obj || !s_type_in(xoc_api_str(obj, "type"), types)) {
        json_decref(obj);
        s_no_such(call, id ? id : "", types);
        return NULL;
    }
    if (xoc_api_acl_check(call, id, perm) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

/* the xo id of an opaque ref (the target's, else by a scan of the replica), else the ref */
typedef struct {
    const char *ref;
    size_t len;
    char id[128];
} s_ref_scan_t;

static int s_ref_each(const xoc_replica_obj_t *obj, void *arg)
{
    s_ref_scan_t *s = arg;
    /* cheap prefilter: the ref's bytes must occur in the object */
    if (obj->size < s->len || !memmem(obj->data, obj->size, s->ref, s->len))
        return 0;
    json_t *o = xoc_json_from_mp(obj->data, obj->size);
    bool hit = strcmp(xoc_api_str(o, "_xapiRef"), s->ref) == 0;
    json_decref(o);
    if (hit)
        snprintf(s->id, sizeof s->id, "%s", obj->id);
    return hit;
}

static json_t *s_ref_id(xoc_api_act_t *a, const char *ref)
{
    if (!ref || strncmp(ref, "OpaqueRef:", 10) != 0)
        return json_string(ref ? ref : "");
    if (strcmp(xoc_api_str(a->obj, "_xapiRef"), ref) == 0)
        return json_string(xoc_api_str(a->obj, "id"));
    s_ref_scan_t s = {.ref = ref, .len = strlen(ref)};
    xoc_replica_foreach(a->call->srv->replica, s_ref_each, &s);
    return json_string(s.id[0] ? s.id : ref);
}

void xoc_api_normalize_id(xoc_api_call_t *call)
{
    const xoc_api_param_t *list = call->method->params.list;
    const char *dot = strchr(call->method->name, '.');
    if (!list || !dot || json_object_get(call->params, "id"))
        return;
    char ns[64];
    snprintf(ns, sizeof ns, "%.*s", (int)(dot - call->method->name), call->method->name);
    bool has_id = false;
    for (const xoc_api_param_t *p = list; p->name; p++) {
        if (!strcmp(p->name, ns))
            return;
        has_id |= !strcmp(p->name, "id");
    }
    json_t *v = json_object_get(call->params, ns);
    if (!has_id || !json_is_string(v))
        return;
    if (call->params->refcount > 1) { /* params may be shared with the request: copy */
        json_t *copy = json_copy(call->params);
        if (!copy)
            return;
        json_decref(call->params);
        call->params = copy;
    }
    json_object_set(call->params, "id", v);
    json_object_del(call->params, ns);
}

/* ---- actions -------------------------------------------------------------------------------- */

static void s_free(xoc_api_act_t *a)
{
    if (!a)
        return;
    json_decref(a->obj);
    json_decref(a->steps);
    json_decref(a->last);
    json_decref(a->params);
    json_decref(a->fail_params);
    json_decref(a->kept);
    json_decref(a->saved_fault);
    json_decref(a->saved_params);
    free(a);
}

xoc_api_act_t *xoc_api_act_on(xoc_api_call_t *call, json_t *obj)
{
    xoc_api_act_t *a = calloc(1, sizeof *a);
    if (!a) {
        json_decref(obj);
        xoc_api_call_fail(call, XOC_ENOMEM, NULL, NULL);
        return NULL;
    }
    a->call = call;
    a->obj = obj;
    a->steps = json_array();
    snprintf(a->pool, sizeof a->pool, "%s", xoc_api_str(obj, "$pool"));
    return a;
}

xoc_api_act_t *xoc_api_act_new(xoc_api_call_t *call, const char *param, const char *types,
                               xoc_api_acl_perm_t perm)
{
    json_t *obj = xoc_api_resolve(call, param, types, perm);
    return obj ? xoc_api_act_on(call, obj) : NULL;
}

const json_t *xoc_api_act_obj(const xoc_api_act_t *a)
{
    return a->obj;
}
const char *xoc_api_act_ref(const xoc_api_act_t *a)
{
    return xoc_api_str(a->obj, "_xapiRef");
}
xoc_api_call_t *xoc_api_act_call(const xoc_api_act_t *a)
{
    return a->call;
}
const json_t *xoc_api_act_result(const xoc_api_act_t *a)
{
    return a->last;
}
const json_t *xoc_api_act_kept(const xoc_api_act_t *a)
{
    return a->kept;
}

void xoc_api_act_keep(xoc_api_act_t *a, json_t *value)
{
    json_decref(a->kept);
    a->kept = value;
}

void xoc_api_act_step(xoc_api_act_t *a, const char *method, json_t *params)
{
    json_array_append_new(a->steps, json_pack("[s,o]", method, params ? params : json_array()));
}

void xoc_api_act_done(xoc_api_act_t *a, json_t *result)
{
    xoc_api_call_done(a->call, result);
    a->call = NULL;
    s_free(a);
}

void xoc_api_act_fail(xoc_api_act_t *a, int xoc_code, const char *message, json_t *data)
{
    xoc_api_call_fail(a->call, xoc_code, message, data);
    a->call = NULL;
    s_free(a);
}

/* ---- XAPI faults as xo-server reports them (§2) -------------------------------------------- */

static const char *s_param(const json_t *fault, size_t i)
{
    return json_string_value(json_array_get(fault, i));
}

/* a fault [CODE, params...] of a well-known code -> XO error; false for the others */
static bool s_fail_known(xoc_api_act_t *a, const json_t *fault)
{
    const char *code = s_param(fault, 0);
    json_t *p1 = s_ref_id(a, s_param(fault, 1));
    const char *p2 = s_param(fault, 2), *p3 = s_param(fault, 3);
    char msg[300];
    int rpc = 0;
    json_t *data = NULL;
    if (!strcmp(code, "VM_BAD_POWER_STATE")) {
        rpc = 13;
        snprintf(msg, sizeof msg, "VM state is %s but should be %s", p3 ? p3 : "", p2 ? p2 : "");
        data = json_pack("{s:O,s:s,s:s}", "objectId", p1, "expected", p2 ? p2 : "", "actual",
                         p3 ? p3 : "");
    } else if (!strcmp(code, "HOST_OFFLINE")) {
        rpc = 18, snprintf(msg, sizeof msg, "host offline");
        data = json_pack("{s:O}", "objectId", p1);
    } else if (!strcmp(code, "NO_HOSTS_AVAILABLE")) {
        rpc = 7, snprintf(msg, sizeof msg, "no hosts available");
    } else if (!strcmp(code, "NOT_SUPPORTED_DURING_UPGRADE")) {
        rpc = 15, snprintf(msg, sizeof msg, "not supported during upgrade");
    } else if (!strcmp(code, "OPERATION_BLOCKED")) {
        rpc = 19, snprintf(msg, sizeof msg, "operation blocked");
        data = json_pack("{s:O,s:s}", "objectId", p1, "code", p2 ? p2 : "");
    } else if (!strcmp(code, "PIF_VLAN_EXISTS")) {
        rpc = 16, snprintf(msg, sizeof msg, "PIF already exists");
        data = json_pack("{s:O,s:s}", "objectId", p1, "objectType", "PIF");
    } else if (!strcmp(code, "SESSION_AUTHENTICATION_FAILED")) {
        rpc = 8, snprintf(msg, sizeof msg, "authentication failed");
    } else if (!strcmp(code, "VDI_IN_USE")) {
        rpc = 17, snprintf(msg, sizeof msg, "VDI in use");
        data = json_pack("{s:O,s:s}", "objectId", p1, "operation", p2 ? p2 : "");
    } else if (!strcmp(code, "VM_IS_TEMPLATE")) {
        rpc = 12, snprintf(msg, sizeof msg, "VM is a template");
        data = json_pack("{s:O}", "objectId", p1);
    } else if (!strcmp(code, "VM_LACKS_FEATURE") || !strcmp(code, "VM_LACKS_FEATURE_SHUTDOWN")) {
        bool shutdown = !strcmp(code, "VM_LACKS_FEATURE_SHUTDOWN");
        rpc = 14, snprintf(msg, sizeof msg, "VM lacks feature%s", shutdown ? " shutdown" : "");
        data = json_pack("{s:O}", "objectId", p1);
        if (shutdown)
            json_object_set_new(data, "feature", json_string("shutdown"));
    } else if (!strcmp(code, "VM_MISSING_PV_DRIVERS")) {
        rpc = 11, snprintf(msg, sizeof msg, "missing PV drivers");
        data = json_pack("{s:O}", "objectId", p1);
    }
    json_decref(p1);
    if (!rpc)
        return false;
    xoc_api_call_fail_raw(a->call, rpc, msg, data);
    a->call = NULL;
    s_free(a);
    return true;
}

/* any other fault: the details for an XO admin, a generic error for the others */
static void s_fail_fault(xoc_api_act_t *a, int status, const char *reason, json_t *fault)
{
    if (fault && json_array_size(fault) > 0 && json_is_string(json_array_get(fault, 0)) &&
        s_fail_known(a, fault))
        return;
    if (status == XOC_ENOSERVICE || status == XOC_EUNREACHABLE) {
        /* the pool is not connected (no gateway), or its master does not answer */
        xoc_api_act_fail(a, XOC_EUNREACHABLE, NULL,
                         json_pack("{s:s}", "objectId", xoc_api_str(a->obj, "id")));
        return;
    }
    if (status != XOC_EXAPI && status != XOC_EPERM) {
        xoc_api_act_fail(a, status, NULL, NULL);
        return;
    }
    /* XOC_EPERM from the gateway: a read-only server refused the call, a plain error as
       xo-server's client library throws it ("cannot call VM.start() in read only mode") */
    if (!xoc_api_acl_is_admin(a->call->user)) {
        xoc_api_call_fail_raw(a->call, XOC_API_RPC_GENERIC, "unknown error from the peer", NULL);
        a->call = NULL;
        s_free(a);
        return;
    }
    /* the call that failed, even when other steps ran since (host.enable after an
       evacuation failed) */
    json_t *data = json_pack("{s:{s:s,s:O}}", "call", "method",
                             a->fail_method[0] ? a->fail_method : a->method, "params",
                             a->fail_params ? a->fail_params
                             : a->params    ? a->params
                                            : json_null());
    if (fault) {
        json_t *params = json_array();
        for (size_t i = 1; i < json_array_size(fault); i++)
            json_array_append(params, json_array_get(fault, i));
        json_object_set_new(data, "code", json_string(s_param(fault, 0) ?: ""));
        json_object_set_new(data, "params", params);
    }
    xoc_api_call_fail_raw(a->call, XOC_API_RPC_GENERIC, reason, data);
    a->call = NULL;
    s_free(a);
}

/* ---- running the steps --------------------------------------------------------------------- */

static void s_next(xoc_api_act_t *a);

static void s_on_reply(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    xoc_api_act_t *a = arg;
    xoc_msg_t m;
    if (reply->status == 0) {
        json_decref(a->last);
        a->last = NULL;
        if (reply->body && xoc_reply_decode(reply, XOC_MSG_XAPI_CALL, &m) == 0 &&
            m.xapi_call.result.len)
            a->last = xoc_json_from_mp(m.xapi_call.result.ptr, m.xapi_call.result.len);
        if (!a->last)
            a->last = json_string("");
        xoc_debug("xapi call ok method=%s pool=%s", a->method, a->pool);
        s_next(a);
        return;
    }
    json_t *fault = NULL;
    if (reply->body && xoc_reply_decode(reply, XOC_MSG_ERROR, &m) == 0 && m.error.data.len)
        fault = xoc_json_from_mp(m.error.data.ptr, m.error.data.len);
    if (!json_is_array(fault)) {
        json_decref(fault);
        fault = NULL;
    }
    xoc_info("xapi call failed method=%s pool=%s status=%s reason=%s", a->method, a->pool,
             xoc_err_name(reply->status), reply->reason);
    snprintf(a->fail_method, sizeof a->fail_method, "%s", a->method);
    json_decref(a->fail_params);
    a->fail_params = json_incref(a->params);
    xoc_api_act_fail_fn *on_fail = a->on_fail;
    if (on_fail && a->on_fail_method[0] && strcmp(a->on_fail_method, a->method) != 0)
        on_fail = NULL;
    if (on_fail && on_fail(a, reply->status, fault)) {
        json_decref(fault);
        return; /* the action goes on (or was answered) */
    }
    s_fail_fault(a, reply->status, reply->reason, fault);
    json_decref(fault);
}

static void s_send(xoc_api_act_t *a)
{
    json_t *step = json_array_get(a->steps, 0);
    snprintf(a->method, sizeof a->method, "%s", json_string_value(json_array_get(step, 0)));
    json_decref(a->params);
    a->params = json_incref(json_array_get(step, 1));
    json_array_remove(a->steps, 0);
    msgpack_sbuffer mp, body;
    msgpack_sbuffer_init(&mp);
    msgpack_sbuffer_init(&body);
    int rc = xoc_json_to_mp(a->params, &mp);
    xoc_msg_xapi_call_t m = {.pool = xoc_str(a->pool),
                             .method = xoc_str(a->method),
                             .params = {(const uint8_t *)mp.data, (uint32_t)mp.size}};
    if (rc == 0)
        rc = xoc_msg_xapi_call_encode(&m, &body);
    char service[96];
    snprintf(service, sizeof service, "xapi.%s", a->pool);
    if (rc == 0)
        rc = xoc_client_send(a->call->srv->client, service, "xapi.call", body.data, body.size,
                             a->call->srv->xapi_timeout_ms, s_on_reply, a);
    msgpack_sbuffer_destroy(&mp);
    msgpack_sbuffer_destroy(&body);
    if (rc != 0)
        xoc_api_act_fail(a, rc, NULL, NULL);
}

static void s_next(xoc_api_act_t *a)
{
    if (json_array_size(a->steps) > 0) {
        s_send(a);
        return;
    }
    xoc_api_act_fn *then = a->then;
    if (then) {
        a->then = NULL;
        then(a);
    } else
        xoc_api_act_done(a, NULL);
}

void xoc_api_act_run(xoc_api_act_t *a, xoc_api_act_fn *then)
{
    a->then = then;
    if (!a->pool[0]) {
        xoc_api_act_fail(a, XOC_EUNREACHABLE, NULL,
                         json_pack("{s:s}", "objectId", xoc_api_str(a->obj, "id")));
        return;
    }
    s_next(a);
}

const char *xoc_api_act_failed_method(const xoc_api_act_t *a)
{
    return a->fail_method;
}

void xoc_api_act_on_fail_step(xoc_api_act_t *a, const char *method, xoc_api_act_fail_fn *fn)
{
    a->on_fail = fn;
    snprintf(a->on_fail_method, sizeof a->on_fail_method, "%s", method ? method : "");
}

void xoc_api_act_clear_steps(xoc_api_act_t *a)
{
    json_array_clear(a->steps);
}

void xoc_api_act_fail_fault(xoc_api_act_t *a, int status, const json_t *fault)
{
    /* the reason as the gateway words it: CODE(param, ...) */
    char reason[1024] = "";
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(fault) && n < sizeof reason; i++) {
        const char *s = json_string_value(json_array_get(fault, i));
        n += (size_t)snprintf(reason + n, sizeof reason - n, "%s%s",
                              i == 0   ? ""
                              : i == 1 ? "("
                                       : ", ",
                              s ? s : "");
    }
    if (json_array_size(fault) > 0 && n < sizeof reason)
        snprintf(reason + n, sizeof reason - n, "%s", json_array_size(fault) > 1 ? ")" : "()");
    s_fail_fault(a, status, reason[0] ? reason : xoc_strerror(status), (json_t *)fault);
}

/* ---- clean-up after a failed step ---------------------------------------------------------- */

/* the clean-up ran (or one of its steps failed): the saved failure is the answer, shown as
   the step that failed first */
static void s_cleanup_done(xoc_api_act_t *a)
{
    snprintf(a->fail_method, sizeof a->fail_method, "%s", a->saved_method);
    json_decref(a->fail_params);
    a->fail_params = json_incref(a->saved_params);
    xoc_api_act_fail_fault(a, a->saved_status, a->saved_fault);
}

static bool s_cleanup_failed(xoc_api_act_t *a, int status, const json_t *fault)
{
    xoc_warn("%s: clean-up step %s after %s failed: %s %s", a->call->method->name, a->method,
             a->saved_method, xoc_err_name(status),
             json_string_value(json_array_get(fault, 0)) ?: "");
    s_cleanup_done(a);
    return true;
}

void xoc_api_act_cleanup_begin(xoc_api_act_t *a, int status, const json_t *fault)
{
    a->saved_status = status;
    json_decref(a->saved_fault);
    a->saved_fault = fault ? json_deep_copy(fault) : NULL;
    snprintf(a->saved_method, sizeof a->saved_method, "%s", a->fail_method);
    json_decref(a->saved_params);
    a->saved_params = json_incref(a->fail_params);
    xoc_api_act_clear_steps(a);
}

void xoc_api_act_cleanup_run(xoc_api_act_t *a)
{
    xoc_api_act_on_fail_step(a, NULL, s_cleanup_failed);
    xoc_api_act_run(a, s_cleanup_done);
}

/* ---- waiting for an object --------------------------------------------------------------------
 */

static int s_on_wait_tick(zloop_t *loop, int timer_id, void *arg);

static void s_wait_end(xoc_api_server_t *srv, xoc_api_act_t *a)
{
    zlistx_delete(srv->act_waiters, zlistx_find(srv->act_waiters, a));
    if (zlistx_size(srv->act_waiters) == 0 && srv->act_timer >= 0) {
        zloop_timer_end(srv->node.loop, srv->act_timer);
        srv->act_timer = -1;
    }
    xoc_api_act_fn *then = a->then;
    a->then = NULL;
    then(a);
}

static int s_on_wait_tick(zloop_t *loop, int timer_id, void *arg)
{
    xoc_api_server_t *srv = arg;
    int64_t now = zclock_mono();
    zlistx_t *ready = zlistx_new();
    for (xoc_api_act_t *a = zlistx_first(srv->act_waiters); a; a = zlistx_next(srv->act_waiters))
        if (xoc_replica_get(srv->replica, a->wait_id) || now >= a->wait_until)
            zlistx_add_end(ready, a);
    for (xoc_api_act_t *a = zlistx_first(ready); a; a = zlistx_next(ready)) {
        xoc_debug("waited for id=%s found=%d", a->wait_id,
                  xoc_replica_get(srv->replica, a->wait_id) != NULL);
        if (!xoc_replica_get(srv->replica, a->wait_id))
            xoc_warn("object id=%s not in the replica after %d ms (answering its id)", a->wait_id,
                     srv->bus_timeout_ms);
        s_wait_end(srv, a);
    }
    zlistx_destroy(&ready);
    return 0;
}

/*  The last step's result is a new object's uuid (<class>.get_uuid): wait for it. */
void xoc_api_act_wait_result(xoc_api_act_t *a, xoc_api_act_fn *then)
{
    const char *uuid = json_string_value(xoc_api_act_result(a));
    if (!uuid || !*uuid) {
        xoc_api_act_fail(a, XOC_EXAPI, "no uuid for the new object", NULL);
        return;
    }
    char id[128];
    snprintf(id, sizeof id, "%s", uuid);
    xoc_api_act_wait(a, id, then);
}

/*  The replica is checked on a short timer that runs only while some call waits: the
    replica's batch callback belongs to the pushes (xoc_api_objects.c); hooking the wait
    there would answer without the tick's latency (at most S_WAIT_TICK_MS).              */
void xoc_api_act_wait(xoc_api_act_t *a, const char *id, xoc_api_act_fn *then)
{
    xoc_api_server_t *srv = a->call->srv;
    snprintf(a->wait_id, sizeof a->wait_id, "%s", id);
    a->then = then;
    if (xoc_replica_get(srv->replica, id)) {
        a->then = NULL;
        then(a);
        return;
    }
    a->wait_until = zclock_mono() + srv->bus_timeout_ms;
    xoc_debug("waiting for id=%s in the replica method=%s", id, a->call->method->name);
    zlistx_add_end(srv->act_waiters, a);
    if (srv->act_timer < 0)
        srv->act_timer = zloop_timer(srv->node.loop, S_WAIT_TICK_MS, 0, s_on_wait_tick, srv);
}

const char *xoc_api_act_wait_id(const xoc_api_act_t *a)
{
    return a->wait_id;
}

int xoc_api_acts_init(xoc_api_server_t *srv)
{
    srv->act_timer = -1;
    srv->xapi_timeout_ms = (int)xoc_cfg_int(srv->cfg, "api.xapi_timeout_ms");
    srv->act_waiters = zlistx_new();
    return srv->act_waiters ? 0 : XOC_ENOMEM;
}

void xoc_api_acts_fini(xoc_api_server_t *srv)
{
    if (!srv->act_waiters)
        return;
    for (xoc_api_act_t *a = zlistx_first(srv->act_waiters); a; a = zlistx_next(srv->act_waiters)) {
        json_decref(a->call->id); /* nobody to answer any more */
        a->call->id = NULL;
        xoc_api_act_done(a, NULL);
    }
    zlistx_destroy(&srv->act_waiters);
}
