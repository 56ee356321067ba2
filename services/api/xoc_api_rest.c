/*  xoc_api_rest — the HTTP side of xoc-api (xo-api.md §1.1, §1.7, §9.3): every plain
    HTTP request of the lws thread lands here (xoc_api_rest_request) and gets exactly one
    answer through xoc_api_ws_http_answer.

      /api/<token>          one-shot $getFrom URLs of xo.getAllObjects {ndjson: true}: the
                            URL is the capability (no cookie), single use, bound to the user
                            who asked, gone after api.get_from_ttl_s; NDJSON of the objects
                            he may view.
      /rest/v0              the collections (hrefs)
      /rest/v0/<coll>       hrefs of the objects of the collection's type the user may view;
                            fields=a,b|* (objects), filter= (complex matcher), limit=,
                            ndjson (or Accept: application/x-ndjson)
      /rest/v0/<coll>/<id>  one object (404 if unknown, of another type or not visible)
      POST /rest/v0/vms/<id>/actions/<action>   Async.VM.<action> through the pool's XAPI
                            gateway (xapi.<poolId>): 202, {"taskId"}, Location of the task
      /rest/v0/events       the SSE stream (xoc_api_sse.c): xo-server's subscriptions, or
                            ?all=true xoc's firehose
      POST /rest/v0/events/<id>/subscriptions, DELETE .../subscriptions/<collection>
                            a stream's subscriptions (xoc_api_sse.c)

    Authentication per request: the `authenticationToken` or `token` cookie (a token of
    token.create), or HTTP Basic email:password (Argon2id on the work thread), through
    the functions session.signIn uses; both at once: 400; none or invalid: 401 with
    WWW-Authenticate. A wrong password throttles the user and the address (429 for
    api.signin_throttle_ms); a stale or unknown token cookie is a plain 401 that blocks
    nothing. Every object passes xoc_api_acl_allows (view; actions: operate).
    A collection is written once into one buffer that the lws thread sends in chunks.    */
#include <sodium.h>
#include <string.h>

#include "xoc_api_cm.h"
#include "xoc_api_int.h"
#include "xoc_api_query.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_msg.h"

#define S_TOKEN_LEN 43 /* 32 random bytes, base64url */
#define S_CM_BUDGET_US 5000000 /* a string filter's work is bounded in time */

typedef struct {
    json_t *user;            /* the user record of the caller */
    json_t *filter;          /* filter object, or string (complex matcher), or NULL */
    long long limit;         /* -1: none */
    int64_t expires;         /* zclock_mono ms */
} s_oneshot_t;

struct xoc_api_rest {
    zhashx_t *oneshots;      /* token -> s_oneshot_t */
    int64_t ttl_ms;
    int timer;
    struct xoc_api_sse *sse;
};

typedef struct {
    xoc_api_server_t *srv;
    uint64_t conn;
    char ip[128];
    char method[8];
    char *path, *cookie, *authorization, *accept, *body;
    size_t body_len;
    xoc_api_route_t route;
    xoc_api_query_t q;
    json_t *user;
    int64_t expiration;
    char task_ref[128];      /* actions: the XAPI task */
    char token_key[64];      /* the cookie's token (db tokens key): its SSE ends with it */
} s_req_t;

/* ---- answers --------------------------------------------------------------------------------- */

static void s_req_free(s_req_t *r)
{
    free(r->path);
    free(r->cookie);
    if (r->authorization) {
        sodium_memzero(r->authorization, strlen(r->authorization));
        free(r->authorization);
    }
    free(r->accept);
    free(r->body);
    xoc_api_query_clear(&r->q);
    json_decref(r->user);
    free(r);
}

/* answers (body may be NULL) and frees the request */
static void s_answer(s_req_t *r, int status, const char *ctype, const char *headers,
                     xoc_api_buf_t *body)
{
    xoc_debug("http %s %s -> %d conn=%llu", r->method, r->path ? r->path : "", status,
              (unsigned long long)r->conn);
    xoc_api_ws_http_answer(r->srv->ws, r->conn, status, ctype, headers, body, false);
    s_req_free(r);
}

static void s_answer_json(s_req_t *r, int status, const char *headers, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(doc);
    xoc_api_buf_t *buf = text ? xoc_api_buf_from(text, strlen(text)) : NULL;
    free(text);
    if (!buf) {
        s_answer(r, 500, "text/plain", NULL, NULL);
        return;
    }
    s_answer(r, status, "application/json", headers, buf);
    xoc_api_buf_unref(&buf);
}

