/*  xoc_api_acl — who may do what on which object (reference/xo-api.md §8.3, §8.4).

    A user record (as the cache stores it: {id, email, permission, groups, ...}) with
    `permission: admin` is an XO super-admin: every object check passes. Anyone else gets
    what the ACLs of the config db `acls` grant to him or to one of his groups, with the
    inheritance of §8.4 (a VM through its host and pool, a VDI through its SR, ...).

    Every place an object or an action reaches a user asks here: calls (operate /
    administrate on their target), xo.getAllObjects, the `all` pushes, REST and SSE
    (view). The checks that need the server state (xoc_api_acl_allows) are declared in
    xoc_api_int.h.                                                                       */
#ifndef XOC_API_ACL_H
#define XOC_API_ACL_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

/*  Object-level permissions (§8.4): the roles viewer / operator / admin expand to
    {view}, {view, operate}, {view, operate, administrate}.                               */
typedef enum {
    XOC_API_ACL_VIEW,
    XOC_API_ACL_OPERATE,
    XOC_API_ACL_ADMINISTRATE,
} xoc_api_acl_perm_t;

/*  The name of a permission as the wire shows it ("view", "operate", "administrate").   */
const char *xoc_api_acl_perm_name(xoc_api_acl_perm_t perm);

/*  Is the user record an XO super-admin (permission "admin")?                           */
bool xoc_api_acl_is_admin(const json_t *user);

/* ---- the resolver ----------------------------------------------------------------------------

    xoc_api_acl_t holds what the resolution needs, and nothing of the server: the links
    between objects (one node per object id, with the ids its permission is inherited
    from, after the table of §8.4), the config dbs acls / groups / users (JSON maps id ->
    record), and the resolved permissions of the users being followed (those with a
    signed-in session): the effective permission bits of every object, kept up to date.

        xoc_api_acl_t *acl = xoc_api_acl_new();
        xoc_api_acl_object(acl, id, type, pool, map);   // each object change (map NULL: exit)
        xoc_api_acl_db_replace(acl, XOC_API_ACL_DB_ACLS, items);  // or _db_set per record
        xoc_api_acl_user_t *u = xoc_api_acl_user_acquire(acl, user_id);   // a session
        xoc_api_acl_user_sees(acl, u, id);              // O(1)
        xoc_api_acl_flush(acl, on_diff, arg);           // end of a batch / of a db change:
                                                        // what each followed user gained/lost
        xoc_api_acl_user_release(acl, &u);

    Cost: a change of an object's links re-evaluates it and what inherits from it (a VM
    moving: its VBDs, VDIs, VIFs, messages, snapshots); a change of content alone costs
    one lookup per followed user; a change of a user's ACLs or groups re-evaluates every
    object once for that user (memoised: each object evaluated once).                     */

typedef struct _xoc_api_acl_t xoc_api_acl_t;
typedef struct _xoc_api_acl_user_t xoc_api_acl_user_t;

typedef enum { XOC_API_ACL_DB_ACLS, XOC_API_ACL_DB_GROUPS, XOC_API_ACL_DB_USERS } xoc_api_acl_db_t;

/*  Permission bits (effective permissions are a mask of these).                          */
#define XOC_API_ACL_BIT(perm) (1u << (perm))

xoc_api_acl_t *xoc_api_acl_new(void);
void xoc_api_acl_destroy(xoc_api_acl_t **self_p);

/*  Indexes one object change: its links are read from map (the object, a msgpack map);
    map NULL = the object exited. pool: the object's pool id (used when it has no $pool). */
void xoc_api_acl_object(xoc_api_acl_t *self, const char *id, const char *type,
                        const char *pool, const msgpack_object *map);

/*  Replaces a whole db (items: map id -> record, borrowed), or sets / deletes one record
    (record NULL = deleted).                                                              */
void xoc_api_acl_db_replace(xoc_api_acl_t *self, xoc_api_acl_db_t db, const json_t *items);
void xoc_api_acl_db_set(xoc_api_acl_t *self, xoc_api_acl_db_t db, const char *key,
                        const json_t *record);
/*  The current records of a db (borrowed: map id -> record).                              */
const json_t *xoc_api_acl_db(const xoc_api_acl_t *self, xoc_api_acl_db_t db);

/*  The permission bits of a role or action: viewer {view}, operator {view, operate},
    admin {view, operate, administrate}; a literal "view" / "operate" / "administrate"
    is that permission; anything else: 0 (kept as a literal by _permissions).            */
unsigned xoc_api_acl_role_bits(const char *action);

/*  The id of an ACL: base64url of a 32-bit BLAKE2b of subject NUL object NUL action
    (wide: 64 bits, used when the 32-bit id collides with another triple). id: >= 16 bytes. */
void xoc_api_acl_id(const char *subject, const char *object, const char *action, bool wide,
                    char *id, size_t size);

/*  Follows a user (reference counted): his permissions are resolved now and kept up to
    date by _flush. NULL on allocation failure.                                            */
xoc_api_acl_user_t *xoc_api_acl_user_acquire(xoc_api_acl_t *self, const char *user_id);
void xoc_api_acl_user_release(xoc_api_acl_t *self, xoc_api_acl_user_t **user_p);
/*  Is the followed user a super-admin (his record in db users says permission admin)?   */
bool xoc_api_acl_user_admin(const xoc_api_acl_user_t *user);
const char *xoc_api_acl_user_id(const xoc_api_acl_user_t *user);
/*  May the followed user view the object (O(1))? Super-admins: every present object.    */
bool xoc_api_acl_user_sees(const xoc_api_acl_t *self, const xoc_api_acl_user_t *user,
                           const char *object_id);

/*  May this user (a record {id, permission, groups}) exercise perm on the object?
    Super-admins always; unknown objects: only super-admins.                              */
bool xoc_api_acl_may(xoc_api_acl_t *self, const json_t *user, const char *object_id,
                     xoc_api_acl_perm_t perm);

/*  The user's ACLs and his groups' as {objectId: {perm: 1, ...}} (§8.4 step 1). New ref. */
json_t *xoc_api_acl_permissions(const xoc_api_acl_t *self, const json_t *user);

/*  Reports, for each followed user whose view changed since the last flush (objects that
    changed, moved, entered or exited; ACL, group or permission changes), the ids that
    became or stay visible and changed (enter) and those no longer visible (exit). The
    id arrays are valid during the call only.                                              */
typedef void(xoc_api_acl_diff_fn)(xoc_api_acl_user_t *user, const char *const *enter,
                                  size_t n_enter, const char *const *exit, size_t n_exit,
                                  void *arg);
void xoc_api_acl_flush(xoc_api_acl_t *self, xoc_api_acl_diff_fn *fn, void *arg);

#endif
