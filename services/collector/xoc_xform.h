/*  xoc_xform — XAPI records of one pool -> xo objects (reference/xo-api.md §3, §10).

    One xoc_xform_t per pool connection. The collector puts every XAPI record it receives
    (get_all_records, event.from add/mod) and deletes those that go (event.from del); flush()
    then emits the xo objects that changed since the last flush: `enter` with the whole new
    object, `exit` with the id of an object that went away. An object whose id changes (a
    default template that became a normal template, a pool uuid learnt late) exits under its
    old id and enters under the new one.

    Objects: msgpack maps with the field names and value types of xo-server's JSON: `id`,
    `type`, `uuid`, `$pool`, `$poolId`, `_xapiRef`, then the per-type fields. Links hold the
    linked object's id (uuid, or the ref when it has none, or `<pool>-<uuid>` for default
    templates); a link to `OpaqueRef:NULL` or to a record not known (yet) is omitted, and the
    object is regenerated when that record arrives. Metrics classes (VM_metrics,
    VM_guest_metrics, host_metrics, PIF_metrics), Certificate and pool_update are joined into
    their owner: a change of one regenerates the owner. Other classes that produce no object
    (console, host_cpu, crashdump, ...) are ignored (put returns 0, nothing is stored).

    Values: timestamps in seconds since the epoch, null when unset (XAPI's epoch 0) or not a
    datetime; `current_operations` maps task ids to operations (the task ref when the task is
    not known); numbers as msgpack ints (int64) or float64, booleans as booleans. Fields
    computed from rules the reference does not spell out, chosen here: host/pool
    `zstdSupported` (platform_version >= 3.1 / no restrict_zstd_export), pool `vtpmSupported`
    (restrict_vtpm == "false"), VM `managementAgentDetected` (guest metrics with an OS version
    or PV drivers), `needsVtpm` (platform.vtpm), `isFirmwareSupported` (always true),
    `vulnerabilities` ({}), VDI `chainPhysicalUsage` (its physical_utilisation plus its VHD
    ancestors', found by sm_config.vhd-parent uuid), VIF `txChecksumming`
    (other_config.ethtool-tx == "true"), SR `allocationStrategy` (sm_config.allocation, else
    by SR type). Types without key fields in the reference (SM, PCI, PGPU, vgpu, gpuGroup,
    vgpuType, VTPM, PUSB, VUSB, USB_group, bond, pool_patch) carry their XAPI fields in xo's
    camelCase style, links as ids.

    Input values: as libshared/xoc_xapi.h produces them. 64-bit ints may be msgpack ints or
    decimal strings (XML-RPC); floats as float64 (ints and decimal strings accepted too);
    datetimes as "20240102T03:04:05Z" or "2024-01-02T03:04:05Z" strings (an int/float is taken
    as seconds). A field that is missing or has the wrong type is left out of the object (a
    warning per put of a record with mistyped fields, a debug line for missing ones: older
    XAPI versions lack newer fields); a record that is not a map is refused.

    Memory: each record is kept as msgpack bytes (one allocation) holding only the fields
    that the transforms read (xoc_xform_keep.c), plus a small node (ref, ids, dependency
    edges); objects are not kept — only a 64-bit hash of each emitted object, so that a
    regenerated object that did not change is not emitted again; and, per node with a list of
    16 links or more (a host's resident VMs, an SR's VDIs), that list as last packed, so that
    the host is re-packed without looking its VMs up when only its metrics moved. Measured
    (bench_xform, label bench): a 10 000-VM pool, 60 252 records (61 MB as whole msgpack
    records) -> 40 202 objects: +57 MB of RSS (56 MB of heap, 2.5 MB of it link caches), put
    0.35-0.5 s (with the test's own JSON packing), flush 0.16-0.2 s; the simulator's churn
    3-4.2 us of CPU per change, VM_metrics 1-1.3 us.

    Changes: put/del mark the record, the records whose transform read its fields (content
    dependency: a metrics record and its owner, a PBD and its SR's $container, ...) and,
    when its id appears, changes or goes, those that link to it; flush regenerates only these.
    A put whose kept fields are the bytes already stored (same class) marks nothing: most of
    XAPI's metrics churn (last_updated, VCPUs_utilisation, other_config) is not read.

    Not thread-safe: one caller thread per xoc_xform_t.                                       */
#ifndef XOC_XFORM_H
#define XOC_XFORM_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _xoc_xform_t xoc_xform_t;

/*  New, empty transform. NULL when out of memory.                                            */
xoc_xform_t *xoc_xform_new(void);

/*  Frees everything and sets *self_p to NULL. NULL-safe.                                     */
void xoc_xform_destroy(xoc_xform_t **self_p);

/*  Stores (or replaces) the record `ref` of class `cls` (XAPI name, any case: "VM", "vm",
    "VM_metrics", "vm_metrics"). rec/len: one msgpack map (the XAPI record; bytes after the
    first value are ignored). The objects it affects are regenerated at the next flush.
    Returns 0 (also for a class that is ignored), XOC_EINVAL (NULL or empty arguments),
    XOC_ETYPE (not a map), XOC_EPROTO (not well-formed msgpack), XOC_ETOOBIG (record over
    XOC_XFORM_MAX_RECORD bytes or nested deeper than 32), XOC_ENOMEM. On error nothing changes. */
#define XOC_XFORM_MAX_RECORD (64u << 20)
int xoc_xform_put(xoc_xform_t *self, const char *cls, const char *ref, const void *rec,
                  size_t len);

/*  Removes the record `ref` (its object exits at the next flush). An unknown ref is not an
    error. Returns 0 or XOC_EINVAL.                                                           */
int xoc_xform_del(xoc_xform_t *self, const char *cls, const char *ref);

/*  Called once per changed object: enter=true with the whole object (msgpack map obj/len),
    enter=false with obj=NULL/len=0 for a removed id. id and type are valid during the call
    only. Return 0 to go on; any other value stops the flush, which returns it (the changes
    not yet emitted, including the one refused, are emitted again by the next flush).         */
typedef int(xoc_xform_emit_fn)(void *arg, bool enter, const char *id, const char *type,
                               const void *obj, size_t len);

/*  Emits the xo changes caused since the last flush. Returns 0, what emit returned, or
    XOC_ENOMEM.                                                                                */
int xoc_xform_flush(xoc_xform_t *self, xoc_xform_emit_fn *emit, void *arg);

/*  Emits every current object as enter (the full image of a new connection), each once.
    Pending changes are applied first: their exits (objects that were emitted by an earlier
    flush and are gone or changed id) are emitted too. Returns 0, what emit returned, or
    XOC_ENOMEM.                                                                                */
int xoc_xform_emit_all(xoc_xform_t *self, xoc_xform_emit_fn *emit, void *arg);

/*  The pool uuid once the pool record is known, else NULL.                                   */
const char *xoc_xform_pool_id(const xoc_xform_t *self);

/*  Number of xo objects (as of the last flush).                                              */
size_t xoc_xform_count(const xoc_xform_t *self);

/*  Size of the first msgpack value at buf (well-formed, nested at most 32 deep, within len)
    in *used, without decoding it. Returns 0, XOC_EPROTO or XOC_ETOOBIG.                     */
int xoc_xform_mp_size(const void *buf, size_t len, size_t *used);

#endif
