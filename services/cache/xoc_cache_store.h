/*  xoc_cache_store — the LMDB environment of xoc-cache and everything written in it.

    Databases (one environment, MDB_NOTLS so that snapshots keep read transactions open
    across requests on the one thread):
      objects   id -> record (revision, epoch stamp, type, pool, object bytes)
      pool_ids  pool "\0" id -> "" (what a pool holds: image_end sweeps, drop)
      pools     pool -> last applied (epoch, seq), big-endian u64 each
      journal   revision (big-endian u64) -> record (time, op, id, type, pool, object?); an
              entry whose object is still the current one holds only its id and a flag
              ("current"): the object is read from `objects` (same revision). Before an
              object is changed or removed, its entry gets its own copy of the old record,
              so each version is stored once (the image of a pool is not stored twice).
      meta      "rev" -> current revision, "cfg_rev" -> configuration revision
      cfg.<db>  one per configuration database (servers, users, groups, acls, tokens, plugins)

    Each change set is one write transaction; a revision is given to every object change
    that is committed, so revisions are gap-free. Functions return 0, a negative xoc code,
    or LMDB's own code (xoc_cache_strerror covers all three).                              */
#ifndef XOC_CACHE_STORE_H
#define XOC_CACHE_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "xoc_cache_cs.h"
#include "xoc_msg.h"

typedef struct _xoc_cache_store_t xoc_cache_store_t;

typedef enum {
    XOC_CACHE_DB_OBJECTS = 0,
    XOC_CACHE_DB_POOL_IDS,
    XOC_CACHE_DB_POOLS,
    XOC_CACHE_DB_JOURNAL,
    XOC_CACHE_DB_META,
    XOC_CACHE_DB_COUNT
} xoc_cache_db_t;

/*  A stored record (objects and journal values), pointing into LMDB memory or a buffer.   */
typedef struct {
    uint64_t rev;
    uint64_t epoch;   /* objects: epoch of the pool connection that last entered it */
    uint64_t time_ms; /* journal: wall-clock time of the change */
    xoc_cache_op_t op;
    bool current;     /* journal: the object is the one in `objects` (type, pool, object empty) */
    xoc_str_t id;
    xoc_str_t type;
    xoc_str_t pool;
    xoc_bin_t object;
} xoc_cache_rec_t;

/*  One committed change to publish (strings copied, object pointing into the request).   */
typedef struct {
    uint64_t rev;
    xoc_cache_op_t op;
    xoc_str_t id;
    xoc_str_t type;
    xoc_str_t pool;
    xoc_bin_t object;
} xoc_cache_event_t;

typedef struct {
    bool duplicate;
    uint64_t rev;              /* revision after the change set */
    size_t count;              /* events = object changes committed */
    xoc_cache_event_t *events;
    size_t cap;
    char *arena;               /* copies of ids, types, pools */
    size_t arena_len, arena_cap;
} xoc_cache_result_t;

void xoc_cache_result_clear(xoc_cache_result_t *res);

/*  Opens (creating the directory and databases) the environment at path. nometasync: use
    MDB_NOMETASYNC (one sync per commit instead of two). Returns NULL and sets *err.      */
xoc_cache_store_t *xoc_cache_store_new(const char *path, uint64_t map_size, bool nometasync,
                                       int *err);
void xoc_cache_store_destroy(xoc_cache_store_t **self_p);

MDB_env *xoc_cache_store_env(xoc_cache_store_t *self);
MDB_dbi xoc_cache_store_dbi(xoc_cache_store_t *self, xoc_cache_db_t db);

/*  The dbi of configuration database `name`; XOC_EINVAL when there is no such db.         */
int xoc_cache_store_cfg_dbi(xoc_cache_store_t *self, xoc_str_t name, MDB_dbi *dbi);

/*  Current (committed) revision.                                                          */
uint64_t xoc_cache_store_rev(const xoc_cache_store_t *self);

/*  Applies a validated change set in one write transaction and commits it. Returns 0
    (res filled; res->duplicate for a replay), XOC_ESTATE for a gap (why says what the
    cache expects next), or an LMDB error / XOC_EIO (nothing committed).                   */
int xoc_cache_store_apply(xoc_cache_store_t *self, const xoc_cache_cs_t *cs,
                          xoc_cache_result_t *res, char *why, size_t why_size);

/*  Group commit: applies n change sets in one write transaction and one durable commit.
    A duplicate or a gap is refused before any write and leaves the others; if a change
    set fails half-way (an LMDB error, a corrupt record), the group is aborted and its sets
    are applied again one per transaction, so that only that one is refused. status[i] and
    why[i] say how each went (0: res[i] filled, maybe a duplicate). Returns 0, or the error
    that kept the whole batch from being committed (then every status is an error and
    nothing was applied).                                                                  */
int xoc_cache_store_apply_batch(xoc_cache_store_t *self, const xoc_cache_cs_t *cs, size_t n,
                                xoc_cache_result_t *res, int *status, char (*why)[256]);

/*  cache.get: encodes an obj reply into out. XOC_ENOENT when absent.                       */
int xoc_cache_store_get(xoc_cache_store_t *self, xoc_str_t id, msgpack_sbuffer *out);

