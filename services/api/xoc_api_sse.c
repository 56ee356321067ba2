/*  xoc_api_sse — the event stream GET /rest/v0/events (text/event-stream), in two modes.

    xo-server's model (the default; facts from @xen-orchestra/rest-api, its events
    controller, service and listener classes — see also xoc_api_sub.h):
      GET /rest/v0/events       200, Content-Type: text/event-stream, Cache-Control:
                                no-cache, no-transform; first `event: init` / `data:
                                {"id":"<connection id>"}` (a random UUID), then `event:
                                ping` / `data: {"ping":<ms since the epoch>}` every
                                api.sse_ping_s (xo-server: 30 s). No subscription at first.
      POST /rest/v0/events/<connection id>/subscriptions  {collection, fields?}
                                201 {"id":"<collection>"}; again on the same collection
                                replaces its fields. From then on, per change of an object
                                of that collection: `event: add|update|remove` / `data:
                                {"$subscription":"<collection>", ...object}` (fields
                                picked; an update that changes none of the picked fields
                                is not sent; remove carries the object as last seen).
                                Nothing is sent for what was there before the subscription.
      DELETE /rest/v0/events/<connection id>/subscriptions/<collection>
                                204 (also when not subscribed).
      Errors: an unknown connection id: 404 {"error":"no such event <id>", "data":{"id",
      "type":"event"}}; an invalid body or collection: 422 (xo-server's status for invalid
      parameters). xoc's own rules: a connection id of another user's stream is refused as
      unknown (404: xo-server does not check, its ids are only hard to guess), a body that
      is not JSON is 400 (xo-server: 500).
    ACLs as for everything else: a super-admin gets every change; a non-admin only the
    objects he may view, add when an object enters his view (created, moved, or an ACL /
    group / permission change), update when one he could see changes, remove when one
    leaves it (deleted or no longer visible) — from xoc_api_access_flush
    (xoc_api_sse_view), like xo-server's update turned into add / remove by visibility.
    A change needs the object as it was before: xoc_api_sse_before keeps a copy of the
    JSON of each object of a subscribed type the first time it changes in a batch (only
    while some stream has a subscription), with who could see it.

    The firehose (GET /rest/v0/events?all=true), xoc's own format: the changes of the
    `all` pushes (xo-api.md §1.4, §10) per replica batch, as

        event: enter                        event: exit
        data: {"<id>": {object}, ...}       data: {"<id>": 0, ...}

    (one line of JSON each, enter before exit); `event: init` with the stream's id first,
    and a comment line every api.sse_ping_s as keep-alive.

    Both: a client's queue is the lws connection's, bounded by api.send_queue_max: a
    client that does not read is closed, it never grows memory. A stream opened with a
    token ends at the token's expiration.

    A stream follows its user as the WebSocket sessions do (xoc_api_access.c): it holds
    his resolved permissions (xoc_api_acl_user_acquire), so a permission change made on
    any instance (config.users event) applies at once. Super-admins get the batch as is;
    the others get what xoc_api_access_flush computes for them (xoc_api_sse_view): the
    objects they may view, the exits of those they could see (the object is already
    gone from the replica, only the per-user byte knows it was visible), and the
    enter/exit of what an ACL, group or permission change shows or hides. A stream ends
    when its user is deleted or the token it was opened with is deleted (config.users /
    config.tokens events, xoc_api_sessions_revoke), on every instance.

    The objects' changes come from xoc_api_objects.c (xoc_api_sse_before and
    xoc_api_sse_change per change, xoc_api_sse_batch at the end of a batch); with no SSE
    client they cost one test.                                                          */
#include <sodium.h>
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_api_sub.h"
#include "xoc_err.h"
#include "xoc_log.h"

typedef struct {
    json_t *fields;          /* the names picked; NULL: "*" */
} s_sub_t;

