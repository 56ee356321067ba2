/*  sim_http — one libmicrohttpd server per simulated host: XML-RPC on POST / (and any POST
    path that no other handler takes), JSON-RPC on POST /jsonrpc, with the exact content types
    of a host, Content-Length, keep-alive, a body size limit, optional TLS.                   */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include "sim_pool.h"

/*  Starts the server of host h on h->ip:port (0 = a free port; h->port is set). Returns the
    daemon or NULL.                                                                          */
struct MHD_Daemon *sim_http_start(sim_host_t *h, int port, const char *cert_pem,
                                  const char *key_pem);
void sim_http_stop(struct MHD_Daemon **d_p);
/*  Waits (up to timeout_ms) until no WebSocket console bridge runs; call after the console
    servers are stopped and before the HTTP servers are.                                     */
void sim_http_wait_bridges(int timeout_ms);
/*  The vendor stand-in on 127.0.0.1 (a free port, written to *port).                         */
struct MHD_Daemon *sim_http_vendor_start(size_t patch_size, int *port);

#endif
