/*  xoc_xform — the record store, the dependency graph and the flush.

    Every record is a node (xf_rec_t) indexed by ref, holding the record's msgpack bytes. A
    transform reads other records through xf_link() (it needs their id: an "id" edge) or
    xf_fetch() (it reads their fields: a "content" edge); those edges are kept per node in both
    directions. put() marks dirty the record, its content dependents, and its id dependents when
    its id changed (or it appeared); del() likewise. flush() regenerates the dirty records only.
    A link to an unknown ref creates a placeholder node (no bytes) that carries the edges until
    the record arrives; placeholders without dependents are freed.                            */
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_xform_int.h"

#define F_DIRTY  0x01u /* in the dirty list */
#define F_DEFTPL 0x02u /* VM record that is a default template */
#define F_PUT    0x04u /* put since the last flush (log malformed fields once) */
#define F_SEEN   0x08u /* emitted by the flush of emit_all */
#define CLS_NONE 0xffu /* placeholder: class not known yet */

struct xf_rec {
    char *ref;
    uint8_t *mp;           /* the record (NULL for a placeholder or a deleted record) */
    uint32_t mp_len;
    uint8_t cls;
    uint8_t flags;
    char *id;              /* id of the record as it is now (NULL without a record) */
    char *out_id;          /* id under which the object was last emitted (NULL: none) */
    const char *out_type;
    uint64_t out_hash;
    uintptr_t *fwd;        /* what this object's transform read (tagged, sorted) */
    uint32_t nfwd;
    uint32_t nrev, caprev;
    uintptr_t *rev;        /* who read this record (tagged: bit 0 = content) */
};

struct _xoc_xform_t {
    zhashx_t *recs;        /* ref -> xf_rec_t (key owned by the node) */
    zhashx_t *vdis;        /* VDI uuid -> xf_rec_t (for VHD chains: vhd-parent is a uuid) */
    xf_rec_t **dirty;
    size_t ndirty, capdirty;
    char *pool_id;
    size_t count;
    bool full;             /* in emit_all: mark what the flush emits */
    bool keep_all;         /* store whole records (tests) */
    msgpack_sbuffer keep;  /* scratch of the field filter */
    xf_ctx_t ctx;
    msgpack_sbuffer out;
};

const xf_class_t xf_classes[XF_NCLASSES] = {
    [XF_POOL] = {"pool", XF_OBJECT, xf_pool},
    [XF_HOST] = {"host", XF_OBJECT, xf_host},
    [XF_HOST_METRICS] = {"host_metrics", XF_JOIN, NULL},
    [XF_VM] = {"VM", XF_OBJECT, xf_vm},
    [XF_VM_METRICS] = {"VM_metrics", XF_JOIN, NULL},
    [XF_VM_GUEST_METRICS] = {"VM_guest_metrics", XF_JOIN, NULL},
    [XF_SR] = {"SR", XF_OBJECT, xf_sr},
    [XF_SM] = {"SM", XF_OBJECT, xf_sm},
    [XF_PBD] = {"PBD", XF_OBJECT, xf_pbd},
    [XF_PIF] = {"PIF", XF_OBJECT, xf_pif},
    [XF_PIF_METRICS] = {"PIF_metrics", XF_JOIN, NULL},
    [XF_VDI] = {"VDI", XF_OBJECT, xf_vdi},
    [XF_VBD] = {"VBD", XF_OBJECT, xf_vbd},
    [XF_VIF] = {"VIF", XF_OBJECT, xf_vif},
    [XF_NETWORK] = {"network", XF_OBJECT, xf_network},
    [XF_MESSAGE] = {"message", XF_OBJECT, xf_message},
    [XF_TASK] = {"task", XF_OBJECT, xf_task},
    [XF_HOST_PATCH] = {"host_patch", XF_OBJECT, xf_host_patch},
    [XF_POOL_PATCH] = {"pool_patch", XF_OBJECT, xf_pool_patch},
    [XF_PCI] = {"PCI", XF_OBJECT, xf_pci},
    [XF_PGPU] = {"PGPU", XF_OBJECT, xf_pgpu},
    [XF_VGPU] = {"VGPU", XF_OBJECT, xf_vgpu},
    [XF_GPU_GROUP] = {"GPU_group", XF_OBJECT, xf_gpu_group},
    [XF_VGPU_TYPE] = {"VGPU_type", XF_OBJECT, xf_vgpu_type},
    [XF_VTPM] = {"VTPM", XF_OBJECT, xf_vtpm},
    [XF_PUSB] = {"PUSB", XF_OBJECT, xf_pusb},
    [XF_VUSB] = {"VUSB", XF_OBJECT, xf_vusb},
    [XF_USB_GROUP] = {"USB_group", XF_OBJECT, xf_usb_group},
    [XF_BOND] = {"Bond", XF_OBJECT, xf_bond},
    [XF_CERTIFICATE] = {"Certificate", XF_JOIN, NULL},
    [XF_POOL_UPDATE] = {"pool_update", XF_JOIN, NULL},
};

