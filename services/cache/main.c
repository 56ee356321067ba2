/*  xoc-cache — the single writer of the LMDB store. See xoc_cache.h, proto/README.md §7.1. */
#include <stdio.h>

#include "xoc_cache.h"
#include "xoc_service.h"

static void s_ready(zactor_t *actor, const xoc_cfg_t *cfg)
{
    printf("xoc-cache: ready path=%s\n", xoc_cfg_str(cfg, "cache.path"));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    return xoc_service_main("xoc-cache",
                            "the object cache and configuration store (LMDB, single writer): "
                            "change sets, revisions, snapshots, journal, config.",
                            xoc_cache_cfg_keys, xoc_cache_actor, s_ready, argc, argv);
}
