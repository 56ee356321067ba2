/*  xoc_api_acl — object-level permissions (xo-api.md §8.3, §8.4). See xoc_api_acl.h.

    The object graph: one node per object id (and per id an object links to before that
    object is known: a placeholder), with its inheritance rule (§8.4 table: `self`, the
    ids whose permission flows to it, for a VDI the VMs of its VBDs) and the reverse
    edges (kids: the nodes whose evaluation reads it). Each node has a slot: a followed
    user's effective permissions are one byte per slot, so a check is an array access.

    Evaluation of a node for a user: (self ? the user's direct bits : 0) | the bits of
    each parent (AND of them for USB_group), recursive, memoised per round (a round =
    one user in one flush), depth-bounded (a cycle in bad data ends as "no permission").
    The direct bits come from the acls whose subject is the user or one of his groups
    (user.groups or group.users: membership is stored on both sides).                    */
#include <sodium.h>
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"

#define S_VIEW XOC_API_ACL_BIT(XOC_API_ACL_VIEW)
#define S_ALL_BITS 0x7u
#define S_DEPTH_MAX 24
#define S_SELF 1u
#define S_AND 2u

typedef struct s_node s_node_t;
struct s_node {
    char *id;
    uint32_t slot;
    bool present;
    uint8_t flags;          /* S_SELF, S_AND */
    uint16_t n_eval, n_via; /* deps: n_eval parents, then n_via VBDs (their vm is read) */
    s_node_t **deps;
    s_node_t *vm;    /* a VBD's VM (read by its VDI's evaluation) */
    s_node_t **kids; /* nodes that read this one */
    uint32_t n_kids, cap_kids;
    uint64_t dirty_gen;   /* == gen: re-evaluate in this flush */
    uint64_t changed_gen; /* == gen: its content changed (or it exited) since the last flush */
    uint64_t memo_round;
    uint8_t memo;
    bool gone; /* queued for freeing */
};

typedef struct {
    void **items;
    size_t n, cap;
} s_vec_t;

struct _xoc_api_acl_user_t {
    char *id;
    size_t refs;
    bool admin;
    bool valid;       /* eff holds the effective bits of every slot */
    uint64_t cfg_gen; /* config generation of direct/admin */
    zhashx_t *direct; /* object id -> bits (as a pointer) */
    uint8_t *eff;
    size_t cap;
};

struct _xoc_api_acl_t {
    zhashx_t *nodes; /* id -> s_node_t (the key is the node's id) */
    s_node_t **slots;
    uint32_t nslots, cap;
    uint32_t *free_slots;
    uint32_t nfree;
    json_t *db[3];
    uint64_t cfg_gen;
    zhashx_t *users; /* user id -> xoc_api_acl_user_t */
    uint64_t gen, round;
    s_vec_t linked, changed, gone; /* since the last flush */
};

/* ---- small things ------------------------------------------------------------------------ */

const char *xoc_api_acl_perm_name(xoc_api_acl_perm_t perm)
{
    switch (perm) {
    case XOC_API_ACL_VIEW:
        return "view";
    case XOC_API_ACL_OPERATE:
        return "operate";
    case XOC_API_ACL_ADMINISTRATE:
        return "administrate";
    }
    return "?";
}

bool xoc_api_acl_is_admin(const json_t *user)
{
    const char *perm = json_string_value(json_object_get(user, "permission"));
    return perm && strcmp(perm, "admin") == 0;
}

unsigned xoc_api_acl_role_bits(const char *action)
{
    if (!action)
        return 0;
    if (!strcmp(action, "viewer") || !strcmp(action, "view"))
        return S_VIEW;
    if (!strcmp(action, "operator"))
        return S_VIEW | XOC_API_ACL_BIT(XOC_API_ACL_OPERATE);
    if (!strcmp(action, "admin"))
        return S_ALL_BITS;
    if (!strcmp(action, "operate"))
        return XOC_API_ACL_BIT(XOC_API_ACL_OPERATE);
    if (!strcmp(action, "administrate"))
        return XOC_API_ACL_BIT(XOC_API_ACL_ADMINISTRATE);
    return 0;
}

