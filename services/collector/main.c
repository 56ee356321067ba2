/*  xoc-collector — one connection per pool, every event to the cache. See xoc_collector.h. */
#include <stdio.h>

#include "xoc_collector.h"
#include "xoc_service.h"

static void s_ready(zactor_t *actor, const xoc_cfg_t *cfg)
{
    printf("xoc-collector: ready\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    return xoc_service_main("xoc-collector",
                            "keeps one connection per pool (the servers of the configuration), "
                            "loads every object, follows event.from and sends each batch to "
                            "xoc-cache as one ordered change set",
                            xoc_collector_cfg_keys, xoc_collector_actor, s_ready, argc, argv);
}
