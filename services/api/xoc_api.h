/*  xoc_api — the xoc-api actor: the client-facing frontend (JSON-RPC 2.0 over WebSocket at
    /api/, compatible with xo-lib; reference/xo-api.md §1, §2, §4, §8, §10).

    Two threads: libwebsockets serves HTTP/WebSocket on its own thread (xoc_api_ws), and
    this actor's zloop does everything else — the JSON-RPC pipeline and method table
    (xoc_api_methods.c), users/sessions/tokens in the cache's config dbs
    (xoc_api_session.c), the object replica, xo.getAllObjects and `all` pushes
    (xoc_api_objects.c). Bus requests are asynchronous; password hashing runs on a work
    thread (xoc_api_work.c). Stateless apart from the replica: several instances may run.

        zactor_t *api = zactor_new(xoc_api_actor, cfg);  // cfg: keys of xoc_api_cfg_keys
        // once ready, xoc_cfg_str(cfg, "api.listen") holds the real host:port
        zactor_destroy(&api);                                                              */
#ifndef XOC_API_H
#define XOC_API_H

#include <czmq.h>

#include "xoc_cfg.h"

extern const xoc_cfg_key_t xoc_api_cfg_keys[];

void xoc_api_actor(zsock_t *pipe, void *args);

#endif
