/*  xoc_broker — the xoc-bus actor: the XSUB/XPUB event proxy and the request broker.

    Start it with zactor_new(xoc_broker_actor, cfg). Commands on the actor pipe:
      "ENDPOINTS"  -> replies "PUB,SUB,REQ" (the endpoints actually bound: useful with *)
      "STATS"      -> replies a msgpack map of counters (one frame)
      "$TERM"      -> stops
    Configuration keys: xoc_broker_cfg_keys (and the common xoc_bus_cfg_keys).            */
#ifndef XOC_BROKER_H
#define XOC_BROKER_H

#include <czmq.h>

#include "xoc_cfg.h"

extern const xoc_cfg_key_t xoc_broker_cfg_keys[];

void xoc_broker_actor(zsock_t *pipe, void *cfg);

#endif