void xoc_api_acl_id(const char *subject, const char *object, const char *action, bool wide,
                    char *id, size_t size)
{
    crypto_generichash_state st;
    unsigned char h[crypto_generichash_BYTES_MIN];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)subject, strlen(subject) + 1);
    crypto_generichash_update(&st, (const unsigned char *)object, strlen(object) + 1);
    crypto_generichash_update(&st, (const unsigned char *)action, strlen(action));
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2base64(id, size, h, wide ? 8 : 4, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static int s_push(s_vec_t *v, void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        void **items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return XOC_ENOMEM;
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
    return 0;
}

/* ---- nodes ------------------------------------------------------------------------------- */

static s_node_t *s_node(xoc_api_acl_t *self, const char *id, bool create)
{
    s_node_t *n = zhashx_lookup(self->nodes, id);
    if (n || !create)
        return n;
    uint32_t slot;
    if (self->nfree)
        slot = self->free_slots[--self->nfree];
    else {
        if (self->nslots == self->cap) {
            uint32_t cap = self->cap ? self->cap * 2 : 1024;
            s_node_t **slots = realloc(self->slots, cap * sizeof *slots);
            uint32_t *fs = realloc(self->free_slots, cap * sizeof *fs);
            if (slots)
                self->slots = slots;
            if (fs)
                self->free_slots = fs;
            if (!slots || !fs)
                return NULL;
            self->cap = cap;
        }
        slot = self->nslots++;
    }
    n = calloc(1, sizeof *n);
    if (n && !(n->id = strdup(id))) {
        free(n);
        n = NULL;
    }
    if (!n) {
        self->free_slots[self->nfree++] = slot;
        return NULL;
    }
    n->slot = slot;
    self->slots[slot] = n;
    zhashx_insert(self->nodes, n->id, n);
    return n;
}

static void s_kid_add(s_node_t *parent, s_node_t *kid)
{
    if (parent->n_kids == parent->cap_kids) {
        uint32_t cap = parent->cap_kids ? parent->cap_kids * 2 : 4;
        s_node_t **k = realloc(parent->kids, cap * sizeof *k);
        if (!k)
            return; /* only costs a missed re-evaluation of kid when parent moves */
        parent->kids = k;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = kid;
}

static void s_maybe_gone(xoc_api_acl_t *self, s_node_t *n)
{
    if (!n->present && n->n_kids == 0 && !n->gone && s_push(&self->gone, n) == 0)
        n->gone = true;
}

static void s_kid_remove(xoc_api_acl_t *self, s_node_t *parent, s_node_t *kid)
{
    for (uint32_t i = 0; i < parent->n_kids; i++)
        if (parent->kids[i] == kid) {
            parent->kids[i] = parent->kids[--parent->n_kids];
            break;
        }
    s_maybe_gone(self, parent);
}

/* unlinks n from what it depended on */
static void s_unlink(xoc_api_acl_t *self, s_node_t *n)
{
    for (uint32_t i = 0; i < (uint32_t)n->n_eval + n->n_via; i++)
        s_kid_remove(self, n->deps[i], n);
    if (n->vm)
        s_kid_remove(self, n->vm, n);
    free(n->deps);
    n->deps = NULL;
    n->vm = NULL;
    n->n_eval = n->n_via = 0;
}

static void s_node_free(xoc_api_acl_t *self, s_node_t *n)
{
    zhashx_delete(self->nodes, n->id);
    self->slots[n->slot] = NULL;
    self->free_slots[self->nfree++] = n->slot;
    for (xoc_api_acl_user_t *u = zhashx_first(self->users); u; u = zhashx_next(self->users))
        if (n->slot < u->cap)
            u->eff[n->slot] = 0;
    free(n->kids);
    free(n->deps);
    free(n->id);
    free(n);
}

/* ---- reading an object's links ------------------------------------------------------------ */

typedef struct {
    const char *type;
    uint8_t flags;
    const char *deps[2]; /* fields: an id or an array of ids */
    const char *via;     /* VDI: its VBDs */
    const char *vm;      /* VBD: its VM */
} s_rule_t;

/* xo-api.md §8.4; any other type: self */
static const s_rule_t s_rules[] = {
    {"VM", S_SELF, {"$container", NULL}, NULL, NULL},
    {"VM-controller", 0, {"$container", NULL}, NULL, NULL},
    {"VM-snapshot", S_SELF, {"$snapshot_of", NULL}, NULL, NULL},
    {"VM-template", S_SELF, {"$pool", NULL}, NULL, NULL},
    {"host", S_SELF, {"$pool", NULL}, NULL, NULL},
    {"network", S_SELF, {"$pool", NULL}, NULL, NULL},
    {"SR", S_SELF, {"$container", NULL}, NULL, NULL},
    {"VDI", 0, {"$SR", NULL}, "$VBDs", NULL},
    {"VDI-snapshot", 0, {"$snapshot_of", NULL}, NULL, NULL},
    {"VBD", 0, {"VDI", NULL}, NULL, "VM"},
    {"VIF", 0, {"$network", "$VM"}, NULL, NULL},
    {"PIF", 0, {"$host", NULL}, NULL, NULL},
    {"PCI", 0, {"$host", NULL}, NULL, NULL},
    {"task", 0, {"$host", NULL}, NULL, NULL},
    {"PBD", 0, {"host", "SR"}, NULL, NULL},
    {"message", 0, {"$object", NULL}, NULL, NULL},
    {"PUSB", 0, {"host", NULL}, NULL, NULL},
    {"VUSB", 0, {"vm", NULL}, NULL, NULL},
    {"USB_group", S_AND, {"PUSBs", NULL}, NULL, NULL},
};

static const s_rule_t *s_rule(const char *type)
{
    for (size_t i = 0; i < sizeof s_rules / sizeof s_rules[0]; i++)
        if (strcmp(s_rules[i].type, type) == 0)
            return &s_rules[i];
    return NULL;
}

static const msgpack_object *s_field(const msgpack_object *map, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; map && map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, name, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* appends the node of each id of v (a string or an array of strings) */
static void s_collect(xoc_api_acl_t *self, const msgpack_object *v, s_vec_t *out)
{
    uint32_t n = v && v->type == MSGPACK_OBJECT_ARRAY ? v->via.array.size : v ? 1 : 0;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *s = v->type == MSGPACK_OBJECT_ARRAY ? &v->via.array.ptr[i] : v;
        char id[256];
        if (s->type != MSGPACK_OBJECT_STR || s->via.str.size == 0 || s->via.str.size >= sizeof id)
            continue;
        memcpy(id, s->via.str.ptr, s->via.str.size);
        id[s->via.str.size] = '\0';
        s_node_t *d = s_node(self, id, true);
        if (d)
            s_push(out, d);
    }
}

/* the pool id of objects without $pool in their map */
static const msgpack_object *s_pool_field(const msgpack_object *map, const char *name,
                                          msgpack_object *fallback, const char *pool)
{
    const msgpack_object *v = s_field(map, name);
    if (!v && strcmp(name, "$pool") == 0 && pool && pool[0]) {
        fallback->type = MSGPACK_OBJECT_STR;
        fallback->via.str.ptr = pool;
        fallback->via.str.size = (uint32_t)strlen(pool);
        v = fallback;
    }
    return v;
}

static bool s_same_links(const s_node_t *n, uint8_t flags, const s_vec_t *deps, size_t n_eval,
                         const s_node_t *vm)
{
    if (!n->present || n->flags != flags || n->n_eval != n_eval ||
        (size_t)n->n_eval + n->n_via != deps->n || n->vm != vm)
        return false;
    return deps->n == 0 || memcmp(n->deps, deps->items, deps->n * sizeof(void *)) == 0;
}

void xoc_api_acl_object(xoc_api_acl_t *self, const char *id, const char *type, const char *pool,
                        const msgpack_object *map)
{
    s_node_t *n = s_node(self, id, map != NULL);
    if (!n)
        return;
    bool was_changed = n->changed_gen == self->gen;
    n->changed_gen = self->gen;
    if (!was_changed)
        s_push(&self->changed, n);
    if (!map) {
        if (n->present) {
            s_unlink(self, n);
            n->present = false;
            s_push(&self->linked, n);
        }
        s_maybe_gone(self, n);
        return;
    }
    const s_rule_t *r = s_rule(type);
    uint8_t flags = r ? r->flags : S_SELF;
    s_vec_t deps = {0};
    s_node_t *vm = NULL;
    size_t n_eval = 0;
    if (r) {
        msgpack_object fb;
        for (int i = 0; i < 2 && r->deps[i]; i++)
            s_collect(self, s_pool_field(map, r->deps[i], &fb, pool), &deps);
        n_eval = deps.n;
        if (r->via)
            s_collect(self, s_field(map, r->via), &deps);
        if (r->vm) {
            s_vec_t v = {0};
            s_collect(self, s_field(map, r->vm), &v);
            vm = v.n ? v.items[0] : NULL;
            free(v.items);
        }
    }
    if (s_same_links(n, flags, &deps, n_eval, vm)) {
        free(deps.items);
        return;
    }
    if (n->present)
        s_unlink(self, n);
    n->present = true;
    n->flags = flags;
    n->n_eval = (uint16_t)n_eval;
    n->n_via = (uint16_t)(deps.n - n_eval);
    n->deps = (s_node_t **)deps.items; /* owned now (NULL when none) */
    n->vm = vm;
    for (size_t i = 0; i < deps.n; i++)
        s_kid_add(n->deps[i], n);
    if (vm)
        s_kid_add(vm, n);
    s_push(&self->linked, n);
}

/* ---- config dbs and direct permissions ----------------------------------------------------- */

/* what the resolution needs of a record: users keep {id, permission, groups} only (no
   password hash or preferences in this copy) */
static json_t *s_keep(xoc_api_acl_db_t db, const json_t *record)
{
    if (db != XOC_API_ACL_DB_USERS)
        return json_deep_copy(record);
    json_t *u = json_object();
    const char *keys[] = {"id", "permission", "groups"};
    for (size_t i = 0; u && i < 3; i++) {
        json_t *v = json_object_get(record, keys[i]);
        if (v)
            json_object_set_new(u, keys[i], json_deep_copy(v));
    }
    return u;
}

void xoc_api_acl_db_replace(xoc_api_acl_t *self, xoc_api_acl_db_t db, const json_t *items)
{
    json_t *copy = json_object();
    const char *key;
    json_t *rec;
    json_object_foreach((json_t *)items, key, rec) if (json_is_object(rec))
        json_object_set_new(copy, key, s_keep(db, rec));
    if (!copy)
        return;
    json_decref(self->db[db]);
    self->db[db] = copy;
    self->cfg_gen++;
}

void xoc_api_acl_db_set(xoc_api_acl_t *self, xoc_api_acl_db_t db, const char *key,
                        const json_t *record)
{
    if (record)
        json_object_set_new(self->db[db], key, s_keep(db, record));
    else
        json_object_del(self->db[db], key);
    self->cfg_gen++;
}

const json_t *xoc_api_acl_db(const xoc_api_acl_t *self, xoc_api_acl_db_t db)
{
    return self->db[db];
}

static bool s_array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(a, i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v), s)) return true;
    return false;
}

