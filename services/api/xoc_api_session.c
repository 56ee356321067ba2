/*  xoc_api_session — users, sessions and tokens (xo-api.md §1.3, §8.1, §8.2), stored in the
    cache's config dbs `users` and `tokens`. Passwords: Argon2id (crypto_pwhash_str), hashed
    and verified on the work thread. Tokens: 32 random bytes, base64url, stored under the
    BLAKE2b hash of the token (the secret itself is never stored), with an expiration.
    Sign-in throttling: after a failed password, the same user and the same address are
    refused for api.signin_throttle_ms. Token checks (session.signIn {token}, the REST
    cookie) are neither throttled nor counted: a token is 256 random bits, so throttling
    protects nothing, while a stale cookie would lock its whole address out (xo-server
    throttles per username only, never tokens).
    Revocation (xoc_api_sessions_revoke, fed by the config events on every instance): a
    deleted user's, or a deleted token's, WebSocket sessions and event streams end.    */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"
#include "xoc_msg.h"

/* ---- config db access ------------------------------------------------------------------------ */

typedef struct {
    xoc_api_cfg_fn *fn;
    void *arg;
    bool list;
    xoc_api_server_t *srv;
} s_cfg_req_t;

static void s_on_cfg(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_cfg_req_t *r = arg;
    json_t *value = NULL;
    int status = reply->status;
    xoc_msg_t msg;
    if (status == 0 && reply->body && xoc_reply_decode(reply, XOC_MSG_CFG, &msg) == 0) {
        xoc_bin_t b = r->list ? msg.cfg.items : msg.cfg.value;
        if (b.len)
            value = xoc_json_from_mp(b.ptr, b.len);
    }
    if (status == 0 && r->list && !value)
        value = json_object();
    r->fn(r->srv, status, value, r->arg);
    json_decref(value);
    free(r);
}

/* config.<verb>; expect (config.set: the record as read, null: absent) makes it a
   compare-and-set */
static int s_cfg_send(xoc_api_server_t *srv, const char *verb, const char *db, const char *key,
                      const json_t *value, const json_t *expect, xoc_api_cfg_fn *fn, void *arg)
{
    msgpack_sbuffer mp, ex, body;
    msgpack_sbuffer_init(&mp);
    msgpack_sbuffer_init(&ex);
    msgpack_sbuffer_init(&body);
    int rc = value ? xoc_json_to_mp(value, &mp) : 0;
    if (rc == 0 && expect)
        rc = xoc_json_to_mp(expect, &ex);
    bool create = strcmp(verb, "create") == 0; /* config.set, only if absent */
    xoc_msg_cfg_t m = {.db = xoc_str(db), .key = xoc_str(key), .create = create};
    m.value = (xoc_bin_t){(const uint8_t *)mp.data, (uint32_t)mp.size};
    m.expect = (xoc_bin_t){(const uint8_t *)ex.data, (uint32_t)ex.size};
    if (rc == 0)
        rc = xoc_msg_cfg_encode(&m, &body);
    s_cfg_req_t *r = rc == 0 ? calloc(1, sizeof *r) : NULL;
    if (r) {
        *r = (s_cfg_req_t){fn, arg, strcmp(verb, "list") == 0, srv};
        char method[32];
        snprintf(method, sizeof method, "config.%s", create ? "set" : verb);
        rc = xoc_client_send(srv->client, "cache", method, body.data, body.size,
                             srv->bus_timeout_ms, s_on_cfg, r);
        if (rc != 0)
            free(r);
    } else if (rc == 0)
        rc = XOC_ENOMEM;
    msgpack_sbuffer_destroy(&mp);
    msgpack_sbuffer_destroy(&ex);
    msgpack_sbuffer_destroy(&body);
    return rc;
}

int xoc_api_cfg(xoc_api_server_t *srv, const char *verb, const char *db, const char *key,
                const json_t *value, xoc_api_cfg_fn *fn, void *arg)
{
    return s_cfg_send(srv, verb, db, key, value, NULL, fn, arg);
}

/* ---- read-modify-write: get, edit, compare-and-set, again on a conflict ------------------- */

#define S_UPDATE_TRIES 64 /* writers of one record at once, each try a round trip */

typedef struct {
    xoc_api_server_t *srv;
    char db[16];
    char key[256];
    xoc_api_cfg_edit_fn *edit;
    void *edit_arg;
    xoc_api_cfg_fn *fn;
    void *arg;
    json_t *read; /* the record as read (NULL: absent) */
    int tries;
} s_update_t;

static void s_update_get(s_update_t *u);

static void s_update_end(s_update_t *u, int status, json_t *value)
{
    u->fn(u->srv, status, value, u->arg);
    json_decref(u->read);
    free(u);
}

static void s_on_update_set(xoc_api_server_t *srv, int status, json_t *value, void *arg)
{
    s_update_t *u = arg;
    if (status == XOC_ESTATE && ++u->tries < S_UPDATE_TRIES) {
        /* another writer came in between: read it again and edit that */
        xoc_debug("config %s/%s changed under an update: again (try %d)", u->db, u->key,
                  u->tries + 1);
        json_decref(u->read);
        u->read = NULL;
        s_update_get(u);
        return;
    }
    s_update_end(u, status, value);
}

static void s_on_update_get(xoc_api_server_t *srv, int status, json_t *value, void *arg)
{
    s_update_t *u = arg;
    if (status != 0 && status != XOC_ENOENT) {
        s_update_end(u, status, NULL);
        return;
    }
    u->read = status == 0 ? json_incref(value) : NULL;
    json_t *next = NULL;
    int rc = u->edit(u->read, &next, u->edit_arg);
    if (rc != 0 || !next) { /* refused, or nothing to change */
        s_update_end(u, rc, u->read);
        return;
    }
    json_t *absent = json_null();
    rc =
        s_cfg_send(srv, "set", u->db, u->key, next, u->read ? u->read : absent, s_on_update_set, u);
    json_decref(absent);
    json_decref(next);
    if (rc != 0)
        s_update_end(u, rc, NULL);
}

static void s_update_get(s_update_t *u)
{
    int rc = xoc_api_cfg(u->srv, "get", u->db, u->key, NULL, s_on_update_get, u);
    if (rc != 0)
        s_update_end(u, rc, NULL);
}

