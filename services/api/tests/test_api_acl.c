/*  Unit tests of the ACL resolver (xoc_api_acl, xo-api.md §8.4) on synthetic objects: each
    inheritance rule of the table, groups (either side of the membership), unknown action
    literals, super-admins, ACL ids, and the view diffs of followed users (an object
    moving, a content change, objects entering/exiting, ACL and permission changes).    */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xoc_api_acl.h"
#include "xoc_json.h"

/* id type json-of-links */
static const char *s_objects[][3] = {
    {"P1", "pool", "{}"},
    {"P2", "pool", "{}"},
    {"H1", "host", "{\"$pool\":\"P1\"}"},
    {"H2", "host", "{\"$pool\":\"P2\"}"},
    {"V1", "VM", "{\"$container\":\"H1\"}"},
    {"V2", "VM", "{\"$container\":\"P1\"}"},
    {"V3", "VM", "{\"$container\":\"H2\"}"},
    {"D1", "VM-controller", "{\"$container\":\"H1\"}"},
    {"S1", "VM-snapshot", "{\"$snapshot_of\":\"V1\"}"},
    {"T1", "VM-template", "{}"}, /* $pool from the object's pool */
    {"N1", "network", "{\"$pool\":\"P1\"}"},
    {"SR1", "SR", "{\"$container\":\"P1\"}"},
    {"SR2", "SR", "{\"$container\":\"H2\"}"},
    {"VDI1", "VDI", "{\"$SR\":\"SR2\",\"$VBDs\":[\"VBD1\"]}"},
    {"VDI2", "VDI", "{\"$SR\":\"SR2\",\"$VBDs\":[]}"},
    {"VBD1", "VBD", "{\"VDI\":\"VDI1\",\"VM\":\"V1\"}"},
    {"VBD2", "VBD", "{\"VM\":\"V1\"}"}, /* an empty CD drive: no VDI */
    {"VS1", "VDI-snapshot", "{\"$snapshot_of\":\"VDI1\"}"},
    {"VIF1", "VIF", "{\"$VM\":\"V3\",\"$network\":\"N1\"}"},
    {"PIF1", "PIF", "{\"$host\":\"H1\"}"},
    {"TK1", "task", "{\"$host\":\"H1\"}"},
    {"PBD1", "PBD", "{\"host\":\"H2\",\"SR\":\"SR1\"}"},
    {"M1", "message", "{\"$object\":\"V1\"}"},
    {"SM1", "SM", "{}"},
    {"PUSB1", "PUSB", "{\"host\":\"H1\"}"},
    {"PUSB2", "PUSB", "{\"host\":\"H2\"}"},
    {"UG", "USB_group", "{\"PUSBs\":[\"PUSB1\",\"PUSB2\"]}"},
    {"LOOP", "VM", "{\"$container\":\"LOOP\"}"}, /* bad data: a cycle */
};
#define S_NOBJ (sizeof s_objects / sizeof s_objects[0])

static void s_put(xoc_api_acl_t *acl, const char *id, const char *type, const char *links)
{
    json_t *j = json_loads(links, 0, NULL);
    assert_non_null(j);
    json_object_set_new(j, "id", json_string(id));
    json_object_set_new(j, "type", json_string(type));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    assert_int_equal(xoc_json_to_mp(j, &sb), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    xoc_api_acl_object(acl, id, type, id[0] == 'T' ? "P1" : "", &up.data);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    json_decref(j);
}

static xoc_api_acl_t *s_world(void)
{
    xoc_api_acl_t *acl = xoc_api_acl_new();
    assert_non_null(acl);
    for (size_t i = 0; i < S_NOBJ; i++)
        s_put(acl, s_objects[i][0], s_objects[i][1], s_objects[i][2]);
    xoc_api_acl_flush(acl, NULL, NULL);
    return acl;
}

static void s_acl(xoc_api_acl_t *acl, const char *subject, const char *object, const char *action)
{
    char id[32];
    xoc_api_acl_id(subject, object, action, false, id, sizeof id);
    json_t *r = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "subject", subject, "object", object,
                          "action", action);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_ACLS, id, r);
    json_decref(r);
}