static void s_error(s_req_t *r, int status, const char *message)
{
    s_answer_json(r, status,
                  status == 401 ? "WWW-Authenticate: Basic realm=\"xo\", charset=\"UTF-8\""
                                : NULL,
                  json_pack("{s:s}", "error", message));
}

/* an xoc code as an HTTP status */
static int s_status(int rc)
{
    switch (rc) {
    case XOC_ENOENT: return 404;
    case XOC_EPERM: return 403;
    case XOC_EAUTH: return 401;
    case XOC_EINVAL:
    case XOC_EMISSING:
    case XOC_ETYPE: return 400;
    case XOC_ENOTIMPL: return 501;
    case XOC_ENOSERVICE:
    case XOC_EUNREACHABLE:
    case XOC_EBUSY: return 503;
    case XOC_ETIMEOUT: return 504;
    case XOC_ESTATE:
    case XOC_EXAPI: return 409;
    default: return 500;
    }
}

/* ---- objects --------------------------------------------------------------------------------- */

static const msgpack_object *s_field(const msgpack_object *map, const char *name)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, name, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* copies a string field into out ("" if absent or not a string) */
static void s_field_str(const msgpack_object *map, const char *name, char *out, size_t size)
{
    const msgpack_object *f = s_field(map, name);
    if (f && f->type == MSGPACK_OBJECT_STR)
        snprintf(out, size, "%.*s", (int)f->via.str.size, f->via.str.ptr);
    else
        out[0] = '\0';
}

/* the object's complete JSON (cached by xoc_api_objects.c, else written from msgpack;
   map NULL: not unpacked yet) */
static int s_put_object(xoc_api_server_t *srv, xoc_api_buf_t *out, const xoc_replica_obj_t *obj,
                        const msgpack_object *map)
{
    const xoc_api_json_t *j = zhashx_lookup(srv->json, obj->id);
    if (j)
        return xoc_api_buf_put(out, j->text, j->len);
    if (map)
        return xoc_api_buf_json_mp(out, map);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = msgpack_unpack_next(&up, (const char *)obj->data, obj->size, NULL) ==
                     MSGPACK_UNPACK_SUCCESS
                 ? xoc_api_buf_json_mp(out, &up.data)
                 : 0;
    msgpack_unpacked_destroy(&up);
    return rc;
}

static int s_put_href(xoc_api_buf_t *out, const char *collection, const char *id)
{
    char href[320];
    int n = snprintf(href, sizeof href, "/rest/v0/%s/%s", collection, id);
    return xoc_api_buf_json_str(out, href, n > 0 && (size_t)n < sizeof href ? (size_t)n : 0);
}

/* {"f1": v1, ..., "href": "..."} with the requested fields the object has */
static int s_put_fields(xoc_api_buf_t *out, const xoc_api_query_t *q, const char *collection,
                        const char *id, const msgpack_object *map)
{
    int rc = xoc_api_buf_putc(out, '{');
    for (size_t i = 0; i < q->nfields && rc == 0; i++) {
        const msgpack_object *f = s_field(map, q->fields[i]);
        if (!f)
            continue;
        rc = xoc_api_buf_json_str(out, q->fields[i], strlen(q->fields[i]));
        if (rc == 0)
            rc = xoc_api_buf_putc(out, ':');
        if (rc == 0)
            rc = xoc_api_buf_json_mp(out, f);
        if (rc == 0)
            rc = xoc_api_buf_putc(out, ',');
    }
    if (rc == 0)
        rc = xoc_api_buf_puts(out, "\"href\":");
    if (rc == 0)
        rc = s_put_href(out, collection, id);
    return rc ? rc : xoc_api_buf_putc(out, '}');
}

/* ---- filters: object (lodash match) or string (complex matcher) ------------------------------ */

typedef struct {
    const json_t *object;    /* partial match */
    xoc_api_cm_t *cm;        /* a complex-matcher string, parsed once */
} s_filter_t;

/* filter: an object, a string, or NULL; or text (the REST filter=) */
static int s_filter_init(s_filter_t *f, const json_t *filter, const char *text, char *err,
                         size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (json_is_object(filter) && json_object_size(filter))
        f->object = filter;
    size_t len = text ? strlen(text) : json_string_length(filter);
    if (json_is_string(filter))
        text = json_string_value(filter);
    if (!text)
        return 0;
    f->cm = xoc_api_cm_parse(text, len, err, errlen);
    if (!f->cm)
        return XOC_EINVAL;
    if (xoc_api_cm_is_empty(f->cm))
        xoc_api_cm_destroy(&f->cm);
    return 0;
}

