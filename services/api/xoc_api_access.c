/*  xoc_api_access — ACLs and groups in the server (xo-api.md §8.1, §8.4, §4.3 acl.*,
    group.*): the resolver (xoc_api_acl) fed with the cache's config dbs, the sessions'
    views and their `enter`/`exit` pushes, the acl.* and group.* methods.

    Config feed: a SUB on config.acls / config.groups / config.users applies each change
    (set / delete of one record) when its revision is newer than the db's; a full
    config.list of a db replaces it when the list's revision is at least the db's (so a
    lost event is repaired by the next list: at start, every api.acl_refresh_s, and after
    each write of this frontend — a method answers once the list that follows its write
    is applied, so the caller's next call sees the change). Records:
      acls   {id, subject, object, action}   id = xoc_api_acl_id(subject, object, action)
      groups {id, name, users: [user ids]}   membership also in the user's `groups`
    The SUB also takes config.tokens: deletions of users and tokens go to
    xoc_api_sessions_revoke (their sessions and event streams end, on every instance).  */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_msg.h"

static const char *s_db_names[] = {"acls", "groups", "users"};

static int s_db_of(xoc_str_t name)
{
    for (int i = 0; i < 3; i++)
        if (xoc_str_eq(name, s_db_names[i]))
            return i;
    return -1;
}

/* ---- loading dbs ------------------------------------------------------------------------- */

typedef void(s_loaded_fn)(xoc_api_server_t *srv, int status, void *arg);

typedef struct {
    xoc_api_server_t *srv;
    int db;
    s_loaded_fn *fn;
    void *arg;
} s_load_t;

/* applies a config.list reply: replaces the db when it is at least as new */
static int s_apply_list(xoc_api_server_t *srv, int db, xoc_reply_t *reply)
{
    xoc_msg_t m;
    int rc = reply->status ? reply->status : xoc_reply_decode(reply, XOC_MSG_CFG, &m);
    if (rc)
        return rc;
    if (m.cfg.rev < srv->acl_rev[db])
        return 0; /* events took us further meanwhile: the next list will do */
    json_t *items =
        m.cfg.items.len ? xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len) : json_object();
    if (!items)
        return XOC_ENOMEM;
    xoc_api_acl_db_replace(srv->acl, db, items);
    json_decref(items);
    srv->acl_rev[db] = m.cfg.rev;
    srv->acl_loaded |= 1u << db;
    return 0;
}

static void s_on_list(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_load_t *l = arg;
    int rc = s_apply_list(l->srv, l->db, reply);
    if (rc)
        xoc_warn("acl: config.list %s failed: %s", s_db_names[l->db], xoc_strerror(rc));
    else
        xoc_api_access_flush(l->srv);
    if (l->fn)
        l->fn(l->srv, rc, l->arg);
    free(l);
}

static int s_list_body(int db, msgpack_sbuffer *body)
{
    xoc_msg_cfg_t m = {.db = xoc_str(s_db_names[db])};
    msgpack_sbuffer_init(body);
    return xoc_msg_cfg_encode(&m, body);
}

/* reloads a db; fn (may be NULL) runs once it is applied (or failed) */
static int s_load(xoc_api_server_t *srv, int db, s_loaded_fn *fn, void *arg)
{
    msgpack_sbuffer body;
    s_load_t *l = calloc(1, sizeof *l);
    int rc = l ? s_list_body(db, &body) : XOC_ENOMEM;
    if (l && rc == 0) {
        *l = (s_load_t){srv, db, fn, arg};
        rc = xoc_client_send(srv->client, "cache", "config.list", body.data, body.size,
                             srv->bus_timeout_ms, s_on_list, l);
    }
    if (l)
        msgpack_sbuffer_destroy(&body);
    if (rc)
        free(l);
    return rc;
}

static int s_load_sync(xoc_api_server_t *srv, int db)
{
    msgpack_sbuffer body;
    int rc = s_list_body(db, &body);
    xoc_reply_t reply;
    memset(&reply, 0, sizeof reply);
    if (rc == 0) /* at start: do not hold the start for long, the timer retries */
        rc = xoc_client_call(srv->client, "cache", "config.list", body.data, body.size,
                             srv->bus_timeout_ms < 3000 ? srv->bus_timeout_ms : 3000, &reply);
    if (rc == 0)
        rc = s_apply_list(srv, db, &reply);
    xoc_reply_clear(&reply);
    msgpack_sbuffer_destroy(&body);
    return rc;
}

/* every second: a db never loaded is asked again; every api.acl_refresh_s: all of them */
static int s_on_refresh(zloop_t *loop, int timer_id, void *arg)
{
    xoc_api_server_t *srv = arg;
    int64_t now = zclock_mono();
    bool all = now >= srv->acl_refresh_at;
    if (all)
        srv->acl_refresh_at = now + xoc_cfg_int(srv->cfg, "api.acl_refresh_s") * 1000;
    for (int db = 0; db < 3; db++)
        if (all || !(srv->acl_loaded & (1u << db)))
            s_load(srv, db, NULL, NULL);
    if (all) /* a lost deletion event of a user or a token is repaired here */
        xoc_api_sessions_sweep(srv);
    return 0;
}