static int s_class(const char *name)
{
    for (int i = 0; i < XF_NCLASSES; i++)
        if (strcasecmp(name, xf_classes[i].name) == 0)
            return i;
    return -1;
}

/*  ---- nodes ---------------------------------------------------------------------------- */

static xf_rec_t *s_rec_new(xoc_xform_t *self, const char *ref)
{
    xf_rec_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->ref = strdup(ref);
    r->cls = CLS_NONE;
    if (!r->ref || zhashx_insert(self->recs, r->ref, r) != 0) {
        free(r->ref);
        free(r);
        return NULL;
    }
    return r;
}

static void s_rec_free(xoc_xform_t *self, xf_rec_t *r)
{
    if (self)
        zhashx_delete(self->recs, r->ref);
    free(r->mp);
    free(r->id);
    free(r->out_id);
    free(r->fwd);
    free(r->rev);
    free(r->ref);
    free(r);
}

/*  Frees a node nobody needs: no record, no object, no edges, not pending.                  */
static void s_rec_gc(xoc_xform_t *self, xf_rec_t *r)
{
    if (!r->mp && !r->out_id && r->nrev == 0 && r->nfwd == 0 && !(r->flags & F_DIRTY))
        s_rec_free(self, r);
}

static int s_mark(xoc_xform_t *self, xf_rec_t *r)
{
    if (r->flags & F_DIRTY)
        return 0;
    if (self->ndirty == self->capdirty) {
        size_t cap = self->capdirty ? self->capdirty * 2 : 256;
        xf_rec_t **d = realloc(self->dirty, cap * sizeof(*d));
        if (!d)
            return XOC_ENOMEM;
        self->dirty = d;
        self->capdirty = cap;
    }
    self->dirty[self->ndirty++] = r;
    r->flags |= F_DIRTY;
    return 0;
}

/*  Marks r and what depends on it: content dependents always, id dependents if id_changed. */
static int s_mark_deps(xoc_xform_t *self, xf_rec_t *r, bool id_changed)
{
    int rc = s_mark(self, r);
    for (uint32_t i = 0; rc == 0 && i < r->nrev; i++)
        if ((r->rev[i] & 1u) || id_changed)
            rc = s_mark(self, (xf_rec_t *)(r->rev[i] & ~(uintptr_t)1));
    return rc;
}

/*  ---- edges ---------------------------------------------------------------------------- */

