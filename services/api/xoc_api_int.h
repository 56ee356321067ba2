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
    /* the signed-in user's resolved permissions (xoc_api_access.c): super-admins get the
       shared pushes, the others what they may view (NULL: nothing) */
    xoc_api_acl_user_t *acl;
    char token_key[64];           /* db tokens key of the token signed in with; "" (password) */
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
    /* xo.getAllObjects's last complete answer (super-admin, no filter, no limit), sent
       again while the replica's generation (xoc_replica_gen + 1; 0: none) is unchanged */
    xoc_api_buf_t *all_answer;
    uint64_t all_answer_gen;
    size_t all_answer_count;
    bool getall_keep;             /* api.getall_keep: keep it at all */
    /* /metrics (xoc_api.c: s_metrics_*) */
    xoc_metrics_family_t *m_calls, *m_call_seconds;
    xoc_metrics_series_t *m_connections, *m_signed_in, *m_pushes, *m_queued, *m_queued_max,
        *m_slow_closed, *m_rev, *m_seen_rev, *m_lag, *m_objects, *m_replica_bytes, *m_snapshots,
        *m_gaps;
    /* the batch being collected for the `all` pushes */
    xoc_api_buf_t *push_enter, *push_exit;
    size_t push_n_enter, push_n_exit;
    uint64_t calls, pushes;
    /* the first admin (xoc_api_session.c): an attempt in progress, sign-ins waiting for it */
    bool booting;
    zlistx_t *boot_waiters;
    /* actions (xoc_api_xapi.c): calls waiting for a new object to reach the replica */
    zlistx_t *act_waiters;
    int act_timer;                /* zloop timer while there are waiters, else -1 */
    int xapi_timeout_ms;          /* deadline of one xapi.call */
    /* ACLs (xoc_api_access.c): the resolver, fed by the config dbs acls/groups/users */
    xoc_api_acl_t *acl;
    zsock_t *acl_sub;             /* config.acls / config.groups / config.users events */
    uint64_t acl_rev[3];          /* configuration revision each db is at */
    unsigned acl_loaded;          /* bit per db: listed once at least */
    int64_t acl_refresh_at;       /* next full reload (monotonic ms) */
    int acl_timer;
    struct xoc_api_rest *rest;    /* xoc_api_rest.c: HTTP requests, one-shot URLs, SSE */
    /* push coalescing (xoc_api_objects.c): the window being collected, id -> 1 (entered)
       or 2 (exited), its last state only; flushed api.push_coalesce_ms after the previous
       flush, or at once past api.push_coalesce_max_kib */
    zhashx_t *push_pending;
    size_t push_pending_bytes, push_coalesce_max;
    int64_t push_coalesce_ms, push_last_flush;
    bool push_armed;              /* a zloop timer (push_timer) will flush the window */
    int push_timer;
    uint64_t push_rev, push_windows, push_batches;
    /* api.push_adaptive: a window is not flushed before the previous one's pushes had
       their turn on every connection (xoc_api_ws_mark push_mark_seq, then "drained") */
    bool push_adaptive, push_inflight, push_waiting;
    uint64_t push_mark_seq, push_drained;
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
/*  Read-modify-write of one record, safe against every other writer (of any frontend):
    config.get, then edit(the record as read, NULL when absent) gives the new record in
    *out (NULL: nothing to change) or refuses with a status, then config.set with `expect`
    = the record read; when another writer came in between (incorrect-state), again from
    the get (edit must be callable several times). fn gets the status and the record
    written (or read, when unchanged). 0, or the first request could not be sent (fn is
    then not called).                                                                     */
typedef int(xoc_api_cfg_edit_fn)(const json_t *old, json_t **out, void *arg);
int xoc_api_cfg_update(xoc_api_server_t *srv, const char *db, const char *key,
                       xoc_api_cfg_edit_fn *edit, void *edit_arg, xoc_api_cfg_fn *fn, void *arg);
/*  Answers the call with the records of config db `db` as an array, each through `shown`
    (a new reference; NULL: the record as stored).                                       */