/* ---- config events ------------------------------------------------------------------------ */

static bool s_apply_event(xoc_api_server_t *srv, const xoc_msg_cfg_t *cfg)
{
    int db = s_db_of(cfg->db);
    char key[256];
    if (db < 0 || cfg->rev <= srv->acl_rev[db] || !cfg->key.len || cfg->key.len >= sizeof key)
        return false;
    xoc_str_copy(cfg->key, key, sizeof key);
    json_t *rec = NULL;
    if (xoc_str_eq(cfg->op, "set")) {
        rec = cfg->value.len ? xoc_json_from_mp(cfg->value.ptr, cfg->value.len) : NULL;
        if (!json_is_object(rec)) {
            json_decref(rec);
            return false;
        }
    }
    xoc_api_acl_db_set(srv->acl, db, key, rec);
    json_decref(rec);
    srv->acl_rev[db] = cfg->rev;
    return true;
}

/* config.users / config.tokens deletions reach the sessions and streams of this instance */
static void s_revoke(xoc_api_server_t *srv, const xoc_msg_cfg_t *cfg)
{
    char db[16], op[16], key[256];
    if (!cfg->key.len || cfg->key.len >= sizeof key || cfg->db.len >= sizeof db ||
        cfg->op.len >= sizeof op)
        return;
    xoc_api_sessions_revoke(srv, xoc_str_copy(cfg->db, db, sizeof db),
                            xoc_str_copy(cfg->op, op, sizeof op),
                            xoc_str_copy(cfg->key, key, sizeof key));
}