typedef struct {
    uint64_t conn;
    json_t *user;
    int64_t expiration;      /* wall-clock ms; 0: none */
    xoc_api_server_t *srv;
    struct xoc_api_sse *self;
    xoc_api_acl_user_t *acl; /* the user's resolved permissions, followed (NULL: none) */
    char token_key[64];      /* key in db tokens of the token it was opened with; "" */
    bool all;                /* the firehose (?all=true) */
    char id[40];             /* xo-server's model: the connection id (a UUID) */
    zhashx_t *subs;          /* xo-server's model: collection -> s_sub_t */
} s_client_t;

/* an object of a subscribed type changed in the batch: how it was before */
typedef struct {
    char type[XOC_API_SUB_NAME_MAX];
    xoc_api_json_t *old;     /* its JSON before the batch (a copy); NULL: did not exist */
    json_t *old_doc;         /* old parsed, on demand */
    json_t *cur_doc;         /* the JSON after the batch parsed, on demand */
    zlistx_t *seen;          /* ids of the non-admin users told about it (could view it) */
} s_change_t;

struct xoc_api_sse {
    zhashx_t *clients;       /* "<conn>" -> s_client_t */
    zhashx_t *by_id;         /* connection id -> s_client_t (xo-server's model) */
    zhashx_t *batch;         /* id -> 1 (entered) or 2 (exited), the batch being collected */
    zhashx_t *changes;       /* id -> s_change_t, while some stream has subscriptions */
    size_t nsubs;            /* subscriptions of all the streams */
    int64_t ping_ms, next_ping;
    uint64_t batches;
};

static struct xoc_api_sse *s_self(xoc_api_server_t *srv) { return *xoc_api_rest_sse(srv); }

static void s_sub_free(void **item)
{
    s_sub_t *sub = *item;
    if (sub) {
        json_decref(sub->fields);
        free(sub);
        *item = NULL;
    }
}

static void s_client_free(void **item)
{
    s_client_t *c = *item;
    if (c) {
        if (c->srv->acl)
            xoc_api_acl_user_release(c->srv->acl, &c->acl);
        if (c->id[0] && c->self->by_id)
            zhashx_delete(c->self->by_id, c->id);
        if (c->subs)
            c->self->nsubs -= zhashx_size(c->subs);
        zhashx_destroy(&c->subs);
        json_decref(c->user);
        free(c);
        *item = NULL;
    }
}

static void s_change_free(void **item)
{
    s_change_t *ch = *item;
    if (ch) {
        free(ch->old);
        json_decref(ch->old_doc);
        json_decref(ch->cur_doc);
        zlistx_destroy(&ch->seen);
        free(ch);
        *item = NULL;
    }
}

int xoc_api_sse_init(xoc_api_server_t *srv)
{
    struct xoc_api_sse *self = calloc(1, sizeof *self);
    if (!self)
        return XOC_ENOMEM;
    *xoc_api_rest_sse(srv) = self;
    self->clients = zhashx_new();
    self->by_id = zhashx_new();
    self->batch = zhashx_new();
    self->changes = zhashx_new();
    if (!self->clients || !self->by_id || !self->batch || !self->changes)
        return XOC_ENOMEM;
    zhashx_set_destructor(self->clients, s_client_free);
    zhashx_set_destructor(self->changes, s_change_free);
    self->ping_ms = xoc_cfg_int(srv->cfg, "api.sse_ping_s") * 1000;
    self->next_ping = zclock_mono() + self->ping_ms;
    return 0;
}

void xoc_api_sse_fini(xoc_api_server_t *srv)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self)
        return;
    zhashx_destroy(&self->clients);
    zhashx_destroy(&self->by_id);
    zhashx_destroy(&self->batch);
    zhashx_destroy(&self->changes);
    free(self);
    *xoc_api_rest_sse(srv) = NULL;
}

