#include "xoc_bus.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_err.h"
#include "xoc_log.h"

const xoc_cfg_key_t xoc_bus_cfg_keys[] = {
    {"bus.endpoint", XOC_CFG_STR, "tcp://127.0.0.1:5560", 0, 0,
     "bus address: base tcp://HOST:PORT (pub, sub, req at PORT, PORT+1, PORT+2) or PUB,SUB,REQ"},
    {"bus.heartbeat_ms", XOC_CFG_INT, "1000", 10, 60000,
     "heartbeat interval between bus peers, in ms"},
    {"bus.liveness", XOC_CFG_INT, "3", 2, 100, "heartbeats missed before a peer is dead"},
    {"bus.spin_us", XOC_CFG_INT, "200", 0, 100000,
     "a synchronous call polls this long for its reply before sleeping: an idle vCPU takes "
     "tens of µs to wake up (latency against CPU; 0: never spin)"},
    {"bus.curve.server_public", XOC_CFG_STR, "", 0, 0,
     "CurveZMQ: Z85 public key of xoc-bus (empty: no encryption)"},
    {"bus.curve.cert", XOC_CFG_STR, "", 0, 0,
     "CurveZMQ: this service's certificate file (zcert, with secret key)"},
    XOC_CFG_END};

int64_t xoc_bus_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int s_copy(char *dst, const char *src, size_t len)
{
    if (len == 0 || len >= XOC_BUS_ENDPOINT_MAX)
        return XOC_EINVAL;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int xoc_bus_endpoints_parse(const char *spec, xoc_bus_opts_t *opts)
{
    const char *c1 = strchr(spec, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (c1) {
        if (!c2 || strchr(c2 + 1, ','))
            return XOC_EINVAL;
        if (s_copy(opts->pub, spec, (size_t)(c1 - spec)) ||
            s_copy(opts->sub, c1 + 1, (size_t)(c2 - c1 - 1)) ||
            s_copy(opts->req, c2 + 1, strlen(c2 + 1)))
            return XOC_EINVAL;
        return 0;
    }
    const char *colon = strrchr(spec, ':');
    if (strncmp(spec, "tcp://", 6) != 0 || !colon || colon < spec + 6)
        return XOC_EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65533)
        return XOC_EINVAL;
    int host_len = (int)(colon - spec);
    if (host_len > XOC_BUS_ENDPOINT_MAX - 8)
        return XOC_EINVAL;
    snprintf(opts->pub, sizeof opts->pub, "%.*s:%ld", host_len, spec, port);
    snprintf(opts->sub, sizeof opts->sub, "%.*s:%ld", host_len, spec, port + 1);
    snprintf(opts->req, sizeof opts->req, "%.*s:%ld", host_len, spec, port + 2);
    return 0;
}

int xoc_bus_opts_load(xoc_bus_opts_t *opts, const xoc_cfg_t *cfg)
{
    memset(opts, 0, sizeof *opts);
    if (xoc_bus_endpoints_parse(xoc_cfg_str(cfg, "bus.endpoint"), opts)) {
        xoc_error("bad bus.endpoint '%s'", xoc_cfg_str(cfg, "bus.endpoint"));
        return XOC_EINVAL;
    }
    opts->heartbeat_ms = (int)xoc_cfg_int(cfg, "bus.heartbeat_ms");
    opts->liveness = (int)xoc_cfg_int(cfg, "bus.liveness");
    opts->spin_us = (int)xoc_cfg_int(cfg, "bus.spin_us");
    const char *key = xoc_cfg_str(cfg, "bus.curve.server_public");
    const char *cert = xoc_cfg_str(cfg, "bus.curve.cert");
    if (*key) {
        if (strlen(key) != 40 || !*cert) {
            xoc_error("bus.curve.server_public needs a 40-character Z85 key and bus.curve.cert");
            return XOC_EINVAL;
        }
        snprintf(opts->curve_server_public, sizeof opts->curve_server_public, "%s", key);
        opts->curve_cert = zcert_load(cert);
        if (!opts->curve_cert) {
            xoc_error("cannot load certificate bus.curve.cert=%s", cert);
            return XOC_EIO;
        }
    }
    return 0;
}

void xoc_bus_opts_clear(xoc_bus_opts_t *opts)
{
    zcert_destroy(&opts->curve_cert);
}

zsock_t *xoc_bus_connect(int type, const char *endpoint, const xoc_bus_opts_t *opts)
{
    zsock_t *sock = zsock_new(type);
    if (!sock)
        return NULL;
    zsock_set_linger(sock, 0);
    if (type == ZMQ_DEALER || type == ZMQ_PUB) {
        zsock_set_sndhwm(sock, 100000);
    }
    if (type == ZMQ_SUB || type == ZMQ_DEALER)
        zsock_set_rcvhwm(sock, 100000);
    if (opts && opts->curve_server_public[0]) {
        zcert_apply(opts->curve_cert, sock);
        zsock_set_curve_serverkey(sock, opts->curve_server_public);
    }
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        xoc_error("cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&sock);
    }
    return sock;
}

static int s_send_frame(void *handle, const void *data, size_t len, int more)
{
    int flags = (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
    return zmq_send(handle, data, len, flags) < 0 ? XOC_EIO : 0;
}

int xoc_bus_send(zsock_t *sock, const zframe_t *route, xoc_msg_type_t type, const void *header,
                 const void *body, size_t body_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = xoc_msg_encode(type, header, &sb);
    if (rc)
        goto done;
    void *h = zsock_resolve(sock);
    if (route)
        rc = s_send_frame(h, zframe_data((zframe_t *)route), zframe_size((zframe_t *)route), 1);
    if (!rc)
        rc = s_send_frame(h, sb.data, sb.size, body != NULL);
    if (!rc && body)
        rc = s_send_frame(h, body, body_len, 0);
done:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int xoc_bus_send_msg(zsock_t *sock, const zframe_t *route, xoc_msg_type_t type,
                     const void *header, xoc_msg_type_t body_type, const void *body_msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = xoc_msg_encode(body_type, body_msg, &sb);
    if (!rc)
        rc = xoc_bus_send(sock, route, type, header, sb.data ? sb.data : "", sb.size);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int xoc_bus_publish(zsock_t *pub, const char *topic, xoc_msg_type_t type, const void *msg)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int rc = xoc_msg_encode(type, msg, &sb);
    void *h = zsock_resolve(pub);
    if (!rc)
        rc = s_send_frame(h, topic, strlen(topic), 1);
    if (!rc)
        rc = s_send_frame(h, sb.data, sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}