static int s_on_config(zloop_t *loop, zsock_t *sock, void *arg)
{
    xoc_api_server_t *srv = arg;
    bool changed = false;
    zmsg_t *msg;
    for (int i = 0; i < 1024 && (msg = zmsg_recv_nowait(sock)); i++) {
        zframe_t *topic = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        xoc_msg_t m;
        if (body && xoc_msg_decode_as(&m, XOC_MSG_CFG, zframe_data(body), zframe_size(body)) == 0) {
            changed |= s_apply_event(srv, &m.cfg);
            s_revoke(srv, &m.cfg); /* a deleted user or token: its sessions end */
        } else
            xoc_warn("acl: bad config event");
        zframe_destroy(&topic);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    if (changed)
        xoc_api_access_flush(srv);
    return 0;
}

/* ---- life ---------------------------------------------------------------------------------- */

int xoc_api_access_start(xoc_api_server_t *srv)
{
    srv->acl_timer = -1;
    srv->acl = xoc_api_acl_new();
    srv->acl_sub = xoc_bus_connect(ZMQ_SUB, srv->node.bus.sub, &srv->node.bus);
    if (!srv->acl || !srv->acl_sub)
        return XOC_ENOMEM;
    for (int db = 0; db < 3; db++) {
        char topic[32];
        snprintf(topic, sizeof topic, "config.%s", s_db_names[db]);
        zsock_set_subscribe(srv->acl_sub, topic);
    }
    zsock_set_subscribe(srv->acl_sub, "config.tokens"); /* deleted tokens (s_revoke) */
    if (zloop_reader(srv->node.loop, srv->acl_sub, s_on_config, srv) != 0)
        return XOC_EIO;
    for (int db = 0; db < 3; db++) {
        int rc = s_load_sync(srv, db);
        if (rc) { /* the timer asks again every second */
            xoc_warn("acl: cannot load db %s: %s (retrying)", s_db_names[db], xoc_strerror(rc));
            break;
        }
    }
    srv->acl_refresh_at = zclock_mono() + xoc_cfg_int(srv->cfg, "api.acl_refresh_s") * 1000;
    srv->acl_timer = zloop_timer(srv->node.loop, 1000, 0, s_on_refresh, srv);
    return srv->acl_timer < 0 ? XOC_EIO : 0;
}

void xoc_api_access_stop(xoc_api_server_t *srv)
{
    if (!srv->acl && !srv->acl_sub)
        return; /* never started */
    if (srv->acl_sub && srv->node.loop)
        zloop_reader_end(srv->node.loop, srv->acl_sub);
    if (srv->acl_timer >= 0 && srv->node.loop)
        zloop_timer_end(srv->node.loop, srv->acl_timer);
    srv->acl_timer = -1;
    zsock_destroy(&srv->acl_sub);
    xoc_api_acl_destroy(&srv->acl);
}

/* ---- sessions and pushes -------------------------------------------------------------------- */

void xoc_api_access_session(xoc_api_server_t *srv, xoc_api_session_t *s)
{
    if (!srv->acl)
        return;
    xoc_api_acl_user_release(srv->acl, &s->acl);
    if (!s->user_id[0])
        return;
    int64_t t0 = zclock_usecs();
    s->acl = xoc_api_acl_user_acquire(srv->acl, s->user_id);
    xoc_debug("acl: session follows user=%s admin=%d us=%lld conn=%llu", s->user_id,
              xoc_api_acl_user_admin(s->acl), (long long)(zclock_usecs() - t0),
              (unsigned long long)s->conn);
}

typedef struct {
    xoc_api_buf_t *enter, *exit;
} s_out_t;

static void s_out_free(void **item)
{
    s_out_t *o = *item;
    if (o) {
        xoc_api_buf_unref(&o->enter);
        xoc_api_buf_unref(&o->exit);
        free(o);
        *item = NULL;
    }
}

typedef struct {
    xoc_api_server_t *srv;
    zhashx_t *out; /* user id -> s_out_t */
} s_flush_t;

static void s_on_diff(xoc_api_acl_user_t *user, const char *const *enter, size_t n_enter,
                      const char *const *exit, size_t n_exit, void *arg)
{
    s_flush_t *f = arg;
    xoc_api_sse_view(f->srv, user, enter, n_enter, exit, n_exit); /* his event streams */
    if (!f->out && (f->out = zhashx_new()) != NULL)
        zhashx_set_destructor(f->out, s_out_free);
    s_out_t *o = f->out ? calloc(1, sizeof *o) : NULL;
    if (!o)
        return;
    o->enter = n_enter ? xoc_api_objects_notification(f->srv, true, enter, n_enter) : NULL;
    o->exit = n_exit ? xoc_api_objects_notification(f->srv, false, exit, n_exit) : NULL;
    zhashx_update(f->out, xoc_api_acl_user_id(user), o);
    xoc_debug("acl: view changed user=%s enter=%zu exit=%zu", xoc_api_acl_user_id(user), n_enter,
              n_exit);
}

void xoc_api_access_flush(xoc_api_server_t *srv)
{
    if (!srv->acl)
        return;
    s_flush_t f = {srv, NULL};
    int64_t t0 = zclock_usecs();
    xoc_api_acl_flush(srv->acl, s_on_diff, &f);
    if (!f.out)
        return;
    xoc_debug("acl: views changed users=%zu us=%lld", zhashx_size(f.out),
              (long long)(zclock_usecs() - t0));
    for (xoc_api_session_t *s = zhashx_first(srv->sessions); s; s = zhashx_next(srv->sessions)) {
        s_out_t *o = s->acl ? zhashx_lookup(f.out, xoc_api_acl_user_id(s->acl)) : NULL;
        if (!o)
            continue;
        if (o->enter)
            xoc_api_ws_push(srv->ws, &s->conn, 1, o->enter);
        if (o->exit)
            xoc_api_ws_push(srv->ws, &s->conn, 1, o->exit);
        srv->pushes++;
    }
    zhashx_destroy(&f.out);
}

xoc_api_acl_user_t *xoc_api_access_view(xoc_api_call_t *call, bool *deny)
{
    *deny = false;
    if (xoc_api_acl_is_admin(call->user))
        return NULL;
    xoc_api_session_t *s = xoc_api_session(call->srv, call->conn);
    if (!s || !s->acl)
        *deny = true;
    return s ? s->acl : NULL;
}

/* ---- jobs: several config operations, then one answer -------------------------------------- */

/*  A job runs in stages: s_job_begin(j, next), issue operations (each holds the job),
    s_job_end(j); when every operation of the stage has answered, next(j) runs. A write
    stage is followed by the reload of the dbs it touched (s_job_commit), then the answer:
    the caller's next call sees his change.                                                */
typedef struct s_job s_job_t;
typedef void(s_job_fn)(s_job_t *job);

struct s_job {
    xoc_api_server_t *srv;
    xoc_api_call_t *call; /* answered by the last stage (NULL: an internal job) */
    size_t pending;
    int status;
    s_job_fn *done;  /* the next stage */
    s_job_fn *final; /* after the reload of s_job_commit */
    unsigned reload; /* 1: acls, 2: groups */
    json_t *record;  /* the record being edited */
    json_t *users;   /* group member list being written */
    char id[256];
    char aux[256];
    bool flag;
    bool free32; /* acl.add: the 32-bit id of the triple is free */
    xoc_api_access_done_fn *after;
    void *after_arg;
};

static s_job_t *s_job_new(xoc_api_server_t *srv, xoc_api_call_t *call)
{
    s_job_t *j = calloc(1, sizeof *j);
    if (j) {
        j->srv = srv;
        j->call = call;
    }
    return j;
}

static void s_job_free(s_job_t *j)
{
    json_decref(j->record);
    json_decref(j->users);
    free(j);
}

static void s_job_release(s_job_t *j, int status)
{
    if (status && status != XOC_ENOENT && !j->status)
        j->status = status;
    if (--j->pending == 0)
        j->done(j);
}

static void s_job_begin(s_job_t *j, s_job_fn *next)
{
    j->done = next;
    j->pending = 1; /* released by s_job_end */
}

static void s_job_end(s_job_t *j)
{
    s_job_release(j, 0);
}

static void s_on_job_cfg(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_job_release(arg, status);
}

static void s_job_cfg(s_job_t *j, const char *verb, const char *db, const char *key,
                      const json_t *value)
{
    j->pending++;
    if (xoc_api_cfg(j->srv, verb, db, key, value, s_on_job_cfg, j) != 0)
        s_job_release(j, XOC_EIO);
}

static void s_on_job_loaded(xoc_api_server_t *srv, int status, void *arg)
{
    s_job_release(arg, status);
}

static void s_job_load(s_job_t *j, int db)
{
    j->pending++;
    if (s_load(j->srv, db, s_on_job_loaded, j) != 0)
        s_job_release(j, XOC_EIO);
}

static void s_reload_stage(s_job_t *j)
{
    s_job_begin(j, j->final);
    if (j->reload & 1)
        s_job_load(j, XOC_API_ACL_DB_ACLS);
    if (j->reload & 2)
        s_job_load(j, XOC_API_ACL_DB_GROUPS);
    s_job_end(j);
}

/* begins a write stage that ends with the reload of `reload`, then final */
static void s_job_commit(s_job_t *j, unsigned reload, s_job_fn *final)
{
    s_job_begin(j, s_reload_stage);
    j->reload = reload;
    j->final = final;
}

/* answers the call: failure, or result (stolen; NULL = true) */
static void s_job_answer(s_job_t *j, json_t *result)
{
    if (j->status) {
        json_decref(result);
        xoc_api_call_fail(j->call, j->status, NULL, NULL);
    } else
        xoc_api_call_done(j->call, result);
    s_job_free(j);
}

static void s_job_answer_true(s_job_t *j)
{
    s_job_answer(j, NULL);
}

/* fails the call with status now */
static void s_job_fail(s_job_t *j, int status)
{
    j->status = status;
    s_job_answer(j, NULL);
}

/* ---- acl.* ---------------------------------------------------------------------------------- */

/* does array a hold the string s? */
static bool s_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

static bool s_same_acl(const json_t *rec, const char *subject, const char *object,
                       const char *action)
{
    const char *s = json_string_value(json_object_get(rec, "subject"));
    const char *o = json_string_value(json_object_get(rec, "object"));
    const char *a = json_string_value(json_object_get(rec, "action"));
    return s && o && a && !strcmp(s, subject) && !strcmp(o, object) && !strcmp(a, action);
}

static void s_acl_step(s_job_t *j);

static void s_on_acl_get(xoc_api_server_t *unused, int status, json_t *rec, void *arg)
{
    s_job_t *j = arg;
    xoc_api_call_t *call = j->call;
    const char *subject = xoc_api_param(call, "subject"), *object = xoc_api_param(call, "object");
    const char *action = xoc_api_param(call, "action");
    bool add = !strcmp(call->method->name, "acl.add");
    if (status != 0 && status != XOC_ENOENT) {
        s_job_fail(j, status);
        return;
    }
    bool same = status == 0 && s_same_acl(rec, subject, object, action);
    if (!same && !j->flag) { /* not at its 32-bit id: it may be at its wide id (a collision) */
        j->free32 = status == XOC_ENOENT;
        j->flag = true;
        s_acl_step(j);
        return;
    }
    if (add && !same && !j->free32 && status == 0) { /* both ids taken by other triples */
        s_job_fail(j, XOC_EINTERNAL);
        return;
    }
    s_job_commit(j, 1, s_job_answer_true);
    if (add && !same) {
        if (j->free32)
            xoc_api_acl_id(subject, object, action, false, j->id, sizeof j->id);
        json_t *r = json_pack("{s:s,s:s,s:s,s:s}", "id", j->id, "subject", subject, "object",
                              object, "action", action);
        s_job_cfg(j, "set", "acls", j->id, r);
        json_decref(r);
    } else if (!add && same)
        s_job_cfg(j, "delete", "acls", j->id, NULL);
    s_job_end(j);
}

static void s_acl_step(s_job_t *j)
{
    xoc_api_call_t *call = j->call;
    xoc_api_acl_id(xoc_api_param(call, "subject"), xoc_api_param(call, "object"), xoc_api_param(call, "action"),
                   j->flag, j->id, sizeof j->id);
    if (xoc_api_cfg(j->srv, "get", "acls", j->id, NULL, s_on_acl_get, j) != 0)
        s_job_fail(j, XOC_EIO);
}

/* acl.add: the subject must be a user or a group */
static void s_on_subject(xoc_api_server_t *unused, int status, json_t *rec, void *arg)
{
    s_job_t *j = arg;
    const char *subject = xoc_api_param(j->call, "subject");
    if (status == XOC_ENOENT && !j->aux[0]) {
        snprintf(j->aux, sizeof j->aux, "groups");
        if (xoc_api_cfg(j->srv, "get", "groups", subject, NULL, s_on_subject, j) == 0)
            return;
        status = XOC_EIO;
    }
    if (status == XOC_ENOENT) {
        xoc_api_call_fail(j->call, XOC_ENOENT, NULL,
                          json_pack("{s:s,s:s}", "id", subject, "type", "user or group"));
        s_job_free(j);
        return;
    }
    if (status != 0) {
        s_job_fail(j, status);
        return;
    }
    j->aux[0] = '\0';
    s_acl_step(j);
}

int xoc_api_m_acl_add(xoc_api_call_t *call)
{
    s_job_t *j = s_job_new(call->srv, call);
    if (!j)
        return XOC_ENOMEM;
    if (xoc_api_cfg(call->srv, "get", "users", xoc_api_param(call, "subject"), NULL, s_on_subject, j) !=
        0) {
        s_job_free(j);
        return XOC_EIO;
    }
    return 0;
}

int xoc_api_m_acl_remove(xoc_api_call_t *call)
{
    s_job_t *j = s_job_new(call->srv, call);
    if (!j)
        return XOC_ENOMEM;
    s_acl_step(j);
    return 0;
}

int xoc_api_m_acl_get(xoc_api_call_t *call)
{
    return xoc_api_cfg_list_answer(call, "acls", NULL);
}

int xoc_api_m_acl_get_current_permissions(xoc_api_call_t *call)
{
    if (!call->srv->acl)
        return XOC_ENOMEM;
    xoc_api_call_done(call, xoc_api_acl_permissions(call->srv->acl, call->user));
    return 0;
}

/* ---- dropping a subject's or an object's ACLs (user.delete, group.delete, vm.delete) -------- */

static void s_drop_done(s_job_t *j)
{
    if (j->after)
        j->after(j->after_arg, j->status);
    s_job_free(j);
}

/* a group without the job's user (a read-modify-write of the group record) */
static int s_edit_drop_member(const json_t *g, json_t **out, void *arg)
{
    s_job_t *j = arg;
    json_t *users = json_object_get(g, "users");
    json_t *kept = json_array();
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) if (!json_is_string(u) || strcmp(json_string_value(u), j->id))
        json_array_append(kept, u);
    if (json_array_size(kept) != json_array_size(users)) {
        *out = json_copy((json_t *)g);
        json_object_set(*out, "users", kept);
    }
    json_decref(kept);
    return 0;
}