/* the subjects of a user: his id and his groups (either side of the membership) */
static json_t *s_subjects(const xoc_api_acl_t *self, const char *uid, const json_t *fallback)
{
    json_t *set = json_object();
    json_object_set_new(set, uid, json_true());
    const json_t *rec = json_object_get(self->db[XOC_API_ACL_DB_USERS], uid);
    json_t *groups = json_object_get(rec ? rec : fallback, "groups");
    const char *gid;
    json_t *g;
    json_object_foreach(self->db[XOC_API_ACL_DB_GROUPS], gid, g)
    {
        if (s_array_has(groups, gid) || s_array_has(json_object_get(g, "users"), uid))
            json_object_set_new(set, gid, json_true());
    }
    return set;
}

static const char *s_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* object id -> bits of the user's ACLs */
static zhashx_t *s_direct_new(const xoc_api_acl_t *self, const char *uid, const json_t *fallback)
{
    zhashx_t *d = zhashx_new();
    json_t *subjects = s_subjects(self, uid, fallback);
    if (!d || !subjects) {
        zhashx_destroy(&d);
        json_decref(subjects);
        return NULL;
    }
    const char *key;
    json_t *acl;
    json_object_foreach(self->db[XOC_API_ACL_DB_ACLS], key, acl)
    {
        const char *subject = s_str(acl, "subject"), *object = s_str(acl, "object");
        unsigned bits = xoc_api_acl_role_bits(s_str(acl, "action"));
        if (!subject || !object || !bits || !json_object_get(subjects, subject))
            continue;
        uintptr_t old = (uintptr_t)zhashx_lookup(d, object);
        zhashx_update(d, object, (void *)(old | bits));
    }
    json_decref(subjects);
    return d;
}