static void s_send_text(xoc_api_server_t *srv, uint64_t conn, const char *text)
{
    xoc_api_buf_t *buf = xoc_api_buf_from(text, strlen(text));
    if (buf)
        xoc_api_ws_send(srv->ws, conn, buf);
    xoc_api_buf_unref(&buf);
}

/* a super-admin now (his record in the followed db users)? */
static bool s_admin(const s_client_t *c)
{
    return xoc_api_acl_user_admin(c->acl);
}

/* a random UUID (version 4), as xo-server's connection ids */
static void s_uuid(char out[40])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, b, sizeof b);
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

int xoc_api_sse_open(xoc_api_server_t *srv, uint64_t conn, const json_t *user,
                     int64_t expiration_ms, const char *token_key, bool all)
{
    struct xoc_api_sse *self = s_self(srv);
    s_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return XOC_ENOMEM;
    c->conn = conn;
    c->user = json_incref((json_t *)user);
    c->expiration = expiration_ms;
    c->srv = srv;
    c->self = self;
    c->all = all;
    snprintf(c->token_key, sizeof c->token_key, "%s", token_key ? token_key : "");
    const char *uid = json_string_value(json_object_get(user, "id"));
    c->acl = uid && srv->acl ? xoc_api_acl_user_acquire(srv->acl, uid) : NULL;
    char key[24], head[96];
    snprintf(key, sizeof key, "%llu", (unsigned long long)conn);
    if (!all) {
        c->subs = zhashx_new();
        if (!c->subs) {
            void *item = c;
            s_client_free(&item);
            return XOC_ENOMEM;
        }
        zhashx_set_destructor(c->subs, s_sub_free);
        do
            s_uuid(c->id);
        while (zhashx_lookup(self->by_id, c->id));
        zhashx_update(self->by_id, c->id, c);
        snprintf(head, sizeof head, "event: init\ndata: {\"id\":\"%s\"}\n\n", c->id);
    } else
        snprintf(head, sizeof head, "event: init\ndata: {\"id\":\"%llu\"}\n\n",
                 (unsigned long long)conn);
    zhashx_update(self->clients, key, c);
    xoc_api_buf_t *buf = xoc_api_buf_from(head, strlen(head));
    int rc = buf ? xoc_api_ws_http_answer(srv->ws, conn, 200, "text/event-stream",
                                          all ? "Cache-Control: no-cache\nX-Accel-Buffering: no"
                                              : "Cache-Control: no-cache, no-transform\n"
                                                "X-Accel-Buffering: no",
                                          buf, true)
                 : XOC_ENOMEM;
    xoc_api_buf_unref(&buf);
    xoc_info("event stream open conn=%llu user=%s mode=%s id=%s", (unsigned long long)conn,
             uid ? uid : "?", all ? "all" : "subscriptions", all ? key : c->id);
    if (rc != 0)
        zhashx_delete(self->clients, key);
    return rc;
}

void xoc_api_sse_closed(xoc_api_server_t *srv, uint64_t conn)
{
    struct xoc_api_sse *self = s_self(srv);
    char key[24];
    snprintf(key, sizeof key, "%llu", (unsigned long long)conn);
    if (self && zhashx_lookup(self->clients, key)) {
        zhashx_delete(self->clients, key);
        xoc_info("event stream closed conn=%llu", (unsigned long long)conn);
    }
}

void xoc_api_sse_change(xoc_api_server_t *srv, bool enter, const xoc_replica_obj_t *obj)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self || zhashx_size(self->clients) == 0)
        return;
    zhashx_update(self->batch, obj->id, (void *)(intptr_t)(enter ? 1 : 2));
}

/* ---- xo-server's model: subscriptions ---------------------------------------------------- */

static bool s_subscribed(const s_client_t *c) { return c->subs && zhashx_size(c->subs) > 0; }

