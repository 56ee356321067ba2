/*  xoc_api_ws — libwebsockets server thread of xoc-api. See xoc_api_ws.h.                */
#include "xoc_api_ws.h"

#include <libwebsockets.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_log.h"

#define S_CHUNK (1024 * 1024)   /* bytes per WebSocket fragment written */
#define S_CHUNKS_PER_TURN 16    /* fragments written per writable callback at most */
#define S_BIG (1024 * 1024)     /* messages from this size on: their end is logged (debug) */

typedef struct s_out {
    xoc_api_buf_t *buf;
    size_t off;
    struct s_out *next;
} s_out_t;

/* per connection (lws per-session data) */
typedef struct {
    uint64_t id;
    struct lws *wsi;
    char *rx;
    size_t rx_len, rx_cap;
    s_out_t *head, *tail;
    size_t queued;          /* bytes not yet written */
    uint64_t mark_gen;      /* a push waits for its turn here (s_conn_enqueue, s_unmark) */
    bool behind;            /* the last turn left bytes in lws's buffer: the client lags */
    bool close_now;         /* close at the next writable callback */
    bool close_after;       /* close once the queue is written */
    int close_status;
    char close_reason[96];
    /* plain HTTP (one transaction; lws frees this struct when the transaction ends) */
    bool http;
    bool http_body;         /* the request body is being received */
    bool http_answered;     /* the actor's answer (status, head) is here */
    bool http_head_sent;
    bool http_stream;       /* no content length: chunks until closed */
    int http_status;
    char *http_head;        /* "content type\nname: value\n..." from the actor */
    zmsg_t *http_req;       /* the request event, waiting for its body */
    /* debug log of big answers (bench_api_getall): the last request's arrival, and a big
       message written whose end is to be logged once lws has flushed it to the socket */
    int64_t rx_us;
    size_t big_sent;
} s_conn_t;

/* an operation from the actor */
typedef struct s_op {
    uint64_t conn;
    xoc_api_buf_t *buf;     /* send; NULL: close */
    int status;
    char reason[96];
    char *http_head;        /* an HTTP answer: content type and headers (owned) */
    bool http_stream;
    uint64_t *conns;        /* send to several connections (owned), conn unused */
    size_t n_conns;
    bool push;              /* xoc_api_ws_push: its turn on each connection is awaited */
    bool mark;              /* xoc_api_ws_mark: tell when those turns are over, with seq */
    uint64_t seq;
    struct s_op *next;
} s_op_t;

struct _xoc_api_ws_t {
    xoc_api_ws_opts_t opts;
    char host[128];
    struct lws_context *ctx;
    lws_retry_bo_t retry;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    atomic_bool ready;      /* GET /healthz: 200 when true, 503 otherwise */
    int port;
    zsock_t *ev_in;         /* actor side */
    zsock_t *ev_out;        /* lws thread side */
    zhashx_t *conns;        /* "<id>" -> s_conn_t (lws thread only) */
    uint64_t next_id;
    pthread_mutex_t lock;   /* guards ops */
    s_op_t *ops, *ops_tail;
    unsigned char scratch[LWS_PRE + S_CHUNK];
    /* pushes and their turns (lws thread only): a push queued on an idle connection marks
       it with mark_open; a mark operation closes that generation (mark_wait, n_wait
       connections still to be served, seq to report) and opens the next one */
    uint64_t mark_open, mark_wait, mark_seq;
    size_t n_open, n_wait;
    bool mark_want;
    /* xoc_api_ws_stats: measured on the lws thread when asked */
    atomic_bool measure;
    atomic_size_t queued, queued_max;
    atomic_uint_fast64_t slow_closed;
};

/* ---- events to the actor --------------------------------------------------------------------- */