static void s_on_drop_groups(xoc_api_server_t *unused, int status, json_t *items, void *arg)
{
    s_job_t *j = arg;
    const char *key;
    json_t *g;
    json_object_foreach(status == 0 ? items : NULL, key, g)
    {
        if (!s_has(json_object_get(g, "users"), j->id))
            continue;
        j->pending++;
        if (xoc_api_cfg_update(j->srv, "groups", key, s_edit_drop_member, j, s_on_job_cfg, j) != 0)
            s_job_release(j, XOC_EIO);
    }
    s_job_release(j, status);
}

static void s_on_drop_acls(xoc_api_server_t *unused, int status, json_t *items, void *arg)
{
    s_job_t *j = arg;
    const char *key;
    json_t *rec;
    json_object_foreach(status == 0 ? items : NULL, key, rec)
    {
        const char *v = json_string_value(json_object_get(rec, j->flag ? "object" : "subject"));
        if (v && !strcmp(v, j->id))
            s_job_cfg(j, "delete", "acls", key, NULL);
    }
    s_job_release(j, status);
}

void xoc_api_access_drop(xoc_api_server_t *srv, const char *id, bool object,
                         xoc_api_access_done_fn *done, void *arg)
{
    s_job_t *j = s_job_new(srv, NULL);
    if (!j) {
        if (done)
            done(arg, XOC_ENOMEM);
        return;
    }
    snprintf(j->id, sizeof j->id, "%s", id);
    j->flag = object;
    j->after = done;
    j->after_arg = arg;
    s_job_commit(j, object ? 1 : 3, s_drop_done);
    j->pending++;
    if (xoc_api_cfg(srv, "list", "acls", NULL, NULL, s_on_drop_acls, j) != 0)
        s_job_release(j, XOC_EIO);
    if (!object) {
        j->pending++;
        if (xoc_api_cfg(srv, "list", "groups", NULL, NULL, s_on_drop_groups, j) != 0)
            s_job_release(j, XOC_EIO);
    }
    s_job_end(j);
}

