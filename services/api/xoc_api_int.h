/*  xoc_api_int — what the parts of the xoc-api actor share (not a public header): the
    server state, sessions, calls in flight and the method table's types.                */
#ifndef XOC_API_INT_H
#define XOC_API_INT_H

#include <czmq.h>
#include <jansson.h>

#include "xoc_api_acl.h"
#include "xoc_api_buf.h"
#include "xoc_api_rpc.h"
#include "xoc_api_ws.h"
#include "xoc_client.h"
#include "xoc_node.h"
#include "xoc_replica.h"

typedef struct _xoc_api_work_t xoc_api_work_t;

/*  Method-level permission (xo-api.md §8.3): null / absent / 'admin'.                     */
typedef enum {
    XOC_API_PERM_PUBLIC,     /* permission null: callable before sign-in */
    XOC_API_PERM_SIGNED_IN,  /* permission absent: any signed-in user */
    XOC_API_PERM_ADMIN,      /* permission 'admin' */
} xoc_api_perm_t;

typedef struct xoc_api_call xoc_api_call_t;

/*  A handler answers with xoc_api_call_done/fail now or later (it owns the call until
    then), or returns a negative xoc code and the pipeline answers that error.            */
typedef int(xoc_api_handler_fn)(xoc_api_call_t *call);

/*  One entry of the method table (the model: redis's command table).                      */
typedef struct {
    const char *name;             /* "session.signIn" */
    const char *description;
    xoc_api_perm_t permission;
    xoc_api_schema_t params;      /* declarative params schema */
    xoc_api_handler_fn *handler;
    const char *service;          /* bus service that carries it out; NULL = this frontend */
} xoc_api_method_t;

/*  The table, sorted by name; lookup by name (NULL if unknown).                           */
const xoc_api_method_t *xoc_api_methods(size_t *count);
const xoc_api_method_t *xoc_api_method_find(const char *name);

typedef struct {
    uint64_t conn;
    char ip[128];
    char user_id[64];             /* empty: not signed in */
    int64_t expiration_ms;        /* wall-clock ms; 0: none (token sign-in sets it) */
    /* ACL slice: a per-session object filter goes here (see xoc_api_objects.c, s_push) */
} xoc_api_session_t;

typedef struct {
    const xoc_cfg_t *cfg;
    xoc_node_t node;
    xoc_client_t *client;
    xoc_replica_t *replica;
    xoc_api_ws_t *ws;
    xoc_api_work_t *work;
    zhashx_t *sessions;           /* "<conn>" -> xoc_api_session_t */
    size_t signed_in;
    zhashx_t *throttle;           /* "u:<email>" / "a:<ip>" -> last failure (ms, as pointer) */
    int64_t signin_delay_ms;
    int64_t token_validity_ms;
    int bus_timeout_ms;
    /* every object of the replica as JSON text, kept up to date by the change callback:
       xo.getAllObjects and the pushes copy bytes instead of serializing */
    zhashx_t *json;               /* id -> xoc_api_json_t */
    xoc_api_buf_t *scratch;
    /* /metrics (xoc_api.c: s_metrics_*) */
    xoc_metrics_family_t *m_calls, *m_call_seconds;
    xoc_metrics_series_t *m_connections, *m_signed_in, *m_pushes, *m_queued, *m_queued_max,
        *m_slow_closed, *m_rev, *m_seen_rev, *m_lag, *m_objects, *m_replica_bytes, *m_snapshots,
        *m_gaps;
    /* the batch being collected for the `all` pushes */
    xoc_api_buf_t *push_enter, *push_exit;
    size_t push_n_enter, push_n_exit;
    uint64_t calls, pushes;
} xoc_api_server_t;

typedef struct {
    size_t len;
    char text[];
} xoc_api_json_t;

struct xoc_api_call {
    xoc_api_server_t *srv;
    uint64_t conn;
    json_t *id;                   /* owned; NULL for a notification */
    const xoc_api_method_t *method;
    json_t *params;               /* owned */
    json_t *user;                 /* the caller's user record (reloaded per call), or NULL */
    char ip[128];
    void *state;                  /* free for the handler's asynchronous steps */
    int64_t started_us;           /* for xoc_api_call_seconds */
};

/* ---- xoc_api.c: calls and sessions ---------------------------------------------------------- */

/*  Answers and frees the call: result (stolen; NULL = true).                              */
void xoc_api_call_done(xoc_api_call_t *call, json_t *result);
/*  A big result written straight into one buffer: _open writes the response up to
    "result": (call it first), the handler appends the result's JSON, _done_buf closes
    the document, sends it and frees the call (the caller keeps its buffer reference). */