static int s_event(xoc_api_ws_t *self, const char *kind, uint64_t id, const void *data,
                   size_t len)
{
    zmsg_t *m = zmsg_new();
    if (!m)
        return -1;
    zmsg_addstr(m, kind);
    zmsg_addstrf(m, "%llu", (unsigned long long)id);
    if (data)
        zmsg_addmem(m, data, len);
    return zmsg_send(&m, self->ev_out); /* never blocks: sndtimeo 0; fails when full */
}

/* ---- pushes' turns ------------------------------------------------------------------------- */

static void s_drained_check(xoc_api_ws_t *self)
{
    if (self->mark_want && self->n_wait == 0) {
        self->mark_want = false;
        s_event(self, "drained", self->mark_seq, NULL, 0);
    }
}

/* c's turn came (or c is gone): it no longer holds the pushes back */
static void s_unmark(xoc_api_ws_t *self, s_conn_t *c)
{
    if (c->mark_gen == 0)
        return;
    if (c->mark_gen == self->mark_wait && self->n_wait > 0) {
        self->n_wait--;
        s_drained_check(self);
    } else if (c->mark_gen == self->mark_open && self->n_open > 0)
        self->n_open--;
    c->mark_gen = 0;
}

/* a mark operation: the pushes queued before it are awaited (an earlier generation still
   awaited is given up: the actor went on without it) */
static void s_mark_close(xoc_api_ws_t *self, uint64_t seq)
{
    self->mark_wait = self->mark_open;
    self->n_wait = self->n_open;
    self->mark_open++;
    self->n_open = 0;
    self->mark_seq = seq;
    self->mark_want = true;
    s_drained_check(self);
}

/* ---- per connection ------------------------------------------------------------------------- */

static void s_conn_key(uint64_t id, char *key, size_t size)
{
    snprintf(key, size, "%llu", (unsigned long long)id);
}

static void s_conn_free_queue(s_conn_t *c)
{
    while (c->head) {
        s_out_t *o = c->head;
        c->head = o->next;
        xoc_api_buf_unref(&o->buf);
        free(o);
    }
    c->tail = NULL;
    c->queued = 0;
}

static void s_conn_close_soon(s_conn_t *c, int status, const char *reason, bool now)
{
    if (!c->close_now && !c->close_after) {
        c->close_status = status;
        snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
    }
    if (now) {
        c->close_now = true;
        s_conn_free_queue(c);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 10); /* never writable: drop it */
    } else
        c->close_after = true;
    lws_callback_on_writable(c->wsi);
}