static int s_cmp_uptr(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

static int s_rev_add(xf_rec_t *t, uintptr_t e)
{
    if (t->nrev == t->caprev) {
        uint32_t cap = t->caprev ? t->caprev * 2 : 4;
        uintptr_t *v = realloc(t->rev, cap * sizeof(*v));
        if (!v)
            return XOC_ENOMEM;
        t->rev = v;
        t->caprev = cap;
    }
    t->rev[t->nrev++] = e;
    return 0;
}

static void s_rev_del(xf_rec_t *t, uintptr_t e)
{
    for (uint32_t i = 0; i < t->nrev; i++)
        if (t->rev[i] == e) {
            t->rev[i] = t->rev[--t->nrev];
            return;
        }
}

/*  Sorts the new dependencies, merges the two tags of one node (content wins) and drops the
    self edge. Returns the new count.                                                         */
static size_t s_deps_normalize(xf_rec_t *r, uintptr_t *d, size_t n)
{
    if (n > 1)
        qsort(d, n, sizeof(*d), s_cmp_uptr);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uintptr_t p = d[i] & ~(uintptr_t)1;
        if (p == (uintptr_t)r)
            continue;
        if (k > 0 && (d[k - 1] & ~(uintptr_t)1) == p)
            d[k - 1] |= d[i] & 1u;
        else
            d[k++] = d[i];
    }
    return k;
}

/*  Replaces r's forward edges with the ctx's dependencies, updating the reverse lists.      */
static int s_edges_update(xoc_xform_t *self, xf_rec_t *r)
{
    xf_ctx_t *c = &self->ctx;
    size_t n = s_deps_normalize(r, c->deps, c->ndeps);
    uintptr_t *nf = NULL;
    if (n > 0 && !(nf = malloc(n * sizeof(*nf))))
        return XOC_ENOMEM;
    if (n > 0)
        memcpy(nf, c->deps, n * sizeof(*nf));
    uintptr_t *of = r->fwd;
    size_t on = r->nfwd, i = 0, j = 0;
    uintptr_t self_e = (uintptr_t)r;
    int rc = 0;
    while (i < on || j < n) {
        if (j == n || (i < on && of[i] < nf[j])) {
            xf_rec_t *t = (xf_rec_t *)(of[i] & ~(uintptr_t)1);
            s_rev_del(t, self_e | (of[i] & 1u));
            if (t != r)
                s_rec_gc(self, t);
            i++;
        } else if (i == on || nf[j] < of[i]) {
            xf_rec_t *t = (xf_rec_t *)(nf[j] & ~(uintptr_t)1);
            if (rc == 0)
                rc = s_rev_add(t, self_e | (nf[j] & 1u));
            j++;
        } else {
            i++;
            j++;
        }
    }
    free(of);
    r->fwd = nf;
    r->nfwd = (uint32_t)n;
    return rc;
}

/*  ---- ids ------------------------------------------------------------------------------ */

/*  The record's id: uuid, or its ref; pool_patch: its ref; default template: pool-uuid.    */
static char *s_compute_id(const xoc_xform_t *self, const xf_rec_t *r, const char *uuid)
{
    if (r->cls == XF_POOL_PATCH || !uuid || !*uuid)
        return strdup(r->ref);
    if (r->cls == XF_VM && (r->flags & F_DEFTPL) && self->pool_id) {
        size_t n = strlen(self->pool_id) + strlen(uuid) + 2;
        char *id = malloc(n);
        if (id)
            snprintf(id, n, "%s-%s", self->pool_id, uuid);
        return id;
    }
    return strdup(uuid);
}

/*  Sets r->id; marks r and its dependents. uuid may be NULL.                                */
static int s_set_id(xoc_xform_t *self, xf_rec_t *r, const char *uuid)
{
    char *id = s_compute_id(self, r, uuid);
    if (!id)
        return XOC_ENOMEM;
    bool changed = !r->id || strcmp(r->id, id) != 0;
    free(r->id);
    r->id = id;
    return s_mark_deps(self, r, changed);
}

static char *s_rec_uuid(const xf_rec_t *r, msgpack_zone *z)
{
    size_t off = 0;
    msgpack_object root;
    if (!r->mp || msgpack_unpack((const char *)r->mp, r->mp_len, &off, z, &root) < 0)
        return NULL;
    const msgpack_object *u = xf_get(&root, "uuid");
    return xf_is_str(u) ? strndup(u->via.str.ptr, u->via.str.size) : NULL;
}

