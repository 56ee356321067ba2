/*  xoc_bus — what every bus participant shares: the bus endpoints and options read from
    the configuration, CurveZMQ security, and sending/receiving proto messages as frames.

    The bus has three endpoints (README "Bus"):
      pub  XSUB of the bus: publishers connect their PUB here
      sub  XPUB of the bus: subscribers connect their SUB here
      req  ROUTER of the broker: clients and workers connect their DEALER here
    bus.endpoint is either one base address "tcp://HOST:PORT" (pub=PORT, sub=PORT+1,
    req=PORT+2) or three comma-separated endpoints "PUB,SUB,REQ".                           */
#ifndef XOC_BUS_H
#define XOC_BUS_H

#include <czmq.h>
#include <stdbool.h>

#include "xoc_cfg.h"
#include "xoc_msg.h"

#define XOC_BUS_ENDPOINT_MAX 256

typedef struct {
    char pub[XOC_BUS_ENDPOINT_MAX];
    char sub[XOC_BUS_ENDPOINT_MAX];
    char req[XOC_BUS_ENDPOINT_MAX];
    int heartbeat_ms;    /* interval of heartbeats between workers/clients and the broker */
    int liveness;        /* heartbeats missed before a peer counts as dead */
    int spin_us;         /* a waiting sync call polls this long before it sleeps */
    char curve_server_public[41]; /* Z85 public key of the bus; empty: no CurveZMQ */
    zcert_t *curve_cert;          /* this participant's certificate (with secret key) */
    struct _xoc_metrics_t *metrics; /* the process's registry (xoc_node sets it): the
                                       workers made with these options count requests */
} xoc_bus_opts_t;

/*  The configuration keys every bus participant has (bus.*).                              */
extern const xoc_cfg_key_t xoc_bus_cfg_keys[];

/*  Parses a bus.endpoint value. Returns 0 or XOC_EINVAL.                                  */
int xoc_bus_endpoints_parse(const char *spec, xoc_bus_opts_t *opts);

/*  Fills opts from the configuration (loads the certificate when CurveZMQ is on).
    Returns 0, XOC_EINVAL (bad endpoint, or a key without its certificate) or XOC_EIO.     */
int xoc_bus_opts_load(xoc_bus_opts_t *opts, const xoc_cfg_t *cfg);
void xoc_bus_opts_clear(xoc_bus_opts_t *opts);

/*  Creates a socket of `type` connected to `endpoint`, with CurveZMQ client settings when
    opts has a server key. NULL on failure.                                                */
zsock_t *xoc_bus_connect(int type, const char *endpoint, const xoc_bus_opts_t *opts);

/*  Sends [route?][header][body?] without blocking the caller for long: route (a ROUTER
    peer id) and body are optional (NULL/0). Returns 0 or XOC_EIO / XOC_ENOMEM.            */
int xoc_bus_send(zsock_t *sock, const zframe_t *route, xoc_msg_type_t type, const void *header,
                 const void *body, size_t body_len);

/*  Encodes `body_msg` (a proto message) and sends it as the body frame.                   */
int xoc_bus_send_msg(zsock_t *sock, const zframe_t *route, xoc_msg_type_t type,
                     const void *header, xoc_msg_type_t body_type, const void *body_msg);

/*  Publishes [topic][message] on a PUB socket.                                            */
int xoc_bus_publish(zsock_t *pub, const char *topic, xoc_msg_type_t type, const void *msg);

/*  Monotonic milliseconds.                                                                 */
int64_t xoc_bus_now_ms(void);

#endif