static void s_conn_enqueue(xoc_api_ws_t *self, s_conn_t *c, xoc_api_buf_t **buf_p, bool push)
{
    size_t len = xoc_api_buf_len(*buf_p);
    if (c->close_now || c->close_after) {
        xoc_api_buf_unref(buf_p);
        return;
    }
    /* the message being written is not counted: one big reply (getAllObjects) goes out
       whatever its size, and what waits behind it is bounded */
    size_t waiting = c->head ? c->queued - (xoc_api_buf_len(c->head->buf) - c->head->off) : 0;
    if (c->head && waiting + len > self->opts.send_queue_max) {
        xoc_warn("closing a slow client conn=%llu queued=%zu", (unsigned long long)c->id,
                 c->queued);
        xoc_api_buf_unref(buf_p);
        atomic_fetch_add(&self->slow_closed, 1);
        s_conn_close_soon(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "send queue full", true);
        return;
    }
    s_out_t *o = calloc(1, sizeof *o);
    if (!o) {
        xoc_api_buf_unref(buf_p);
        s_conn_close_soon(c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", true);
        return;
    }
    o->buf = *buf_p;
    *buf_p = NULL;
    /* a push to an idle connection: its turn is awaited (one behind, or with a backlog,
       is not: a slow client never holds the next push back) */
    if (push && !c->head && !c->behind && c->mark_gen == 0) {
        c->mark_gen = self->mark_open;
        self->n_open++;
    }
    if (c->tail)
        c->tail->next = o;
    else
        c->head = o;
    c->tail = o;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
}

/* writes up to S_CHUNKS_PER_TURN fragments; returns -1 to close. Called when the socket
   is writable: the first write goes without asking; each next one only if lws took the
   previous one whole (else lws keeps the rest, at most one fragment, and asks for the
   next writable callback itself): no poll() per message. */
static int s_conn_write_turn(xoc_api_ws_t *self, s_conn_t *c)
{
    if (c->close_now) {
        if (lws_send_pipe_choked(c->wsi)) { /* the close frame waits for room (bounded: timeout) */
            lws_callback_on_writable(c->wsi);
            return 0;
        }
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_status,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->big_sent) { /* writable again: lws handed its last bytes to the socket */
        xoc_debug("ws: sent conn=%llu bytes=%zu us=%lld since the last request arrived",
                  (unsigned long long)c->id, c->big_sent,
                  (long long)(lws_now_usecs() - c->rx_us));
        c->big_sent = 0;
    }
    c->behind = false;
    for (int n = 0; n < S_CHUNKS_PER_TURN && c->head && !c->behind; n++) {
        s_out_t *o = c->head;
        size_t total = xoc_api_buf_len(o->buf);
        size_t chunk = total - o->off < S_CHUNK ? total - o->off : S_CHUNK;
        memcpy(self->scratch + LWS_PRE, xoc_api_buf_data(o->buf) + o->off, chunk);
        int flags = lws_write_ws_flags(LWS_WRITE_TEXT, o->off == 0, o->off + chunk == total);
        if (lws_write(c->wsi, self->scratch + LWS_PRE, chunk, (enum lws_write_protocol)flags) <
            (int)chunk)
            return -1;
        o->off += chunk;
        c->queued -= chunk;
        if (o->off == total) {
            if (total >= S_BIG && XOC_LOG_DEBUG <= xoc_log_level_current)
                c->big_sent = total;
            c->head = o->next;
            if (!c->head)
                c->tail = NULL;
            xoc_api_buf_unref(&o->buf);
            free(o);
        }
        c->behind = lws_partial_buffered(c->wsi) != 0;
    }
    if (c->head || c->big_sent)
        lws_callback_on_writable(c->wsi);
    else if (c->close_after) {
        c->close_now = true;
        lws_callback_on_writable(c->wsi);
    }
    return 0;
}

/* several messages queued: TCP_CORK while they are written, so that they leave in as few
   segments as possible (one wake-up of the reader instead of one per message); off
   again at the end of the turn, which sends what is left at once */
static void s_cork(s_conn_t *c, int on)
{
#ifdef TCP_CORK
    int fd = (int)lws_get_socket_fd(c->wsi);
    if (fd >= 0)
        (void)setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
#else
    (void)c;
    (void)on;
#endif
}

static int s_conn_write(xoc_api_ws_t *self, s_conn_t *c)
{
    bool corked = c->head && c->head->next && !c->close_now;
    if (corked)
        s_cork(c, 1);
    int rc = s_conn_write_turn(self, c);
    if (corked)
        s_cork(c, 0);
    s_unmark(self, c);
    return rc;
}

/* accumulates a fragment; returns -1 to close */
static int s_conn_receive(xoc_api_ws_t *self, s_conn_t *c, const void *in, size_t len)
{
    if (c->rx_len + len > self->opts.max_frame) {
        static const char why[] = "frame too large";
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof why - 1);
        return -1;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap * 2 : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx)
            return -1;
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(c->wsi))
        return 0;
    c->rx_us = lws_now_usecs();
    int rc = s_event(self, "msg", c->id, c->rx, c->rx_len);
    c->rx_len = 0;
    if (c->rx_cap > 1024 * 1024) { /* give a big buffer back */
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
    }
    if (rc != 0) {
        static const char why[] = "server overloaded";
        lws_close_reason(c->wsi, (enum lws_close_status)1013, (unsigned char *)why,
                         sizeof why - 1); /* 1013: try again later */
        return -1;
    }
    return 0;
}

