/*  xoc_xform internals: the context a per-type transform writes through, and the class table.
    Not part of the API.                                                                      */
#ifndef XOC_XFORM_INT_H
#define XOC_XFORM_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "xoc_xform.h"

typedef struct xf_rec xf_rec_t;
typedef struct xf_ctx xf_ctx_t;

/*  A per-type transform: writes the type's fields through the ctx and returns the xo type
    (a static string), or NULL when the record cannot give an object (then nothing is emitted
    for it). rec is the record's map.                                                         */
typedef const char *(xf_type_fn)(xf_ctx_t *c, const msgpack_object *rec);

enum { XF_OBJECT = 0, XF_JOIN = 1 };

typedef struct {
    const char *name; /* XAPI class name */
    int kind;         /* XF_OBJECT: produces an object; XF_JOIN: kept for its owner */
    xf_type_fn *fn;
} xf_class_t;

/*  Class indexes used by the transforms to check what they fetch.                            */
enum {
    XF_POOL, XF_HOST, XF_HOST_METRICS, XF_VM, XF_VM_METRICS, XF_VM_GUEST_METRICS, XF_SR, XF_SM,
    XF_PBD, XF_PIF, XF_PIF_METRICS, XF_VDI, XF_VBD, XF_VIF, XF_NETWORK, XF_MESSAGE, XF_TASK,
    XF_HOST_PATCH, XF_POOL_PATCH, XF_PCI, XF_PGPU, XF_VGPU, XF_GPU_GROUP, XF_VGPU_TYPE, XF_VTPM,
    XF_PUSB, XF_VUSB, XF_USB_GROUP, XF_BOND, XF_CERTIFICATE, XF_POOL_UPDATE, XF_NCLASSES
};

extern const xf_class_t xf_classes[XF_NCLASSES];

/*  The transform context of one object being generated.                                      */
struct xf_ctx {
    xoc_xform_t *xf;
    xf_rec_t *rec;            /* the record being transformed */
    msgpack_zone zone;        /* unpacked records of this transform */
    msgpack_sbuffer body;     /* the fields written by the type function */
    msgpack_packer pk;        /* packs into body */
    uint32_t nfields;
    bool record_deps;         /* false: lookups only (emit_all) */
    uintptr_t *deps;          /* tagged xf_rec_t pointers: bit 0 = content dependency */
    size_t ndeps, capdeps;
    unsigned nbad;            /* fields left out because of the wrong type */
    unsigned nmissing;        /* fields left out because missing (older XAPI versions) */
    const char *firstbad;
    bool oom;
};

/*  ---- implemented in xoc_xform.c: lookups that record dependencies ---------------------- */

/*  Id of the object that ref (a msgpack str) links to; NULL for OpaqueRef:NULL, a non-string,
    or a record not known yet (an id dependency is recorded so that its arrival regenerates). */
const char *xf_link(xf_ctx_t *c, const msgpack_object *ref);
/*  A hint before xf_link of every ref of arr (an array): loads what the lookups will read. */
void xf_prefetch_links(xf_ctx_t *c, const msgpack_object *arr);
/*  Lists of at least XF_LCACHE_MIN links are cached per node (xoc_xform.c: a host's resident
    VMs, an SR's VDIs, a network's VIFs). xf_links_cached: when arr is the list the last
    regeneration packed under `out` and nothing it links to changed id, writes the field and
    records the same dependencies, returns true. xf_links_keep: after packing the field from
    body offset body0 and recording dependencies from deps0, keeps them for the next time.  */
#define XF_LCACHE_MIN 16
bool xf_links_cached(xf_ctx_t *c, const char *out, const msgpack_object *arr);
void xf_links_keep(xf_ctx_t *c, const char *out, const msgpack_object *arr, size_t body0,
                   size_t deps0);
/*  The record (a map) that ref points to, when known and of class cls (a content dependency
    is recorded); NULL otherwise.                                                             */
