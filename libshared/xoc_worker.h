/*  xoc_worker — the worker side of the broker protocol (README §4), driven by a zloop.

    A worker serves one service name. It registers (ready), heartbeats every
    bus.heartbeat_ms, and when the broker stays silent for bus.liveness heartbeats it
    reconnects and registers again (so a restarted bus finds its workers by itself).
    Requests reach the handler as xoc_request_t; the handler replies at once or keeps the
    request and replies later from the same thread (xoc_worker_reply takes ownership).    */
#ifndef XOC_WORKER_H
#define XOC_WORKER_H

#include <czmq.h>

#include "xoc_bus.h"
#include "xoc_metrics.h"
#include "xoc_msg.h"

typedef struct _xoc_worker_t xoc_worker_t;

typedef struct {
    uint64_t id;
    char method[128];
    int64_t deadline_ms;   /* monotonic ms (xoc_bus_now_ms) when the client stops waiting */
    zframe_t *client;      /* route back to the client */
    zframe_t *body;        /* request body frame, or NULL */
    void *user;            /* free for the handler */
    int64_t received_us;   /* monotonic µs of its arrival (xoc_request_seconds) */
} xoc_request_t;

/*  Called for each request. Must eventually call xoc_worker_reply* exactly once.          */
typedef void(xoc_worker_fn)(xoc_worker_t *worker, xoc_request_t *req, void *arg);

/*  Called once the requests that were waiting have all been handed to the handler (the
    socket read dry, or 64 messages read in one go): a service that gathers requests to
    do them together (the cache's group commit) does them here.                         */
typedef void(xoc_worker_drained_fn)(xoc_worker_t *worker, void *arg);

/*  Creates a worker for `service`; `capacity` = requests accepted at once (0 = 64).       */
xoc_worker_t *xoc_worker_new(const char *service, const xoc_bus_opts_t *opts, int capacity,
                             xoc_worker_fn *handler, void *arg);
void xoc_worker_destroy(xoc_worker_t **self_p);

/*  Sets (or clears with NULL) the drained callback; it gets the handler's arg.           */
void xoc_worker_set_drained(xoc_worker_t *self, xoc_worker_drained_fn *fn);

/*  Registers the worker's socket and heartbeat timer on the loop. Returns 0 or -1.        */
int xoc_worker_attach(xoc_worker_t *self, zloop_t *loop);

/*  Replies and frees *req_p. body: a complete proto message frame or NULL.
    status: 0 or a negative xoc code, with an optional reason.                             */
int xoc_worker_reply(xoc_worker_t *self, xoc_request_t **req_p, int status, const char *reason,
                     const void *body, size_t body_len);

/*  Frees a request without replying (a service stopping with requests in hand; the client
    gets its timeout).                                                                      */
void xoc_request_destroy(xoc_request_t **req_p);

/*  Replies with a proto message as body.                                                  */
int xoc_worker_reply_msg(xoc_worker_t *self, xoc_request_t **req_p, xoc_msg_type_t type,
                         const void *msg);

/*  Decodes the request body as `type`; on error replies with the named error, frees the
    request and returns the error (the caller then just returns).                          */
int xoc_worker_decode(xoc_worker_t *self, xoc_request_t **req_p, xoc_msg_type_t type,
                      xoc_msg_t *out);

/*  Counts the requests answered in reg: xoc_requests_total{service,method,status} and the
    histogram xoc_request_seconds{service,method} (arrival to answer). A worker made with
    bus options that carry a registry (opts->metrics, set by xoc_node) does it already.  */
void xoc_worker_set_metrics(xoc_worker_t *self, xoc_metrics_t *reg);

const char *xoc_worker_instance(const xoc_worker_t *self);
uint64_t xoc_worker_served(const xoc_worker_t *self);

#endif