static int s_conn_open(xoc_api_ws_t *self, s_conn_t *c, struct lws *wsi)
{
    memset(c, 0, sizeof *c);
    c->id = ++self->next_id;
    c->wsi = wsi;
    char key[24], peer[128] = "";
    s_conn_key(c->id, key, sizeof key);
    zhashx_insert(self->conns, key, c);
    lws_get_peer_simple(wsi, peer, sizeof peer);
    xoc_debug("connection open conn=%llu peer=%s", (unsigned long long)c->id, peer);
    return s_event(self, "open", c->id, peer, strlen(peer)) == 0 ? 0 : -1;
}

static void s_conn_closed(xoc_api_ws_t *self, s_conn_t *c)
{
    if (c->id == 0)
        return;
    char key[24];
    s_conn_key(c->id, key, sizeof key);
    zhashx_delete(self->conns, key);
    s_unmark(self, c);
    s_conn_free_queue(c);
    free(c->rx);
    c->rx = NULL;
    free(c->http_head);
    c->http_head = NULL;
    zmsg_destroy(&c->http_req);
    s_event(self, c->http ? "hclose" : "close", c->id, NULL, 0);
    xoc_debug("connection closed conn=%llu", (unsigned long long)c->id);
    c->id = 0;
}

/* ---- plain HTTP ------------------------------------------------------------------------------ */