/*  The pool uuid changed: every id of a default template changes, every object's $pool.    */
static int s_pool_changed(xoc_xform_t *self, const char *uuid)
{
    if (self->pool_id && strcmp(self->pool_id, uuid) == 0)
        return 0;
    char *dup = strdup(uuid);
    if (!dup)
        return XOC_ENOMEM;
    free(self->pool_id);
    self->pool_id = dup;
    xoc_info("xform: pool known pool=%s", uuid);
    int rc = 0;
    for (xf_rec_t *r = zhashx_first(self->recs); r && rc == 0; r = zhashx_next(self->recs)) {
        if (!r->mp)
            continue;
        if (r->cls == XF_VM && (r->flags & F_DEFTPL)) {
            msgpack_zone_clear(&self->ctx.zone);
            char *u = s_rec_uuid(r, &self->ctx.zone);
            rc = s_set_id(self, r, u);
            free(u);
        } else {
            rc = s_mark(self, r);
        }
    }
    return rc;
}

/*  ---- lifecycle ------------------------------------------------------------------------ */

xoc_xform_t *xoc_xform_new(void)
{
    xoc_xform_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->recs = zhashx_new();
    self->vdis = zhashx_new();
    if (!self->recs || !self->vdis || !msgpack_zone_init(&self->ctx.zone, 8192)) {
        zhashx_destroy(&self->recs);
        zhashx_destroy(&self->vdis);
        free(self);
        return NULL;
    }
    zhashx_set_key_duplicator(self->recs, NULL);
    zhashx_set_key_destructor(self->recs, NULL);
    msgpack_sbuffer_init(&self->ctx.body);
    msgpack_sbuffer_init(&self->out);
    msgpack_sbuffer_init(&self->keep);
    self->ctx.xf = self;
    return self;
}

void xoc_xform_destroy(xoc_xform_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_xform_t *self = *self_p;
    for (xf_rec_t *r = zhashx_first(self->recs); r; r = zhashx_next(self->recs))
        s_rec_free(NULL, r);
    zhashx_destroy(&self->recs);
    zhashx_destroy(&self->vdis);
    free(self->dirty);
    free(self->pool_id);
    free(self->ctx.deps);
    msgpack_zone_destroy(&self->ctx.zone);
    msgpack_sbuffer_destroy(&self->ctx.body);
    msgpack_sbuffer_destroy(&self->out);
    msgpack_sbuffer_destroy(&self->keep);
    free(self);
    *self_p = NULL;
}

const char *xoc_xform_pool_id(const xoc_xform_t *self)
{
    return self ? self->pool_id : NULL;
}

size_t xoc_xform_count(const xoc_xform_t *self)
{
    return self ? self->count : 0;
}

/*  ---- VDIs by uuid ---------------------------------------------------------------------- */

#define VDI_UUID_KEY "vdi-uuid:" /* pseudo ref of the node that waits for a VDI uuid */

static void s_vdi_unmap(xoc_xform_t *self, xf_rec_t *r)
{
    if (r->cls == XF_VDI && r->id && zhashx_lookup(self->vdis, r->id) == r)
        zhashx_delete(self->vdis, r->id);
}

/*  Maps a VDI's uuid and wakes up what waited for it (children in a VHD chain).            */
static int s_vdi_map(xoc_xform_t *self, xf_rec_t *r)
{
    if (r->cls != XF_VDI || !r->id)
        return 0;
    if (zhashx_lookup(self->vdis, r->id) != r && zhashx_insert(self->vdis, r->id, r) != 0)
        zhashx_update(self->vdis, r->id, r);
    char key[160];
    if (snprintf(key, sizeof(key), VDI_UUID_KEY "%s", r->id) >= (int)sizeof(key))
        return 0;
    xf_rec_t *w = zhashx_lookup(self->recs, key);
    return w ? s_mark_deps(self, w, true) : 0;
}

/*  ---- put / del ------------------------------------------------------------------------ */