static bool s_direct_equal(zhashx_t *a, zhashx_t *b)
{
    if (!a || !b || zhashx_size(a) != zhashx_size(b))
        return false;
    for (void *v = zhashx_first(a); v; v = zhashx_next(a))
        if (zhashx_lookup(b, zhashx_cursor(a)) != v)
            return false;
    return true;
}

json_t *xoc_api_acl_permissions(const xoc_api_acl_t *self, const json_t *user)
{
    json_t *out = json_object();
    const char *uid = s_str(user, "id");
    json_t *subjects = uid ? s_subjects(self, uid, user) : NULL;
    const char *key;
    json_t *acl;
    json_object_foreach(self->db[XOC_API_ACL_DB_ACLS], key, acl)
    {
        const char *subject = s_str(acl, "subject"), *object = s_str(acl, "object");
        const char *action = s_str(acl, "action");
        if (!subjects || !subject || !object || !action || !json_object_get(subjects, subject))
            continue;
        json_t *perms = json_object_get(out, object);
        if (!perms)
            json_object_set_new(out, object, perms = json_object());
        unsigned bits = xoc_api_acl_role_bits(action);
        for (int p = XOC_API_ACL_VIEW; p <= XOC_API_ACL_ADMINISTRATE; p++)
            if (bits & XOC_API_ACL_BIT(p))
                json_object_set_new(perms, xoc_api_acl_perm_name(p), json_integer(1));
        if (!bits)
            json_object_set_new(perms, action, json_integer(1)); /* a literal permission */
    }
    json_decref(subjects);
    return out;
}