const msgpack_object *xf_fetch(xf_ctx_t *c, const msgpack_object *ref, int cls);
/*  The VDI whose uuid is given (a str), when known (a content dependency is recorded on it,
    and on a placeholder woken up when a VDI with that uuid arrives); NULL otherwise.       */
const msgpack_object *xf_fetch_vdi_uuid(xf_ctx_t *c, const msgpack_object *uuid);
/*  xf_sr_host of the SR that ref points to (a content dependency is recorded on it, and on
    what xf_sr_host reads); NULL when unknown, not an SR, shared or without PBDs.            */
const char *xf_fetch_sr_host(xf_ctx_t *c, const msgpack_object *ref);
/*  Pool uuid or NULL.                                                                        */
const char *xf_pool_id(const xf_ctx_t *c);
/*  The ref of the record being transformed.                                                  */
const char *xf_self_ref(const xf_ctx_t *c);
/*  The id of the record being transformed.                                                   */
const char *xf_self_id(const xf_ctx_t *c);

/*  ---- implemented in xoc_xform_ctx.c: reading records ------------------------------------ */

#define XF_MAX_DEPTH 32 /* nested containers in a record */

/*  Checks that buf holds one well-formed msgpack value whose containers fit in the bytes
    (so that unpacking never allocates more than a small multiple of len). *used = its size. */
int xf_mp_check(const uint8_t *buf, size_t len, size_t *used);
/*  The same with at most max_depth nested containers (<= 32; the value itself counts).     */
int xf_mp_check_depth(const uint8_t *buf, size_t len, size_t *used, int max_depth);
/*  Of a well-formed msgpack map rec, the first value of each of keys (at most 64), unpacked
    into z, as a map of those pairs in kv (nkeys entries): what xf_get finds in the whole
    map, without unpacking the rest. XOC_ETYPE when rec is not a map.                        */
int xf_mp_pick(const uint8_t *rec, size_t len, const char *const *keys, size_t nkeys,
               msgpack_zone *z, msgpack_object *map, msgpack_object_kv *kv);

const msgpack_object *xf_get(const msgpack_object *map, const char *key);
bool xf_is_str(const msgpack_object *o);
/*  String value as a NUL-terminated copy in the ctx zone; NULL if not a string.             */
const char *xf_cstr(xf_ctx_t *c, const msgpack_object *o);
bool xf_str_eq(const msgpack_object *o, const char *s);
bool xf_to_int(const msgpack_object *o, int64_t *v);
bool xf_to_num(const msgpack_object *o, double *v);
bool xf_to_bool(const msgpack_object *o, bool *v);
/*  Datetime -> seconds since epoch; false if not a datetime.                                 */
bool xf_to_time(const msgpack_object *o, int64_t *v);
/*  map[key] when map is a map and the value a string equal to s.                             */
bool xf_map_str_eq(const msgpack_object *map, const char *key, const char *s);
bool xf_array_has(const msgpack_object *arr, const char *s);
/*  Parses a str/int; as xf_to_int but from a map member.                                     */
bool xf_map_int(const msgpack_object *map, const char *key, int64_t *v);

/*  ---- writing fields ------------------------------------------------------------------- */

/*  Starts field `name` (the caller then packs exactly one value with c->pk).                */
void xf_key(xf_ctx_t *c, const char *name);
void xf_put_str(xf_ctx_t *c, const char *name, const char *s);
void xf_put_strn(xf_ctx_t *c, const char *name, const char *s, size_t n);
void xf_put_int(xf_ctx_t *c, const char *name, int64_t v);
void xf_put_num(xf_ctx_t *c, const char *name, double v);
void xf_put_bool(xf_ctx_t *c, const char *name, bool v);
void xf_put_null(xf_ctx_t *c, const char *name);
void xf_put_obj(xf_ctx_t *c, const char *name, const msgpack_object *o);
void xf_pack_cstr(xf_ctx_t *c, const char *s);
/*  Notes a field left out: v is its value (of the wrong type), or NULL when missing.       */
void xf_bad(xf_ctx_t *c, const char *field, const msgpack_object *v);