/*  Checks rec: well-formed, a map. *used = the bytes of its first value.                   */
static int s_check_record(const char *cls, const char *ref, const void *rec, size_t len,
                          size_t *used)
{
    if (len > XOC_XFORM_MAX_RECORD) {
        xoc_error("xform: record too big cls=%s ref=%s bytes=%zu", cls, ref, len);
        return XOC_ETOOBIG;
    }
    int rc = xf_mp_check(rec, len, used);
    if (rc != 0) {
        xoc_error("xform: malformed record cls=%s ref=%s bytes=%zu", cls, ref, len);
        return rc;
    }
    uint8_t b = *(const uint8_t *)rec;
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)) {
        xoc_error("xform: record is not a map cls=%s ref=%s", cls, ref);
        return XOC_ETYPE;
    }
    return 0;
}

/*  The bytes to store: the fields the transforms read, or the whole record.                 */
static int s_store_bytes(xoc_xform_t *self, int ci, const msgpack_object *root, const void *rec,
                         uint8_t **mp, size_t *len)
{
    if (!self->keep_all) {
        msgpack_sbuffer *sb = &self->keep; /* scratch: stored records get exact sizes */
        msgpack_sbuffer_clear(sb);
        int rc = xf_keep_fields(ci, root, sb);
        if (rc < 0)
            return XOC_ENOMEM;
        if (rc == 0) {
            rec = sb->data;
            *len = sb->size;
        }
    }
    if (!(*mp = malloc(*len)))
        return XOC_ENOMEM;
    memcpy(*mp, rec, *len);
    return 0;
}

size_t xf_nodes(const xoc_xform_t *self)
{
    return zhashx_size(self->recs);
}

void xf_set_keep_all(xoc_xform_t *self, bool keep_all)
{
    self->keep_all = keep_all;
}

int xoc_xform_put(xoc_xform_t *self, const char *cls, const char *ref, const void *rec,
                  size_t len)
{
    if (!self || !cls || !ref || !*ref || !rec || len == 0)
        return XOC_EINVAL;
    int ci = s_class(cls);
    if (ci < 0) {
        xoc_trace("xform: class ignored cls=%s ref=%s", cls, ref);
        return 0;
    }
    size_t used = 0;
    int rc = s_check_record(cls, ref, rec, len, &used);
    if (rc != 0)
        return rc;
    msgpack_zone_clear(&self->ctx.zone);
    size_t off = 0;
    msgpack_object root;
    if (msgpack_unpack(rec, used, &off, &self->ctx.zone, &root) < 0)
        return XOC_ENOMEM; /* checked well-formed: only the zone can fail */
    uint8_t *mp = NULL;
    size_t mp_len = used;
    if ((rc = s_store_bytes(self, ci, &root, rec, &mp, &mp_len)) != 0)
        return rc;
    xf_rec_t *r = zhashx_lookup(self->recs, ref);
    if (!r && !(r = s_rec_new(self, ref))) {
        free(mp);
        return XOC_ENOMEM;
    }
    if (r->mp && r->cls != ci)
        xoc_warn("xform: ref changes class ref=%s from=%s to=%s", ref,
                 xf_classes[r->cls].name, xf_classes[ci].name);
    s_vdi_unmap(self, r);
    free(r->mp);
    r->mp = mp;
    r->mp_len = (uint32_t)mp_len;
    r->cls = (uint8_t)ci;
    r->flags |= F_PUT;
    const msgpack_object *u = xf_get(&root, "uuid");
    char *uuid = xf_is_str(u) ? strndup(u->via.str.ptr, u->via.str.size) : NULL;
    r->flags &= (uint8_t)~F_DEFTPL;
    if (ci == XF_VM && xf_vm_is_default_template(&root))
        r->flags |= F_DEFTPL;
    rc = s_set_id(self, r, uuid);
    if (rc == 0)
        rc = s_vdi_map(self, r);
    if (rc == 0 && ci == XF_POOL && uuid && *uuid)
        rc = s_pool_changed(self, uuid);
    free(uuid);
    return rc;
}