/* ---- evaluation ---------------------------------------------------------------------------- */

typedef struct {
    xoc_api_acl_t *acl;
    const xoc_api_acl_user_t *user; /* NULL: evaluate everything (no stored bits) */
    zhashx_t *direct;
    bool full; /* every node is re-evaluated (else: the dirty ones) */
} s_ctx_t;

static unsigned s_eval(s_ctx_t *c, s_node_t *n, int depth)
{
    if (!c->full && n->dirty_gen != c->acl->gen)
        return c->user && n->slot < c->user->cap ? c->user->eff[n->slot] : 0;
    if (n->memo_round == c->acl->round)
        return n->memo;
    if (depth > S_DEPTH_MAX)
        return 0; /* a cycle (bad data): no permission through it */
    unsigned bits = 0;
    if (n->present) {
        if (n->flags & S_SELF)
            bits = (unsigned)(uintptr_t)zhashx_lookup(c->direct, n->id);
        unsigned and = S_ALL_BITS;
        for (uint16_t i = 0; i < n->n_eval; i++) {
            unsigned b = s_eval(c, n->deps[i], depth + 1);
            bits |= (n->flags & S_AND) ? 0 : b;
            and &= b;
        }
        if ((n->flags & S_AND) && n->n_eval)
            bits |= and;
        for (uint16_t i = 0; i < n->n_via; i++) {
            s_node_t *vbd = n->deps[n->n_eval + i];
            if (vbd->present && vbd->vm)
                bits |= s_eval(c, vbd->vm, depth + 1);
        }
    }
    n->memo_round = c->acl->round;
    n->memo = (uint8_t)bits;
    return bits;
}

