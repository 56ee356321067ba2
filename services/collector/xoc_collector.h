/*  xoc_collector — the collector actor: keeps one pool connection (xoc_collector_pool) per
    enabled server of the configuration database "servers" (read from the cache, followed
    on config.servers), drops a removed server's objects from the cache, and serves
    collector.status. Start with zactor_new(xoc_collector_actor, cfg).                     */
#ifndef XOC_COLLECTOR_H
#define XOC_COLLECTOR_H

#include <czmq.h>

#include "xoc_cfg.h"

extern const xoc_cfg_key_t xoc_collector_cfg_keys[];

void xoc_collector_actor(zsock_t *pipe, void *cfg);

#endif