/* the request line's method and URI (lws parsed them: one of these tokens is set) */
static const char *s_http_method(struct lws *wsi, enum lws_token_indexes *tok)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } methods[] = {{WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
                   {WSI_TOKEN_PUT_URI, "PUT"},         {WSI_TOKEN_PATCH_URI, "PATCH"},
                   {WSI_TOKEN_DELETE_URI, "DELETE"},   {WSI_TOKEN_HEAD_URI, "HEAD"},
                   {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length(wsi, methods[i].tok) > 0) {
            *tok = methods[i].tok;
            return methods[i].name;
        }
    return NULL;
}

static void s_add_header(zmsg_t *m, struct lws *wsi, enum lws_token_indexes tok)
{
    char v[8192];
    int n = lws_hdr_copy(wsi, v, sizeof v, tok);
    zmsg_addmem(m, v, n > 0 ? (size_t)n : 0);
}

/* answers at once from this thread (malformed or oversized requests) */
static int s_http_refuse(struct lws *wsi, unsigned status)
{
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* LWS_CALLBACK_HTTP: the request as one event [http][id][peer][method][path][cookie]
   [authorization][accept][body][arg]...; sent now, or when its body is complete */
static int s_http_request(xoc_api_ws_t *self, s_conn_t *c, struct lws *wsi, const char *uri)
{
    if (c->id)
        s_conn_closed(self, c);
    memset(c, 0, sizeof *c);
    enum lws_token_indexes tok = WSI_TOKEN_GET_URI;
    const char *method = s_http_method(wsi, &tok);
    if (!method || !uri)
        return s_http_refuse(wsi, HTTP_STATUS_BAD_REQUEST);
    char clen[32] = "";
    lws_hdr_copy(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    unsigned long long body = strtoull(clen, NULL, 10);
    if (body > self->opts.http_body_max)
        return s_http_refuse(wsi, HTTP_STATUS_REQ_ENTITY_TOO_LARGE);
    c->id = ++self->next_id;
    c->wsi = wsi;
    c->http = true;
    char key[24], peer[128] = "";
    s_conn_key(c->id, key, sizeof key);
    zhashx_insert(self->conns, key, c);
    lws_get_peer_simple(wsi, peer, sizeof peer);
    zmsg_t *m = zmsg_new();
    zmsg_addstr(m, "http");
    zmsg_addstrf(m, "%llu", (unsigned long long)c->id);
    zmsg_addstr(m, peer);
    zmsg_addstr(m, method);
    zmsg_addstr(m, uri);
    s_add_header(m, wsi, WSI_TOKEN_HTTP_COOKIE);
    s_add_header(m, wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    s_add_header(m, wsi, WSI_TOKEN_HTTP_ACCEPT);
    zmsg_addmem(m, NULL, 0); /* the body, filled in later */
    char arg[4096];
    for (int i = 0; i < 64; i++) {
        int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n <= 0)
            break;
        zmsg_addmem(m, arg, (size_t)n);
    }
    /* the actor answers within http_timeout_s, or the connection is dropped */
    lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, self->opts.http_timeout_s);
    if (body > 0 && tok != WSI_TOKEN_GET_URI) {
        c->http_req = m;
        c->http_body = true;
        return 0;
    }
    if (zmsg_send(&m, self->ev_out) != 0) {
        zmsg_destroy(&m);
        return s_http_refuse(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    }
    return 0;
}

static int s_http_body(xoc_api_ws_t *self, s_conn_t *c, const void *in, size_t len)
{
    if (!c->http_body || !c->http_req)
        return 0;
    if (c->rx_len + len > self->opts.http_body_max)
        return -1; /* more than Content-Length said: drop the connection */
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap * 2 : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx)
            return -1;
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    return 0;
}

/* the request with its body in frame 8 */
static int s_http_body_done(xoc_api_ws_t *self, s_conn_t *c)
{
    c->http_body = false;
    if (!c->http_req)
        return 0;
    zmsg_t *m = zmsg_new();
    int i = 0;
    for (zframe_t *f = zmsg_first(c->http_req); f; f = zmsg_next(c->http_req), i++)
        if (i == 8)
            zmsg_addmem(m, c->rx, c->rx_len);
        else
            zmsg_addmem(m, zframe_data(f), zframe_size(f));
    zmsg_destroy(&c->http_req);
    if (zmsg_send(&m, self->ev_out) != 0) {
        zmsg_destroy(&m);
        return s_http_refuse(c->wsi, HTTP_STATUS_SERVICE_UNAVAILABLE);
    }
    return 0;
}

static void s_http_answer(xoc_api_ws_t *self, s_conn_t *c, s_op_t *op)
{
    if (!c->http || c->http_answered)
        return;
    c->http_answered = true;
    c->http_status = op->status;
    c->http_head = op->http_head;
    op->http_head = NULL;
    c->http_stream = op->http_stream;
    if (op->buf)
        s_conn_enqueue(self, c, &op->buf, false);
    /* a stream lives as long as the actor feeds it; an answer is written within the timeout */
    if (c->http_stream)
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    else
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, self->opts.http_timeout_s);
    lws_callback_on_writable(c->wsi);
}

/* status line and headers: content type first line, then "name: value" lines */
static int s_http_write_head(xoc_api_ws_t *self, s_conn_t *c)
{
    unsigned char *start = self->scratch + LWS_PRE, *p = start, *end = p + S_CHUNK - 1;
    char *head = c->http_head;
    char *nl = strchr(head, '\n');
    if (nl)
        *nl = '\0';
    lws_filepos_t len = c->http_stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)c->queued;
    if (lws_add_http_common_headers(c->wsi, (unsigned)c->http_status, head, len, &p, end))
        return -1;
    for (char *line = nl ? nl + 1 : NULL; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            char name[64];
            snprintf(name, sizeof name, "%.*s:", (int)(colon - line), line);
            const char *v = colon + 1 + (colon[1] == ' ');
            if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)name,
                                            (const unsigned char *)v, (int)strlen(v), &p, end))
                return -1;
        }
        line = next;
    }
    if (lws_finalize_write_http_header(c->wsi, start, &p, end))
        return -1;
    c->http_head_sent = true;
    return 0;
}