/*  Copy kinds of the field tables.                                                           */
typedef enum {
    XF_STR,    /* string */
    XF_INT,    /* int64 from int, decimal string or integral float */
    XF_NUM,    /* number (float) */
    XF_BOOL,   /* boolean */
    XF_TIME,   /* datetime -> seconds, or null when unset (epoch 0) or invalid */
    XF_MAP,    /* map copied as is ({} when missing) */
    XF_MAPI,   /* {s:int} map: values as numbers whatever the transport ({} when missing) */
    XF_ARR,    /* array copied as is ([] when missing) */
    XF_LINK,   /* ref -> linked id, omitted when null/unknown */
    XF_LINKS,  /* [ref] -> [id], unknown ones omitted */
    XF_OPS,    /* current_operations {ref: op} -> {id (or the ref when unknown): op} */
} xf_kind_t;

typedef struct {
    const char *out;
    const char *in;
    xf_kind_t kind;
} xf_field_t;

/*  Writes every field of the table from rec.                                                 */
void xf_fields(xf_ctx_t *c, const msgpack_object *rec, const xf_field_t *t, size_t n);
#define XF_FIELDS(c, rec, t) xf_fields((c), (rec), (t), sizeof(t) / sizeof((t)[0]))
/*  One field of a table kind, from an arbitrary value (NULL = missing).                     */
void xf_field(xf_ctx_t *c, const char *out, const msgpack_object *v, xf_kind_t kind);

/*  ---- per-type transforms (xoc_xform_host.c, xoc_xform_vm.c, xoc_xform_types.c) -------- */
xf_type_fn xf_pool, xf_host, xf_vm, xf_sr, xf_sm, xf_pbd, xf_pif, xf_vdi, xf_vbd, xf_vif,
    xf_network, xf_message, xf_task, xf_host_patch, xf_pool_patch, xf_pci, xf_pgpu, xf_vgpu,
    xf_gpu_group, xf_vgpu_type, xf_vtpm, xf_pusb, xf_vusb, xf_usb_group, xf_bond;

/*  Host id of the first PBD of a non-shared SR record with PBDs, else NULL.                 */
const char *xf_sr_host(xf_ctx_t *c, const msgpack_object *sr);
/*  true when xf_sr_host gives NULL without reading anything else (shared SR, or no PBDs).
    Computed once per put of the SR (xoc_xform.c), so that a VM's $container does not unpack
    a shared SR and its list of thousands of VDIs.                                           */
bool xf_sr_hostless(const msgpack_object *sr);

/*  xoc_xform_keep.c: appends to out the record (a well-formed msgpack map of len bytes)
    without the fields no transform reads: a map of the kept key/value pairs, their bytes
    as they are. Also the well-formedness check of xf_mp_check on the record (same verdict,
    same error, *used = the record's size), so that put() walks it once. Returns 0, 1 when
    the class keeps whole records or rec is not a map (nothing checked or written),
    XOC_ENOMEM, or the check's error (XOC_EPROTO, XOC_ETOOBIG).                               */
int xf_keep_fields(int cls, const uint8_t *rec, size_t len, msgpack_sbuffer *out, size_t *used);
/*  Tests: number of nodes (records and placeholders).                                       */
size_t xf_nodes(const xoc_xform_t *self);
/*  Tests: number of objects regenerated by flushes so far.                                 */
size_t xf_regens(const xoc_xform_t *self);
/*  Tests: link lists taken from a cache so far.                                            */
size_t xf_link_cache_hits(const xoc_xform_t *self);
/*  Tests: store whole records (to check that the filter loses nothing).                    */
void xf_set_keep_all(xoc_xform_t *self, bool keep_all);

/*  true when a VM record is a default (built-in) template.                                   */
bool xf_vm_is_default_template(const msgpack_object *rec);

#endif