/* the non-admin streams' users who may view the object now (before its change) */
static zlistx_t *s_seers(xoc_api_server_t *srv, struct xoc_api_sse *self, const char *id)
{
    zlistx_t *seen = zlistx_new();
    if (!seen)
        return NULL;
    zlistx_set_duplicator(seen, (zlistx_duplicator_fn *)strdup);
    zlistx_set_destructor(seen, (zlistx_destructor_fn *)zstr_free);
    zlistx_set_comparator(seen, (zlistx_comparator_fn *)strcmp);
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients)) {
        const char *uid = c->acl ? xoc_api_acl_user_id(c->acl) : NULL;
        if (s_subscribed(c) && uid && !s_admin(c) && !zlistx_find(seen, (void *)uid) &&
            xoc_api_acl_user_sees(srv->acl, c->acl, id))
            zlistx_add_end(seen, (void *)uid);
    }
    return seen;
}

void xoc_api_sse_before(xoc_api_server_t *srv, const xoc_replica_obj_t *obj)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self || self->nsubs == 0)
        return;
    s_change_t *ch = zhashx_lookup(self->changes, obj->id);
    if (ch) { /* only the state before the batch's first change of the object counts */
        json_decref(ch->cur_doc); /* the current one is changing */
        ch->cur_doc = NULL;
        return;
    }
    ch = calloc(1, sizeof *ch);
    if (!ch)
        return;
    snprintf(ch->type, sizeof ch->type, "%s", obj->type);
    const xoc_api_json_t *j = zhashx_lookup(srv->json, obj->id);
    if (j && (ch->old = malloc(sizeof *j + j->len)) != NULL)
        memcpy(ch->old, j, sizeof *j + j->len);
    ch->seen = s_seers(srv, self, obj->id);
    zhashx_update(self->changes, obj->id, ch);
}

/* the object's current (cur) or previous parsed JSON, parsed once per batch for an object
   of the batch; *owned: to be released by the caller (an object outside the batch) */
static json_t *s_doc(xoc_api_server_t *srv, s_change_t *ch, const char *id, bool cur,
                     bool *owned)
{
    *owned = false;
    if (!cur) {
        if (ch && ch->old && !ch->old_doc)
            ch->old_doc = json_loadb(ch->old->text, ch->old->len, 0, NULL);
        return ch ? ch->old_doc : NULL;
    }
    if (ch && ch->cur_doc)
        return ch->cur_doc;
    const xoc_api_json_t *j = zhashx_lookup(srv->json, id);
    json_t *doc = j ? json_loadb(j->text, j->len, 0, NULL) : NULL;
    if (ch)
        ch->cur_doc = doc;
    else
        *owned = doc != NULL;
    return doc;
}

/* is the message an alarm (name ALARM), from its current or previous JSON */
static bool s_alarm(xoc_api_server_t *srv, s_change_t *ch, const char *id)
{
    bool owned;
    json_t *doc = s_doc(srv, ch, id, true, &owned);
    if (!doc) {
        doc = s_doc(srv, ch, id, false, &owned);
    }
    const char *name = json_string_value(json_object_get(doc, "name"));
    bool alarm = name && strcmp(name, "ALARM") == 0;
    if (owned)
        json_decref(doc);
    return alarm;
}

/* the collection the stream subscribed to that holds an object of this type */
static const char *s_collection_of(xoc_api_server_t *srv, const s_client_t *c, s_change_t *ch,
                                   const char *id, const char *type, s_sub_t **sub)
{
    const char *coll = type;
    if (strcmp(type, "message") == 0 && (zhashx_lookup(c->subs, "alarm") ||
                                          zhashx_lookup(c->subs, "message")))
        coll = s_alarm(srv, ch, id) ? "alarm" : "message";
    *sub = zhashx_lookup(c->subs, coll);
    return *sub ? coll : NULL;
}