/* LWS_CALLBACK_HTTP_WRITEABLE; returns -1 to close */
static int s_http_write(xoc_api_ws_t *self, s_conn_t *c)
{
    if (!c->http || c->close_now)
        return -1;
    if (!c->http_answered)
        return c->close_after ? -1 : 0;
    if (!c->http_head_sent) {
        if (s_http_write_head(self, c) != 0)
            return -1;
        if (!c->http_stream && !c->head)
            return lws_http_transaction_completed(c->wsi) ? -1 : 0;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    for (int n = 0; n < S_CHUNKS_PER_TURN && c->head && !lws_send_pipe_choked(c->wsi); n++) {
        s_out_t *o = c->head;
        size_t total = xoc_api_buf_len(o->buf);
        size_t chunk = total - o->off < S_CHUNK ? total - o->off : S_CHUNK;
        bool last = !c->http_stream && o->next == NULL && o->off + chunk == total;
        memcpy(self->scratch + LWS_PRE, xoc_api_buf_data(o->buf) + o->off, chunk);
        if (lws_write(c->wsi, self->scratch + LWS_PRE, chunk,
                      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)chunk)
            return -1;
        o->off += chunk;
        c->queued -= chunk;
        if (o->off == total) {
            c->head = o->next;
            if (!c->head)
                c->tail = NULL;
            xoc_api_buf_unref(&o->buf);
            free(o);
        }
        if (last) /* lws frees c when the transaction ends (keep-alive) */
            return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    if (c->head) {
        if (!c->http_stream) /* progress: the timeout starts again */
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, self->opts.http_timeout_s);
        lws_callback_on_writable(c->wsi);
    } else if (c->close_after)
        return -1;
    return 0;
}

/* ---- operations from the actor ------------------------------------------------------------- */

/* the send queues, for xoc_api_ws_stats */
static void s_measure(xoc_api_ws_t *self)
{
    size_t total = 0, max = 0;
    for (s_conn_t *c = zhashx_first(self->conns); c; c = zhashx_next(self->conns)) {
        total += c->queued;
        max = c->queued > max ? c->queued : max;
    }
    atomic_store(&self->queued, total);
    atomic_store(&self->queued_max, max);
}

void xoc_api_ws_stats(xoc_api_ws_t *self, xoc_api_ws_stats_t *out)
{
    out->queued = atomic_load(&self->queued);
    out->queued_max = atomic_load(&self->queued_max);
    out->slow_closed = atomic_load(&self->slow_closed);
    atomic_store(&self->measure, true);
    lws_cancel_service(self->ctx);
}

static void s_drain_ops(xoc_api_ws_t *self)
{
    if (atomic_exchange(&self->measure, false))
        s_measure(self);
    pthread_mutex_lock(&self->lock);
    s_op_t *op = self->ops;
    self->ops = self->ops_tail = NULL;
    pthread_mutex_unlock(&self->lock);
    while (op) {
        s_op_t *next = op->next;
        char key[24];
        s_conn_key(op->conn, key, sizeof key);
        s_conn_t *c = op->conns ? NULL : zhashx_lookup(self->conns, key);
        for (size_t i = 0; i < op->n_conns; i++) { /* one buffer, several connections */
            s_conn_key(op->conns[i], key, sizeof key);
            s_conn_t *to = zhashx_lookup(self->conns, key);
            xoc_api_buf_t *ref = to ? xoc_api_buf_ref(op->buf) : NULL;
            if (ref)
                s_conn_enqueue(self, to, &ref, op->push);
        }
        if (op->mark)
            s_mark_close(self, op->seq);
        else if (c && op->http_head)
            s_http_answer(self, c, op);
        else if (c && op->buf)
            s_conn_enqueue(self, c, &op->buf, false);
        else if (c)
            s_conn_close_soon(c, op->status, op->reason, false);
        xoc_api_buf_unref(&op->buf);
        free(op->http_head);
        free(op->conns);
        free(op);
        op = next;
    }
}

static int s_push_op(xoc_api_ws_t *self, s_op_t *op)
{
    pthread_mutex_lock(&self->lock);
    bool wake = self->ops == NULL; /* else a wake-up is on its way: the drain takes the list */
    if (self->ops_tail)
        self->ops_tail->next = op;
    else
        self->ops = op;
    self->ops_tail = op;
    pthread_mutex_unlock(&self->lock);
    if (wake)
        lws_cancel_service(self->ctx);
    return 0;
}

int xoc_api_ws_send(xoc_api_ws_t *self, uint64_t conn, xoc_api_buf_t *buf)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return XOC_ENOMEM;
    op->conn = conn;
    op->buf = xoc_api_buf_ref(buf);
    return s_push_op(self, op);
}

