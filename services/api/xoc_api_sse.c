/*  xoc_api_sse — the event stream GET /rest/v0/events (text/event-stream): the changes of
    the `all` pushes (xo-api.md §1.4, §10) per replica batch, as

        event: enter                        event: exit
        data: {"<id>": {object}, ...}       data: {"<id>": 0, ...}

    (one line of JSON each, enter before exit); `event: init` with the stream's id first,
    and a comment line every api.sse_ping_s as keep-alive. A client's queue is the lws
    connection's, bounded by api.send_queue_max: a client that does not
    read is closed, it never grows memory. A stream opened with a token ends at the
    token's expiration.

    A stream follows its user as the WebSocket sessions do (xoc_api_access.c): it holds
    his resolved permissions (xoc_api_acl_user_acquire), so a permission change made on
    any instance (config.users event) applies at once. Super-admins get the batch as is;
    the others get what xoc_api_access_flush computes for them (xoc_api_sse_view): the
    objects they may view, the exits of those they could see (the object is already
    gone from the replica, only the per-user byte knows it was visible), and the
    enter/exit of what an ACL, group or permission change shows or hides. A stream ends
    when its user is deleted or the token it was opened with is deleted (config.users /
    config.tokens events, xoc_api_sessions_revoke), on every instance.

    The objects' changes come from xoc_api_objects.c (xoc_api_sse_change per change,
    xoc_api_sse_batch at the end of a batch); with no SSE client they cost one test.     */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_log.h"

typedef struct {
    uint64_t conn;
    json_t *user;
    int64_t expiration;      /* wall-clock ms; 0: none */
    xoc_api_server_t *srv;
    xoc_api_acl_user_t *acl; /* the user's resolved permissions, followed (NULL: none) */
    char token_key[64];      /* key in db tokens of the token it was opened with; "" */
} s_client_t;

struct xoc_api_sse {
    zhashx_t *clients;       /* "<conn>" -> s_client_t */
    zhashx_t *batch;         /* id -> 1 (entered) or 2 (exited), the batch being collected */
    int64_t ping_ms, next_ping;
    uint64_t batches;
};

static struct xoc_api_sse *s_self(xoc_api_server_t *srv) { return *xoc_api_rest_sse(srv); }

static void s_client_free(void **item)
{
    s_client_t *c = *item;
    if (c) {
        if (c->srv->acl)
            xoc_api_acl_user_release(c->srv->acl, &c->acl);
        json_decref(c->user);
        free(c);
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
    self->batch = zhashx_new();
    if (!self->clients || !self->batch)
        return XOC_ENOMEM;
    zhashx_set_destructor(self->clients, s_client_free);
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
    zhashx_destroy(&self->batch);
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

int xoc_api_sse_open(xoc_api_server_t *srv, uint64_t conn, const json_t *user,
                     int64_t expiration_ms, const char *token_key)
{
    struct xoc_api_sse *self = s_self(srv);
    s_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return XOC_ENOMEM;
    c->conn = conn;
    c->user = json_incref((json_t *)user);
    c->expiration = expiration_ms;
    c->srv = srv;
    snprintf(c->token_key, sizeof c->token_key, "%s", token_key ? token_key : "");
    const char *uid = json_string_value(json_object_get(user, "id"));
    c->acl = uid && srv->acl ? xoc_api_acl_user_acquire(srv->acl, uid) : NULL;
    char key[24], head[96];
    snprintf(key, sizeof key, "%llu", (unsigned long long)conn);
    zhashx_update(self->clients, key, c);
    snprintf(head, sizeof head, "event: init\ndata: {\"id\":\"%llu\"}\n\n",
             (unsigned long long)conn);
    xoc_api_buf_t *buf = xoc_api_buf_from(head, strlen(head));
    int rc = buf ? xoc_api_ws_http_answer(srv->ws, conn, 200, "text/event-stream",
                                          "Cache-Control: no-cache\nX-Accel-Buffering: no",
                                          buf, true)
                 : XOC_ENOMEM;
    xoc_api_buf_unref(&buf);
    if (rc != 0)
        zhashx_delete(self->clients, key);
    xoc_info("event stream open conn=%llu user=%s", (unsigned long long)conn,
             json_string_value(json_object_get(user, "id")) ?: "?");
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

/* "event: <kind>\ndata: {items}\n\n" of the batch's ids of that kind; NULL when there
   is none */
static xoc_api_buf_t *s_event(xoc_api_server_t *srv, struct xoc_api_sse *self, bool enter)
{
    xoc_api_buf_t *buf = NULL;
    size_t n = 0;
    for (void *v = zhashx_first(self->batch); v; v = zhashx_next(self->batch)) {
        if ((intptr_t)v != (enter ? 1 : 2))
            continue;
        const char *id = zhashx_cursor(self->batch);
        const xoc_api_json_t *j = enter ? zhashx_lookup(srv->json, id) : NULL;
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
        xoc_api_buf_json_str(buf, id, strlen(id));
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

void xoc_api_sse_batch(xoc_api_server_t *srv, uint64_t rev)
{
    struct xoc_api_sse *self = s_self(srv);
    if (!self || zhashx_size(self->batch) == 0)
        return;
    /* the admins' events are built once and shared; the others got theirs from
       xoc_api_access_flush (xoc_api_sse_view), which runs before */
    xoc_api_buf_t *all_enter = NULL, *all_exit = NULL;
    bool built = false;
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients)) {
        if (!s_admin(c))
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
    if (ping)
        for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients))
            s_send_text(srv, c->conn, ": keep-alive\n\n");
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
    for (s_client_t *c = zhashx_first(self->clients); c; c = zhashx_next(self->clients)) {
        if (c->acl != user)
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