typedef json_t *(xoc_api_shown_fn)(const json_t *rec);
int xoc_api_cfg_list_answer(xoc_api_call_t *call, const char *db, xoc_api_shown_fn *shown);
/*  Creates the first admin when no user exists: asynchronous, retried until the cache
    answers; several frontends starting at once create one admin.                        */
void xoc_api_users_bootstrap(xoc_api_server_t *srv);
/*  At the stop: the sign-ins still waiting for the first admin are cancelled.            */
void xoc_api_users_bootstrap_stop(xoc_api_server_t *srv);
/*  The public properties of a user record (never pw_hash). New reference.                 */
json_t *xoc_api_user_public(const json_t *user);
int xoc_api_m_sign_in(xoc_api_call_t *call);
int xoc_api_m_sign_out(xoc_api_call_t *call);
int xoc_api_m_get_user(xoc_api_call_t *call);
int xoc_api_m_token_create(xoc_api_call_t *call);
int xoc_api_m_token_delete(xoc_api_call_t *call);
int xoc_api_m_token_delete_own(xoc_api_call_t *call);
int xoc_api_m_token_set(xoc_api_call_t *call);
int xoc_api_m_user_get_tokens(xoc_api_call_t *call);
int xoc_api_m_user_change_password(xoc_api_call_t *call);
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
/*  lodash's isMatch on JSON values: objects partially, arrays by inclusion, numbers by
    value (the object filters of xo.getAllObjects, token patterns).                      */
bool xoc_api_json_match(const json_t *pattern, const json_t *value);
/*  A complete `all` notification of type "enter" (the objects, from the JSON cache) or
    "exit" (id: 0) for these ids; NULL if none could be written.                          */
xoc_api_buf_t *xoc_api_objects_notification(xoc_api_server_t *srv, bool enter,
                                            const char *const *ids, size_t n);

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

/* ---- xoc_api_access.c: ACLs and groups in the server (§8.1, §8.4, §4.3 acl.* group.*) ------ */

/*  Creates the resolver, subscribes to config.acls/groups/users, loads the three dbs
    (blocking: at start, before serving) and refreshes them every api.acl_refresh_s.     */
int xoc_api_access_start(xoc_api_server_t *srv);
void xoc_api_access_stop(xoc_api_server_t *srv);
/*  The session's user changed (sign-in / sign-out / close): follows the new user.        */
void xoc_api_access_session(xoc_api_server_t *srv, xoc_api_session_t *s);
/*  After object or config changes: sends each non-admin session the `enter`/`exit` of
    what became visible or invisible to him (and the changes of what he sees).           */
void xoc_api_access_flush(xoc_api_server_t *srv);
/*  The view to filter objects with for this call: NULL for a super-admin; otherwise the
    caller's resolved permissions. *deny is set when the caller may see nothing at all.  */
xoc_api_acl_user_t *xoc_api_access_view(xoc_api_call_t *call, bool *deny);
/*  Removes every ACL whose subject (a deleted user or group) or object (a deleted VM) is
    id, and the memberships of a subject; then done(arg, status).                        */
typedef void(xoc_api_access_done_fn)(void *arg, int status);
void xoc_api_access_drop(xoc_api_server_t *srv, const char *id, bool object,
                         xoc_api_access_done_fn *done, void *arg);
/*  Grants subject (a user id) the role `action` on object (vm.snapshot / vm.clone of a
    non-admin caller, §8.4): writes the ACL as acl.add does (nothing when it exists), then
    reloads the acls so that the pushes follow; then done(arg, status).                  */
void xoc_api_access_grant(xoc_api_server_t *srv, const char *subject, const char *object,
                          const char *action, xoc_api_access_done_fn *done, void *arg);