int xoc_api_ws_push(xoc_api_ws_t *self, const uint64_t *conns, size_t n, xoc_api_buf_t *buf)
{
    if (n == 0)
        return 0;
    s_op_t *op = calloc(1, sizeof *op);
    if (op && !(op->conns = malloc(n * sizeof *conns))) {
        free(op);
        op = NULL;
    }
    if (!op)
        return XOC_ENOMEM;
    memcpy(op->conns, conns, n * sizeof *conns);
    op->n_conns = n;
    op->push = true;
    op->buf = xoc_api_buf_ref(buf);
    return s_push_op(self, op);
}

int xoc_api_ws_mark(xoc_api_ws_t *self, uint64_t seq)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return XOC_ENOMEM;
    op->mark = true;
    op->seq = seq;
    return s_push_op(self, op);
}

int xoc_api_ws_http_answer(xoc_api_ws_t *self, uint64_t conn, int status,
                           const char *content_type, const char *headers, xoc_api_buf_t *body,
                           bool stream)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return XOC_ENOMEM;
    op->conn = conn;
    op->status = status;
    op->http_stream = stream;
    op->buf = body ? xoc_api_buf_ref(body) : NULL;
    size_t n = strlen(content_type) + (headers ? strlen(headers) : 0) + 2;
    op->http_head = malloc(n);
    if (!op->http_head) {
        xoc_api_buf_unref(&op->buf);
        free(op);
        return XOC_ENOMEM;
    }
    snprintf(op->http_head, n, "%s\n%s", content_type, headers ? headers : "");
    return s_push_op(self, op);
}

int xoc_api_ws_close(xoc_api_ws_t *self, uint64_t conn, int status, const char *reason)
{
    s_op_t *op = calloc(1, sizeof *op);
    if (!op)
        return XOC_ENOMEM;
    op->conn = conn;
    op->status = status;
    snprintf(op->reason, sizeof op->reason, "%s", reason ? reason : "");
    return s_push_op(self, op);
}

/* ---- the protocol callback -------------------------------------------------------------------- */

