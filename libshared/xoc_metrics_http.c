/*  xoc_metrics_http — GET /metrics on a libwebsockets thread. See xoc_metrics_http.h.     */
#include "xoc_metrics_http.h"

#include <libwebsockets.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_log.h"

#define S_HEADER_MAX 4096   /* bytes of request headers */
#define S_HEADER_POOL 16    /* connections reading their headers at once */
#define S_TIMEOUT_S 5       /* headers, keep-alive idle */
#define S_SEND_TIMEOUT_S 10 /* the whole answer */
#define S_CHUNK 16384       /* bytes written per writable callback */
#define S_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct _xoc_metrics_http_t {
    xoc_metrics_t *reg;
    struct lws_context *ctx;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    char host[128];
    char address[160];
    char url[200];
    unsigned char scratch[LWS_PRE + S_CHUNK];
};

/* per connection: the answer being written */
typedef struct {
    char *body;
    size_t len, off;
} s_conn_t;

static void s_conn_reset(s_conn_t *c)
{
    free(c->body);
    memset(c, 0, sizeof *c);
}

static int s_not_found(struct lws *wsi)
{
    if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* GET /metrics: renders, sends the headers, the body follows on writable callbacks */
static int s_on_request(xoc_metrics_http_t *self, struct lws *wsi, s_conn_t *c, const char *uri)
{
    s_conn_reset(c);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 || !uri || strcmp(uri, "/metrics") != 0)
        return s_not_found(wsi);
    c->body = xoc_metrics_render(self->reg, &c->len);
    if (!c->body) {
        lws_return_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL);
        return -1;
    }
    unsigned char *start = self->scratch + LWS_PRE, *p = start,
                  *end = self->scratch + sizeof self->scratch - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, S_CONTENT_TYPE, c->len, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT, S_SEND_TIMEOUT_S);
    lws_callback_on_writable(wsi);
    return 0;
}

static int s_on_writable(xoc_metrics_http_t *self, struct lws *wsi, s_conn_t *c)
{
    if (!c->body)
        return 0;
    size_t n = c->len - c->off < S_CHUNK ? c->len - c->off : S_CHUNK;
    memcpy(self->scratch + LWS_PRE, c->body + c->off, n);
    bool last = c->off + n == c->len;
    if (lws_write(wsi, self->scratch + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
        (int)n)
        return -1;
    c->off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    s_conn_reset(c);
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    xoc_metrics_http_t *self = lws_context_user(lws_get_context(wsi));
    s_conn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return s_on_request(self, wsi, c, in);
    case LWS_CALLBACK_HTTP_BODY:
        return 0; /* no GET has one; anything else is a 404 */
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return c ? s_on_writable(self, wsi, c) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c)
            s_conn_reset(c);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    {"http", s_callback, sizeof(s_conn_t), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *s_thread(void *arg)
{
    xoc_metrics_http_t *self = arg;
    while (!atomic_load(&self->stop))
        if (lws_service(self->ctx, 0) < 0)
            break;
    return NULL;
}

/* "host:port" or "[v6]:port" -> host (without brackets), port; false when malformed */
static bool s_split(const char *listen, char *host, size_t size, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return false;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (n < 3 || h[n - 1] != ']')
            return false;
        h++;
        n -= 2;
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (n >= size || *end || end == colon + 1 || p < 0 || p > 65535)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (int)p;
    return true;
}

/* resolves host to a numeric address (lws wants one, or an interface name) and checks
   that host:port can be bound: lws leaks a little when its own bind fails, and this way
   the error is known before */
static int s_probe(char *host, size_t size, int port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0 || !ai)
        return XOC_EINVAL;
    int rc = XOC_EIO, one = 1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getnameinfo(ai->ai_addr, ai->ai_addrlen, host, (socklen_t)size, NULL, 0, NI_NUMERICHOST) ==
            0)
        rc = 0;
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return rc;
}

xoc_metrics_http_t *xoc_metrics_http_new(xoc_metrics_t *reg, const char *listen, int *err)
{
    int port = 0;
    *err = XOC_ENOMEM;
    xoc_metrics_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->reg = reg;
    if (!listen || !s_split(listen, self->host, sizeof self->host, &port)) {
        *err = XOC_EINVAL;
        goto fail;
    }
    if ((*err = s_probe(self->host, sizeof self->host, port)) != 0)
        goto fail;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port; /* 0: the kernel picks a free port */
    info.iface = self->host[0] ? self->host : NULL;
    info.protocols = s_protocols;
    info.user = self;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = S_TIMEOUT_S;
    info.keepalive_timeout = S_TIMEOUT_S;
    info.max_http_header_data = S_HEADER_MAX;
    info.max_http_header_pool = S_HEADER_POOL;
    info.server_string = "xoc";
    if (!strchr(self->host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    *err = XOC_EIO;
    self->ctx = lws_create_context(&info);
    int bound =
        self->ctx ? lws_get_vhost_listen_port(lws_get_vhost_by_name(self->ctx, "default")) : -1;
    if (bound <= 0)
        goto fail;
    bool v6 = strchr(self->host, ':') != NULL;
    snprintf(self->address, sizeof self->address, "%s%s%s:%d", v6 ? "[" : "", self->host,
             v6 ? "]" : "", bound);
    snprintf(self->url, sizeof self->url, "http://%s/metrics", self->address);
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        goto fail;
    self->running = true;
    *err = 0;
    return self;
fail:
    xoc_metrics_http_destroy(&self);
    return NULL;
}

void xoc_metrics_http_destroy(xoc_metrics_http_t **self_p)
{
    xoc_metrics_http_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    *self_p = NULL;
    atomic_store(&self->stop, true);
    if (self->running) {
        lws_cancel_service(self->ctx);
        pthread_join(self->thread, NULL);
    }
    if (self->ctx)
        lws_context_destroy(self->ctx);
    free(self);
}

const char *xoc_metrics_http_address(const xoc_metrics_http_t *self)
{
    return self->address;
}

const char *xoc_metrics_http_url(const xoc_metrics_http_t *self)
{
    return self->url;
}