static void s_filter_fini(s_filter_t *f) { xoc_api_cm_destroy(&f->cm); }

static bool s_filter_needs_map(const s_filter_t *f) { return f->cm != NULL; }

static bool s_filter_match(const s_filter_t *f, const xoc_replica_obj_t *obj,
                           const msgpack_object *map)
{
    if (f->object && !xoc_api_objects_match(obj, f->object))
        return false;
    return !f->cm || (map && xoc_api_cm_match_mp(f->cm, map));
}

/* ---- collections ----------------------------------------------------------------------------- */

typedef struct {
    s_req_t *r;
    xoc_api_buf_t *out;
    s_filter_t filter;
    bool ndjson, alarms;
    size_t count, seen;
    int64_t deadline_us;
    msgpack_unpacked up;
    int rc;
} s_coll_t;

/* true (checked every 256 objects) once a string filter has used its time budget */
static bool s_over_budget(const s_filter_t *f, size_t *seen, int64_t deadline_us)
{
    return f->cm && ((*seen)++ & 255) == 0 && zclock_usecs() > deadline_us;
}

static int s_coll_each(const xoc_replica_obj_t *obj, void *arg)
{
    s_coll_t *a = arg;
    s_req_t *r = a->r;
    if (r->q.limit >= 0 && a->count >= (size_t)r->q.limit)
        return 1;
    if (s_over_budget(&a->filter, &a->seen, a->deadline_us))
        return a->rc = XOC_ETIMEOUT;
    if (strcmp(obj->type, r->route.type) != 0 ||
        !xoc_api_acl_allows(r->srv, r->user, obj->id, XOC_API_ACL_VIEW))
        return 0;
    /* hrefs and whole objects need no unpacking: only fields, filters and alarms do */
    const msgpack_object *map = NULL;
    if (a->alarms || r->q.nfields || s_filter_needs_map(&a->filter)) {
        if (msgpack_unpack_next(&a->up, (const char *)obj->data, obj->size, NULL) !=
            MSGPACK_UNPACK_SUCCESS)
            return 0;
        map = &a->up.data;
    }
    if (a->alarms) {
        const msgpack_object *name = s_field(map, "name");
        if (!name || name->type != MSGPACK_OBJECT_STR || name->via.str.size != 5 ||
            memcmp(name->via.str.ptr, "ALARM", 5) != 0)
            return 0;
    }
    if (!s_filter_match(&a->filter, obj, map))
        return 0;
    int rc = a->count && !a->ndjson ? xoc_api_buf_putc(a->out, ',') : 0;
    if (rc == 0 && r->q.all_fields)
        rc = s_put_object(r->srv, a->out, obj, map);
    else if (rc == 0 && r->q.nfields)
        rc = s_put_fields(a->out, &r->q, r->route.collection, obj->id, map);
    else if (rc == 0)
        rc = s_put_href(a->out, r->route.collection, obj->id);
    if (rc == 0 && a->ndjson)
        rc = xoc_api_buf_putc(a->out, '\n');
    a->count++;
    return a->rc = rc;
}

static bool s_wants_ndjson(const s_req_t *r)
{
    return r->q.ndjson || (r->accept && strstr(r->accept, "application/x-ndjson"));
}

static void s_collection(s_req_t *r)
{
    s_coll_t a = {.r = r, .ndjson = s_wants_ndjson(r),
                  .alarms = strcmp(r->route.collection, "alarms") == 0,
                  .deadline_us = zclock_usecs() + S_CM_BUDGET_US};
    char err[256] = "";
    int rc = s_filter_init(&a.filter, NULL, r->q.filter, err, sizeof err);
    if (rc != 0) {
        s_error(r, s_status(rc), err);
        return;
    }
    a.out = xoc_api_buf_new(64 * 1024);
    if (!a.out) {
        s_filter_fini(&a.filter);
        s_error(r, 500, "out of memory");
        return;
    }
    msgpack_unpacked_init(&a.up);
    rc = a.ndjson ? 0 : xoc_api_buf_putc(a.out, '[');
    if (rc == 0)
        xoc_replica_foreach(r->srv->replica, s_coll_each, &a);
    rc = rc ? rc : a.rc ? a.rc : a.ndjson ? 0 : xoc_api_buf_putc(a.out, ']');
    msgpack_unpacked_destroy(&a.up);
    s_filter_fini(&a.filter);
    if (rc == 0)
        s_answer(r, 200, a.ndjson ? "application/x-ndjson" : "application/json", NULL, a.out);
    else if (rc == XOC_ETIMEOUT)
        s_error(r, 400, "filter too expensive: over its time budget");
    else
        s_error(r, 500, "out of memory");
    xoc_api_buf_unref(&a.out);
}

