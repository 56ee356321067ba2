/*  xoc_api_servers — server.add / remove / set / enable / disable / getAll (xo-api.md §4.3,
    §8.1): the pool connections, records of the cache's config db `servers`, which
    xoc-collector follows (a change there connects, reconnects or drops a pool). Field
    names are the collector's and xo-server's: host, username, password (sealed by the
    cache, never shown), label, enabled, readOnly, allowUnauthorized, httpProxy.
    server.getAll adds the runtime state from the collector (`collector.status`): status,
    error, poolId, and from the replica the pool's master and names. XO admins only.     */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_msg.h"

/* the record fields a caller may give, and their JSON types */
static const char *s_fields[] = {"host",     "username",  "password", "label", "allowUnauthorized",
                                 "readOnly", "httpProxy", NULL};

/* the record without its password, as server.getAll shows it */
static json_t *s_public(const char *id, const json_t *rec)
{
    json_t *pub = json_deep_copy(rec);
    json_object_del(pub, "password");
    json_object_set_new(pub, "id", json_string(id));
    if (!json_object_get(pub, "enabled"))
        json_object_set_new(pub, "enabled", json_true());
    if (!json_object_get(pub, "readOnly"))
        json_object_set_new(pub, "readOnly", json_false());
    if (!json_object_get(pub, "allowUnauthorized"))
        json_object_set_new(pub, "allowUnauthorized", json_false());
    if (!json_object_get(pub, "label"))
        json_object_set_new(pub, "label", json_string(""));
    return pub;
}

static json_t *s_no_such(const char *id)
{
    return json_pack("{s:s,s:s}", "id", id, "type", "server");
}

static void s_fail_no_such(xoc_api_call_t *call, const char *id)
{
    char msg[200];
    snprintf(msg, sizeof msg, "no such server %s", id);
    xoc_api_call_fail(call, XOC_ENOENT, msg, s_no_such(id));
}

