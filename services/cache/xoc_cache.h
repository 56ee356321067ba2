/*  xoc_cache — the xoc-cache actor: the single writer of the LMDB environment
    (proto/README.md §7.1). It serves cache.* and config.* requests on the bus from one
    loop: change sets are committed one transaction each and acknowledged after the
    commit, every object change gets a global gap-free revision published on
    obj.<type>.<pool>, configuration changes on config.<db>. The journal's bounds
    (cache.journal_max, cache.journal_age_s, cache.journal_max_bytes) are kept by each
    change set's transaction (its share of pruning) and, while no change set comes, by
    bounded pruning steps; one periodic timer starts those and expires idle snapshots.

        zactor_t *cache = zactor_new(xoc_cache_actor, cfg);   // cfg: xoc_cfg_t with the keys
        ...                                                    // of xoc_cache_cfg_keys
        zactor_destroy(&cache);                                                            */
#ifndef XOC_CACHE_H
#define XOC_CACHE_H

#include <czmq.h>

#include "xoc_cfg.h"

/*  cache.* configuration keys, with their defaults.                                       */
extern const xoc_cfg_key_t xoc_cache_cfg_keys[];

/*  The actor (zactor_fn): args is the xoc_cfg_t.                                           */
void xoc_cache_actor(zsock_t *pipe, void *args);

#endif
