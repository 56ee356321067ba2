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
#include <stdbool.h>

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

#endif