/* ---- granting an ACL from inside (vm.snapshot / vm.clone of a non-admin) ------------------- */

/* j->record: {subject, object, action}; j->flag: looking at the wide id; j->free32: the
   32-bit id is free (the same steps as acl.add) */
static void s_grant_step(s_job_t *j);

static void s_on_grant_get(xoc_api_server_t *unused, int status, json_t *rec, void *arg)
{
    s_job_t *j = arg;
    const char *subject = json_string_value(json_object_get(j->record, "subject"));
    const char *object = json_string_value(json_object_get(j->record, "object"));
    const char *action = json_string_value(json_object_get(j->record, "action"));
    if (status != 0 && status != XOC_ENOENT) {
        j->status = status;
        s_drop_done(j);
        return;
    }
    if (status == 0 && s_same_acl(rec, subject, object, action)) {
        s_drop_done(j); /* already granted */
        return;
    }
    if (!j->flag) { /* not at its 32-bit id: it may be at its wide id (a collision) */
        j->free32 = status == XOC_ENOENT;
        j->flag = true;
        s_grant_step(j);
        return;
    }
    if (!j->free32 && status == 0) { /* both ids taken by other triples */
        j->status = XOC_EINTERNAL;
        s_drop_done(j);
        return;
    }
    if (j->free32)
        xoc_api_acl_id(subject, object, action, false, j->id, sizeof j->id);
    s_job_commit(j, 1, s_drop_done);
    json_object_set_new(j->record, "id", json_string(j->id));
    s_job_cfg(j, "set", "acls", j->id, j->record);
    s_job_end(j);
}