/*  cache.query: encodes an objects reply. XOC_ETOOBIG when over max_bytes, XOC_EINVAL for
    a filter that is not a map with string keys.                                           */
int xoc_cache_store_query(xoc_cache_store_t *self, const xoc_msg_query_t *q, size_t max_bytes,
                          msgpack_sbuffer *out, char *why, size_t why_size);

/*  cache.changes: encodes a journal reply (at most limit items and about max_bytes).
    XOC_ESTATE when the journal no longer reaches back to `since`.                          */
int xoc_cache_store_changes(xoc_cache_store_t *self, uint64_t since, uint64_t limit,
                            size_t max_bytes, msgpack_sbuffer *out);

/*  Removes journal entries beyond keep_count, older than max_age_ms (0: no age bound), or
    the oldest while the journal's pages take more than max_bytes (0: no bound), at most
    batch, in one write transaction. *pruned = entries removed.                             */
int xoc_cache_store_prune(xoc_cache_store_t *self, uint64_t keep_count, uint64_t max_age_ms,
                          uint64_t max_bytes, size_t batch, uint64_t *pruned);

/*  Retention of the journal, pruned a little at a time (never one long transaction that
    holds the single writer while change sets wait):
    - inside every change-set transaction, after its changes, the oldest entries beyond the
      bounds: as many as the transaction added (at most XOC_CACHE_PRUNE_COMMIT_MAX), then,
      while commit_us lasts, over the byte bound until the journal has no more pages than
      before its changes (a change also makes the object's previous entry hold its own
      copy), and up to XOC_CACHE_PRUNE_SLACK more (a backlog): so the journal keeps up with
      any change rate, never one transaction more than its bounds by count;
    - xoc_cache_store_prune_step, for when no change set comes (the age bound, a backlog
      after the bounds were lowered): one transaction of at most XOC_CACHE_PRUNE_STEP
      entries, while step_us lasts.
    The clock is read every 16 entries. Until set, change-set transactions prune nothing. */
#define XOC_CACHE_PRUNE_COMMIT_MAX 2048
#define XOC_CACHE_PRUNE_SLACK 64
#define XOC_CACHE_PRUNE_COMMIT_US 2000.0
#define XOC_CACHE_PRUNE_STEP 2048
#define XOC_CACHE_PRUNE_STEP_US 2000.0

typedef struct {
    uint64_t keep;       /* entries kept at most */
    uint64_t max_age_ms; /* entries older than this go (0: no age bound) */
    uint64_t max_bytes;  /* the oldest go while the journal's pages take more (0: no bound) */
    double commit_us;    /* time budget in a change set, beyond its count (0: the default) */
    double step_us;      /* time budget of a step (0: the default) */
} xoc_cache_retention_t;

void xoc_cache_store_set_retention(xoc_cache_store_t *self, const xoc_cache_retention_t *ret);

/*  One pruning: entries removed, journal pages freed, time the deletes took, and whether it
    stopped at its bound while the retention asks for more.                                */
typedef struct {
    uint64_t entries;
    uint64_t pages;
    double us;
    bool more;
} xoc_cache_prune_t;

/*  One bounded pruning transaction (see above); *out says what it did. 0 or an LMDB error
    (nothing removed).                                                                      */
int xoc_cache_store_prune_step(xoc_cache_store_t *self, xoc_cache_prune_t *out);

/*  What the change-set transactions pruned since the store was opened.                    */
typedef struct {
    uint64_t entries, pages; /* removed, journal pages freed */
    uint64_t txns;           /* change-set transactions that pruned */
    uint64_t max_entries;    /* most in one */
    double max_us;           /* longest deletes in one */
    double us;               /* deletes, in all */
    bool more;               /* the last one stopped at its bound */
} xoc_cache_prune_stats_t;

void xoc_cache_store_prune_stats(const xoc_cache_store_t *self, xoc_cache_prune_stats_t *st);

/*  Counters for heartbeats.                                                               */
int xoc_cache_store_counts(xoc_cache_store_t *self, uint64_t *objects, uint64_t *journal);

/*  Record codec, for the snapshot module. decode: 0 or XOC_EIO for a corrupt record.      */
int xoc_cache_rec_decode(const void *data, size_t size, xoc_cache_rec_t *rec);

/*  Packs [id, type, pool, object] (an item of an objects reply). 0 or XOC_ENOMEM.         */
int xoc_cache_pack_item(msgpack_packer *pk, const xoc_cache_rec_t *rec);

/*  Reads a u64 of meta in txn (0 when absent).                                             */
uint64_t xoc_cache_store_meta(xoc_cache_store_t *self, MDB_txn *txn, const char *key);
int xoc_cache_store_meta_put(xoc_cache_store_t *self, MDB_txn *txn, const char *key,
                             uint64_t value);

/*  Message of an xoc code, errno or LMDB code.                                             */
const char *xoc_cache_strerror(int err);

/*  Wall-clock milliseconds.                                                               */
uint64_t xoc_cache_wall_ms(void);

#endif