int xoc_xform_del(xoc_xform_t *self, const char *cls, const char *ref)
{
    if (!self || !ref || !*ref)
        return XOC_EINVAL;
    xf_rec_t *r = zhashx_lookup(self->recs, ref);
    if (!r || !r->mp)
        return 0;
    s_vdi_unmap(self, r);
    free(r->mp);
    r->mp = NULL;
    r->mp_len = 0;
    free(r->id);
    r->id = NULL;
    return s_mark_deps(self, r, true);
}

/*  ---- transform ------------------------------------------------------------------------ */

const char *xf_pool_id(const xf_ctx_t *c)
{
    return c->xf->pool_id;
}

const char *xf_self_ref(const xf_ctx_t *c)
{
    return c->rec->ref;
}

const char *xf_self_id(const xf_ctx_t *c)
{
    return c->rec->id;
}

static void s_dep(xf_ctx_t *c, xf_rec_t *r, bool content)
{
    if (!c->record_deps)
        return;
    if (c->ndeps == c->capdeps) {
        size_t cap = c->capdeps ? c->capdeps * 2 : 64;
        uintptr_t *d = realloc(c->deps, cap * sizeof(*d));
        if (!d) {
            c->oom = true;
            return;
        }
        c->deps = d;
        c->capdeps = cap;
    }
    c->deps[c->ndeps++] = (uintptr_t)r | (content ? 1u : 0u);
}

/*  Node of a ref value; created as a placeholder when unknown (while recording deps).      */
static xf_rec_t *s_ref_node(xf_ctx_t *c, const msgpack_object *ref)
{
    if (!xf_is_str(ref) || ref->via.str.size == 0 || xf_str_eq(ref, "OpaqueRef:NULL"))
        return NULL;
    char buf[160];
    const char *key = buf;
    if (ref->via.str.size < sizeof(buf)) {
        memcpy(buf, ref->via.str.ptr, ref->via.str.size);
        buf[ref->via.str.size] = '\0';
    } else if (!(key = xf_cstr(c, ref))) {
        return NULL;
    }
    if (strlen(key) != ref->via.str.size)
        return NULL; /* embedded NUL: not a ref */
    xf_rec_t *r = zhashx_lookup(c->xf->recs, key);
    if (!r && c->record_deps && !(r = s_rec_new(c->xf, key)))
        c->oom = true;
    return r;
}

const char *xf_link(xf_ctx_t *c, const msgpack_object *ref)
{
    xf_rec_t *r = s_ref_node(c, ref);
    if (!r)
        return NULL;
    s_dep(c, r, false);
    return r->mp ? r->id : NULL;
}

const msgpack_object *xf_fetch(xf_ctx_t *c, const msgpack_object *ref, int cls)
{
    xf_rec_t *r = s_ref_node(c, ref);
    if (!r)
        return NULL;
    s_dep(c, r, true);
    if (!r->mp || r->cls != cls)
        return NULL;
    msgpack_object *o = msgpack_zone_malloc(&c->zone, sizeof(*o));
    size_t off = 0;
    if (!o || msgpack_unpack((const char *)r->mp, r->mp_len, &off, &c->zone, o) < 0) {
        c->oom = true;
        return NULL;
    }
    return o;
}

const msgpack_object *xf_fetch_vdi_uuid(xf_ctx_t *c, const msgpack_object *uuid)
{
    char key[160];
    if (!xf_is_str(uuid) || uuid->via.str.size == 0 ||
        uuid->via.str.size >= sizeof(key) - sizeof(VDI_UUID_KEY) ||
        memchr(uuid->via.str.ptr, 0, uuid->via.str.size))
        return NULL;
    int n = snprintf(key, sizeof(key), VDI_UUID_KEY "%.*s", (int)uuid->via.str.size,
                     uuid->via.str.ptr);
    msgpack_object ref = {.type = MSGPACK_OBJECT_STR, .via.str = {(uint32_t)n, key}};
    xf_rec_t *w = s_ref_node(c, &ref); /* placeholder: woken up when the VDI comes */
    if (w)
        s_dep(c, w, true);
    xf_rec_t *r = zhashx_lookup(c->xf->vdis, key + sizeof(VDI_UUID_KEY) - 1);
    if (!r || !r->mp)
        return NULL;
    msgpack_object rref = {.type = MSGPACK_OBJECT_STR,
                           .via.str = {(uint32_t)strlen(r->ref), r->ref}};
    return xf_fetch(c, &rref, XF_VDI);
}