static void s_grant_step(s_job_t *j)
{
    xoc_api_acl_id(json_string_value(json_object_get(j->record, "subject")),
                   json_string_value(json_object_get(j->record, "object")),
                   json_string_value(json_object_get(j->record, "action")), j->flag, j->id,
                   sizeof j->id);
    if (xoc_api_cfg(j->srv, "get", "acls", j->id, NULL, s_on_grant_get, j) != 0) {
        j->status = XOC_EIO;
        s_drop_done(j);
    }
}

void xoc_api_access_grant(xoc_api_server_t *srv, const char *subject, const char *object,
                          const char *action, xoc_api_access_done_fn *done, void *arg)
{
    s_job_t *j = s_job_new(srv, NULL);
    if (!j || !(j->record = json_pack("{s:s,s:s,s:s}", "subject", subject, "object", object,
                                      "action", action))) {
        free(j);
        if (done)
            done(arg, XOC_ENOMEM);
        return;
    }
    j->after = done;
    j->after_arg = arg;
    s_grant_step(j);
}

/* ---- group.* --------------------------------------------------------------------------------- */

static json_t *s_group_public(const json_t *g)
{
    json_t *pub = json_deep_copy(g);
    if (!json_is_array(json_object_get(pub, "users")))
        json_object_set_new(pub, "users", json_array());
    return pub;
}

static bool s_name_taken(const json_t *groups, const char *name, const char *except)
{
    const char *key;
    json_t *g;
    json_object_foreach((json_t *)groups, key, g)
    {
        const char *n = json_string_value(json_object_get(g, "name"));
        if (n && !strcmp(n, name) && (!except || strcmp(key, except)))
            return true;
    }
    return false;
}

static void s_fail_exists(xoc_api_call_t *call)
{
    xoc_api_call_fail(call, XOC_EEXIST, "group already exists",
                      json_pack("{s:s}", "objectType", "group"));
}

static void s_fail_no_group(xoc_api_call_t *call, const char *id)
{
    xoc_api_call_fail(call, XOC_ENOENT, NULL, json_pack("{s:s,s:s}", "id", id, "type", "group"));
}

static void s_group_created(s_job_t *j)
{
    s_job_answer(j, j->status ? NULL : json_string(j->id));
}

static void s_on_groups_for_create(xoc_api_server_t *unused, int status, json_t *groups, void *arg)
{
    s_job_t *j = arg;
    const char *name = xoc_api_param(j->call, "name");
    if (status == 0 && s_name_taken(groups, name, NULL)) {
        s_fail_exists(j->call);
        s_job_free(j);
        return;
    }
    if (status != 0) {
        s_job_fail(j, status);
        return;
    }
    zuuid_t *uuid = zuuid_new();
    snprintf(j->id, sizeof j->id, "%s", uuid ? zuuid_str_canonical(uuid) : "");
    zuuid_destroy(&uuid);
    json_t *g = json_pack("{s:s,s:s,s:[]}", "id", j->id, "name", name, "users");
    s_job_commit(j, 2, s_group_created);
    s_job_cfg(j, "set", "groups", j->id, g);
    s_job_end(j);
    json_decref(g);
}

int xoc_api_m_group_create(xoc_api_call_t *call)
{
    s_job_t *j = s_job_new(call->srv, call);
    if (!j)
        return XOC_ENOMEM;
    if (xoc_api_cfg(call->srv, "list", "groups", NULL, NULL, s_on_groups_for_create, j) != 0) {
        s_job_free(j);
        return XOC_EIO;
    }
    return 0;
}

int xoc_api_m_group_get_all(xoc_api_call_t *call)
{
    return xoc_api_cfg_list_answer(call, "groups", s_group_public);
}

/* membership on the user's side: add or remove gid in user uid's `groups` */
/* the user's side of a membership: his `groups` gains or loses the job's group (each user
   record a read-modify-write: a concurrent user.set or membership change is kept) */
typedef struct {
    s_job_t *job;
    bool add;
} s_member_t;