int xoc_api_m_acl_add(xoc_api_call_t *call);
int xoc_api_m_acl_remove(xoc_api_call_t *call);
int xoc_api_m_acl_get(xoc_api_call_t *call);
int xoc_api_m_acl_get_current_permissions(xoc_api_call_t *call);
int xoc_api_m_group_create(xoc_api_call_t *call);
int xoc_api_m_group_delete(xoc_api_call_t *call);
int xoc_api_m_group_get_all(xoc_api_call_t *call);
int xoc_api_m_group_set(xoc_api_call_t *call);
int xoc_api_m_group_set_users(xoc_api_call_t *call);
int xoc_api_m_group_add_user(xoc_api_call_t *call);
int xoc_api_m_group_remove_user(xoc_api_call_t *call);

/* ---- xoc_api_work.c: a thread for blocking work (password hashing) ------------------------------ */

typedef void(xoc_api_work_fn)(void *arg);
xoc_api_work_t *xoc_api_work_new(zloop_t *loop);
void xoc_api_work_destroy(xoc_api_work_t **self_p);
/*  Runs fn(arg) on the work thread, then done(arg) on the loop. Returns 0 or XOC_EIO.     */
int xoc_api_work_run(xoc_api_work_t *self, xoc_api_work_fn *fn, xoc_api_work_fn *done,
                     void *arg);

/* ---- xoc_api_xapi.c: actions carried out through the pools' XAPI gateways ------------------- */

typedef struct xoc_api_act xoc_api_act_t;
/*  Continuation of an action: it answers (xoc_api_act_done/fail) or adds steps and runs.  */
typedef void(xoc_api_act_fn)(xoc_api_act_t *a);
/*  A step failed (status, fault [CODE, params...] or NULL): return true when handled (the
    action was answered, or went on with xoc_api_act_run), false for the usual mapping.   */
typedef bool(xoc_api_act_fail_fn)(xoc_api_act_t *a, int status, const json_t *fault);

/*  The replica's object of that id as JSON (new reference), or NULL.                      */
json_t *xoc_api_object(xoc_api_server_t *srv, const char *id);
/*  A string param of the call (NULL when absent or not a string); a param that is true.    */
const char *xoc_api_param(const xoc_api_call_t *call, const char *name);
bool xoc_api_flag(const xoc_api_call_t *call, const char *name);
/*  A string field of an object, "" when absent.                                           */
const char *xoc_api_str(const json_t *obj, const char *field);
/*  Resolves params[param] (§4.1): an object of one of `types` ("VM,VM-snapshot"), else
    noSuchObject; then the ACL permission. Returns the object (new reference), or NULL
    when the call was answered with the error (do not touch it again).                    */
json_t *xoc_api_resolve(xoc_api_call_t *call, const char *param, const char *types,
                        xoc_api_acl_perm_t perm);
/*  An action on params[param] resolved as above (NULL: the call was answered), or on an
    object already resolved (stolen).                                                       */
xoc_api_act_t *xoc_api_act_new(xoc_api_call_t *call, const char *param, const char *types,
                               xoc_api_acl_perm_t perm);
xoc_api_act_t *xoc_api_act_on(xoc_api_call_t *call, json_t *obj);
const json_t *xoc_api_act_obj(const xoc_api_act_t *a);
const char *xoc_api_act_ref(const xoc_api_act_t *a);
xoc_api_call_t *xoc_api_act_call(const xoc_api_act_t *a);
/*  The XAPI result of the last step (borrowed; "" for void).                              */
const json_t *xoc_api_act_result(const xoc_api_act_t *a);
/*  Data a handler keeps between its steps (stolen; freed with the action).               */
void xoc_api_act_keep(xoc_api_act_t *a, json_t *value);
const json_t *xoc_api_act_kept(const xoc_api_act_t *a);
/*  Queues the XAPI call method(params...) (params: a JSON array, stolen; the session is
    the gateway's).                                                                         */
void xoc_api_act_step(xoc_api_act_t *a, const char *method, json_t *params);
/*  Runs the queued steps in order on the object's pool, then `then` (NULL: answers true).
    A failed step answers its error (§2 mapping), unless the fail hook handles it.       */