static void s_ctx_reset(xf_ctx_t *c, xf_rec_t *r, bool record_deps)
{
    msgpack_zone_clear(&c->zone);
    msgpack_sbuffer_clear(&c->body);
    msgpack_packer_init(&c->pk, &c->body, msgpack_sbuffer_write);
    c->rec = r;
    c->nfields = 0;
    c->record_deps = record_deps;
    c->ndeps = 0;
    c->nbad = 0;
    c->nmissing = 0;
    c->firstbad = NULL;
    c->oom = false;
}

/*  Packs the common fields and the body into self->out.                                    */
static int s_assemble(xoc_xform_t *self, xf_rec_t *r, const char *type,
                      const msgpack_object *root)
{
    xf_ctx_t *c = &self->ctx;
    const msgpack_object *u = xf_get(root, "uuid");
    bool has_uuid = r->cls == XF_POOL_PATCH || xf_is_str(u);
    uint32_t n = c->nfields + 3 + (has_uuid ? 1 : 0) + (self->pool_id ? 2 : 0);
    msgpack_packer pk;
    msgpack_sbuffer_clear(&self->out);
    msgpack_packer_init(&pk, &self->out, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, n);
    const char *keys[] = {"id", "type", "_xapiRef", "$pool", "$poolId"};
    const char *vals[] = {r->id, type, r->ref, self->pool_id, self->pool_id};
    for (int i = 0; i < 5 && vals[i]; i++) {
        rc |= msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
        rc |= msgpack_pack_str_with_body(&pk, vals[i], strlen(vals[i]));
    }
    if (has_uuid) {
        rc |= msgpack_pack_str_with_body(&pk, "uuid", 4);
        if (r->cls == XF_POOL_PATCH)
            rc |= msgpack_pack_str_with_body(&pk, r->ref, strlen(r->ref));
        else
            rc |= msgpack_pack_object(&pk, *u);
    }
    if (c->body.size)
        rc |= msgpack_sbuffer_write(&self->out, c->body.data, c->body.size);
    return rc == 0 ? 0 : XOC_ENOMEM;
}

/*  Generates r's object into self->out; returns its type, NULL when r gives no object.
    *err = XOC_ENOMEM on allocation failure.                                                  */
static const char *s_regen(xoc_xform_t *self, xf_rec_t *r, bool record_deps, int *err)
{
    xf_ctx_t *c = &self->ctx;
    s_ctx_reset(c, r, record_deps);
    *err = 0;
    if (!r->mp || r->cls >= XF_NCLASSES || xf_classes[r->cls].kind != XF_OBJECT)
        return NULL;
    size_t off = 0;
    msgpack_object root;
    if (msgpack_unpack((const char *)r->mp, r->mp_len, &off, &c->zone, &root) < 0) {
        *err = XOC_ENOMEM;
        return NULL;
    }
    const char *type = xf_classes[r->cls].fn(c, &root);
    if (c->oom || (type && s_assemble(self, r, type, &root) != 0)) {
        *err = XOC_ENOMEM;
        return NULL;
    }
    if (c->nbad && (r->flags & F_PUT) && record_deps)
        xoc_warn("xform: fields of the wrong type left out cls=%s ref=%s fields=%u first=%s",
                 xf_classes[r->cls].name, r->ref, c->nbad, c->firstbad);
    if (c->nmissing && (r->flags & F_PUT) && record_deps)
        xoc_debug("xform: fields missing cls=%s ref=%s fields=%u", xf_classes[r->cls].name,
                  r->ref, c->nmissing);
    if (!type && (r->flags & F_PUT) && record_deps)
        xoc_error("xform: record skipped cls=%s ref=%s", xf_classes[r->cls].name, r->ref);
    return type;
}

