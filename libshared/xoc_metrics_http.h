/*  xoc_metrics_http — the HTTP endpoint of a metrics registry: GET /metrics answers the
    Prometheus text exposition (version 0.0.4) of the registry, rendered at each request.

    libwebsockets serves it on a thread of its own (Debian 12's lws has no external poll):
    the registry is made for that (atomic updates, rendering from any thread). Anything
    but GET /metrics is 404. Limits: 4 KiB of request headers (more: the connection is
    refused), 16 connections having their headers read at once, 5 s to send the headers
    and between keep-alive requests, 10 s to take the answer.

        xoc_metrics_http_t *http = xoc_metrics_http_new(reg, "127.0.0.1:0", &rc);
        printf("%s\n", xoc_metrics_http_url(http));   // http://127.0.0.1:41234/metrics
        xoc_metrics_http_destroy(&http);              // before the registry             */
#ifndef XOC_METRICS_HTTP_H
#define XOC_METRICS_HTTP_H

#include "xoc_metrics.h"

typedef struct _xoc_metrics_http_t xoc_metrics_http_t;

/*  Listens on listen ("host:port", "[v6]:port"; a host name is resolved once; port 0: a
    free port) and starts the thread. NULL with *err = XOC_EINVAL (bad address), XOC_EIO
    (cannot listen there: in use, not an address of this machine) or XOC_ENOMEM.          */
xoc_metrics_http_t *xoc_metrics_http_new(xoc_metrics_t *reg, const char *listen, int *err);
void xoc_metrics_http_destroy(xoc_metrics_http_t **self_p);

/*  The address actually listened on, "host:port" (the port the kernel chose for 0).       */
const char *xoc_metrics_http_address(const xoc_metrics_http_t *self);
/*  "http://host:port/metrics".                                                            */
const char *xoc_metrics_http_url(const xoc_metrics_http_t *self);

#endif