bool xoc_api_acl_may(xoc_api_acl_t *self, const json_t *user, const char *object_id,
                     xoc_api_acl_perm_t perm)
{
    if (xoc_api_acl_is_admin(user))
        return true;
    const char *uid = s_str(user, "id");
    s_node_t *n = object_id ? s_node(self, object_id, false) : NULL;
    if (!uid || !n || !n->present)
        return false;
    const xoc_api_acl_user_t *u = zhashx_lookup(self->users, uid);
    if (u && u->valid && !u->admin && u->cfg_gen == self->cfg_gen && n->slot < u->cap)
        return u->eff[n->slot] & XOC_API_ACL_BIT(perm);
    s_ctx_t c = {.acl = self, .direct = s_direct_new(self, uid, user), .full = true};
    if (!c.direct)
        return false;
    self->round++;
    unsigned bits = s_eval(&c, n, 0);
    zhashx_destroy(&c.direct);
    return bits & XOC_API_ACL_BIT(perm);
}

/* ---- users ---------------------------------------------------------------------------------- */

static bool s_grow(xoc_api_acl_t *self, xoc_api_acl_user_t *u)
{
    if (u->cap >= self->cap)
        return true;
    uint8_t *eff = realloc(u->eff, self->cap);
    if (!eff)
        return false;
    memset(eff + u->cap, 0, self->cap - u->cap);
    u->eff = eff;
    u->cap = self->cap;
    return true;
}

/* recomputes direct and admin; true if the direct permissions changed */
static bool s_user_config(xoc_api_acl_t *self, xoc_api_acl_user_t *u)
{
    const json_t *rec = json_object_get(self->db[XOC_API_ACL_DB_USERS], u->id);
    zhashx_t *d = s_direct_new(self, u->id, NULL);
    u->admin = xoc_api_acl_is_admin(rec);
    u->cfg_gen = self->cfg_gen;
    if (!d)
        return false;
    bool changed = !s_direct_equal(d, u->direct);
    zhashx_destroy(&u->direct);
    u->direct = d;
    return changed;
}

typedef struct {
    s_vec_t enter, exit;
} s_diff_t;

/* re-evaluates every node (or the dirty ones) for u; records the differences */
static void s_user_eval(xoc_api_acl_t *self, xoc_api_acl_user_t *u, bool full, s_vec_t *dirty,
                        s_diff_t *diff)
{
    if (!s_grow(self, u) || !u->direct) {
        u->valid = false;
        return;
    }
    s_ctx_t c = {.acl = self, .user = u, .direct = u->direct, .full = full};
    self->round++;
    size_t n = full ? self->nslots : dirty->n;
    for (size_t i = 0; i < n; i++) {
        s_node_t *node = full ? self->slots[i] : dirty->items[i];
        if (!node)
            continue;
        unsigned bits = s_eval(&c, node, 0);
        unsigned old = u->eff[node->slot];
        u->eff[node->slot] = (uint8_t)bits;
        if (!diff)
            continue;
        if ((bits & S_VIEW) && node->present && (!(old & S_VIEW) || node->changed_gen == self->gen))
            s_push(&diff->enter, node->id);
        else if ((old & S_VIEW) && !(bits & S_VIEW))
            s_push(&diff->exit, node->id);
    }
    u->valid = true;
}