/*  ---- flush ---------------------------------------------------------------------------- */

static uint64_t s_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int s_exit(xoc_xform_t *self, xf_rec_t *r, xoc_xform_emit_fn *emit, void *arg)
{
    int rc = emit(arg, false, r->out_id, r->out_type, NULL, 0);
    if (rc != 0)
        return rc;
    free(r->out_id);
    r->out_id = NULL;
    self->count--;
    return 0;
}

static int s_enter(xoc_xform_t *self, xf_rec_t *r, const char *type, xoc_xform_emit_fn *emit,
                   void *arg)
{
    uint64_t h = s_hash(self->out.data, self->out.size);
    if (r->out_id && h == r->out_hash && type == r->out_type)
        return 0;
    char *id = r->out_id ? NULL : strdup(r->id);
    if (!r->out_id && !id)
        return XOC_ENOMEM;
    int rc = emit(arg, true, r->id, type, self->out.data, self->out.size);
    if (rc != 0) {
        free(id);
        return rc;
    }
    if (id) {
        r->out_id = id;
        self->count++;
    }
    if (self->full)
        r->flags |= F_SEEN;
    r->out_hash = h;
    r->out_type = type;
    return 0;
}

/*  Regenerates one dirty node and emits what changed.                                       */
static int s_process(xoc_xform_t *self, xf_rec_t *r, xoc_xform_emit_fn *emit, void *arg)
{
    int rc;
    const char *type = s_regen(self, r, true, &rc);
    if (rc == 0)
        rc = s_edges_update(self, r);
    if (rc != 0)
        return rc;
    if (r->out_id && (!type || strcmp(r->out_id, r->id) != 0))
        if ((rc = s_exit(self, r, emit, arg)) != 0)
            return rc;
    if (type && (rc = s_enter(self, r, type, emit, arg)) != 0)
        return rc;
    r->flags &= (uint8_t)~(F_DIRTY | F_PUT);
    return 0;
}

int xoc_xform_flush(xoc_xform_t *self, xoc_xform_emit_fn *emit, void *arg)
{
    if (!self || !emit)
        return XOC_EINVAL;
    size_t i;
    int rc = 0;
    for (i = 0; i < self->ndirty; i++) {
        xf_rec_t *r = self->dirty[i];
        if ((rc = s_process(self, r, emit, arg)) != 0)
            break;
        s_rec_gc(self, r);
    }
    if (rc != 0) { /* keep the rest (the failed one included) for the next flush */
        memmove(self->dirty, self->dirty + i, (self->ndirty - i) * sizeof(*self->dirty));
        self->ndirty -= i;
        return rc;
    }
    self->ndirty = 0;
    if (self->capdirty > 4096) { /* give back the memory of a full load */
        free(self->dirty);
        self->dirty = NULL;
        self->capdirty = 0;
    }
    return 0;
}

int xoc_xform_emit_all(xoc_xform_t *self, xoc_xform_emit_fn *emit, void *arg)
{
    if (!self || !emit)
        return XOC_EINVAL;
    size_t n = 0;
    xf_rec_t **all = malloc((zhashx_size(self->recs) + 1) * sizeof(*all));
    if (!all)
        return XOC_ENOMEM;
    /* pending changes first, with the caller's emitter; then what they did not emit */
    self->full = true;
    int rc = xoc_xform_flush(self, emit, arg);
    self->full = false;
    for (xf_rec_t *r = zhashx_first(self->recs); r; r = zhashx_next(self->recs))
        if (r->out_id)
            all[n++] = r;
    for (size_t i = 0; i < n; i++) {
        xf_rec_t *r = all[i];
        if (rc != 0 || (r->flags & F_SEEN)) {
            r->flags &= (uint8_t)~F_SEEN;
            continue;
        }
        const char *type = s_regen(self, r, false, &rc);
        if (rc == 0 && type)
            rc = emit(arg, true, r->out_id, type, self->out.data, self->out.size);
    }
    free(all);
    return rc;
}