static void s_user(xoc_api_acl_t *acl, const char *id, const char *permission, const char *groups)
{
    json_t *r = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "email", id, "permission", permission,
                          "groups", json_loads(groups, 0, NULL));
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_USERS, id, r);
    json_decref(r);
}

/* the set of ids the user may `perm`, as "A B C" in s_objects order */
static void s_may_list(xoc_api_acl_t *acl, const char *uid, xoc_api_acl_perm_t perm, char *out,
                       size_t size)
{
    json_t *u = json_object_get(xoc_api_acl_db(acl, XOC_API_ACL_DB_USERS), uid);
    json_t *tmp = u ? NULL : json_pack("{s:s}", "id", uid);
    out[0] = '\0';
    for (size_t i = 0; i < S_NOBJ; i++)
        if (xoc_api_acl_may(acl, u ? u : tmp, s_objects[i][0], perm)) {
            if (out[0])
                strncat(out, " ", size - strlen(out) - 1);
            strncat(out, s_objects[i][0], size - strlen(out) - 1);
        }
    json_decref(tmp);
}

static void test_roles_and_ids(void **state)
{
    assert_int_equal(xoc_api_acl_role_bits("viewer"), 1);
    assert_int_equal(xoc_api_acl_role_bits("operator"), 3);
    assert_int_equal(xoc_api_acl_role_bits("admin"), 7);
    assert_int_equal(xoc_api_acl_role_bits("operate"), 2);
    assert_int_equal(xoc_api_acl_role_bits("custom"), 0);
    assert_int_equal(xoc_api_acl_role_bits(NULL), 0);
    char a[32], b[32], c[32];
    xoc_api_acl_id("u", "o", "viewer", false, a, sizeof a);
    xoc_api_acl_id("u", "o", "viewer", false, b, sizeof b);
    xoc_api_acl_id("u", "o", "admin", false, c, sizeof c);
    assert_string_equal(a, b);      /* idempotent */
    assert_int_equal(strlen(a), 6); /* 32 bits, base64url */
    assert_string_not_equal(a, c);
    xoc_api_acl_id("uo", "", "viewer", false, c, sizeof c); /* the separator matters */
    assert_string_not_equal(a, c);
    xoc_api_acl_id("u", "o", "viewer", true, c, sizeof c);
    assert_int_equal(strlen(c), 11);
    assert_non_null(
        strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", a[0]));
}

static void test_super_admin(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "root", "admin", "[]");
    char list[1024];
    s_may_list(acl, "root", XOC_API_ACL_ADMINISTRATE, list, sizeof list);
    assert_int_equal(strlen(list) > 100, 1);
    json_t *root = json_pack("{s:s,s:s}", "id", "root", "permission", "admin");
    assert_true(xoc_api_acl_may(acl, root, "nothing-like-this", XOC_API_ACL_ADMINISTRATE));
    json_decref(root);
    /* no ACL at all: nothing */
    s_user(acl, "bob", "none", "[]");
    s_may_list(acl, "bob", XOC_API_ACL_VIEW, list, sizeof list);
    assert_string_equal(list, "");
    xoc_api_acl_destroy(&acl);
}

static void test_vm_viewer(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "bob", "none", "[]");
    s_acl(acl, "bob", "V1", "viewer");
    char list[1024];
    s_may_list(acl, "bob", XOC_API_ACL_VIEW, list, sizeof list);
    /* the VM, its snapshot, its disk (through the VBD's VM), the VBD (through the VDI),
       the disk's snapshot, its message; not its host, pool, dom0 or empty CD drive */
    assert_string_equal(list, "V1 S1 VDI1 VBD1 VS1 M1");
    s_may_list(acl, "bob", XOC_API_ACL_OPERATE, list, sizeof list);
    assert_string_equal(list, "");
    /* unknown object */
    json_t *bob = json_pack("{s:s}", "id", "bob");
    assert_false(xoc_api_acl_may(acl, bob, "nope", XOC_API_ACL_VIEW));
    json_decref(bob);
    xoc_api_acl_destroy(&acl);
}