/* the text of the (picked) object for the event, into out; false: nothing to send */
static bool s_event_object(xoc_api_server_t *srv, s_change_t *ch, const char *id,
                           xoc_api_sub_event_t kind, const s_sub_t *sub, char **text,
                           size_t *len)
{
    const xoc_api_json_t *cur = zhashx_lookup(srv->json, id);
    const xoc_api_json_t *j = cur ? cur : kind == XOC_API_SUB_REMOVE && ch ? ch->old : NULL;
    if (!j)
        return false;
    if (!sub->fields) { /* "*": the object as it is */
        *text = (char *)j->text;
        *len = j->len;
        return true;
    }
    bool owned;
    json_t *doc = s_doc(srv, ch, id, cur != NULL, &owned);
    json_t *picked = doc ? xoc_api_sub_pick(doc, sub->fields) : NULL;
    if (owned)
        json_decref(doc);
    if (picked && kind == XOC_API_SUB_UPDATE && ch && ch->old) {
        /* no change of what the subscriber sees: no update (as xo-server) */
        bool ignore;
        json_t *was = s_doc(srv, ch, id, false, &ignore);
        json_t *was_picked = was ? xoc_api_sub_pick(was, sub->fields) : NULL;
        bool same = was_picked && json_equal(picked, was_picked);
        json_decref(was_picked);
        if (same) {
            json_decref(picked);
            return false;
        }
    }
    *text = picked ? json_dumps(picked, JSON_COMPACT) : NULL;
    json_decref(picked);
    *len = *text ? strlen(*text) : 0;
    return *text != NULL;
}

/* sends the event of an object to a stream, if it subscribed to the object's collection */
static void s_emit(xoc_api_server_t *srv, s_client_t *c, s_change_t *ch, const char *id,
                   const char *type, xoc_api_sub_event_t kind)
{
    s_sub_t *sub;
    const char *coll = s_collection_of(srv, c, ch, id, type, &sub);
    char *text = NULL;
    size_t len = 0;
    if (!coll || !s_event_object(srv, ch, id, kind, sub, &text, &len))
        return;
    xoc_api_buf_t *buf = xoc_api_buf_new(len + 96);
    if (buf && xoc_api_sub_write(buf, kind, coll, text, len) == 0)
        xoc_api_ws_send(srv->ws, c->conn, buf);
    xoc_api_buf_unref(&buf);
    if (sub->fields)
        free(text);
}

/* the changes of the batch to the super-admins' subscribed streams */
static void s_emit_admins(xoc_api_server_t *srv, struct xoc_api_sse *self)
{
    for (s_change_t *ch = zhashx_first(self->changes); ch; ch = zhashx_next(self->changes)) {
        const char *id = zhashx_cursor(self->changes);
        bool now = zhashx_lookup(srv->json, id) != NULL;
        if (!now && !ch->old)
            continue; /* created and deleted within the batch */
        xoc_api_sub_event_t kind = !now       ? XOC_API_SUB_REMOVE
                                   : ch->old ? XOC_API_SUB_UPDATE
                                             : XOC_API_SUB_ADD;
        for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients))
            if (s_subscribed(c) && s_admin(c))
                s_emit(srv, c, ch, id, ch->type, kind);
    }
}

/* a non-admin's view changed: his subscribed streams get add / update / remove */
static void s_emit_view(xoc_api_server_t *srv, struct xoc_api_sse *self,
                        const xoc_api_acl_user_t *user, const char *const *ids, size_t n,
                        bool enter)
{
    const char *uid = xoc_api_acl_user_id(user);
    bool any = false;
    for (s_client_t *c = zhashx_first(self->clients); c && !any; c = zhashx_next(self->clients))
        any = c->acl == user && s_subscribed(c);
    for (size_t i = 0; any && i < n; i++) {
        s_change_t *ch = zhashx_lookup(self->changes, ids[i]);
        const xoc_replica_obj_t *obj = ch ? NULL : xoc_replica_get(srv->replica, ids[i]);
        const char *type = ch ? ch->type : obj ? obj->type : NULL;
        if (!type)
            continue;
        bool seen = ch && ch->old && ch->seen && zlistx_find(ch->seen, (void *)uid);
        xoc_api_sub_event_t kind = !enter ? XOC_API_SUB_REMOVE
                                   : seen ? XOC_API_SUB_UPDATE
                                          : XOC_API_SUB_ADD;
        for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients))
            if (c->acl == user && s_subscribed(c))
                s_emit(srv, c, ch, ids[i], type, kind);
        /* what he was told: a later view change in the same batch builds on it */
        if (ch && ch->seen) {
            void *at = zlistx_find(ch->seen, (void *)uid);
            if (enter && !at)
                zlistx_add_end(ch->seen, (void *)uid);
            else if (!enter && at)
                zlistx_delete(ch->seen, at);
        }
    }
}

