/*  xoc_cache_snap — consistent snapshots of the objects, streamed in chunks (clone pattern).

    A snapshot is an LMDB read transaction (the environment is MDB_NOTLS) with a cursor on
    the objects; it sees the objects exactly at its revision whatever is committed after.
    The client asks chunk by chunk (credit-based flow: it may have several snapshot_next in
    flight); the last chunk says `done` and releases the snapshot. Idle snapshots are
    released by xoc_cache_snaps_expire (they pin old pages of the file).                  */
#ifndef XOC_CACHE_SNAP_H
#define XOC_CACHE_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include "xoc_cache_store.h"

typedef struct _xoc_cache_snaps_t xoc_cache_snaps_t;

xoc_cache_snaps_t *xoc_cache_snaps_new(xoc_cache_store_t *store, size_t max_open);
void xoc_cache_snaps_destroy(xoc_cache_snaps_t **self_p);

/*  Opens a snapshot; encodes the snap reply {snapshot, rev, count}. XOC_EBUSY when
    max_open snapshots are open; an LMDB error otherwise.                                  */
int xoc_cache_snaps_open(xoc_cache_snaps_t *self, msgpack_sbuffer *out);

/*  Encodes the next chunk (objects reply, items up to about max_bytes, at least one).
    XOC_ENOENT for an unknown, finished or expired snapshot.                                */
int xoc_cache_snaps_next(xoc_cache_snaps_t *self, uint64_t id, size_t max_bytes,
                         msgpack_sbuffer *out);

/*  Releases a snapshot. XOC_ENOENT when unknown.                                           */
int xoc_cache_snaps_close(xoc_cache_snaps_t *self, uint64_t id);

/*  Releases snapshots idle for more than idle_ms; returns how many.                       */
size_t xoc_cache_snaps_expire(xoc_cache_snaps_t *self, int64_t idle_ms);

size_t xoc_cache_snaps_open_count(const xoc_cache_snaps_t *self);

#endif
