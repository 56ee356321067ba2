/*  xoc_cache_cs — decoding and validation of a change set (proto/README.md §7.1), on bytes,
    without LMDB: what cache.apply checks before it opens a transaction, and what the fuzz
    target exercises.

    A change set is valid as a whole or refused as a whole: every change must be an array
    ["enter", id, type, object-map] or ["exit", id, type]; ids, types and the pool are
    non-empty strings without NUL bytes within their size limits (types and pools without
    '.', since they are parts of topics). The parsed changes point INTO the request frame:
    keep it alive while the change set is used.                                           */
#ifndef XOC_CACHE_CS_H
#define XOC_CACHE_CS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xoc_msg.h"

#define XOC_CACHE_ID_MAX 255      /* bytes of an object id */
#define XOC_CACHE_TYPE_MAX 64     /* bytes of a type name */
#define XOC_CACHE_POOL_MAX 200    /* bytes of a pool id (pool + id < LMDB's 511-byte keys) */
#define XOC_CACHE_CHANGES_MAX 1000000

typedef enum {
    XOC_CACHE_DELTA = 0,
    XOC_CACHE_IMAGE,
    XOC_CACHE_IMAGE_END,
    XOC_CACHE_DROP,
} xoc_cache_kind_t;

typedef enum { XOC_CACHE_ENTER = 1, XOC_CACHE_EXIT = 2 } xoc_cache_op_t;

typedef struct {
    xoc_cache_op_t op;
    xoc_str_t id;
    xoc_str_t type;
    xoc_bin_t object;   /* raw msgpack map (enter), empty on exit */
} xoc_cache_change_t;

typedef struct {
    xoc_str_t pool;
    uint64_t epoch;
    uint64_t seq;
    xoc_cache_kind_t kind;
    size_t count;
    xoc_cache_change_t *changes;   /* owned: count entries */
} xoc_cache_cs_t;

/*  Validates a decoded changeset message and fills *cs (free it with xoc_cache_cs_clear).
    Returns 0, XOC_EINVAL (why says which change and what is wrong), XOC_ETOOBIG (too many
    changes) or XOC_ENOMEM.                                                                 */
int xoc_cache_cs_parse(const xoc_msg_changeset_t *msg, xoc_cache_cs_t *cs, char *why,
                       size_t why_size);
void xoc_cache_cs_clear(xoc_cache_cs_t *cs);

/*  Decodes a whole cache.apply body (frame bytes) and validates it.                       */
int xoc_cache_cs_decode(const void *data, size_t size, xoc_msg_t *msg, xoc_cache_cs_t *cs,
                        char *why, size_t why_size);

/*  True when s is a valid name: 1..max bytes, no NUL, and no '.' when dotless.            */
bool xoc_cache_name_ok(xoc_str_t s, size_t max, bool dotless);

const char *xoc_cache_kind_name(xoc_cache_kind_t kind);

#endif