/* a host as the collector reads it: a bare host is https://host */
static void s_norm_host(const char *host, char *out, size_t size)
{
    if (strstr(host, "://"))
        snprintf(out, size, "%s", host);
    else
        snprintf(out, size, "https://%s", host);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

static const char *s_same_host(const json_t *servers, const char *host, const char *except)
{
    char want[512], have[512];
    s_norm_host(host, want, sizeof want);
    const char *key;
    json_t *rec;
    json_object_foreach((json_t *)servers, key, rec)
    {
        const char *h = json_string_value(json_object_get(rec, "host"));
        if (!h || (except && !strcmp(key, except)))
            continue;
        s_norm_host(h, have, sizeof have);
        if (!strcmp(have, want))
            return key;
    }
    return NULL;
}

/* ---- writing ------------------------------------------------------------------------------------
 */

typedef struct {
    xoc_api_call_t *call;
    char id[64];
    json_t *rec;
    bool answer_id;
} s_write_t;

static void s_write_free(s_write_t *w)
{
    json_t *pw = json_object_get(w->rec, "password");
    if (json_is_string(pw)) /* wipe the copy of the password */
        memset((char *)json_string_value(pw), 0, json_string_length(pw));
    json_decref(w->rec);
    free(w);
}

static void s_on_written(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_write_t *w = arg;
    if (status == XOC_ENOENT) /* removed meanwhile */
        s_fail_no_such(w->call, w->id);
    else if (status != 0)
        xoc_api_call_fail(w->call, status, NULL, NULL);
    else {
        xoc_info("server %s id=%s", w->call->method->name, w->id);
        xoc_api_call_done(w->call, w->answer_id ? json_string(w->id) : NULL);
    }
    s_write_free(w);
}

static void s_write(s_write_t *w)
{
    if (xoc_api_cfg(w->call->srv, "set", "servers", w->id, w->rec, s_on_written, w) != 0) {
        xoc_api_call_fail(w->call, XOC_EIO, NULL, NULL);
        s_write_free(w);
    }
}

static void s_copy_fields(json_t *rec, const json_t *params)
{
    for (size_t i = 0; s_fields[i]; i++) {
        json_t *v = json_object_get(params, s_fields[i]);
        if (v)
            json_object_set(rec, s_fields[i], v);
    }
}

/* ---- server.add
 * ----------------------------------------------------------------------------------- */

static void s_on_list_for_add(xoc_api_server_t *unused, int status, json_t *servers, void *arg)
{
    s_write_t *w = arg;
    const char *dup = status == 0 ? s_same_host(servers, xoc_api_str(w->rec, "host"), NULL) : NULL;
    if (status != 0 || dup) {
        xoc_api_call_fail(
            w->call, status ? status : XOC_EEXIST, status ? NULL : "server already exists",
            status ? NULL : json_pack("{s:s,s:s}", "objectId", dup, "objectType", "server"));
        s_write_free(w);
        return;
    }
    s_write(w);
}

int xoc_api_m_server_add(xoc_api_call_t *call)
{
    s_write_t *w = calloc(1, sizeof *w);
    if (!w)
        return XOC_ENOMEM;
    w->call = call;
    w->answer_id = true;
    zuuid_t *uuid = zuuid_new();
    snprintf(w->id, sizeof w->id, "%s", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);
    json_t *auto_connect = json_object_get(call->params, "autoConnect");
    w->rec = json_pack("{s:b,s:b,s:b,s:s}", "enabled", !json_is_false(auto_connect), "readOnly", 0,
                       "allowUnauthorized", 0, "label", "");
    s_copy_fields(w->rec, call->params);
    if (xoc_api_cfg(call->srv, "list", "servers", NULL, NULL, s_on_list_for_add, w) != 0) {
        w->call = NULL;
        s_write_free(w);
        return XOC_EIO;
    }
    return 0;
}

/* ---- server.set / enable / disable: read, change, write
 * --------------------------------------------- */

/* the change on the record as it is now (a read-modify-write: a concurrent change of another
   field, on any frontend, is kept); the password comes back obfuscated: the cache keeps the
   sealed one unless replaced */
static int s_edit_server(const json_t *rec, json_t **out, void *arg)
{
    s_write_t *w = arg;
    if (!json_is_object(rec))
        return XOC_ENOENT;
    *out = json_deep_copy(rec);
    const char *m = w->call->method->name;
    if (!strcmp(m, "server.set"))
        s_copy_fields(*out, w->call->params);
    else
        json_object_set_new(*out, "enabled", json_boolean(!strcmp(m, "server.enable")));
    return 0;
}

static void s_on_list_for_set(xoc_api_server_t *unused, int status, json_t *servers, void *arg)
{
    s_write_t *w = arg;
    json_t *rec = json_object_get(servers, w->id);
    if (status != 0 || !json_is_object(rec)) {
        if (status)
            xoc_api_call_fail(w->call, status, NULL, NULL);
        else
            s_fail_no_such(w->call, w->id);
        s_write_free(w);
        return;
    }
    json_t *params = w->call->params;
    const char *host = json_string_value(json_object_get(params, "host"));
    const char *dup = host ? s_same_host(servers, host, w->id) : NULL;
    if (dup) {
        xoc_api_call_fail(w->call, XOC_EEXIST, "server already exists",
                          json_pack("{s:s,s:s}", "objectId", dup, "objectType", "server"));
        s_write_free(w);
        return;
    }
    if (xoc_api_cfg_update(w->call->srv, "servers", w->id, s_edit_server, w, s_on_written, w) !=
        0) {
        xoc_api_call_fail(w->call, XOC_EIO, NULL, NULL);
        s_write_free(w);
    }
}

static int s_change(xoc_api_call_t *call)
{
    s_write_t *w = calloc(1, sizeof *w);
    if (!w)
        return XOC_ENOMEM;
    w->call = call;
    snprintf(w->id, sizeof w->id, "%s", json_string_value(json_object_get(call->params, "id")));
    if (xoc_api_cfg(call->srv, "list", "servers", NULL, NULL, s_on_list_for_set, w) != 0) {
        w->call = NULL;
        s_write_free(w);
        return XOC_EIO;
    }
    return 0;
}

int xoc_api_m_server_set(xoc_api_call_t *call)
{
    return s_change(call);
}
int xoc_api_m_server_enable(xoc_api_call_t *call)
{
    return s_change(call);
}

/* ---- server.remove ------------------------------------------------------------------------------
 */

static void s_on_removed(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    xoc_api_call_t *call = arg;
    const char *id = json_string_value(json_object_get(call->params, "id"));
    if (status == XOC_ENOENT)
        s_fail_no_such(call, id);
    else if (status != 0)
        xoc_api_call_fail(call, status, NULL, NULL);
    else {
        xoc_info("server removed id=%s", id);
        xoc_api_call_done(call, NULL);
    }
}

static void s_on_get_for_remove(xoc_api_server_t *unused, int status, json_t *rec, void *arg)
{
    xoc_api_call_t *call = arg;
    const char *id = json_string_value(json_object_get(call->params, "id"));
    if (status == XOC_ENOENT || (status == 0 && !json_is_object(rec)))
        s_fail_no_such(call, id);
    else if (status != 0)
        xoc_api_call_fail(call, status, NULL, NULL);
    else if (xoc_api_cfg(call->srv, "delete", "servers", id, NULL, s_on_removed, call) != 0)
        xoc_api_call_fail(call, XOC_EIO, NULL, NULL);
}

int xoc_api_m_server_remove(xoc_api_call_t *call)
{
    return xoc_api_cfg(call->srv, "get", "servers",
                       json_string_value(json_object_get(call->params, "id")), NULL,
                       s_on_get_for_remove, call);
}

/* ---- server.getAll
 * ------------------------------------------------------------------------------- */

typedef struct {
    xoc_api_call_t *call;
    json_t *servers;
} s_all_t;

/* the runtime state of one server from the collector's status item */
static void s_add_status(xoc_api_server_t *srv, json_t *pub, const json_t *st)
{
    const char *status = json_string_value(json_object_get(st, "status"));
    bool enabled = json_is_true(json_object_get(pub, "enabled"));
    json_object_set_new(pub, "status", json_string(enabled && status ? status : "disconnected"));
    const char *error = json_string_value(json_object_get(st, "error"));
    if (error && *error)
        json_object_set_new(pub, "error", json_pack("{s:s}", "message", error));
    const char *pool_id = json_string_value(json_object_get(st, "pool"));
    if (!enabled || !status || strcmp(status, "connected") || !pool_id || !*pool_id)
        return;
    json_object_set_new(pub, "poolId", json_string(pool_id));
    json_t *pool = xoc_api_object(srv, pool_id);
    if (pool) {
        json_object_set_new(pub, "master", json_string(xoc_api_str(pool, "master")));
        json_object_set_new(pub, "poolNameLabel", json_string(xoc_api_str(pool, "name_label")));
        json_object_set_new(pub, "poolNameDescription",
                            json_string(xoc_api_str(pool, "name_description")));
    }
    json_decref(pool);
}

static void s_on_status(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_all_t *s = arg;
    json_t *status = NULL;
    xoc_msg_t m;
    if (reply->status == 0 && reply->body && xoc_reply_decode(reply, XOC_MSG_CFG, &m) == 0 &&
        m.cfg.items.len)
        status = xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len);
    else if (reply->status)
        xoc_debug("collector.status: %s (servers shown disconnected)", xoc_strerror(reply->status));
    json_t *list = json_array();
    const char *key;
    json_t *rec;
    json_object_foreach(s->servers, key, rec)
    {
        json_t *pub = s_public(key, rec);
        s_add_status(s->call->srv, pub, json_object_get(status, key));
        json_array_append_new(list, pub);
    }
    json_decref(status);
    xoc_api_call_done(s->call, list);
    json_decref(s->servers);
    free(s);
}

static void s_on_list_for_all(xoc_api_server_t *srv, int status, json_t *servers, void *arg)
{
    s_all_t *s = arg;
    if (status != 0) {
        xoc_api_call_fail(s->call, status, NULL, NULL);
        free(s);
        return;
    }
    s->servers = json_incref(servers);
    if (xoc_client_send(s->call->srv->client, "collector", "collector.status", NULL, 0,
                        s->call->srv->bus_timeout_ms, s_on_status, s) != 0) {
        xoc_reply_t none = {.status = XOC_EIO};
        s_on_status(NULL, &none, s);
    }
}

int xoc_api_m_server_get_all(xoc_api_call_t *call)
{
    s_all_t *s = calloc(1, sizeof *s);
    if (!s)
        return XOC_ENOMEM;
    s->call = call;
    int rc = xoc_api_cfg(call->srv, "list", "servers", NULL, NULL, s_on_list_for_all, s);
    if (rc != 0)
        free(s);
    return rc;
}