static xoc_api_buf_t *s_event_of(xoc_api_server_t *srv, bool enter, const char *const *ids,
                                 size_t n_ids);

/* "event: <kind>\ndata: {items}\n\n" of the batch's ids of that kind; NULL when there
   is none */
static xoc_api_buf_t *s_event(xoc_api_server_t *srv, struct xoc_api_sse *self, bool enter)
{
    size_t n = 0, cap = zhashx_size(self->batch);
    const char **ids = cap ? malloc(cap * sizeof *ids) : NULL;
    if (!ids)
        return NULL;
    for (void *v = zhashx_first(self->batch); v; v = zhashx_next(self->batch))
        if ((intptr_t)v == (enter ? 1 : 2))
            ids[n++] = zhashx_cursor(self->batch);
    xoc_api_buf_t *buf = s_event_of(srv, enter, ids, n);
    free(ids);
    return buf;
}

void xoc_api_sse_batch(xoc_api_server_t *srv, uint64_t rev)
{
    struct xoc_api_sse *self = s_self(srv);
    if (self && zhashx_size(self->changes)) {
        s_emit_admins(srv, self);
        zhashx_purge(self->changes);
    }
    if (!self || zhashx_size(self->batch) == 0)
        return;
    /* the admins' events are built once and shared; the others got theirs from
       xoc_api_access_flush (xoc_api_sse_view), which runs before */
    xoc_api_buf_t *all_enter = NULL, *all_exit = NULL;
    bool built = false;
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients)) {
        if (!c->all || !s_admin(c))
            continue;
        if (!built) {
            all_enter = s_event(srv, self, true);
            all_exit = s_event(srv, self, false);
            built = true;
        }
        xoc_api_buf_t *enter = all_enter ? xoc_api_buf_ref(all_enter) : NULL;
        xoc_api_buf_t *exit = all_exit ? xoc_api_buf_ref(all_exit) : NULL;
        if (enter)
            xoc_api_ws_send(srv->ws, c->conn, enter);
        if (exit)
            xoc_api_ws_send(srv->ws, c->conn, exit);
        xoc_api_buf_unref(&enter);
        xoc_api_buf_unref(&exit);
    }
    xoc_trace("sse batch rev=%llu changes=%zu clients=%zu", (unsigned long long)rev,
              zhashx_size(self->batch), zhashx_size(self->clients));
    xoc_api_buf_unref(&all_enter);
    xoc_api_buf_unref(&all_exit);
    zhashx_purge(self->batch);
    self->batches++;
}

/* ends the streams of the clients for which drop(c, arg) is true */
static void s_end_if(xoc_api_server_t *srv, bool (*drop)(const s_client_t *c, const void *arg),
                     const void *arg, const char *why)
{
    struct xoc_api_sse *self = s_self(srv);
    zlistx_t *gone = zlistx_new();
    if (!self || !gone) {
        zlistx_destroy(&gone);
        return;
    }
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients))
        if (drop(c, arg)) {
            xoc_api_ws_close(srv->ws, c->conn, 1000, why);
            zlistx_add_end(gone, (void *)zhashx_cursor(self->clients));
        }
    for (const char *k = zlistx_first(gone); k; k = zlistx_next(gone))
        zhashx_delete(self->clients, k);
    zlistx_destroy(&gone);
}