static void test_pool_operator(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "op", "none", "[]");
    s_acl(acl, "op", "P1", "operator");
    char list[1024];
    s_may_list(acl, "op", XOC_API_ACL_OPERATE, list, sizeof list);
    assert_string_equal(list, "P1 H1 V1 V2 D1 S1 T1 N1 SR1 VDI1 VBD1 VS1 VIF1 PIF1 TK1 PBD1 "
                              "M1 PUSB1");
    s_may_list(acl, "op", XOC_API_ACL_ADMINISTRATE, list, sizeof list);
    assert_string_equal(list, "");
    xoc_api_acl_destroy(&acl);
}

static void test_host_admin_and_usb_group(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "ha", "none", "[]");
    s_acl(acl, "ha", "H2", "admin");
    char list[1024];
    s_may_list(acl, "ha", XOC_API_ACL_ADMINISTRATE, list, sizeof list);
    /* a host does not give its pool; VDIs through their SR; PBD through host OR SR */
    assert_string_equal(list, "H2 V3 SR2 VDI1 VDI2 VBD1 VS1 VIF1 PBD1 PUSB2");
    /* a USB group needs every PUSB */
    s_acl(acl, "ha", "H1", "viewer");
    s_may_list(acl, "ha", XOC_API_ACL_VIEW, list, sizeof list);
    assert_non_null(strstr(list, "UG"));
    s_may_list(acl, "ha", XOC_API_ACL_ADMINISTRATE, list, sizeof list);
    assert_null(strstr(list, "UG"));
    xoc_api_acl_destroy(&acl);
}

static void test_groups(void **state)
{
    xoc_api_acl_t *acl = s_world();
    json_t *g1 = json_pack("{s:s,s:s,s:[s]}", "id", "g1", "name", "one", "users", "amy");
    json_t *g2 = json_pack("{s:s,s:s,s:[]}", "id", "g2", "name", "two", "users");
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_GROUPS, "g1", g1);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_GROUPS, "g2", g2);
    s_user(acl, "amy", "none", "[]");         /* member of g1 on the group's side only */
    s_user(acl, "ben", "none", "[\"g2\"]");   /* member of g2 on the user's side only */
    s_user(acl, "cat", "none", "[\"gone\"]"); /* a group that does not exist */
    s_acl(acl, "g1", "V3", "viewer");
    s_acl(acl, "g2", "SR1", "viewer");
    s_acl(acl, "gone", "V2", "viewer");
    char list[1024];
    s_may_list(acl, "amy", XOC_API_ACL_VIEW, list, sizeof list);
    assert_string_equal(list, "V3 VIF1");
    s_may_list(acl, "ben", XOC_API_ACL_VIEW, list, sizeof list);
    assert_string_equal(list, "SR1 PBD1");
    s_may_list(acl, "cat", XOC_API_ACL_VIEW, list, sizeof list);
    assert_string_equal(list, "");
    /* the group is deleted: its members lose its permissions */
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_GROUPS, "g1", NULL);
    s_may_list(acl, "amy", XOC_API_ACL_VIEW, list, sizeof list);
    assert_string_equal(list, "");
    json_decref(g1);
    json_decref(g2);
    xoc_api_acl_destroy(&acl);
}

static void test_literal_and_permissions(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "lit", "none", "[]");
    s_acl(acl, "lit", "V1", "custom");
    s_acl(acl, "lit", "V2", "operate");
    s_acl(acl, "lit", "P1", "viewer");
    s_acl(acl, "someone-else", "V3", "admin");
    json_t *u = json_pack("{s:s}", "id", "lit");
    json_t *perms = xoc_api_acl_permissions(acl, u);
    json_t *want = json_loads("{\"V1\":{\"custom\":1},\"V2\":{\"operate\":1},"
                              "\"P1\":{\"view\":1}}",
                              0, NULL);
    assert_true(json_equal(perms, want));
    /* a literal gives nothing but itself; "operate" alone does not give view */
    assert_true(xoc_api_acl_may(acl, u, "V2", XOC_API_ACL_OPERATE));
    assert_true(xoc_api_acl_may(acl, u, "V1", XOC_API_ACL_VIEW)); /* through P1 */
    assert_false(xoc_api_acl_may(acl, u, "V1", XOC_API_ACL_OPERATE));
    assert_false(xoc_api_acl_may(acl, u, "V3", XOC_API_ACL_VIEW));
    /* a cycle in bad data: no permission, no hang */
    assert_false(xoc_api_acl_may(acl, u, "LOOP", XOC_API_ACL_VIEW));
    json_decref(perms);
    json_decref(want);
    json_decref(u);
    xoc_api_acl_destroy(&acl);
}

