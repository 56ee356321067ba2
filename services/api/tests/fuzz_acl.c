/*  Fuzz target of the ACL resolver's object indexing (xoc_api_acl_object): the input is a
    msgpack array (checked with xoc_mp_check first, as every decoder of the bus does); each
    map {id, type, ...links, exit?} in it is one object change,
    every fourth change a flush with a followed user, then checks and permissions.     */
#include <stdint.h>
#include <string.h>

#include "xoc_api_acl.h"
#include "xoc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const msgpack_object *s_get(const msgpack_object *map, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            !memcmp(k->via.str.ptr, name, n))
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static void s_str(const msgpack_object *v, char *out, size_t size, const char *dflt)
{
    if (v && v->type == MSGPACK_OBJECT_STR && v->via.str.size < size) {
        memcpy(out, v->via.str.ptr, v->via.str.size);
        out[v->via.str.size] = '\0';
    } else
        snprintf(out, size, "%s", dflt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (xoc_mp_check(data, size, 8) != 0)
        return 0;
    xoc_api_acl_t *acl = xoc_api_acl_new();
    if (!acl)
        return 0;
    json_t *user = json_pack("{s:s,s:s,s:[s]}", "id", "u", "permission", "none", "groups", "g");
    json_t *group = json_pack("{s:s,s:s,s:[]}", "id", "g", "name", "g", "users");
    json_t *a1 = json_pack("{s:s,s:s,s:s}", "subject", "u", "object", "P", "action", "viewer");
    json_t *a2 = json_pack("{s:s,s:s,s:s}", "subject", "g", "object", "H", "action", "admin");
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_USERS, "u", user);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_GROUPS, "g", group);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_ACLS, "a1", a1);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_ACLS, "a2", a2);
    xoc_api_acl_user_t *u = xoc_api_acl_user_acquire(acl, "u");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    uint32_t count = 0;
    if (msgpack_unpack_next(&up, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_ARRAY)
        count = up.data.via.array.size;
    for (uint32_t n = 0; n < count; n++) {
        const msgpack_object *o = &up.data.via.array.ptr[n];
        char id[64], type[32];
        s_str(s_get(o, "id"), id, sizeof id, "");
        s_str(s_get(o, "type"), type, sizeof type, "VM");
        const msgpack_object *exit = s_get(o, "exit");
        bool gone = exit && exit->type == MSGPACK_OBJECT_BOOLEAN && exit->via.boolean;
        if (id[0])
            xoc_api_acl_object(acl, id, type, "P", gone ? NULL : o);
        if (n % 4 == 3)
            xoc_api_acl_flush(acl, NULL, NULL);
        if (id[0]) {
            xoc_api_acl_may(acl, user, id, XOC_API_ACL_OPERATE);
            xoc_api_acl_user_sees(acl, u, id);
        }
        if (n == 7) /* a config change while objects move */
            xoc_api_acl_db_set(acl, XOC_API_ACL_DB_ACLS, "a1", NULL);
    }
    msgpack_unpacked_destroy(&up);
    xoc_api_acl_flush(acl, NULL, NULL);
    json_decref(xoc_api_acl_permissions(acl, user));
    xoc_api_acl_user_release(acl, &u);
    xoc_api_acl_destroy(&acl);
    json_decref(user);
    json_decref(group);
    json_decref(a1);
    json_decref(a2);
    return 0;
}