xoc_api_acl_user_t *xoc_api_acl_user_acquire(xoc_api_acl_t *self, const char *user_id)
{
    xoc_api_acl_user_t *u = zhashx_lookup(self->users, user_id);
    if (u) {
        u->refs++;
        return u;
    }
    u = calloc(1, sizeof *u);
    if (!u || !(u->id = strdup(user_id))) {
        free(u);
        return NULL;
    }
    u->refs = 1;
    s_user_config(self, u);
    if (!u->admin)
        s_user_eval(self, u, true, NULL, NULL);
    zhashx_insert(self->users, u->id, u);
    return u;
}

static void s_user_free(void **item)
{
    xoc_api_acl_user_t *u = *item;
    if (!u)
        return;
    zhashx_destroy(&u->direct);
    free(u->eff);
    free(u->id);
    free(u);
    *item = NULL;
}

void xoc_api_acl_user_release(xoc_api_acl_t *self, xoc_api_acl_user_t **user_p)
{
    xoc_api_acl_user_t *u = user_p ? *user_p : NULL;
    if (!u)
        return;
    *user_p = NULL;
    if (--u->refs == 0)
        zhashx_delete(self->users, u->id);
}

bool xoc_api_acl_user_admin(const xoc_api_acl_user_t *user)
{
    return user && user->admin;
}

const char *xoc_api_acl_user_id(const xoc_api_acl_user_t *user)
{
    return user->id;
}

bool xoc_api_acl_user_sees(const xoc_api_acl_t *self, const xoc_api_acl_user_t *user,
                           const char *object_id)
{
    s_node_t *n = zhashx_lookup(self->nodes, object_id);
    if (!n || !n->present || !user)
        return false;
    if (user->admin)
        return true;
    return user->valid && n->slot < user->cap && (user->eff[n->slot] & S_VIEW);
}

/* ---- flush ------------------------------------------------------------------------------------
 */

/* marks the dirty closure: what moved and everything that reads it, transitively */
static void s_closure(xoc_api_acl_t *self, s_vec_t *dirty)
{
    for (size_t i = 0; i < self->linked.n; i++) {
        s_node_t *n = self->linked.items[i];
        if (n->dirty_gen != self->gen && s_push(dirty, n) == 0)
            n->dirty_gen = self->gen;
    }
    for (size_t i = 0; i < dirty->n; i++) {
        s_node_t *n = dirty->items[i];
        for (uint32_t k = 0; k < n->n_kids; k++)
            if (n->kids[k]->dirty_gen != self->gen && s_push(dirty, n->kids[k]) == 0)
                n->kids[k]->dirty_gen = self->gen;
    }
}

/* a user's view after config and object changes */
static void s_user_flush(xoc_api_acl_t *self, xoc_api_acl_user_t *u, s_vec_t *dirty, s_diff_t *diff)
{
    bool was_admin = u->admin, was_valid = u->valid;
    bool direct_changed = u->cfg_gen != self->cfg_gen && s_user_config(self, u);
    if (u->admin) {
        /* now everything: what he did not see enters */
        for (uint32_t i = 0; !was_admin && i < self->nslots; i++) {
            s_node_t *n = self->slots[i];
            if (n && n->present && !(was_valid && n->slot < u->cap && (u->eff[n->slot] & S_VIEW)))
                s_push(&diff->enter, n->id);
        }
        u->valid = false;
        return;
    }
    if (was_admin) {
        s_user_eval(self, u, true, NULL, NULL);
        for (uint32_t i = 0; i < self->nslots; i++) {
            s_node_t *n = self->slots[i];
            if (n && n->present && !(u->eff[n->slot] & S_VIEW))
                s_push(&diff->exit, n->id);
        }
        return;
    }
    if (!was_valid || direct_changed) {
        s_user_eval(self, u, true, NULL, was_valid ? diff : NULL);
        return;
    }
    s_user_eval(self, u, false, dirty, diff);
    /* changed in content only: still visible -> enter again */
    for (size_t i = 0; i < self->changed.n; i++) {
        s_node_t *n = self->changed.items[i];
        if (n->dirty_gen != self->gen && n->present && n->slot < u->cap &&
            (u->eff[n->slot] & S_VIEW))
            s_push(&diff->enter, n->id);
    }
}