int xoc_api_call_result_open(xoc_api_call_t *call, xoc_api_buf_t *buf);
void xoc_api_call_done_buf(xoc_api_call_t *call, xoc_api_buf_t *buf);
/*  Answers an error of an xoc code (message NULL = xo-server's), data stolen.             */
void xoc_api_call_fail(xoc_api_call_t *call, int xoc_code, const char *message, json_t *data);
/*  Answers an error with a raw JSON-RPC code.                                             */
void xoc_api_call_fail_raw(xoc_api_call_t *call, int rpc_code, const char *message,
                           json_t *data);
xoc_api_session_t *xoc_api_session(xoc_api_server_t *srv, uint64_t conn);
/*  Marks the session signed in (user_id) or out (NULL).                                   */
void xoc_api_session_set_user(xoc_api_server_t *srv, xoc_api_session_t *s, const char *user_id,
                              int64_t expiration_ms);
/*  Sends one complete JSON text to a connection.                                          */
void xoc_api_send(xoc_api_server_t *srv, uint64_t conn, xoc_api_buf_t *buf);

/* ---- xoc_api_session.c: users, tokens, config db access --------------------------------------- */

typedef void(xoc_api_cfg_fn)(xoc_api_server_t *srv, int status, json_t *value, void *arg);
/*  Async config.<verb> on the cache; the callback gets the record (get), the items map
    (list) or NULL, as JSON (borrowed for the call).                                       */
int xoc_api_cfg(xoc_api_server_t *srv, const char *verb, const char *db, const char *key,
                const json_t *value, xoc_api_cfg_fn *fn, void *arg);
/*  Creates the first admin when no user exists (blocking: at start, before serving).      */
int xoc_api_users_bootstrap(xoc_api_server_t *srv);
/*  The public properties of a user record (never pw_hash). New reference.                 */
json_t *xoc_api_user_public(const json_t *user);
int xoc_api_m_sign_in(xoc_api_call_t *call);
int xoc_api_m_sign_out(xoc_api_call_t *call);
int xoc_api_m_get_user(xoc_api_call_t *call);
int xoc_api_m_token_create(xoc_api_call_t *call);
int xoc_api_m_token_delete(xoc_api_call_t *call);
int xoc_api_m_user_create(xoc_api_call_t *call);
int xoc_api_m_user_delete(xoc_api_call_t *call);
int xoc_api_m_user_get_all(xoc_api_call_t *call);
int xoc_api_m_user_set(xoc_api_call_t *call);

/* ---- xoc_api_objects.c: objects and pushes ------------------------------------------------------ */

int xoc_api_m_get_all_objects(xoc_api_call_t *call);
/*  Replica callbacks: collect a batch, push it to signed-in sessions.                     */
void xoc_api_objects_change(xoc_replica_t *replica, bool enter, const xoc_replica_obj_t *obj,
                            void *arg);
void xoc_api_objects_batch(xoc_replica_t *replica, uint64_t rev, void *arg);
/*  Does obj match a filter object (lodash-like partial match on its fields)?              */
bool xoc_api_objects_match(const xoc_replica_obj_t *obj, const json_t *filter);

/* ---- xoc_api_acl.c: object-level permissions (§8.4) ---------------------------------------------- */

/*  May `user` (a user record) exercise `perm` on the object `object_id`? Super-admins:
    always; others: through the ACLs of the user and of his groups, with the inheritance
    rules of §8.4 resolved on the replica's objects. Unknown objects: only super-admins. */
bool xoc_api_acl_allows(xoc_api_server_t *srv, const json_t *user, const char *object_id,
                        xoc_api_acl_perm_t perm);
/*  Fails the call with `unauthorized` and data {permission, object:{id}} (§8.4 step 3)
    unless the caller may exercise perm on object_id. Returns 0 when allowed; otherwise the
    call is answered and freed, and XOC_EPERM is returned (do not touch the call again). */
int xoc_api_acl_check(xoc_api_call_t *call, const char *object_id, xoc_api_acl_perm_t perm);

/* ---- xoc_api_work.c: a thread for blocking work (password hashing) ------------------------------ */

typedef void(xoc_api_work_fn)(void *arg);
xoc_api_work_t *xoc_api_work_new(zloop_t *loop);
void xoc_api_work_destroy(xoc_api_work_t **self_p);
/*  Runs fn(arg) on the work thread, then done(arg) on the loop. Returns 0 or XOC_EIO.     */
int xoc_api_work_run(xoc_api_work_t *self, xoc_api_work_fn *fn, xoc_api_work_fn *done,
                     void *arg);

#endif