static bool s_is_user(const s_client_t *c, const void *user_id)
{
    const char *id = json_string_value(json_object_get(c->user, "id"));
    return id && strcmp(id, user_id) == 0;
}

void xoc_api_sse_close_user(xoc_api_server_t *srv, const char *user_id)
{
    if (user_id)
        s_end_if(srv, s_is_user, user_id, "user deleted");
}

static bool s_expired(const s_client_t *c, const void *now)
{
    return c->expiration && c->expiration < *(const int64_t *)now;
}

void xoc_api_sse_cron(xoc_api_server_t *srv)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self)
        return;
    int64_t now = (int64_t)zclock_time();
    bool ping = zclock_mono() >= self->next_ping;
    if (ping)
        self->next_ping = zclock_mono() + self->ping_ms;
    s_end_if(srv, s_expired, &now, "token expired");
    char event[64];
    snprintf(event, sizeof event, "event: ping\ndata: {\"ping\":%lld}\n\n", (long long)now);
    if (ping)
        for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients))
            s_send_text(srv, c->conn, c->all ? ": keep-alive\n\n" : event);
}

static bool s_is_token(const s_client_t *c, const void *key)
{
    return c->token_key[0] && strcmp(c->token_key, key) == 0;
}

void xoc_api_sse_close_token(xoc_api_server_t *srv, const char *token_key)
{
    if (token_key && token_key[0])
        s_end_if(srv, s_is_token, token_key, "token deleted");
}

/* "event: <kind>\ndata: {items}\n\n" of these ids (enter: the objects from the JSON cache,
   those not in it are skipped; exit: 0); NULL when there is none */
static xoc_api_buf_t *s_event_of(xoc_api_server_t *srv, bool enter, const char *const *ids,
                                 size_t n_ids)
{
    xoc_api_buf_t *buf = NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_ids; i++) {
        const xoc_api_json_t *j = enter ? zhashx_lookup(srv->json, ids[i]) : NULL;
        if (enter && !j)
            continue;
        if (!buf) {
            buf = xoc_api_buf_new(4096);
            if (!buf)
                return NULL;
            xoc_api_buf_puts(buf, enter ? "event: enter\ndata: {" : "event: exit\ndata: {");
        }
        if (n++)
            xoc_api_buf_putc(buf, ',');
        xoc_api_buf_json_str(buf, ids[i], strlen(ids[i]));
        xoc_api_buf_putc(buf, ':');
        if (enter)
            xoc_api_buf_put(buf, j->text, j->len);
        else
            xoc_api_buf_putc(buf, '0');
    }
    if (buf && xoc_api_buf_puts(buf, "}\n\n") != 0)
        xoc_api_buf_unref(&buf); /* out of memory: a truncated event is not sent */
    return buf;
}

void xoc_api_sse_view(xoc_api_server_t *srv, const xoc_api_acl_user_t *user,
                      const char *const *enter, size_t n_enter, const char *const *exit,
                      size_t n_exit)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self || zhashx_size(self->clients) == 0)
        return;
    /* built once for every stream of that user, and only when he has one */
    xoc_api_buf_t *ev_enter = NULL, *ev_exit = NULL;
    bool built = false;
    s_emit_view(srv, self, user, enter, n_enter, true);
    s_emit_view(srv, self, user, exit, n_exit, false);
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients)) {
        if (c->acl != user || !c->all)
            continue;
        if (!built) {
            ev_enter = n_enter ? s_event_of(srv, true, enter, n_enter) : NULL;
            ev_exit = n_exit ? s_event_of(srv, false, exit, n_exit) : NULL;
            built = true;
        }
        if (ev_enter)
            xoc_api_ws_send(srv->ws, c->conn, ev_enter);
        if (ev_exit)
            xoc_api_ws_send(srv->ws, c->conn, ev_exit);
    }
    xoc_api_buf_unref(&ev_enter);
    xoc_api_buf_unref(&ev_exit);
}

