/*  xoc-api — the client-facing frontend (JSON-RPC over WebSocket). See xoc_api.h.        */
#include <stdio.h>

#include "xoc_api.h"
#include "xoc_service.h"

static void s_ready(zactor_t *actor, const xoc_cfg_t *cfg)
{
    printf("xoc-api: ready url=http://%s\n", xoc_cfg_str(cfg, "api.listen"));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    return xoc_service_main("xoc-api",
                            "the client-facing frontend: JSON-RPC 2.0 over WebSocket at /api/ "
                            "(xo-lib compatible), users, sessions, tokens, objects, pushes.",
                            xoc_api_cfg_keys, xoc_api_actor, s_ready, argc, argv);
}