static int s_edit_member(const json_t *user, json_t **out, void *arg)
{
    s_member_t *m = arg;
    if (!json_is_object(user))
        return 0; /* no such user (any more): nothing to do */
    const char *gid = m->job->id;
    json_t *next = json_array();
    size_t i;
    json_t *g;
    bool had = false;
    json_array_foreach(json_object_get(user, "groups"), i, g)
    {
        if (json_is_string(g) && !strcmp(json_string_value(g), gid))
            had = true;
        else
            json_array_append(next, g);
    }
    if (m->add)
        json_array_append_new(next, json_string(gid));
    if (had != m->add) {
        *out = json_copy((json_t *)user);
        json_object_set(*out, "groups", next);
    }
    json_decref(next);
    return 0;
}

static void s_on_member(xoc_api_server_t *unused, int status, json_t *user, void *arg)
{
    s_member_t *m = arg;
    s_job_t *j = m->job;
    free(m);
    s_job_release(j, status);
}

static void s_member(s_job_t *j, const char *uid, bool add)
{
    s_member_t *m = malloc(sizeof *m);
    j->pending++;
    if (!m) {
        s_job_release(j, XOC_ENOMEM);
        return;
    }
    *m = (s_member_t){j, add};
    if (xoc_api_cfg_update(j->srv, "users", uid, s_edit_member, m, s_on_member, m) != 0) {
        free(m);
        s_job_release(j, XOC_EIO);
    }
}

/* the group's new member list, computed from the record as it is at each try; j->record
   keeps that record (its old members) for the users' side */
static json_t *s_new_users(xoc_api_call_t *call, const json_t *old);

static int s_edit_group_users(const json_t *g, json_t **out, void *arg)
{
    s_job_t *j = arg;
    if (!json_is_object(g))
        return XOC_ENOENT;
    json_t *users = s_new_users(j->call, json_object_get(g, "users"));
    if (!users)
        return XOC_EINVAL;
    json_decref(j->record);
    j->record = json_deep_copy(g);
    json_decref(j->users);
    j->users = users;
    if (!json_equal(users, json_object_get(g, "users"))) {
        *out = json_deep_copy(g);
        json_object_set(*out, "users", users);
        json_object_set_new(*out, "id", json_string(j->id));
    }
    return 0;
}

/* the outcome of reading or updating the job's group (present: a record came back): false
   when it failed, the call answered (no such group, or the error) */
static bool s_group_found(s_job_t *j, int status, bool present)
{
    if (status == XOC_ENOENT || (status == 0 && !present)) { /* unknown, or deleted meanwhile */
        s_fail_no_group(j->call, j->id);
        s_job_free(j);
        return false;
    }
    if (status != 0) {
        s_job_fail(j, status);
        return false;
    }
    return true;
}

/* the group written: the memberships on the users' side, then the reload */
static void s_on_group_users(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_job_t *j = arg;
    if (!s_group_found(j, status, true))
        return;
    json_t *old = json_object_get(j->record, "users");
    s_job_commit(j, 2, s_job_answer_true);
    size_t i;
    json_t *u;
    json_array_foreach(old, i, u) if (json_is_string(u) && !s_has(j->users, json_string_value(u)))
        s_member(j, json_string_value(u), false);
    json_array_foreach(j->users, i, u) if (!s_has(old, json_string_value(u)))
        s_member(j, json_string_value(u), true);
    s_job_end(j);
}

static void s_group_write_users(s_job_t *j)
{
    if (xoc_api_cfg_update(j->srv, "groups", j->id, s_edit_group_users, j, s_on_group_users, j) !=
        0)
        s_job_fail(j, XOC_EIO);
}

/* the new member list must only name existing users */
static void s_on_users_for_members(xoc_api_server_t *unused, int status, json_t *users, void *arg)
{
    s_job_t *j = arg;
    if (status != 0) {
        s_job_fail(j, status);
        return;
    }
    size_t i;
    json_t *u;
    json_t *old = json_object_get(j->record, "users");
    json_array_foreach(j->users, i, u) if (!s_has(old, json_string_value(u)) &&
                                           !json_object_get(users, json_string_value(u)))
    {
        xoc_api_call_fail(j->call, XOC_ENOENT, NULL,
                          json_pack("{s:O,s:s}", "id", u, "type", "user"));
        s_job_free(j);
        return;
    }
    s_group_write_users(j);
}

typedef enum { S_SET_NAME, S_SET_USERS, S_ADD_USER, S_REMOVE_USER } s_group_op_t;

static s_group_op_t s_group_op(const xoc_api_call_t *call)
{
    const char *m = call->method->name;
    if (!strcmp(m, "group.setUsers"))
        return S_SET_USERS;
    if (!strcmp(m, "group.addUser"))
        return S_ADD_USER;
    if (!strcmp(m, "group.removeUser"))
        return S_REMOVE_USER;
    return S_SET_NAME;
}