/* only "/api/" upgrades to the JSON-RPC WebSocket (xo-api.md §1.2) */
static int s_filter(struct lws *wsi)
{
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/api/") != 0)
        return -1;
    return 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    xoc_api_ws_t *self = lws_context_user(lws_get_context(wsi));
    s_conn_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return s_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED: return s_conn_open(self, c, wsi);
    case LWS_CALLBACK_RECEIVE: return s_conn_receive(self, c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return s_conn_write(self, c);
    case LWS_CALLBACK_CLOSED: s_conn_closed(self, c); return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: s_drain_ops(self); return 0;
    case LWS_CALLBACK_HTTP:
        if (in && strcmp(in, "/healthz") == 0) { /* load balancers' check (deploy/haproxy.cfg) */
            bool ready = atomic_load(&self->ready);
            if (lws_return_http_status(wsi, ready ? 200 : 503, ready ? "ready" : "not loaded"))
                return -1;
            return lws_http_transaction_completed(wsi) ? -1 : 0;
        }
        return s_http_request(self, c, wsi, in);
    case LWS_CALLBACK_HTTP_BODY: return s_http_body(self, c, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return s_http_body_done(self, c);
    case LWS_CALLBACK_HTTP_WRITEABLE: return s_http_write(self, c);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL: /* end of a transaction: c is freed after this */
        if (c && c->http)
            s_conn_closed(self, c);
        return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    {"xoc-jsonrpc", s_callback, sizeof(s_conn_t), S_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- life ------------------------------------------------------------------------------------- */

static void *s_thread(void *arg)
{
    xoc_api_ws_t *self = arg;
    while (!atomic_load(&self->stop))
        if (lws_service(self->ctx, 0) < 0)
            break;
    return NULL;
}

static int s_listen(xoc_api_ws_t *self)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = self->opts.port ? self->opts.port : CONTEXT_PORT_NO_LISTEN_SERVER;
    info.iface = self->host[0] ? self->host : NULL;
    info.protocols = s_protocols;
    info.user = self;
    info.gid = -1;
    info.uid = -1;
    info.timeout_secs = (unsigned)self->opts.handshake_timeout_s;
    info.max_http_header_data = (unsigned short)self->opts.http_header_max;
    info.max_http_header_pool = 64;
    self->retry.secs_since_valid_ping = (uint16_t)self->opts.ping_s;
    self->retry.secs_since_valid_hangup = (uint16_t)self->opts.idle_timeout_s;
    info.retry_and_idle_policy = &self->retry;
    if (!strchr(self->host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    self->ctx = lws_create_context(&info);
    if (!self->ctx)
        return XOC_EIO;
    self->port = lws_get_vhost_listen_port(lws_get_vhost_by_name(self->ctx, "default"));
    return self->port > 0 ? 0 : XOC_EIO;
}

static int s_free_port(const char *host)
{
    /* lws has no "port 0": take a free port from the kernel first */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICHOST}, *ai = NULL;
    if (getaddrinfo(host[0] ? host : "127.0.0.1", "0", &hints, &ai) != 0)
        return -1;
    int port = -1;
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    if (fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                              : ((struct sockaddr_in *)&sa)->sin_port);
    if (fd >= 0)
        close(fd);
    freeaddrinfo(ai);
    return port;
}

xoc_api_ws_t *xoc_api_ws_new(const xoc_api_ws_opts_t *opts)
{
    lws_set_log_level(LLL_ERR, NULL);
    xoc_api_ws_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->opts = *opts;
    snprintf(self->host, sizeof self->host, "%s", opts->host ? opts->host : "");
    pthread_mutex_init(&self->lock, NULL);
    self->conns = zhashx_new();
    self->mark_open = 1;
    /* a new name each time: a freed instance's address may come back while its endpoint
       is not unbound yet */
    static atomic_uint s_instances;
    char ep[80];
    snprintf(ep, sizeof ep, "inproc://xoc-api-ws-%p-%u", (void *)self,
             atomic_fetch_add(&s_instances, 1));
    self->ev_in = zsock_new(ZMQ_PAIR);
    self->ev_out = zsock_new(ZMQ_PAIR);
    if (!self->conns || !self->ev_in || !self->ev_out || zsock_bind(self->ev_in, "%s", ep) != 0 ||
        zsock_connect(self->ev_out, "%s", ep) != 0)
        goto fail;
    zsock_set_sndhwm(self->ev_out, 100000);
    zsock_set_rcvhwm(self->ev_in, 100000);
    zsock_set_sndtimeo(self->ev_out, 0);
    if (self->opts.port == 0)
        self->opts.port = s_free_port(self->host);
    if (self->opts.port <= 0 || s_listen(self) != 0)
        goto fail;
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        goto fail;
    self->running = true;
    return self;
fail:
    xoc_api_ws_destroy(&self);
    return NULL;
}

void xoc_api_ws_destroy(xoc_api_ws_t **self_p)
{
    xoc_api_ws_t *self = *self_p;
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
    s_drain_ops(self);  /* frees what is left (no connection remains) */
    zhashx_destroy(&self->conns);
    zsock_destroy(&self->ev_out);
    zsock_destroy(&self->ev_in);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

zsock_t *xoc_api_ws_events(xoc_api_ws_t *self) { return self->ev_in; }
int xoc_api_ws_port(const xoc_api_ws_t *self) { return self->port; }
void xoc_api_ws_set_ready(xoc_api_ws_t *self, bool ready) { atomic_store(&self->ready, ready); }