void xoc_api_act_run(xoc_api_act_t *a, xoc_api_act_fn *then);
/*  The hook for failures of the step `method` (NULL: of any step); NULL fn: none.       */
void xoc_api_act_on_fail_step(xoc_api_act_t *a, const char *method, xoc_api_act_fail_fn *fn);
/*  In a fail hook: the XAPI method of the step that failed.                               */
const char *xoc_api_act_failed_method(const xoc_api_act_t *a);
/*  In a fail hook, undoing what the action did: _begin keeps the failure (status, fault) and
    drops the steps not run; the hook then queues the clean-up steps and calls _run, which
    runs them and answers the kept failure (a clean-up step that fails is logged, and the
    kept failure answered all the same).                                                    */
void xoc_api_act_cleanup_begin(xoc_api_act_t *a, int status, const json_t *fault);
void xoc_api_act_cleanup_run(xoc_api_act_t *a);
/*  Drops the steps not run yet.                                                           */
void xoc_api_act_clear_steps(xoc_api_act_t *a);
/*  Answers a XAPI failure (status, fault [CODE, params...] or NULL) as §2 says.           */
void xoc_api_act_fail_fault(xoc_api_act_t *a, int status, const json_t *fault);
/*  Waits (at most api.bus_timeout_ms) until the object `id` is in the replica, then `then`
    (xo-server answers a new object's id once its cache has it).                          */
void xoc_api_act_wait(xoc_api_act_t *a, const char *id, xoc_api_act_fn *then);
const char *xoc_api_act_wait_id(const xoc_api_act_t *a);
/*  The same for the uuid the last step returned (<class>.get_uuid); none: XOC_EXAPI.      */
void xoc_api_act_wait_result(xoc_api_act_t *a, xoc_api_act_fn *then);
/*  Answers and frees the action.                                                          */
void xoc_api_act_done(xoc_api_act_t *a, json_t *result);
void xoc_api_act_fail(xoc_api_act_t *a, int xoc_code, const char *message, json_t *data);
int xoc_api_acts_init(xoc_api_server_t *srv);
void xoc_api_acts_fini(xoc_api_server_t *srv);

/* ---- xoc_api_actions.c: vm.*, host.*, pool.*, sr.*, task.*, message.* (§4.3) ---------------- */

int xoc_api_m_vm_start(xoc_api_call_t *call);
int xoc_api_m_vm_stop(xoc_api_call_t *call);
int xoc_api_m_vm_restart(xoc_api_call_t *call);
int xoc_api_m_vm_power(xoc_api_call_t *call);      /* vm.suspend / vm.resume / vm.pause */
int xoc_api_m_vm_set(xoc_api_call_t *call);
int xoc_api_m_vm_snapshot(xoc_api_call_t *call);
int xoc_api_m_vm_revert(xoc_api_call_t *call);
int xoc_api_m_vm_clone(xoc_api_call_t *call);
int xoc_api_m_vm_delete(xoc_api_call_t *call);
int xoc_api_m_host_restart(xoc_api_call_t *call);
int xoc_api_m_host_restart_agent(xoc_api_call_t *call);
int xoc_api_m_host_maintenance(xoc_api_call_t *call);
int xoc_api_m_host_enable(xoc_api_call_t *call);   /* host.enable / host.disable */
int xoc_api_m_host_set(xoc_api_call_t *call);
int xoc_api_m_pool_set(xoc_api_call_t *call);
int xoc_api_m_pool_set_default_sr(xoc_api_call_t *call);
int xoc_api_m_vm_set_boot_order(xoc_api_call_t *call);
int xoc_api_m_vm_convert_to_template(xoc_api_call_t *call);
int xoc_api_m_vm_migrate(xoc_api_call_t *call);
/*  The object awaited (xoc_api_act_wait) is in the replica: a non-admin caller gets an admin
    ACL on it, then its id is the answer.                                                  */