static void s_root(s_req_t *r)
{
    json_t *list = json_array();
    const char *c;
    for (size_t i = 0; (c = xoc_api_query_collection(i)) != NULL; i++)
        json_array_append_new(list, json_sprintf("/rest/v0/%s", c));
    json_array_append_new(list, json_string("/rest/v0/events"));
    s_answer_json(r, 200, NULL, list);
}

/* the object of the route if the user may see it (NULL: answered 404); unpacked in up */
static const xoc_replica_obj_t *s_visible(s_req_t *r, msgpack_unpacked *up)
{
    const xoc_replica_obj_t *obj = xoc_replica_get(r->srv->replica, r->route.id);
    if (!obj || !r->route.type || strcmp(obj->type, r->route.type) != 0 ||
        !xoc_api_acl_allows(r->srv, r->user, obj->id, XOC_API_ACL_VIEW) ||
        msgpack_unpack_next(up, (const char *)obj->data, obj->size, NULL) !=
            MSGPACK_UNPACK_SUCCESS) {
        s_error(r, 404, "no such object");
        return NULL;
    }
    return obj;
}

static void s_object(s_req_t *r)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const xoc_replica_obj_t *obj = s_visible(r, &up);
    if (obj) {
        xoc_api_buf_t *out = xoc_api_buf_new(obj->size * 2 + 256);
        int rc = !out ? XOC_ENOMEM
                 : r->q.nfields ? s_put_fields(out, &r->q, r->route.collection, obj->id, &up.data)
                                : s_put_object(r->srv, out, obj, &up.data);
        if (rc == 0)
            s_answer(r, 200, "application/json", NULL, out);
        else
            s_error(r, 500, "out of memory");
        xoc_api_buf_unref(&out);
    }
    msgpack_unpacked_destroy(&up);
}

/* ---- actions --------------------------------------------------------------------------------- */

/* VM actions: XAPI method and the parameters after the VM ref */
static const struct {
    const char *action;
    const char *method;
    int extra;               /* 0: none; 1: (false, false); 2: the snapshot's name */
} s_vm_actions[] = {
    {"start", "VM.start", 1},
    {"clean_shutdown", "VM.clean_shutdown", 0},
    {"hard_shutdown", "VM.hard_shutdown", 0},
    {"clean_reboot", "VM.clean_reboot", 0},
    {"hard_reboot", "VM.hard_reboot", 0},
    {"pause", "VM.pause", 0},
    {"unpause", "VM.unpause", 0},
    {"suspend", "VM.suspend", 0},
    {"resume", "VM.resume", 1},
    {"snapshot", "VM.snapshot", 2},
};

static int s_xapi_send(s_req_t *r, const char *pool, const char *method, bool async,
                       const msgpack_sbuffer *params, xoc_client_fn *fn)
{
    xoc_msg_xapi_call_t m = {.pool = xoc_str(pool), .method = xoc_str(method), .async = async,
                             .params = {(const uint8_t *)params->data, (uint32_t)params->size}};
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    char service[96];
    snprintf(service, sizeof service, "xapi.%s", pool);
    int rc = xoc_msg_xapi_call_encode(&m, &body);
    if (rc == 0)
        rc = xoc_client_send(r->srv->client, service, "xapi.call", body.data, body.size,
                             r->srv->bus_timeout_ms, fn, r);
    msgpack_sbuffer_destroy(&body);
    return rc;
}

static void s_xapi_failed(s_req_t *r, xoc_reply_t *reply)
{
    int status = s_status(reply->status);
    json_t *doc = json_pack("{s:s,s:s}", "error", xoc_strerror(reply->status), "reason",
                            reply->reason);
    s_answer_json(r, status, NULL, doc);
}