/* ---- followed users and their diffs ------------------------------------------------------ */

typedef struct {
    char enter[1024], exit[1024];
    int calls;
} s_seen_t;

static int s_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void s_join(const char *const *ids, size_t n, char *out, size_t size)
{
    const char **sorted = malloc((n + 1) * sizeof *sorted);
    if (n)
        memcpy(sorted, ids, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, s_cmp);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, " ", size - strlen(out) - 1);
        strncat(out, sorted[i], size - strlen(out) - 1);
    }
    free(sorted);
}

static void s_on_diff(xoc_api_acl_user_t *user, const char *const *enter, size_t n_enter,
                      const char *const *exit, size_t n_exit, void *arg)
{
    s_seen_t *s = arg;
    s->calls++;
    s_join(enter, n_enter, s->enter, sizeof s->enter);
    s_join(exit, n_exit, s->exit, sizeof s->exit);
}

static void s_flush(xoc_api_acl_t *acl, s_seen_t *seen)
{
    memset(seen, 0, sizeof *seen);
    xoc_api_acl_flush(acl, s_on_diff, seen);
}

static void test_follow_diffs(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "op", "none", "[]");
    s_acl(acl, "op", "H1", "operator");
    s_seen_t seen;
    s_flush(acl, &seen);
    xoc_api_acl_user_t *u = xoc_api_acl_user_acquire(acl, "op");
    assert_non_null(u);
    assert_false(xoc_api_acl_user_admin(u));
    assert_true(xoc_api_acl_user_sees(acl, u, "V1"));
    assert_true(xoc_api_acl_user_sees(acl, u, "VDI1"));
    assert_false(xoc_api_acl_user_sees(acl, u, "V3"));
    assert_false(xoc_api_acl_user_sees(acl, u, "unknown"));

    /* V1 moves to H2: it and what inherits from it leave the view */
    s_put(acl, "V1", "VM", "{\"$container\":\"H2\"}");
    s_flush(acl, &seen);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.enter, "");
    assert_string_equal(seen.exit, "M1 S1 V1 VBD1 VDI1 VS1");
    assert_false(xoc_api_acl_user_sees(acl, u, "VDI1"));
    /* and back */
    s_put(acl, "V1", "VM", "{\"$container\":\"H1\"}");
    s_flush(acl, &seen);
    assert_string_equal(seen.enter, "M1 S1 V1 VBD1 VDI1 VS1");
    assert_string_equal(seen.exit, "");
    /* a change of content only: that object enters again, nothing else */
    s_put(acl, "V1", "VM", "{\"$container\":\"H1\",\"name_label\":\"x\"}");
    s_put(acl, "V3", "VM", "{\"$container\":\"H2\",\"name_label\":\"y\"}"); /* not his */
    s_flush(acl, &seen);
    assert_string_equal(seen.enter, "V1");
    assert_string_equal(seen.exit, "");
    /* a new VM on his host, then it goes */
    s_put(acl, "V4", "VM", "{\"$container\":\"H1\"}");
    s_flush(acl, &seen);
    assert_string_equal(seen.enter, "V4");
    xoc_api_acl_object(acl, "V4", "VM", "", NULL);
    s_flush(acl, &seen);
    assert_string_equal(seen.exit, "V4");
    assert_false(xoc_api_acl_user_sees(acl, u, "V4"));
    /* a disk gets attached to one of his VMs: it enters */
    s_put(acl, "VBD9", "VBD", "{\"VDI\":\"VDI2\",\"VM\":\"V1\"}");
    s_put(acl, "VDI2", "VDI", "{\"$SR\":\"SR2\",\"$VBDs\":[\"VBD9\"]}");
    s_flush(acl, &seen);
    assert_string_equal(seen.enter, "VBD9 VDI2");
    /* nothing changed: no call */
    s_flush(acl, &seen);
    assert_int_equal(seen.calls, 0);

    /* his ACL is removed: everything leaves */
    char id[32];
    xoc_api_acl_id("op", "H1", "operator", false, id, sizeof id);
    xoc_api_acl_db_set(acl, XOC_API_ACL_DB_ACLS, id, NULL);
    s_acl(acl, "op", "V3", "viewer");
    s_flush(acl, &seen);
    assert_string_equal(seen.enter, "V3 VIF1");
    assert_string_equal(seen.exit, "D1 H1 M1 PIF1 PUSB1 S1 TK1 V1 VBD1 VBD9 VDI1 VDI2 VS1");

    /* he becomes a super-admin: what he did not see enters; then back */
    s_user(acl, "op", "admin", "[]");
    s_flush(acl, &seen);
    assert_true(xoc_api_acl_user_admin(u));
    assert_non_null(strstr(seen.enter, "P2"));
    assert_null(strstr(seen.enter, "V3"));
    assert_true(xoc_api_acl_user_sees(acl, u, "P2"));
    s_user(acl, "op", "none", "[]");
    s_flush(acl, &seen);
    assert_non_null(strstr(seen.exit, "P2"));
    assert_null(strstr(seen.exit, "V3 "));
    assert_true(xoc_api_acl_user_sees(acl, u, "V3"));
    assert_true(xoc_api_acl_user_sees(acl, u, "VIF1"));

    /* two references, one release: still followed */
    xoc_api_acl_user_t *u2 = xoc_api_acl_user_acquire(acl, "op");
    assert_ptr_equal(u, u2);
    xoc_api_acl_user_release(acl, &u2);
    assert_null(u2);
    assert_true(xoc_api_acl_user_sees(acl, u, "V3"));
    xoc_api_acl_user_release(acl, &u);
    xoc_api_acl_destroy(&acl);
}