void xoc_api_act_grant_new(xoc_api_act_t *a);
int xoc_api_m_sr_scan(xoc_api_call_t *call);
int xoc_api_m_network_create(xoc_api_call_t *call);
int xoc_api_m_network_set(xoc_api_call_t *call);
int xoc_api_m_network_delete(xoc_api_call_t *call);
int xoc_api_m_sr_set(xoc_api_call_t *call);
int xoc_api_m_task_cancel(xoc_api_call_t *call);   /* task.cancel / task.destroy */
int xoc_api_m_message_delete(xoc_api_call_t *call);
/*  A memory size as vm.set takes it: an integer, or "2GiB" / "512 MiB" / "1G" / "10GB"
    (powers of 1024). Returns false for anything else (negative, NaN, over 9e18, junk). */
bool xoc_api_size_parse(const json_t *v, int64_t *out);
/*  §1.8 step 6: params {"vm": id} stand for {"id": id} when the method takes `id` and no
    param named like its namespace. Called before the params are checked.                */
void xoc_api_normalize_id(xoc_api_call_t *call);

/* ---- xoc_api_devices.c: a VM's CD drive, disks and network interfaces (§4.3) ------------------ */

int xoc_api_m_vm_insert_cd(xoc_api_call_t *call);
int xoc_api_m_vm_eject_cd(xoc_api_call_t *call);
int xoc_api_m_vm_attach_disk(xoc_api_call_t *call);
int xoc_api_m_vm_create_interface(xoc_api_call_t *call);
int xoc_api_m_disk_create(xoc_api_call_t *call);
int xoc_api_m_vdi_set(xoc_api_call_t *call);
int xoc_api_m_vdi_delete(xoc_api_call_t *call);
int xoc_api_m_vif_connect(xoc_api_call_t *call); /* vif.connect / vif.disconnect */
int xoc_api_m_vif_delete(xoc_api_call_t *call);
int xoc_api_m_vm_create(xoc_api_call_t *call);

/* ---- xoc_api_servers.c: server.* (pool connections, config db `servers`) --------------------- */

int xoc_api_m_server_add(xoc_api_call_t *call);
int xoc_api_m_server_remove(xoc_api_call_t *call);
int xoc_api_m_server_set(xoc_api_call_t *call);
int xoc_api_m_server_enable(xoc_api_call_t *call); /* server.enable / server.disable */
int xoc_api_m_server_get_all(xoc_api_call_t *call);
/* ---- xoc_api_session.c: authentication shared by session.signIn and REST --------------------- */

/*  status 0: user (a user record, borrowed for the call) and the expiration of the token
    used (ms, 0: none); XOC_EAUTH: invalid credentials (counted for throttling); another
    code: the config db could not be read.                                                 */
typedef void(xoc_api_auth_fn)(xoc_api_server_t *srv, int status, json_t *user,
                              int64_t expiration_ms, void *arg);
/*  Verifies email/password (Argon2id on the work thread) or a token. Returns 0 (fn is
    called exactly once, later), XOC_EBUSY when the user or address is throttled, or
    another code (fn is not called).                                                      */
int xoc_api_auth_password(xoc_api_server_t *srv, const char *email, const char *password,
                          const char *ip, xoc_api_auth_fn *fn, void *arg);
int xoc_api_auth_token(xoc_api_server_t *srv, const char *token, const char *ip,
                       xoc_api_auth_fn *fn, void *arg);

/* ---- xoc_api_rest.c / xoc_api_sse.c: REST /rest/v0, one-shot URLs, SSE ----------------------- */

int xoc_api_rest_init(xoc_api_server_t *srv);
void xoc_api_rest_fini(xoc_api_server_t *srv);
/*  An HTTP request event of the lws thread (peer, then the frames after it), its end.   */
void xoc_api_rest_request(xoc_api_server_t *srv, uint64_t conn, zframe_t *peer, zmsg_t *msg);
void xoc_api_rest_closed(xoc_api_server_t *srv, uint64_t conn);
/*  xo.getAllObjects {ndjson: true}: answers {"$getFrom": "/api/<token>"}, a one-shot URL
    bound to the caller (api.get_from_ttl_s) streaming the objects as NDJSON.              */