void xoc_api_sse_subjects(xoc_api_server_t *srv, zhashx_t *users, zhashx_t *tokens)
{
    struct xoc_api_sse *self = s_self(srv);
    for (s_client_t *c = self ? zhashx_first(self->clients) : NULL; c;
         c = zhashx_next(self->clients)) {
        const char *uid = json_string_value(json_object_get(c->user, "id"));
        if (uid)
            zhashx_insert(users, uid, "");
        if (c->token_key[0])
            zhashx_insert(tokens, c->token_key, "");
    }
}

/* ---- xo-server's model: the subscription routes ---------------------------------------------- */

/* the stream of that connection id, if it is the user's (another user's: as unknown) */
static s_client_t *s_stream_of(xoc_api_server_t *srv, const json_t *user, const char *id,
                               json_t **answer)
{
    struct xoc_api_sse *self = s_self(srv);
    s_client_t *c = self ? zhashx_lookup(self->by_id, id) : NULL;
    const char *uid = json_string_value(json_object_get(user, "id"));
    const char *owner = c ? json_string_value(json_object_get(c->user, "id")) : NULL;
    if (c && uid && owner && strcmp(uid, owner) == 0)
        return c;
    *answer = json_pack("{s:o,s:{s:s,s:s}}", "error", json_sprintf("no such event %s", id),
                        "data", "id", id, "type", "event");
    return NULL;
}

static json_t *s_invalid(const char *why)
{
    return json_pack("{s:s,s:{s:[{s:s}]}}", "error", "invalid parameters", "data", "errors",
                     "message", why);
}

int xoc_api_sse_subscribe(xoc_api_server_t *srv, const json_t *user, const char *id,
                          const char *body, size_t len, json_t **answer)
{
    *answer = NULL;
    s_client_t *c = s_stream_of(srv, user, id, answer);
    if (!c)
        return 404;
    char coll[XOC_API_SUB_NAME_MAX], err[200];
    json_t *fields = NULL;
    int rc = xoc_api_sub_parse(body, len, coll, &fields, err, sizeof err);
    if (rc == XOC_EINVAL) {
        *answer = json_pack("{s:s}", "error", err);
        return 400;
    }
    if (rc != 0) {
        *answer = s_invalid(err);
        return 422;
    }
    s_sub_t *sub = calloc(1, sizeof *sub);
    if (!sub) {
        json_decref(fields);
        return 500;
    }
    sub->fields = fields;
    if (!zhashx_lookup(c->subs, coll))
        c->self->nsubs++;
    zhashx_update(c->subs, coll, sub); /* again: its fields replace the previous ones */
    xoc_info("event stream subscribe conn=%llu id=%s collection=%s fields=%zu",
             (unsigned long long)c->conn, c->id, coll, fields ? json_array_size(fields) : 0);
    *answer = json_pack("{s:s}", "id", coll);
    return 201;
}

int xoc_api_sse_unsubscribe(xoc_api_server_t *srv, const json_t *user, const char *id,
                            const char *collection, json_t **answer)
{
    *answer = NULL;
    s_client_t *c = s_stream_of(srv, user, id, answer);
    if (!c)
        return 404;
    if (!xoc_api_sub_collection(collection)) {
        *answer = s_invalid("subscriptionId: not a collection of the event stream");
        return 422;
    }
    if (zhashx_lookup(c->subs, collection)) {
        zhashx_delete(c->subs, collection);
        c->self->nsubs--;
        xoc_info("event stream unsubscribe conn=%llu id=%s collection=%s",
                 (unsigned long long)c->conn, c->id, collection);
    }
    return 204;
}