int xoc_api_cfg_update(xoc_api_server_t *srv, const char *db, const char *key,
                       xoc_api_cfg_edit_fn *edit, void *edit_arg, xoc_api_cfg_fn *fn, void *arg)
{
    s_update_t *u = calloc(1, sizeof *u);
    if (!u)
        return XOC_ENOMEM;
    *u = (s_update_t){.srv = srv, .edit = edit, .edit_arg = edit_arg, .fn = fn, .arg = arg};
    snprintf(u->db, sizeof u->db, "%s", db);
    snprintf(u->key, sizeof u->key, "%s", key);
    int rc = xoc_api_cfg(srv, "get", db, key, NULL, s_on_update_get, u);
    if (rc != 0)
        free(u);
    return rc;
}

/* ---- users -------------------------------------------------------------------------------------- */

json_t *xoc_api_user_public(const json_t *user)
{
    json_t *pub = json_deep_copy(user);
    json_object_del(pub, "pw_hash");
    if (!json_object_get(pub, "groups"))
        json_object_set_new(pub, "groups", json_array());
    if (!json_object_get(pub, "preferences"))
        json_object_set_new(pub, "preferences", json_object());
    return pub;
}

static char *s_hash(const char *password)
{
    char *hash = malloc(crypto_pwhash_STRBYTES);
    if (hash && crypto_pwhash_str(hash, password, strlen(password),
                                  crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                  crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        free(hash);
        hash = NULL;
    }
    return hash;
}

/* id NULL: a new random one */
static json_t *s_user_new(const char *id, const char *email, const char *pw_hash,
                          const char *permission)
{
    zuuid_t *uuid = id ? NULL : zuuid_new();
    json_t *user = json_pack("{s:s,s:s,s:s,s:s,s:[],s:{}}", "id",
                             id ? id : zuuid_str_canonical(uuid), "email", email, "pw_hash",
                             pw_hash, "permission", permission, "groups", "preferences");
    zuuid_destroy(&uuid);
    return user;
}

static json_t *s_find_email(json_t *users, const char *email)
{
    const char *key;
    json_t *u;
    json_object_foreach(users, key, u)
    {
        const char *e = json_string_value(json_object_get(u, "email"));
        if (e && strcasecmp(e, email) == 0)
            return u;
    }
    return NULL;
}

/*  The first admin, when the users db is empty: asynchronous (the frontend serves
    meanwhile), retried while the cache is not there. Several frontends may start at once
    on an empty db: they all use one fixed id and a create-only set, so one of them wins
    and the others see `already-exists`.                                                 */
#define S_ADMIN_ID "00000000-0000-4000-8000-00000000ad01"
#define S_BOOT_RETRY_MS 500

typedef struct {
    xoc_api_server_t *srv;
    char password[64];
    bool from_env;
    char *hash;
} s_boot_t;

static void s_boot_list(xoc_api_server_t *srv);

static int s_boot_retry(zloop_t *loop, int timer_id, void *arg)
{
    s_boot_list(arg);
    return 0;
}

/* an attempt is over: the sign-ins that waited for it go on */
static void s_boot_done(xoc_api_server_t *srv)
{
    srv->booting = false;
    xoc_api_call_t *call;
    while (srv->boot_waiters && (call = zlistx_first(srv->boot_waiters)) != NULL) {
        zlistx_delete(srv->boot_waiters, NULL);
        int rc = xoc_api_m_sign_in(call);
        if (rc < 0)
            xoc_api_call_fail(call, rc, NULL, NULL);
    }
}

static void s_boot_later(xoc_api_server_t *srv, int status)
{
    s_boot_done(srv);
    xoc_debug("first admin: the cache answered %s, asking again in %d ms", xoc_strerror(status),
              S_BOOT_RETRY_MS);
    zloop_timer(srv->node.loop, S_BOOT_RETRY_MS, 1, s_boot_retry, srv);
}

static bool s_transient(int status)
{
    return status == XOC_ENOSERVICE || status == XOC_ETIMEOUT || status == XOC_EIO ||
           status == XOC_EWORKERLOST || status == XOC_EBUSY;
}

static void s_boot_free(s_boot_t *b)
{
    sodium_memzero(b->password, sizeof b->password);
    free(b->hash);
    free(b);
}

static void s_boot_on_create(xoc_api_server_t *srv, int status, json_t *value, void *arg)
{
    s_boot_t *b = arg;
    if (status == 0 && b->from_env)
        printf("xoc-api: admin user admin@admin.net created (password from XOC_ADMIN_PASSWORD)\n");
    else if (status == 0)
        printf("xoc-api: admin user admin@admin.net created, password=%s (shown once)\n",
               b->password);
    else if (status == XOC_EEXIST)
        xoc_info("first admin: created by another frontend");
    else if (s_transient(status))
        s_boot_later(srv, status);
    else
        xoc_warn("first admin: cannot be created: %s", xoc_strerror(status));
    fflush(stdout);
    s_boot_free(b);
    if (status == 0 || !s_transient(status))
        s_boot_done(srv);
}

static void s_boot_hash(void *arg)
{
    s_boot_t *b = arg;
    b->hash = s_hash(b->password);
}

static void s_boot_hashed(void *arg)
{
    s_boot_t *b = arg;
    json_t *user = b->hash ? s_user_new(S_ADMIN_ID, "admin@admin.net", b->hash, "admin") : NULL;
    int rc = user ? xoc_api_cfg(b->srv, "create", "users", S_ADMIN_ID, user, s_boot_on_create, b)
                  : XOC_ENOMEM;
    json_decref(user);
    if (rc) {
        s_boot_later(b->srv, rc);
        s_boot_free(b);
    }
}

static void s_boot_on_list(xoc_api_server_t *srv, int status, json_t *users, void *arg)
{
    if (s_transient(status)) {
        s_boot_later(srv, status);
        return;
    }
    if (status != 0) {
        xoc_warn("first admin: the users cannot be listed: %s", xoc_strerror(status));
        s_boot_done(srv);
        return;
    }
    if (json_object_size(users) > 0) {
        s_boot_done(srv); /* there are users: nothing to do */
        return;
    }
    s_boot_t *b = calloc(1, sizeof *b);
    if (!b) {
        s_boot_done(srv);
        return;
    }
    b->srv = srv;
    const char *env = getenv("XOC_ADMIN_PASSWORD");
    if (env && env[0]) {
        snprintf(b->password, sizeof b->password, "%s", env);
        b->from_env = true;
    } else {
        unsigned char raw[15];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2base64(b->password, sizeof b->password, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }
    /* Argon2id takes a while: off the loop */
    if (xoc_api_work_run(srv->work, s_boot_hash, s_boot_hashed, b) != 0) {
        s_boot_free(b);
        s_boot_later(srv, XOC_EIO);
    }
}

static void s_boot_list(xoc_api_server_t *srv)
{
    srv->booting = true;
    int rc = xoc_api_cfg(srv, "list", "users", NULL, NULL, s_boot_on_list, NULL);
    if (rc)
        s_boot_later(srv, rc);
}

void xoc_api_users_bootstrap(xoc_api_server_t *srv)
{
    srv->boot_waiters = zlistx_new();
    s_boot_list(srv);
}

void xoc_api_users_bootstrap_stop(xoc_api_server_t *srv)
{
    xoc_api_call_t *call;
    while (srv->boot_waiters && (call = zlistx_first(srv->boot_waiters)) != NULL) {
        zlistx_delete(srv->boot_waiters, NULL);
        xoc_api_call_fail(call, XOC_ECANCELED, NULL, NULL);
    }
    zlistx_destroy(&srv->boot_waiters);
}

/* ---- throttling ---------------------------------------------------------------------------------- */

static bool s_throttled(xoc_api_server_t *srv, const char *kind, const char *what)
{
    char key[300];
    snprintf(key, sizeof key, "%s:%s", kind, what);
    void *v = zhashx_lookup(srv->throttle, key);
    return v && zclock_mono() - (int64_t)(intptr_t)v < srv->signin_delay_ms;
}

static void s_failed(xoc_api_server_t *srv, const char *email, const char *ip)
{
    char key[300];
    if (email) {
        snprintf(key, sizeof key, "u:%s", email);
        zhashx_update(srv->throttle, key, (void *)(intptr_t)zclock_mono());
    }
    snprintf(key, sizeof key, "a:%s", ip);
    zhashx_update(srv->throttle, key, (void *)(intptr_t)zclock_mono());
}

/* ---- authentication (session.signIn, REST) --------------------------------------------------- */

typedef struct {
    xoc_api_server_t *srv;
    char ip[128];
    char email[256];
    char *password;
    json_t *user;
    bool ok;
    int64_t expiration;
    xoc_api_auth_fn *fn;
    void *arg;
} s_signin_t;

/* a password copy: wiped before it is freed */
static void s_secret_free(char **secret_p)
{
    if (*secret_p) {
        sodium_memzero(*secret_p, strlen(*secret_p));
        free(*secret_p);
        *secret_p = NULL;
    }
}

static void s_signin_free(s_signin_t *si)
{
    s_secret_free(&si->password);
    json_decref(si->user);
    free(si);
}

static void s_signin_succeed(s_signin_t *si)
{
    si->fn(si->srv, 0, si->user, si->expiration, si->arg);
    s_signin_free(si);
}

static void s_signin_fail(s_signin_t *si)
{
    s_failed(si->srv, si->email[0] ? si->email : NULL, si->ip);
    xoc_info("sign-in failed email=%s ip=%s", si->email, si->ip);
    si->fn(si->srv, XOC_EAUTH, NULL, 0, si->arg);
    s_signin_free(si);
}

static void s_signin_error(s_signin_t *si, int status)
{
    si->fn(si->srv, status, NULL, 0, si->arg);
    s_signin_free(si);
}

static void s_verify(void *arg) /* work thread */
{
    s_signin_t *si = arg;
    const char *hash = json_string_value(json_object_get(si->user, "pw_hash"));
    si->ok = hash && crypto_pwhash_str_verify(hash, si->password, strlen(si->password)) == 0;
}

static void s_verified(void *arg)
{
    s_signin_t *si = arg;
    if (si->ok)
        s_signin_succeed(si);
    else
        s_signin_fail(si);
}

static void s_on_users_for_signin(xoc_api_server_t *unused, int status, json_t *users, void *arg)
{
    s_signin_t *si = arg;
    if (status != 0) {
        s_signin_error(si, status);
        return;
    }
    json_t *u = s_find_email(users, si->email);
    if (!u) {
        s_signin_fail(si);
        return;
    }
    si->user = json_incref(u);
    if (xoc_api_work_run(si->srv->work, s_verify, s_verified, si) != 0)
        s_signin_error(si, XOC_EIO);
}

/* an unknown, expired or orphan token: invalid credentials, not counted for throttling */
static void s_token_invalid(s_signin_t *si)
{
    xoc_info("token refused ip=%s", si->ip);
    si->fn(si->srv, XOC_EAUTH, NULL, 0, si->arg);
    s_signin_free(si);
}

/* token sign-in: the token record, then its user */
static void s_on_token_user(xoc_api_server_t *unused, int status, json_t *user, void *arg)
{
    s_signin_t *si = arg;
    if (status != 0 && status != XOC_ENOENT) {
        s_signin_error(si, status);
        return;
    }
    if (!json_is_object(user)) {
        s_token_invalid(si);
        return;
    }
    si->user = json_incref(user);
    s_signin_succeed(si);
}

static void s_on_token(xoc_api_server_t *unused, int status, json_t *token, void *arg)
{
    s_signin_t *si = arg;
    int64_t exp = json_integer_value(json_object_get(token, "expiration"));
    const char *uid = json_string_value(json_object_get(token, "user_id"));
    if (status != 0 && status != XOC_ENOENT) {
        s_signin_error(si, status); /* the cache did not answer: not the client's fault */
        return;
    }
    if (status != 0 || !uid || (exp && exp < (int64_t)zclock_time())) {
        s_token_invalid(si);
        return;
    }
    si->expiration = exp;
    if (xoc_api_cfg(si->srv, "get", "users", uid, NULL, s_on_token_user, si) != 0)
        s_signin_error(si, XOC_EIO);
}

/* the key of a token in db tokens: base64url(BLAKE2b-256(token)) */
void xoc_api_token_key(const char *token, char *key, size_t size)
{
    unsigned char h[32];
    crypto_generichash(h, sizeof h, (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2base64(key, size, h, sizeof h, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static s_signin_t *s_signin_new(xoc_api_server_t *srv, const char *ip, xoc_api_auth_fn *fn,
                                void *arg)
{
    s_signin_t *si = calloc(1, sizeof *si);
    if (si) {
        si->srv = srv;
        snprintf(si->ip, sizeof si->ip, "%s", ip);
        si->fn = fn;
        si->arg = arg;
    }
    return si;
}

int xoc_api_auth_password(xoc_api_server_t *srv, const char *email, const char *password,
                          const char *ip, xoc_api_auth_fn *fn, void *arg)
{
    if (s_throttled(srv, "u", email) || s_throttled(srv, "a", ip))
        return XOC_EBUSY;
    s_signin_t *si = s_signin_new(srv, ip, fn, arg);
    if (!si)
        return XOC_ENOMEM;
    snprintf(si->email, sizeof si->email, "%s", email);
    si->password = strdup(password);
    int rc = si->password
                 ? xoc_api_cfg(srv, "list", "users", NULL, NULL, s_on_users_for_signin, si)
                 : XOC_ENOMEM;
    if (rc != 0)
        s_signin_free(si);
    return rc;
}

int xoc_api_auth_token(xoc_api_server_t *srv, const char *token, const char *ip,
                       xoc_api_auth_fn *fn, void *arg)
{
    s_signin_t *si = s_signin_new(srv, ip, fn, arg);
    if (!si)
        return XOC_ENOMEM;
    char key[64];
    xoc_api_token_key(token, key, sizeof key);
    int rc = xoc_api_cfg(srv, "get", "tokens", key, NULL, s_on_token, si);
    if (rc != 0)
        s_signin_free(si);
    return rc;
}

/* ---- session.signIn ------------------------------------------------------------------------------- */

static void s_signed_in(xoc_api_server_t *srv, int status, json_t *user, int64_t expiration,
                        void *arg)
{
    xoc_api_call_t *call = arg;
    if (status != 0) {
        xoc_api_call_fail(call, status, NULL, NULL);
        return;
    }
    xoc_api_session_t *s = xoc_api_session(call->srv, call->conn);
    const char *id = json_string_value(json_object_get(user, "id"));
    if (s && id)
        xoc_api_session_set_user(call->srv, s, id, expiration);
    const char *token = json_string_value(json_object_get(call->params, "token"));
    if (s && id && token) /* ends with the token (xoc_api_sessions_revoke) */
        xoc_api_token_key(token, s->token_key, sizeof s->token_key);
    xoc_info("signed in user=%s conn=%llu ip=%s", id ? id : "?",
             (unsigned long long)call->conn, call->ip);
    xoc_api_call_done(call, xoc_api_user_public(user));
}

int xoc_api_m_sign_in(xoc_api_call_t *call)
{
    xoc_api_server_t *srv = call->srv;
    const char *email = json_string_value(json_object_get(call->params, "email"));
    if (!email)
        email = json_string_value(json_object_get(call->params, "username"));
    const char *password = json_string_value(json_object_get(call->params, "password"));
    const char *token = json_string_value(json_object_get(call->params, "token"));
    if (!token && (!email || !password))
        return XOC_EAUTH;
    if (!token && !*password) { /* xo-server's plain "empty password", hidden (§1.3, §2) */
        xoc_api_call_fail_raw(call, XOC_API_RPC_GENERIC, "unknown error from the peer", NULL);
        return 0;
    }
    if (!token && srv->booting && srv->boot_waiters) {
        /* the first admin may be in the making: this sign-in waits for that attempt */
        return zlistx_add_end(srv->boot_waiters, call) ? 0 : XOC_ENOMEM;
    }
    int rc = token ? xoc_api_auth_token(srv, token, call->ip, s_signed_in, call)
                   : xoc_api_auth_password(srv, email, password, call->ip, s_signed_in, call);
    if (rc == XOC_EBUSY) {
        /* a plain error "too fast authentication tries": a caller that is not signed in
           as an admin sees it as xo-server shows such errors (§1.3, §2) */
        xoc_api_call_fail_raw(call, XOC_API_RPC_GENERIC, "unknown error from the peer", NULL);
        return 0;
    }
    return rc;
}

int xoc_api_m_sign_out(xoc_api_call_t *call)
{
    xoc_api_session_t *s = xoc_api_session(call->srv, call->conn);
    if (s)
        xoc_api_session_set_user(call->srv, s, NULL, 0);
    xoc_api_call_done(call, NULL);
    return 0;
}

static void s_on_self(xoc_api_server_t *unused, int status, json_t *user, void *arg)
{
    xoc_api_call_t *call = arg;
    if (status != 0 || !json_is_object(user))
        xoc_api_call_fail_raw(call, XOC_API_RPC_GENERIC, "not signed in", NULL);
    else
        xoc_api_call_done(call, xoc_api_user_public(user));
}

int xoc_api_m_get_user(xoc_api_call_t *call)
{
    xoc_api_session_t *s = xoc_api_session(call->srv, call->conn);
    if (!s || !s->user_id[0]) {
        xoc_api_call_fail_raw(call, XOC_API_RPC_GENERIC, "not signed in", NULL);
        return 0;
    }
    return xoc_api_cfg(call->srv, "get", "users", s->user_id, NULL, s_on_self, call);
}

/* ---- tokens ------------------------------------------------------------------------------------- */

typedef struct {
    xoc_api_call_t *call;
    char token[64];
} s_token_req_t;

static void s_on_token_set(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_token_req_t *t = arg;
    if (status != 0)
        xoc_api_call_fail(t->call, status, NULL, NULL);
    else
        xoc_api_call_done(t->call, json_string(t->token));
    sodium_memzero(t->token, sizeof t->token);
    free(t);
}

int xoc_api_m_token_create(xoc_api_call_t *call)
{
    xoc_api_server_t *srv = call->srv;
    json_t *jexp = json_object_get(call->params, "expiresIn");
    int64_t validity = jexp ? (int64_t)json_number_value(jexp) : srv->token_validity_ms;
    if (validity < 60000 || validity > 15552000000LL)
        return XOC_EINVAL;
    s_token_req_t *t = calloc(1, sizeof *t);
    if (!t)
        return XOC_ENOMEM;
    t->call = call;
    unsigned char raw[32];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(t->token, sizeof t->token, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char key[64];
    xoc_api_token_key(t->token, key, sizeof key);
    int64_t now = (int64_t)zclock_time();
    json_t *desc = json_object_get(call->params, "description");
    json_t *rec = json_pack("{s:s,s:O,s:I,s:I}", "id", key, "user_id",
                            json_object_get(call->user, "id"), "created_at", (json_int_t)now,
                            "expiration", (json_int_t)(now + validity));
    if (desc)
        json_object_set(rec, "description", desc);
    int rc = rec ? xoc_api_cfg(srv, "set", "tokens", key, rec, s_on_token_set, t) : XOC_ENOMEM;
    json_decref(rec);
    if (rc != 0)
        free(t);
    return rc;
}

typedef struct {
    xoc_api_call_t *call;
    size_t pending;
    int status;
} s_multi_t;

static void s_on_multi(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_multi_t *m = arg;
    if (status != 0 && status != XOC_ENOENT)
        m->status = status;
    if (--m->pending > 0)
        return;
    if (m->status)
        xoc_api_call_fail(m->call, m->status, NULL, NULL);
    else
        xoc_api_call_done(m->call, NULL);
    free(m);
}

/* ---- a user's own tokens: token.deleteOwn / token.set, user.getAuthenticationTokens ----------- */

/*  Tokens are stored under the hash of their secret (xoc_api_token_key), so a listed token's
    `id` is that key, never the secret; the methods that name tokens take either.           */

/* a token record as shown to its owner (and matched by `pattern`) */
static json_t *s_token_shown(const char *key, const json_t *rec)
{
    json_t *t = json_deep_copy(rec);
    json_object_set_new(t, "id", json_string(key));
    return t;
}

/* does `given` (a token, or the id a listing showed) name the token stored at `key`? */
static bool s_token_named(const char *given, const char *key)
{
    char hashed[64];
    xoc_api_token_key(given, hashed, sizeof hashed);
    return !strcmp(given, key) || !strcmp(hashed, key);
}

typedef struct {
    xoc_api_call_t *call;
    bool own; /* only the caller's tokens (else: anyone's, token.delete) */
} s_tokens_req_t;

/* the caller's tokens that have not expired, as shown to him */
static void s_on_tokens_for_list(xoc_api_server_t *unused, int status, json_t *items, void *arg)
{
    xoc_api_call_t *call = arg;
    if (status != 0) {
        xoc_api_call_fail(call, status, NULL, NULL);
        return;
    }
    const char *me = xoc_api_str(call->user, "id"), *key;
    int64_t now = (int64_t)zclock_time();
    json_t *list = json_array(), *rec;
    json_object_foreach(items, key, rec)
    {
        json_t *exp = json_object_get(rec, "expiration");
        if (!strcmp(xoc_api_str(rec, "user_id"), me) &&
            (!json_is_number(exp) || json_number_value(exp) > (double)now))
            json_array_append_new(list, s_token_shown(key, rec));
    }
    xoc_api_call_done(call, list);
}

int xoc_api_m_user_get_tokens(xoc_api_call_t *call)
{
    return xoc_api_cfg(call->srv, "list", "tokens", NULL, NULL, s_on_tokens_for_list, call);
}

/* token.delete (anyone's, admin) / token.deleteOwn: those named in `tokens`, or matching
   `pattern` (a partial match on the shown record, as lodash's); deleteOwn with neither:
   every token of the caller; token.delete with neither: none */
static void s_on_tokens_for_delete(xoc_api_server_t *unused, int status, json_t *items,
                                   void *arg)
{
    s_tokens_req_t *r = arg;
    xoc_api_call_t *call = r->call;
    bool own = r->own;
    free(r);
    if (status != 0) {
        xoc_api_call_fail(call, status, NULL, NULL);
        return;
    }
    json_t *tokens = json_object_get(call->params, "tokens");
    json_t *pattern = json_object_get(call->params, "pattern");
    const char *me = xoc_api_str(call->user, "id"), *key;
    s_multi_t *m = calloc(1, sizeof *m);
    if (!m) {
        xoc_api_call_fail(call, XOC_ENOMEM, NULL, NULL);
        return;
    }
    m->call = call;
    m->pending = 1; /* released below */
    json_t *rec;
    json_object_foreach(items, key, rec)
    {
        if (own && strcmp(xoc_api_str(rec, "user_id"), me) != 0)
            continue;
        bool named = false;
        size_t i;
        json_t *t;
        json_array_foreach(tokens, i, t) if (json_is_string(t) &&
                                              s_token_named(json_string_value(t), key))
            named = true;
        json_t *shown = pattern ? s_token_shown(key, rec) : NULL;
        bool hit = tokens ? named : pattern ? xoc_api_json_match(pattern, shown) : own;
        json_decref(shown);
        if (!hit)
            continue;
        m->pending++;
        if (xoc_api_cfg(call->srv, "delete", "tokens", key, NULL, s_on_multi, m) != 0)
            s_on_multi(NULL, XOC_EIO, NULL, m);
    }
    s_on_multi(NULL, 0, NULL, m);
}

static int s_tokens_delete(xoc_api_call_t *call, bool own)
{
    s_tokens_req_t *r = malloc(sizeof *r);
    if (!r)
        return XOC_ENOMEM;
    *r = (s_tokens_req_t){call, own};
    int rc = xoc_api_cfg(call->srv, "list", "tokens", NULL, NULL, s_on_tokens_for_delete, r);
    if (rc)
        free(r);
    return rc;
}

int xoc_api_m_token_delete(xoc_api_call_t *call)
{
    return s_tokens_delete(call, false);
}

int xoc_api_m_token_delete_own(xoc_api_call_t *call)
{
    return s_tokens_delete(call, true);
}

/* token.set {id, description}: the caller's own token only (another's is no such token) */
typedef struct {
    xoc_api_call_t *call;
    bool by_key; /* second try: the id as a listing shows it */
} s_token_edit_t;

static int s_edit_token(const json_t *rec, json_t **out, void *arg)
{
    s_token_edit_t *e = arg;
    if (!json_is_object(rec) ||
        strcmp(xoc_api_str(rec, "user_id"), xoc_api_str(e->call->user, "id")) != 0)
        return XOC_ENOENT;
    *out = json_deep_copy(rec);
    json_t *desc = json_object_get(e->call->params, "description");
    if (desc) /* absent: unchanged */
        json_object_set(*out, "description", desc);
    return 0;
}

static void s_on_token_edited(xoc_api_server_t *srv, int status, json_t *v, void *arg)
{
    s_token_edit_t *e = arg;
    const char *id = xoc_api_str(e->call->params, "id");
    if (status == XOC_ENOENT && !e->by_key) { /* not a token: maybe a listed id */
        e->by_key = true;
        if (xoc_api_cfg_update(srv, "tokens", id, s_edit_token, e, s_on_token_edited, e) == 0)
            return;
        status = XOC_EIO;
    }
    if (status == XOC_ENOENT)
        xoc_api_call_fail(e->call, XOC_ENOENT, "no such token",
                          json_pack("{s:s,s:s}", "id", id, "type", "token"));
    else if (status != 0)
        xoc_api_call_fail(e->call, status, NULL, NULL);
    else
        xoc_api_call_done(e->call, NULL);
    free(e);
}

int xoc_api_m_token_set(xoc_api_call_t *call)
{
    s_token_edit_t *e = calloc(1, sizeof *e);
    if (!e)
        return XOC_ENOMEM;
    e->call = call;
    char key[64];
    xoc_api_token_key(xoc_api_str(call->params, "id"), key, sizeof key);
    int rc = xoc_api_cfg_update(call->srv, "tokens", key, s_edit_token, e, s_on_token_edited, e);
    if (rc)
        free(e);
    return rc;
}

/* ---- user.* ---------------------------------------------------------------------------------------- */

typedef struct {
    xoc_api_call_t *call;
    char *password;
    char *hash;
    json_t *user;     /* the record being written */
} s_user_req_t;

static void s_user_req_free(s_user_req_t *u)
{
    s_secret_free(&u->password);
    free(u->hash);
    json_decref(u->user);
    free(u);
}

static void s_hash_job(void *arg) /* work thread */
{
    s_user_req_t *u = arg;
    u->hash = s_hash(u->password);
}

static void s_on_user_written(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    s_user_req_t *u = arg;
    if (status != 0)
        xoc_api_call_fail(u->call, status, NULL, NULL);
    else if (strcmp(u->call->method->name, "user.create") == 0)
        xoc_api_call_done(u->call, json_incref(json_object_get(u->user, "id")));
    else
        xoc_api_call_done(u->call, NULL);
    s_user_req_free(u);
}

/* user.set: the given fields on the record as it is now (a read-modify-write: a concurrent
   change of his groups, on any frontend, is kept) */
static int s_edit_user(const json_t *user, json_t **out, void *arg)
{
    s_user_req_t *u = arg;
    if (!json_is_object(user))
        return XOC_ENOENT;
    *out = json_deep_copy(user);
    const char *fields[] = {"email", "permission", "preferences"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(u->call->params, fields[i]);
        if (v)
            json_object_set(*out, fields[i], v);
    }
    if (u->hash)
        json_object_set_new(*out, "pw_hash", json_string(u->hash));
    return 0;
}

static void s_user_write(s_user_req_t *u)
{
    if (u->password && !u->hash) {
        xoc_api_call_fail(u->call, XOC_ENOMEM, NULL, NULL);
        s_user_req_free(u);
        return;
    }
    int rc;
    if (!u->user) { /* user.set */
        const char *id = json_string_value(json_object_get(u->call->params, "id"));
        rc = xoc_api_cfg_update(u->call->srv, "users", id, s_edit_user, u, s_on_user_written, u);
    } else {
        if (u->hash)
            json_object_set_new(u->user, "pw_hash", json_string(u->hash));
        const char *id = json_string_value(json_object_get(u->user, "id"));
        rc = xoc_api_cfg(u->call->srv, "set", "users", id, u->user, s_on_user_written, u);
    }
    if (rc != 0) {
        xoc_api_call_fail(u->call, XOC_EIO, NULL, NULL);
        s_user_req_free(u);
    }
}

static void s_hashed(void *arg) { s_user_write(arg); }

/* writes u->user (user.create), or edits the stored record (user.set: u->user NULL),
   hashing u->password first if there is one */
static void s_user_save(s_user_req_t *u)
{
    if (!u->password)
        s_user_write(u);
    else if (xoc_api_work_run(u->call->srv->work, s_hash_job, s_hashed, u) != 0) {
        xoc_api_call_fail(u->call, XOC_EIO, NULL, NULL);
        s_user_req_free(u);
    }
}

static bool s_permission_valid(const char *p)
{
    return !p || !strcmp(p, "none") || !strcmp(p, "read") || !strcmp(p, "write") ||
           !strcmp(p, "admin");
}

static void s_on_users_for_create(xoc_api_server_t *unused, int status, json_t *users, void *arg)
{
    s_user_req_t *u = arg;
    const char *email = json_string_value(json_object_get(u->user, "email"));
    if (status != 0 || s_find_email(users, email)) {
        xoc_api_call_fail(u->call, status ? status : XOC_EEXIST,
                          status ? NULL : "user already exists",
                          status ? NULL : json_pack("{s:s}", "objectType", "user"));
        s_user_req_free(u);
        return;
    }
    s_user_save(u);
}

int xoc_api_m_user_create(xoc_api_call_t *call)
{
    const char *email = json_string_value(json_object_get(call->params, "email"));
    const char *password = json_string_value(json_object_get(call->params, "password"));
    const char *perm = json_string_value(json_object_get(call->params, "permission"));
    if (!s_permission_valid(perm))
        return XOC_EINVAL;
    s_user_req_t *u = calloc(1, sizeof *u);
    if (!u)
        return XOC_ENOMEM;
    u->call = call;
    u->password = strdup(password);
    u->user = s_user_new(NULL, email, "", perm ? perm : "none");
    if (!u->password || !u->user ||
        xoc_api_cfg(call->srv, "list", "users", NULL, NULL, s_on_users_for_create, u) != 0) {
        u->call = NULL;
        s_user_req_free(u);
        return XOC_ENOMEM;
    }
    return 0;
}

static void s_close_user_sessions(xoc_api_server_t *srv, const char *user_id)
{
    for (xoc_api_session_t *s = zhashx_first(srv->sessions); s; s = zhashx_next(srv->sessions))
        if (strcmp(s->user_id, user_id) == 0)
            xoc_api_ws_close(srv->ws, s->conn, 1008, "user deleted");
    xoc_api_sse_close_user(srv, user_id);
}

void xoc_api_sessions_revoke(xoc_api_server_t *srv, const char *db, const char *op,
                             const char *key)
{
    if (strcmp(op, "delete") != 0 || !key[0])
        return;
    if (strcmp(db, "users") == 0) {
        xoc_info("user deleted (config event): closing its sessions user=%s", key);
        s_close_user_sessions(srv, key);
    } else if (strcmp(db, "tokens") == 0) {
        for (xoc_api_session_t *s = zhashx_first(srv->sessions); s;
             s = zhashx_next(srv->sessions))
            if (s->token_key[0] && strcmp(s->token_key, key) == 0) {
                xoc_info("token deleted: closing conn=%llu user=%s",
                         (unsigned long long)s->conn, s->user_id);
                xoc_api_ws_close(srv->ws, s->conn, 1008, "token deleted");
            }
        xoc_api_sse_close_token(srv, key);
    }
}

/* ---- the sweep: deletions whose event was lost -------------------------------------------------- */

typedef struct {
    char db[8];
    char key[256];
} s_confirm_t;

static void s_on_confirm(xoc_api_server_t *srv, int status, json_t *v, void *arg)
{
    s_confirm_t *c = arg;
    if (status == XOC_ENOENT) {
        xoc_warn("%s %s gone without an event: revoking", c->db, c->key);
        xoc_api_sessions_revoke(srv, c->db, "delete", c->key);
    }
    free(c);
}

/* asks the cache again for one record; revoked if it is really gone */
static void s_confirm(xoc_api_server_t *srv, const char *db, const char *key)
{
    s_confirm_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    snprintf(c->db, sizeof c->db, "%s", db);
    snprintf(c->key, sizeof c->key, "%s", key);
    if (xoc_api_cfg(srv, "get", db, key, NULL, s_on_confirm, c) != 0)
        free(c);
}

static void s_on_tokens_for_sweep(xoc_api_server_t *srv, int status, json_t *items, void *arg)
{
    zhashx_t *tokens = arg;
    for (void *v = zhashx_first(tokens); status == 0 && v; v = zhashx_next(tokens))
        if (!json_object_get(items, zhashx_cursor(tokens)))
            s_confirm(srv, "tokens", zhashx_cursor(tokens));
    zhashx_destroy(&tokens);
}

void xoc_api_sessions_sweep(xoc_api_server_t *srv)
{
    zhashx_t *users = zhashx_new(), *tokens = zhashx_new();
    if (!users || !tokens) {
        zhashx_destroy(&users);
        zhashx_destroy(&tokens);
        return;
    }
    for (xoc_api_session_t *s = zhashx_first(srv->sessions); s; s = zhashx_next(srv->sessions)) {
        if (s->user_id[0])
            zhashx_insert(users, s->user_id, "");
        if (s->token_key[0])
            zhashx_insert(tokens, s->token_key, "");
    }
    xoc_api_sse_subjects(srv, users, tokens);
    xoc_debug("sessions sweep users=%zu tokens=%zu", zhashx_size(users), zhashx_size(tokens));
    /* users: against the copy the resolver keeps (reloaded on the same timer) */
    const json_t *known = srv->acl && (srv->acl_loaded & (1u << XOC_API_ACL_DB_USERS))
                              ? xoc_api_acl_db(srv->acl, XOC_API_ACL_DB_USERS)
                              : NULL;
    for (void *v = known ? zhashx_first(users) : NULL; v; v = zhashx_next(users))
        if (!json_object_get(known, zhashx_cursor(users)))
            s_confirm(srv, "users", zhashx_cursor(users));
    zhashx_destroy(&users);
    /* tokens: one list, then the missing ones one by one */
    if (zhashx_size(tokens) == 0 ||
        xoc_api_cfg(srv, "list", "tokens", NULL, NULL, s_on_tokens_for_sweep, tokens) != 0)
        zhashx_destroy(&tokens);
}

/* the user's ACLs and memberships are gone: answer */
static void s_on_user_dropped(void *arg, int status)
{
    xoc_api_call_t *call = arg;
    if (status != 0)
        xoc_api_call_fail(call, status, NULL, NULL);
    else
        xoc_api_call_done(call, NULL);
}

static void s_on_user_deleted(xoc_api_server_t *unused, int status, json_t *v, void *arg)
{
    xoc_api_call_t *call = arg;
    if (status != 0) {
        xoc_api_call_fail(call, status, NULL, NULL);
        return;
    }
    const char *id = json_string_value(json_object_get(call->params, "id"));
    s_close_user_sessions(call->srv, id);
    xoc_api_access_drop(call->srv, id, false, s_on_user_dropped, call);
}

int xoc_api_m_user_delete(xoc_api_call_t *call)
{
    const char *id = json_string_value(json_object_get(call->params, "id"));
    if (strcmp(id, json_string_value(json_object_get(call->user, "id"))) == 0)
        return XOC_EPERM; /* an admin does not delete himself */
    return xoc_api_cfg(call->srv, "delete", "users", id, NULL, s_on_user_deleted, call);
}

typedef struct {
    xoc_api_call_t *call;
    xoc_api_shown_fn *shown;
} s_list_t;

static void s_on_list_answer(xoc_api_server_t *unused, int status, json_t *items, void *arg)
{
    s_list_t l = *(s_list_t *)arg;
    free(arg);
    if (status != 0) {
        xoc_api_call_fail(l.call, status, NULL, NULL);
        return;
    }
    json_t *list = json_array();
    const char *key;
    json_t *rec;
    json_object_foreach(items, key, rec)
        json_array_append_new(list, l.shown ? l.shown(rec) : json_incref(rec));
    xoc_api_call_done(l.call, list);
}

int xoc_api_cfg_list_answer(xoc_api_call_t *call, const char *db, xoc_api_shown_fn *shown)
{
    s_list_t *l = malloc(sizeof *l);
    if (!l)
        return XOC_ENOMEM;
    *l = (s_list_t){call, shown};
    int rc = xoc_api_cfg(call->srv, "list", db, NULL, NULL, s_on_list_answer, l);
    if (rc)
        free(l);
    return rc;
}

int xoc_api_m_user_get_all(xoc_api_call_t *call)
{
    return xoc_api_cfg_list_answer(call, "users", xoc_api_user_public);
}

int xoc_api_m_user_set(xoc_api_call_t *call)
{
    json_t *p = call->params;
    const char *id = json_string_value(json_object_get(p, "id"));
    bool admin = !strcmp(json_string_value(json_object_get(call->user, "permission")) ?: "",
                         "admin");
    bool self = !strcmp(id, json_string_value(json_object_get(call->user, "id")) ?: "");
    /* a non-admin may change only his own preferences; an admin not his own permission */
    if (!admin && (!self || json_object_get(p, "email") || json_object_get(p, "password") ||
                   json_object_get(p, "permission")))
        return XOC_EPERM;
    if (admin && self && json_object_get(p, "permission"))
        return XOC_EPERM;
    if (!s_permission_valid(json_string_value(json_object_get(p, "permission"))))
        return XOC_EINVAL;
    s_user_req_t *u = calloc(1, sizeof *u);
    if (!u)
        return XOC_ENOMEM;
    u->call = call;
    const char *pw = json_string_value(json_object_get(p, "password"));
    u->password = pw ? strdup(pw) : NULL;
    s_user_save(u); /* hashes first if there is a password, then s_edit_user */
    return 0;
}

/* ---- user.changePassword {oldPassword, newPassword}: the caller's own ----------------------- */

typedef struct {
    xoc_api_call_t *call;
    char *old_password, *new_password;
    char *verified; /* the pw_hash the old password was checked against */
    char *hash;     /* of the new one */
    bool ok;
} s_chpw_t;

static void s_chpw_free(s_chpw_t *c)
{
    s_secret_free(&c->old_password);
    s_secret_free(&c->new_password);
    free(c->verified);
    free(c->hash);
    free(c);
}

static void s_chpw_job(void *arg) /* work thread: check the old one, hash the new one */
{
    s_chpw_t *c = arg;
    c->ok = c->verified && crypto_pwhash_str_verify(c->verified, c->old_password,
                                                    strlen(c->old_password)) == 0;
    if (c->ok)
        c->hash = s_hash(c->new_password);
}

/* the new hash, unless the password changed since it was checked */
static int s_edit_password(const json_t *user, json_t **out, void *arg)
{
    s_chpw_t *c = arg;
    if (!json_is_object(user))
        return XOC_ENOENT;
    if (strcmp(xoc_api_str(user, "pw_hash"), c->verified) != 0)
        return XOC_EAUTH;
    *out = json_deep_copy(user);
    json_object_set_new(*out, "pw_hash", json_string(c->hash));
    return 0;
}

static void s_on_password_written(xoc_api_server_t *srv, int status, json_t *v, void *arg)
{
    s_chpw_t *c = arg;
    if (status != 0)
        xoc_api_call_fail(c->call, status, NULL, NULL);
    else {
        xoc_info("password changed user=%s", xoc_api_str(c->call->user, "id"));
        xoc_api_call_done(c->call, NULL);
    }
    s_chpw_free(c);
}

static void s_chpw_checked(void *arg)
{
    s_chpw_t *c = arg;
    xoc_api_call_t *call = c->call;
    const char *email = xoc_api_str(call->user, "email");
    if (!c->ok) { /* a wrong old password counts for the sign-in throttling too */
        s_failed(call->srv, email, call->ip);
        xoc_info("password change refused user=%s ip=%s", xoc_api_str(call->user, "id"),
                 call->ip);
        xoc_api_call_fail(call, XOC_EAUTH, NULL, NULL);
        s_chpw_free(c);
        return;
    }
    if (!c->hash || xoc_api_cfg_update(call->srv, "users", xoc_api_str(call->user, "id"),
                                       s_edit_password, c, s_on_password_written, c) != 0) {
        xoc_api_call_fail(call, c->hash ? XOC_EIO : XOC_ENOMEM, NULL, NULL);
        s_chpw_free(c);
    }
}

int xoc_api_m_user_change_password(xoc_api_call_t *call)
{
    const char *old_pw = xoc_api_str(call->params, "oldPassword");
    const char *new_pw = xoc_api_str(call->params, "newPassword");
    const char *hash = xoc_api_str(call->user, "pw_hash");
    if (!*new_pw)
        return XOC_EINVAL;
    if (!*hash) /* a user without a password (an external provider's) */
        return XOC_EPERM;
    if (s_throttled(call->srv, "u", xoc_api_str(call->user, "email")) ||
        s_throttled(call->srv, "a", call->ip)) {
        xoc_api_call_fail_raw(call, XOC_API_RPC_GENERIC, "too fast: try again later", NULL);
        return 0;
    }
    s_chpw_t *c = calloc(1, sizeof *c);
    if (!c)
        return XOC_ENOMEM;
    c->call = call;
    c->old_password = strdup(old_pw);
    c->new_password = strdup(new_pw);
    c->verified = strdup(hash);
    if (!c->old_password || !c->new_password || !c->verified ||
        xoc_api_work_run(call->srv->work, s_chpw_job, s_chpw_checked, c) != 0) {
        s_chpw_free(c);
        return XOC_ENOMEM;
    }
    return 0;
}