void xoc_api_acl_flush(xoc_api_acl_t *self, xoc_api_acl_diff_fn *fn, void *arg)
{
    s_vec_t dirty = {0};
    bool incremental = false; /* someone's view is maintained object by object */
    for (xoc_api_acl_user_t *u = zhashx_first(self->users); u; u = zhashx_next(self->users))
        incremental |= u->valid && !u->admin;
    if (incremental)
        s_closure(self, &dirty);
    s_diff_t diff = {0};
    for (xoc_api_acl_user_t *u = zhashx_first(self->users); u; u = zhashx_next(self->users)) {
        diff.enter.n = diff.exit.n = 0;
        s_user_flush(self, u, &dirty, &diff);
        if (fn && (diff.enter.n || diff.exit.n))
            fn(u, (const char *const *)diff.enter.items, diff.enter.n,
               (const char *const *)diff.exit.items, diff.exit.n, arg);
    }
    free(diff.enter.items);
    free(diff.exit.items);
    free(dirty.items);
    self->gen++;
    self->linked.n = self->changed.n = 0;
    for (size_t i = 0; i < self->gone.n; i++) {
        s_node_t *n = self->gone.items[i];
        n->gone = false;
        if (!n->present && n->n_kids == 0)
            s_node_free(self, n);
    }
    self->gone.n = 0;
}

/* ---- life -------------------------------------------------------------------------------------
 */

xoc_api_acl_t *xoc_api_acl_new(void)
{
    xoc_api_acl_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->nodes = zhashx_new();
    self->users = zhashx_new();
    for (int i = 0; i < 3; i++)
        self->db[i] = json_object();
    if (!self->nodes || !self->users || !self->db[0] || !self->db[1] || !self->db[2]) {
        xoc_api_acl_destroy(&self);
        return NULL;
    }
    zhashx_set_key_duplicator(self->nodes, NULL); /* the key is the node's own id */
    zhashx_set_key_destructor(self->nodes, NULL);
    zhashx_set_key_duplicator(self->users, NULL);
    zhashx_set_key_destructor(self->users, NULL);
    zhashx_set_destructor(self->users, s_user_free);
    self->gen = 1;
    return self;
}

void xoc_api_acl_destroy(xoc_api_acl_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_api_acl_t *self = *self_p;
    zhashx_destroy(&self->users);
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->slots[i]) {
            free(self->slots[i]->kids);
            free(self->slots[i]->deps);
            free(self->slots[i]->id);
            free(self->slots[i]);
        }
    zhashx_destroy(&self->nodes);
    free(self->slots);
    free(self->free_slots);
    for (int i = 0; i < 3; i++)
        json_decref(self->db[i]);
    free(self->linked.items);
    free(self->changed.items);
    free(self->gone.items);
    free(self);
    *self_p = NULL;
}

/* ---- the server's checks -----------------------------------------------------------------------
 */

bool xoc_api_acl_allows(xoc_api_server_t *srv, const json_t *user, const char *object_id,
                        xoc_api_acl_perm_t perm)
{
    if (xoc_api_acl_is_admin(user))
        return true;
    return srv->acl && xoc_api_acl_may(srv->acl, user, object_id, perm);
}

int xoc_api_acl_check(xoc_api_call_t *call, const char *object_id, xoc_api_acl_perm_t perm)
{
    if (xoc_api_acl_allows(call->srv, call->user, object_id, perm))
        return 0;
    json_t *obj = xoc_api_object(call->srv, object_id); /* §2: object {id, type} */
    json_t *data = json_pack("{s:s,s:{s:s}}", "permission", xoc_api_acl_perm_name(perm),
                             "object", "id", object_id ? object_id : "");
    if (json_is_string(json_object_get(obj, "type")))
        json_object_set(json_object_get(data, "object"), "type", json_object_get(obj, "type"));
    json_decref(obj);
    xoc_api_call_fail(call, XOC_EPERM, NULL, data);
    return XOC_EPERM;
}