/* the new member list of setUsers / addUser / removeUser */
static json_t *s_new_users(xoc_api_call_t *call, const json_t *old)
{
    s_group_op_t op = s_group_op(call);
    const char *uid = xoc_api_param(call, "userId");
    json_t *next = json_array();
    size_t i;
    json_t *u;
    if (op == S_SET_USERS) {
        json_array_foreach(json_object_get(call->params, "userIds"), i, u)
        {
            if (!json_is_string(u) || !json_string_length(u)) {
                json_decref(next);
                return NULL;
            }
            if (!s_has(next, json_string_value(u)))
                json_array_append(next, u);
        }
        return next;
    }
    json_array_foreach(old, i, u) if (json_is_string(u) && strcmp(json_string_value(u), uid))
        json_array_append(next, u);
    if (op == S_ADD_USER)
        json_array_append_new(next, json_string(uid));
    return next;
}

static void s_on_group_for_set(xoc_api_server_t *unused, int status, json_t *g, void *arg);

static int s_edit_group_name(const json_t *g, json_t **out, void *arg)
{
    s_job_t *j = arg;
    if (!json_is_object(g))
        return XOC_ENOENT;
    *out = json_deep_copy(g);
    json_object_set_new(*out, "name", json_string(xoc_api_param(j->call, "name")));
    json_object_set_new(*out, "id", json_string(j->id));
    return 0;
}

static void s_on_group_renamed(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_job_t *j = arg;
    if (!s_group_found(j, status, true))
        return;
    s_job_commit(j, 2, s_job_answer_true);
    s_job_end(j);
}

static void s_on_groups_for_rename(xoc_api_server_t *unused, int status, json_t *groups, void *arg)
{
    s_job_t *j = arg;
    const char *name = xoc_api_param(j->call, "name");
    if (status == 0 && s_name_taken(groups, name, j->id)) {
        s_fail_exists(j->call);
        s_job_free(j);
        return;
    }
    if (status != 0) {
        s_job_fail(j, status);
        return;
    }
    if (xoc_api_cfg_update(j->srv, "groups", j->id, s_edit_group_name, j, s_on_group_renamed, j) !=
        0)
        s_job_fail(j, XOC_EIO);
}

static void s_on_group_for_set(xoc_api_server_t *unused, int status, json_t *g, void *arg)
{
    s_job_t *j = arg;
    if (!s_group_found(j, status, json_is_object(g)))
        return;
    j->record = json_deep_copy(g);
    json_object_set_new(j->record, "id", json_string(j->id));
    int rc = 0;
    if (s_group_op(j->call) == S_SET_NAME) {
        if (!xoc_api_param(j->call, "name")) { /* group.set without a name: nothing to change */
            s_job_answer(j, NULL);
            return;
        }
        rc = xoc_api_cfg(j->srv, "list", "groups", NULL, NULL, s_on_groups_for_rename, j);
    } else {
        j->users = s_new_users(j->call, json_object_get(g, "users"));
        rc = j->users ? xoc_api_cfg(j->srv, "list", "users", NULL, NULL, s_on_users_for_members, j)
                      : XOC_EINVAL;
    }
    if (rc)
        s_job_fail(j, rc == XOC_EINVAL ? rc : XOC_EIO);
}

static int s_group_edit(xoc_api_call_t *call)
{
    s_job_t *j = s_job_new(call->srv, call);
    if (!j)
        return XOC_ENOMEM;
    snprintf(j->id, sizeof j->id, "%s", xoc_api_param(call, "id"));
    if (xoc_api_cfg(call->srv, "get", "groups", j->id, NULL, s_on_group_for_set, j) != 0) {
        s_job_free(j);
        return XOC_EIO;
    }
    return 0;
}

int xoc_api_m_group_set(xoc_api_call_t *call)
{
    return s_group_edit(call);
}

int xoc_api_m_group_set_users(xoc_api_call_t *call)
{
    return s_group_edit(call);
}

int xoc_api_m_group_add_user(xoc_api_call_t *call)
{
    return s_group_edit(call);
}

int xoc_api_m_group_remove_user(xoc_api_call_t *call)
{
    return s_group_edit(call);
}

/* group.delete: its ACLs, the memberships on the users' side, then the group */
static void s_group_dropped(void *arg, int status)
{
    s_job_t *j = arg;
    s_job_release(j, status);
}

static void s_on_group_for_delete(xoc_api_server_t *unused, int status, json_t *g, void *arg)
{
    s_job_t *j = arg;
    if (!s_group_found(j, status, json_is_object(g)))
        return;
    s_job_commit(j, 3, s_job_answer_true);
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(g, "users"), i, u) if (json_is_string(u))
        s_member(j, json_string_value(u), false);
    s_job_cfg(j, "delete", "groups", j->id, NULL);
    j->pending++;
    xoc_api_access_drop(j->srv, j->id, false, s_group_dropped, j);
    s_job_end(j);
}

int xoc_api_m_group_delete(xoc_api_call_t *call)
{
    s_job_t *j = s_job_new(call->srv, call);
    if (!j)
        return XOC_ENOMEM;
    snprintf(j->id, sizeof j->id, "%s", xoc_api_param(call, "id"));
    if (xoc_api_cfg(call->srv, "get", "groups", j->id, NULL, s_on_group_for_delete, j) != 0) {
        s_job_free(j);
        return XOC_EIO;
    }
    return 0;
}