/* task.get_uuid answered: 202 and the task's href */
static void s_on_task_uuid(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_req_t *r = arg;
    xoc_msg_t m;
    char uuid[64] = "";
    if (reply->status == 0 && xoc_reply_decode(reply, XOC_MSG_XAPI_CALL, &m) == 0 &&
        m.xapi_call.result.len) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, (const char *)m.xapi_call.result.ptr,
                                m.xapi_call.result.len, NULL) == MSGPACK_UNPACK_SUCCESS &&
            up.data.type == MSGPACK_OBJECT_STR && up.data.via.str.size < sizeof uuid)
            snprintf(uuid, sizeof uuid, "%.*s", (int)up.data.via.str.size,
                     up.data.via.str.ptr);
        msgpack_unpacked_destroy(&up);
    }
    /* the task is started even if its uuid is unknown: its ref is the fallback id */
    const char *id = uuid[0] ? uuid : r->task_ref;
    char href[256], location[300];
    snprintf(href, sizeof href, "/rest/v0/tasks/%s", id);
    snprintf(location, sizeof location, "Location: %s", href);
    s_answer_json(r, 202, location, json_pack("{s:s,s:s}", "taskId", id, "href", href));
}

static void s_on_async(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_req_t *r = arg;
    xoc_msg_t m;
    if (reply->status != 0) {
        s_xapi_failed(r, reply);
        return;
    }
    if (xoc_reply_decode(reply, XOC_MSG_XAPI_CALL, &m) != 0 || !m.xapi_call.task.len) {
        s_error(r, 502, "the XAPI gateway gave no task");
        return;
    }
    xoc_str_copy(m.xapi_call.task, r->task_ref, sizeof r->task_ref);
    char pool[64];
    xoc_str_copy(m.xapi_call.pool, pool, sizeof pool);
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, r->task_ref, strlen(r->task_ref));
    if (s_xapi_send(r, pool, "task.get_uuid", false, &params, s_on_task_uuid) != 0) {
        xoc_reply_t none = {.status = XOC_EIO};
        s_on_task_uuid(client, &none, r);
    }
    msgpack_sbuffer_destroy(&params);
}

/* the snapshot's name: body {"name_label": "..."} or "<vm name>_<date>" */
static void s_snapshot_name(s_req_t *r, const msgpack_object *vm, char *name, size_t size)
{
    json_t *body = r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    const char *given = json_string_value(json_object_get(body, "name_label"));
    if (given)
        snprintf(name, size, "%s", given);
    else {
        char label[200];
        s_field_str(vm, "name_label", label, sizeof label);
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        char date[32];
        strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(name, size, "%s_%s", label, date);
    }
    json_decref(body);
}

static void s_action(s_req_t *r)
{
    size_t i = 0, n = sizeof s_vm_actions / sizeof s_vm_actions[0];
    if (strcmp(r->route.collection, "vms") == 0)
        while (i < n && strcmp(s_vm_actions[i].action, r->route.action) != 0)
            i++;
    else
        i = n;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const xoc_replica_obj_t *obj = i < n ? s_visible(r, &up) : NULL;
    if (i == n)
        s_error(r, 404, "no such action");
    if (!obj) {
        msgpack_unpacked_destroy(&up);
        return;
    }
    if (!xoc_api_acl_allows(r->srv, r->user, obj->id, XOC_API_ACL_OPERATE)) {
        msgpack_unpacked_destroy(&up);
        s_error(r, 403, "not enough permissions");
        return;
    }
    char ref[128], pool[64], name[256];
    s_field_str(&up.data, "_xapiRef", ref, sizeof ref);
    s_field_str(&up.data, "$pool", pool, sizeof pool);
    if (s_vm_actions[i].extra == 2)
        s_snapshot_name(r, &up.data, name, sizeof name);
    msgpack_unpacked_destroy(&up);
    if (!ref[0] || !pool[0]) {
        s_error(r, 500, "the object has no XAPI reference");
        return;
    }
    msgpack_sbuffer params;
    msgpack_sbuffer_init(&params);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
    int extra = s_vm_actions[i].extra;
    msgpack_pack_array(&pk, extra == 1 ? 3 : extra == 2 ? 2 : 1);
    msgpack_pack_str_with_body(&pk, ref, strlen(ref));
    if (extra == 1) {
        msgpack_pack_false(&pk); /* start_paused */
        msgpack_pack_false(&pk); /* force */
    } else if (extra == 2)
        msgpack_pack_str_with_body(&pk, name, strlen(name));
    xoc_info("rest action=%s vm=%s user=%s ip=%s", r->route.action, r->route.id,
             json_string_value(json_object_get(r->user, "id")) ?: "?", r->ip);
    int rc = s_xapi_send(r, pool, s_vm_actions[i].method, true, &params, s_on_async);
    msgpack_sbuffer_destroy(&params);
    if (rc != 0)
        s_error(r, s_status(rc), xoc_strerror(rc));
}

/* ---- one-shot URLs --------------------------------------------------------------------------- */

