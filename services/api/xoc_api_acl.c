/*  xoc_api_acl — object-level permissions (xo-api.md §8.3, §8.4). See xoc_api_acl.h.
    This first version knows the super-admin only: every other user is refused every
    object until the ACL resolution (config db `acls`, groups, inheritance) is here —
    refusing is the safe side of the contract callers already rely on.                  */
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"

const char *xoc_api_acl_perm_name(xoc_api_acl_perm_t perm)
{
    switch (perm) {
    case XOC_API_ACL_VIEW: return "view";
    case XOC_API_ACL_OPERATE: return "operate";
    case XOC_API_ACL_ADMINISTRATE: return "administrate";
    }
    return "?";
}

bool xoc_api_acl_is_admin(const json_t *user)
{
    const char *perm = json_string_value(json_object_get(user, "permission"));
    return perm && strcmp(perm, "admin") == 0;
}

bool xoc_api_acl_allows(xoc_api_server_t *srv, const json_t *user, const char *object_id,
                        xoc_api_acl_perm_t perm)
{
    (void)srv;
    (void)object_id;
    (void)perm;
    return xoc_api_acl_is_admin(user);
}

int xoc_api_acl_check(xoc_api_call_t *call, const char *object_id, xoc_api_acl_perm_t perm)
{
    if (xoc_api_acl_allows(call->srv, call->user, object_id, perm))
        return 0;
    xoc_api_call_fail(call, XOC_EPERM, NULL,
                      json_pack("{s:s,s:{s:s}}", "permission", xoc_api_acl_perm_name(perm),
                                "object", "id", object_id ? object_id : ""));
    return XOC_EPERM;
}
