/*  xoc_api_ws — the HTTP + WebSocket server (libwebsockets) of xoc-api, on its own thread.

    Debian 12's libwebsockets has no external-poll support, so lws runs its own loop in a
    thread of its own, and the actor's thread talks to it in two directions:
      - events (lws thread -> actor): a PAIR socket the actor puts on its zloop, one zmsg
        per event: [kind]["<conn id>"][payload], kind "open" (payload: peer address),
        "msg" (payload: one complete text frame), "close" (no payload), "drained"
        (xoc_api_ws_mark: the id is the mark's seq);
      - commands (actor -> lws thread): xoc_api_ws_send/close queue an operation under a
        mutex and wake the lws loop with lws_cancel_service() (its one thread-safe call),
        once per batch: only the operation that finds the list empty wakes it.
    Plain HTTP requests (anything but the /api/ upgrade) become one event each:
    [http][<request id>][peer][method][path][cookie][authorization][accept][body][arg]...
    (path percent-decoded by lws, one frame per query argument "name=value", body only
    for requests with a Content-Length up to http_body_max); the actor answers with
    xoc_api_ws_http_answer (a complete body, or a stream fed with xoc_api_ws_send and
    ended with xoc_api_ws_close); "hclose" tells that the request is over (answered,
    timed out after http_timeout_s without an answer, or the client went away).
    Transport only: JSON-RPC lives in the actor. Per connection: frames are reassembled up
    to api.max_frame, the send queue is bounded (api.send_queue_max bytes; past the bound
    the connection is closed with 1008 "send queue full"), and big messages go out in
    fragments, one chunk per writable callback (back-pressure).                            */
#ifndef XOC_API_WS_H
#define XOC_API_WS_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "xoc_api_buf.h"

typedef struct _xoc_api_ws_t xoc_api_ws_t;

typedef struct {
    const char *host;          /* listening address, e.g. 127.0.0.1 */
    int port;                  /* 0: a free port */
    size_t max_frame;          /* largest incoming message, bytes */
    size_t send_queue_max;     /* bytes queued per connection before it is closed */
    int handshake_timeout_s;
    int ping_s;                /* idle seconds before a PING */
    int idle_timeout_s;        /* idle seconds before hanging up */
    size_t http_body_max;      /* largest HTTP request body (413 above) */
    int http_header_max;       /* bytes of request headers (lws refuses more) */
    int http_timeout_s;        /* an HTTP answer is started and progresses within this */
} xoc_api_ws_opts_t;

/*  Listens and starts the thread. NULL on failure (address in use, ...).                 */
xoc_api_ws_t *xoc_api_ws_new(const xoc_api_ws_opts_t *opts);
/*  Stops the thread, closes every connection.                                             */
void xoc_api_ws_destroy(xoc_api_ws_t **self_p);

/*  The PAIR socket of events, to read from the actor's loop.                              */
zsock_t *xoc_api_ws_events(xoc_api_ws_t *self);
/*  The port actually listened on.                                                         */
int xoc_api_ws_port(const xoc_api_ws_t *self);

/*  Queues a text message for a connection (takes a reference to buf). Unknown or closed
    connections drop it. Returns 0 or XOC_ENOMEM. Thread-safe.                            */
int xoc_api_ws_send(xoc_api_ws_t *self, uint64_t conn, xoc_api_buf_t *buf);
/*  A push: the same message for n connections in one operation (the fan-out), as n
    xoc_api_ws_send in that order with one wake-up of the lws thread; and its turn on each
    of them is awaited by the next xoc_api_ws_mark. Thread-safe.                          */
int xoc_api_ws_push(xoc_api_ws_t *self, const uint64_t *conns, size_t n, xoc_api_buf_t *buf);
/*  Once every push queued before this call has had its write turn on each connection it
    went to (written to the socket, or the connection found behind: its client does not
    read as fast, or a backlog was queued before the push, or it closed), an event
    [drained]["<seq>"] comes on the events socket. A later mark gives up the earlier one
    if it is still awaited (its event never comes). Thread-safe.                          */
int xoc_api_ws_mark(xoc_api_ws_t *self, uint64_t seq);
/*  Answers an HTTP request: status, content type, extra headers ("Name: value" lines
    separated by \n, or NULL), body (a reference is taken; NULL: empty). stream: no
    Content-Length, the connection stays open for xoc_api_ws_send chunks (bounded by
    send_queue_max like WebSocket messages) until xoc_api_ws_close. Thread-safe.          */
int xoc_api_ws_http_answer(xoc_api_ws_t *self, uint64_t conn, int status,
                           const char *content_type, const char *headers, xoc_api_buf_t *body,
                           bool stream);
/*  Closes a connection once its queue is written, with a WebSocket status and reason.    */
int xoc_api_ws_close(xoc_api_ws_t *self, uint64_t conn, int status, const char *reason);

/*  GET /healthz answers 200 "ready" once set, 503 before (load balancers' health check:
    an instance whose replica is not loaded gets no client). Thread-safe.                 */
void xoc_api_ws_set_ready(xoc_api_ws_t *self, bool ready);

/*  Figures for /metrics: bytes queued for the clients (total, and the largest queue of one
    connection) as measured by the lws thread at the previous call (each call asks for a
    new measure), and clients closed because their queue was full. Thread-safe.           */
typedef struct {
    size_t queued, queued_max;
    uint64_t slow_closed;
} xoc_api_ws_stats_t;
void xoc_api_ws_stats(xoc_api_ws_t *self, xoc_api_ws_stats_t *out);

#endif
