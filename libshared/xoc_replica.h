/*  xoc_replica — an in-memory replica of the cache's objects, kept exact (proto/README §7.1):
    subscribe to obj. first, then take a snapshot at revision R (chunk by chunk), apply the
    buffered changes with revision > R, then follow the changes in revision order. A gap in
    the revisions (or the cache's heartbeat showing a revision we never received) starts a
    new snapshot; the difference between the old and the new state is reported through the
    callbacks, so a consumer sees exactly the changes, never a reset.

    Objects are kept compact: the msgpack bytes as the cache sent them, one allocation each.
    Driven by a zloop: xoc_replica_attach(). Single-threaded.                              */
#ifndef XOC_REPLICA_H
#define XOC_REPLICA_H

#include <czmq.h>
#include <stdbool.h>

#include "xoc_bus.h"

typedef struct _xoc_replica_t xoc_replica_t;

typedef struct {
    const char *id;
    const char *type;
    const char *pool;
    const uint8_t *data; /* the object, a msgpack map */
    size_t size;
    uint64_t rev;        /* revision of its last change */
    void *user;          /* the consumer's pointer (xoc_replica_set_user), NULL at first */
} xoc_replica_obj_t;

/*  One object entered (created or replaced) or exited. On exit, obj is the last state.    */
typedef void(xoc_replica_change_fn)(xoc_replica_t *replica, bool enter,
                                    const xoc_replica_obj_t *obj, void *arg);
/*  A batch ended (a commit of the cache, or a (re)snapshot applied) at revision rev.      */
typedef void(xoc_replica_batch_fn)(xoc_replica_t *replica, uint64_t rev, void *arg);

typedef struct {
    uint64_t snapshots;  /* snapshots taken (1 + resyncs) */
    uint64_t gaps;       /* gaps detected */
    uint64_t changes;    /* changes applied */
    uint64_t dropped;    /* changes ignored (older than the state) */
} xoc_replica_stats_t;

xoc_replica_t *xoc_replica_new(const xoc_bus_opts_t *opts);
void xoc_replica_destroy(xoc_replica_t **self_p);

void xoc_replica_set_callbacks(xoc_replica_t *self, xoc_replica_change_fn *change,
                               xoc_replica_batch_fn *batch, void *arg);

/*  Registers sockets and a timer on the loop, and starts the first snapshot.              */
int xoc_replica_attach(xoc_replica_t *self, zloop_t *loop);

/*  True once a snapshot has been applied (the state is complete at xoc_replica_rev()).    */
bool xoc_replica_synced(const xoc_replica_t *self);
uint64_t xoc_replica_rev(const xoc_replica_t *self);
/*  The highest revision seen on the bus (changes received, the cache's heartbeat): minus
    xoc_replica_rev(), how far the replica lags behind the cache.                          */
uint64_t xoc_replica_seen_rev(const xoc_replica_t *self);
size_t xoc_replica_count(const xoc_replica_t *self);
/*  Bytes held by objects (ids, types and msgpack data).                                   */
size_t xoc_replica_bytes(const xoc_replica_t *self);
const xoc_replica_obj_t *xoc_replica_get(const xoc_replica_t *self, const char *id);
void xoc_replica_stats(const xoc_replica_t *self, xoc_replica_stats_t *stats);

/*  Calls fn for every object (any order); stops when fn returns non-zero.                 */
typedef int(xoc_replica_each_fn)(const xoc_replica_obj_t *obj, void *arg);
int xoc_replica_foreach(const xoc_replica_t *self, xoc_replica_each_fn *fn, void *arg);

/*  Attaches the consumer's pointer to an object held by the replica (obj as given by a
    callback, xoc_replica_get or xoc_replica_foreach), e.g. a rendering of it kept by the
    change callback, so a walk over the objects needs no lookup. The replica never reads
    nor frees it: the pointee must stay valid while the object is unchanged, i.e. until
    the change callback reports this id again (entered: a new object, NULL pointer; or
    exited). A new snapshot that finds an object unchanged reports nothing and keeps its
    pointer.                                                                               */
void xoc_replica_set_user(xoc_replica_t *self, const xoc_replica_obj_t *obj, void *user);
/*  A number that changes whenever an object enters, changes or exits (not a revision: a
    new snapshot may change objects at an equal revision). Equal numbers, same objects.   */
uint64_t xoc_replica_gen(const xoc_replica_t *self);

/*  Forces a new snapshot (tests; an operator's "resync").                                 */
void xoc_replica_resync(xoc_replica_t *self);

#endif
