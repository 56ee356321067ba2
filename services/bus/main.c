/*  xoc-bus — the event proxy and request broker. See xoc_broker.h and proto/README.md.  */
#include <stdio.h>
#include <string.h>

#include "xoc_broker.h"
#include "xoc_service.h"

static void s_ready(zactor_t *actor, const xoc_cfg_t *cfg)
{
    zstr_send(actor, "ENDPOINTS");
    char *endpoints = zstr_recv(actor);
    /* one line on stdout for launchers and tests: the value to give as bus.endpoint */
    printf("xoc-bus: ready bus=%s\n", endpoints ? endpoints : "?");
    fflush(stdout);
    zstr_free(&endpoints);
}

/* xoc-bus --gen-cert PATH: writes a CurveZMQ certificate (PATH, PATH_secret) */
static int s_gen_cert(const char *path)
{
    zcert_t *cert = zcert_new();
    if (!cert || zcert_save(cert, path) != 0) {
        fprintf(stderr, "xoc-bus: cannot write certificate %s\n", path);
        zcert_destroy(&cert);
        return 1;
    }
    printf("%s\n", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--gen-cert") == 0)
        return s_gen_cert(argv[2]);
    return xoc_service_main("xoc-bus",
                            "event proxy (XSUB/XPUB) and request broker of the xoc bus.\n"
                            "Also: xoc-bus --gen-cert PATH writes a CurveZMQ certificate "
                            "and prints its public key.",
                            xoc_broker_cfg_keys, xoc_broker_actor, s_ready, argc, argv);
}