int xoc_api_rest_get_from(xoc_api_call_t *call);
/*  The SSE state's place in the REST state.                                               */
struct xoc_api_sse **xoc_api_rest_sse(xoc_api_server_t *srv);
/*  The replica's changes, for the SSE clients (from xoc_api_objects.c).                   */
void xoc_api_sse_change(xoc_api_server_t *srv, bool enter, const xoc_replica_obj_t *obj);
void xoc_api_sse_batch(xoc_api_server_t *srv, uint64_t rev);
int xoc_api_sse_init(xoc_api_server_t *srv);
void xoc_api_sse_fini(xoc_api_server_t *srv);
/*  Answers GET /rest/v0/events with the stream's head, for user (borrowed); the stream
    ends when the client goes, its queue overflows, or the token expires.                 */
int xoc_api_sse_open(xoc_api_server_t *srv, uint64_t conn, const json_t *user,
                     int64_t expiration_ms, const char *token_key, bool all);
/*  An object is about to change (before the JSON cache follows it): its state before the
    batch, for the subscribed streams (xo-server's update / remove).                       */
void xoc_api_sse_before(xoc_api_server_t *srv, const xoc_replica_obj_t *obj);
/*  POST /rest/v0/events/<id>/subscriptions (body) and DELETE .../subscriptions/<collection>
    by user (borrowed): the HTTP status, *answer the body (new reference; NULL: none).     */
int xoc_api_sse_subscribe(xoc_api_server_t *srv, const json_t *user, const char *id,
                          const char *body, size_t len, json_t **answer);
int xoc_api_sse_unsubscribe(xoc_api_server_t *srv, const json_t *user, const char *id,
                            const char *collection, json_t **answer);
void xoc_api_sse_closed(xoc_api_server_t *srv, uint64_t conn);
/*  Keep-alive comments and expirations (once a second).                                   */
void xoc_api_sse_cron(xoc_api_server_t *srv);
/*  Ends the streams of a user (deleted).                                                  */
void xoc_api_sse_close_user(xoc_api_server_t *srv, const char *user_id);
/*  Ends the streams opened with a token (token_key: its key in db tokens; deleted).      */
void xoc_api_sse_close_token(xoc_api_server_t *srv, const char *token_key);
/*  What a followed non-admin user gained (enter) / lost (exit), from xoc_api_access_flush:
    sent to that user's streams as enter/exit events.                                     */
void xoc_api_sse_view(xoc_api_server_t *srv, const xoc_api_acl_user_t *user,
                      const char *const *enter, size_t n_enter, const char *const *exit,
                      size_t n_exit);

/* ---- xoc_api_session.c: revocation on every instance ------------------------------------------ */

/*  The key of a token in db tokens (base64url of its BLAKE2b-256); key: >= 48 bytes.     */
void xoc_api_token_key(const char *token, char *key, size_t size);
/*  A config.<db> event (op "set" / "delete", key; from xoc_api_access.c, on every
    instance): a deleted user's WebSocket sessions and event streams are closed; a deleted
    token's sessions and streams (those signed in / opened with it) too.                  */
void xoc_api_sessions_revoke(xoc_api_server_t *srv, const char *db, const char *op,
                             const char *key);
/*  Every api.acl_refresh_s (a lost event): the users of open sessions and streams missing
    from db users, and their tokens missing from db tokens, are asked again one by one;
    those really gone are revoked as above.                                               */
void xoc_api_sessions_sweep(xoc_api_server_t *srv);
/*  Adds the user ids and token keys of the open streams to users / tokens (key -> "").   */
void xoc_api_sse_subjects(xoc_api_server_t *srv, zhashx_t *users, zhashx_t *tokens);

/* ---- xoc_api_objects.c: push coalescing ------------------------------------------------------- */

/*  Pushes the window being collected now (`all` pushes, ACL-filtered sessions, SSE).     */
void xoc_api_objects_flush(xoc_api_server_t *srv);
/*  The lws thread's "drained" event for the mark seq (xoc_api_ws_mark).                   */
void xoc_api_objects_drained(xoc_api_server_t *srv, uint64_t seq);
/*  At the stop: cancels the window's timer, frees it.                                     */
void xoc_api_objects_fini(xoc_api_server_t *srv);

#endif