static void s_oneshot_free(void **item)
{
    s_oneshot_t *o = *item;
    if (o) {
        json_decref(o->user);
        json_decref(o->filter);
        free(o);
        *item = NULL;
    }
}

int xoc_api_rest_get_from(xoc_api_call_t *call)
{
    struct xoc_api_rest *rest = call->srv->rest;
    json_t *filter = json_object_get(call->params, "filter");
    json_t *limit = json_object_get(call->params, "limit");
    if (limit && json_number_value(limit) < 0)
        return XOC_EINVAL;
    char err[256];
    s_filter_t f;
    int rc = s_filter_init(&f, filter, NULL, err, sizeof err);
    s_filter_fini(&f);
    if (rc == XOC_EINVAL) { /* the error of xo.getAllObjects for a bad string filter */
        xoc_api_call_fail(call, XOC_EINVAL, NULL,
                          json_pack("{s:[{s:s,s:s,s:s,s:{},s:s}]}", "errors", "instancePath",
                                    "/filter", "schemaPath", "#/properties/filter", "keyword",
                                    "complex-matcher", "params", "message", err));
        return 0;
    }
    if (rc != 0)
        return rc;
    s_oneshot_t *o = calloc(1, sizeof *o);
    if (!o)
        return XOC_ENOMEM;
    o->user = json_incref(call->user);
    o->filter = json_incref(filter);
    o->limit = limit ? (long long)json_number_value(limit) : -1;
    o->expires = zclock_mono() + rest->ttl_ms;
    unsigned char raw[32];
    char token[64], url[80];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(token, sizeof token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    zhashx_update(rest->oneshots, token, o);
    snprintf(url, sizeof url, "/api/%s", token);
    xoc_api_call_done(call, json_pack("{s:s}", "$getFrom", url));
    return 0;
}

typedef struct {
    xoc_api_server_t *srv;
    s_oneshot_t *o;
    s_filter_t filter;
    xoc_api_buf_t *out;
    size_t count, seen;
    int64_t deadline_us;
    msgpack_unpacked up;
    int rc;
} s_nd_t;

static int s_nd_each(const xoc_replica_obj_t *obj, void *arg)
{
    s_nd_t *a = arg;
    if (a->o->limit >= 0 && a->count >= (size_t)a->o->limit)
        return 1;
    if (s_over_budget(&a->filter, &a->seen, a->deadline_us))
        return a->rc = XOC_ETIMEOUT;
    if (!xoc_api_acl_allows(a->srv, a->o->user, obj->id, XOC_API_ACL_VIEW))
        return 0;
    const msgpack_object *map = NULL;
    if (s_filter_needs_map(&a->filter)) {
        if (msgpack_unpack_next(&a->up, (const char *)obj->data, obj->size, NULL) !=
            MSGPACK_UNPACK_SUCCESS)
            return 0;
        map = &a->up.data;
    }
    if (!s_filter_match(&a->filter, obj, map))
        return 0;
    int rc = s_put_object(a->srv, a->out, obj, map);
    if (rc == 0)
        rc = xoc_api_buf_putc(a->out, '\n');
    a->count++;
    return a->rc = rc;
}

static void s_oneshot(s_req_t *r, const char *token)
{
    struct xoc_api_rest *rest = r->srv->rest;
    s_oneshot_t *o = strlen(token) == S_TOKEN_LEN ? zhashx_lookup(rest->oneshots, token) : NULL;
    if (!o || o->expires < zclock_mono()) {
        if (o) {
            zhashx_delete(rest->oneshots, token);
            void *item = o;
            s_oneshot_free(&item);
        }
        s_error(r, 404, "no such URL");
        return;
    }
    zhashx_delete(rest->oneshots, token); /* single use: the entry is ours now */
    s_nd_t a = {.srv = r->srv, .o = o, .deadline_us = zclock_usecs() + S_CM_BUDGET_US};
    char err[160];
    s_filter_init(&a.filter, o->filter, NULL, err, sizeof err);
    a.out = xoc_api_buf_new(xoc_replica_bytes(r->srv->replica) * 3 / 2 + 4096);
    msgpack_unpacked_init(&a.up);
    if (a.out)
        xoc_replica_foreach(r->srv->replica, s_nd_each, &a);
    msgpack_unpacked_destroy(&a.up);
    s_filter_fini(&a.filter);
    if (a.out && a.rc == 0)
        s_answer(r, 200, "application/json", NULL, a.out);
    else if (a.rc == XOC_ETIMEOUT)
        s_error(r, 400, "filter too expensive: over its time budget");
    else
        s_error(r, 500, "out of memory");
    xoc_api_buf_unref(&a.out);
    void *item = o;
    s_oneshot_free(&item);
}

/* ---- authentication and dispatch ------------------------------------------------------------- */

/* POST /rest/v0/events/<id>/subscriptions, DELETE .../subscriptions/<collection> */
static void s_subscription(s_req_t *r)
{
    json_t *answer = NULL;
    int status = r->route.kind == XOC_API_ROUTE_SUBSCRIPTIONS
                     ? xoc_api_sse_subscribe(r->srv, r->user, r->route.id, r->body, r->body_len,
                                             &answer)
                     : xoc_api_sse_unsubscribe(r->srv, r->user, r->route.id, r->route.action,
                                               &answer);
    if (answer)
        s_answer_json(r, status, NULL, answer);
    else if (status == 204)
        s_answer(r, 204, "application/json", NULL, NULL);
    else
        s_error(r, status, "out of memory");
}

static void s_serve(s_req_t *r)
{
    switch (r->route.kind) {
    case XOC_API_ROUTE_ROOT: s_root(r); return;
    case XOC_API_ROUTE_COLLECTION:
        if (!r->route.type)
            s_error(r, 404, "no such collection");
        else
            s_collection(r);
        return;
    case XOC_API_ROUTE_OBJECT: s_object(r); return;
    case XOC_API_ROUTE_ACTION: s_action(r); return;
    case XOC_API_ROUTE_SUBSCRIPTIONS:
    case XOC_API_ROUTE_SUBSCRIPTION: s_subscription(r); return;
    case XOC_API_ROUTE_EVENTS:
        if (xoc_api_sse_open(r->srv, r->conn, r->user, r->expiration, r->token_key,
                             r->q.all) != 0)
            s_error(r, 503, "cannot open the event stream");
        else
            s_req_free(r);
        return;
    default: s_error(r, 404, "not found");
    }
}

static void s_on_auth(xoc_api_server_t *srv, int status, json_t *user, int64_t expiration,
                      void *arg)
{
    s_req_t *r = arg;
    if (status == XOC_EAUTH) {
        s_error(r, 401, "invalid credentials");
        return;
    }
    if (status != 0) {
        s_error(r, s_status(status), xoc_strerror(status));
        return;
    }
    r->user = json_incref(user);
    r->expiration = expiration;
    s_serve(r);
}

static void s_authenticate(s_req_t *r)
{
    char token[128];
    bool cookie = r->cookie && (xoc_api_query_cookie(r->cookie, "authenticationToken", token,
                                                     sizeof token) ||
                                xoc_api_query_cookie(r->cookie, "token", token, sizeof token));
    bool basic = r->authorization && r->authorization[0];
    if (cookie && basic) {
        s_error(r, 400, "both a token cookie and Basic credentials");
        return;
    }
    int rc;
    if (cookie) {
        xoc_api_token_key(token, r->token_key, sizeof r->token_key);
        rc = xoc_api_auth_token(r->srv, token, r->ip, s_on_auth, r);
    }
    else if (basic) {
        char user[256], password[256];
        rc = xoc_api_query_basic(r->authorization, user, sizeof user, password,
                                 sizeof password);
        if (rc == 0)
            rc = xoc_api_auth_password(r->srv, user, password, r->ip, s_on_auth, r);
        sodium_memzero(password, sizeof password);
        if (rc == XOC_EINVAL) {
            s_error(r, 401, "malformed Basic credentials");
            return;
        }
    } else {
        s_error(r, 401, "authentication required");
        return;
    }
    if (rc == XOC_EBUSY)
        s_error(r, 429, "too fast authentication tries");
    else if (rc != 0)
        s_error(r, s_status(rc), xoc_strerror(rc));
}

static char *s_frame_str(zframe_t *f)
{
    if (!f)
        return NULL;
    return strndup((const char *)zframe_data(f), zframe_size(f));
}

void xoc_api_rest_request(xoc_api_server_t *srv, uint64_t conn, zframe_t *peer, zmsg_t *msg)
{
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return; /* the lws thread drops the request at its timeout */
    r->srv = srv;
    r->conn = conn;
    snprintf(r->ip, sizeof r->ip, "%.*s", peer ? (int)zframe_size(peer) : 0,
             peer ? (const char *)zframe_data(peer) : "");
    zframe_t *f = zmsg_first(msg);
    snprintf(r->method, sizeof r->method, "%.*s", f ? (int)zframe_size(f) : 0,
             f ? (const char *)zframe_data(f) : "");
    r->path = s_frame_str(zmsg_next(msg));
    r->cookie = s_frame_str(zmsg_next(msg));
    r->authorization = s_frame_str(zmsg_next(msg));
    r->accept = s_frame_str(zmsg_next(msg));
    f = zmsg_next(msg);
    if (f && zframe_size(f)) {
        r->body_len = zframe_size(f);
        r->body = malloc(r->body_len);
        if (r->body)
            memcpy(r->body, zframe_data(f), r->body_len);
    }
    const char *args[64];
    size_t lens[64], n = 0;
    while ((f = zmsg_next(msg)) != NULL && n < 64) {
        args[n] = (const char *)zframe_data(f);
        lens[n++] = zframe_size(f);
    }
    if (!r->path || !r->cookie || !r->authorization || !r->accept ||
        (r->body_len && !r->body)) {
        s_error(r, 500, "out of memory");
        return;
    }
    /* one-shot URLs first: no authentication, the URL is the capability (§1.7) */
    if (strncmp(r->path, "/api/", 5) == 0 && r->path[5]) {
        char token[64];
        snprintf(token, sizeof token, "%.*s", (int)strcspn(r->path + 5, "/"), r->path + 5);
        s_oneshot(r, token);
        return;
    }
    if (xoc_api_route_parse(r->path, &r->route) != 0) {
        s_error(r, 400, "malformed path");
        return;
    }
    if (r->route.kind == XOC_API_ROUTE_NONE) {
        s_error(r, 404, "not found");
        return;
    }
    char err[160] = "invalid query";
    if (xoc_api_query_parse(&r->q, args, lens, n, err, sizeof err) != 0) {
        s_error(r, 400, err);
        return;
    }
    bool post = strcmp(r->method, "POST") == 0, del = strcmp(r->method, "DELETE") == 0;
    bool wants_post = r->route.kind == XOC_API_ROUTE_ACTION ||
                      r->route.kind == XOC_API_ROUTE_SUBSCRIPTIONS;
    bool wants_delete = r->route.kind == XOC_API_ROUTE_SUBSCRIPTION;
    if (wants_post != post || wants_delete != del ||
        (!post && !del && strcmp(r->method, "GET") != 0)) {
        s_error(r, 405, "method not allowed");
        return;
    }
    s_authenticate(r);
}

void xoc_api_rest_closed(xoc_api_server_t *srv, uint64_t conn)
{
    xoc_api_sse_closed(srv, conn);
}

/* ---- life ------------------------------------------------------------------------------------ */

static int s_cron(zloop_t *loop, int timer_id, void *arg)
{
    xoc_api_server_t *srv = arg;
    struct xoc_api_rest *rest = srv->rest;
    int64_t now = zclock_mono();
    zlistx_t *keys = zhashx_keys(rest->oneshots);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        void *o = zhashx_lookup(rest->oneshots, k);
        if (o && ((s_oneshot_t *)o)->expires < now) {
            zhashx_delete(rest->oneshots, k);
            s_oneshot_free(&o);
        }
    }
    zlistx_destroy(&keys);
    xoc_api_sse_cron(srv);
    return 0;
}

struct xoc_api_sse **xoc_api_rest_sse(xoc_api_server_t *srv)
{
    return &srv->rest->sse;
}

int xoc_api_rest_init(xoc_api_server_t *srv)
{
    struct xoc_api_rest *rest = calloc(1, sizeof *rest);
    if (!rest)
        return XOC_ENOMEM;
    srv->rest = rest;
    rest->ttl_ms = xoc_cfg_int(srv->cfg, "api.get_from_ttl_s") * 1000;
    rest->oneshots = zhashx_new();
    if (!rest->oneshots || xoc_api_sse_init(srv) != 0)
        return XOC_ENOMEM;
    rest->timer = zloop_timer(srv->node.loop, 1000, 0, s_cron, srv);
    return rest->timer >= 0 ? 0 : XOC_EIO;
}

void xoc_api_rest_fini(xoc_api_server_t *srv)
{
    struct xoc_api_rest *rest = srv->rest;
    if (!rest)
        return;
    xoc_api_sse_fini(srv);
    for (void *o = zhashx_first(rest->oneshots); o; o = zhashx_next(rest->oneshots))
        s_oneshot_free(&o);
    zhashx_destroy(&rest->oneshots);
    free(rest);
    srv->rest = NULL;
}