/* objects removed and their ids reused: the slots are recycled without stale bits */
static void test_recycled_slots(void **state)
{
    xoc_api_acl_t *acl = s_world();
    s_user(acl, "v", "none", "[]");
    s_acl(acl, "v", "P1", "viewer");
    xoc_api_acl_user_t *u = xoc_api_acl_user_acquire(acl, "v");
    s_seen_t seen;
    for (int round = 0; round < 3; round++) {
        char id[32];
        for (int i = 0; i < 50; i++) {
            snprintf(id, sizeof id, "X%d", i);
            s_put(acl, id, "VM", i % 2 ? "{\"$container\":\"P1\"}" : "{\"$container\":\"P2\"}");
        }
        s_flush(acl, &seen);
        assert_true(xoc_api_acl_user_sees(acl, u, "X1"));
        assert_false(xoc_api_acl_user_sees(acl, u, "X0"));
        for (int i = 0; i < 50; i++) {
            snprintf(id, sizeof id, "X%d", i);
            xoc_api_acl_object(acl, id, "VM", "", NULL);
        }
        s_flush(acl, &seen);
        assert_non_null(strstr(seen.exit, "X1"));
        assert_null(strstr(seen.exit, "X0 "));
        assert_false(xoc_api_acl_user_sees(acl, u, "X1"));
    }
    xoc_api_acl_user_release(acl, &u);
    xoc_api_acl_destroy(&acl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roles_and_ids),
        cmocka_unit_test(test_super_admin),
        cmocka_unit_test(test_vm_viewer),
        cmocka_unit_test(test_pool_operator),
        cmocka_unit_test(test_host_admin_and_usb_group),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_literal_and_permissions),
        cmocka_unit_test(test_follow_diffs),
        cmocka_unit_test(test_recycled_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
