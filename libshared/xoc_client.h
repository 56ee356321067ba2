/*  xoc_client — requests to bus services, with deadlines (README §4).

    Every request carries its timeout; the broker answers XOC_ETIMEOUT when it expires, and
    the client gives up on its own one heartbeat later if the broker itself is gone, so a
    call never hangs. Replies are matched by id; a late reply is dropped.

    Two ways to use it:
      sync:  xoc_client_call() blocks until the reply or the deadline (tools, tests);
      async: xoc_client_attach() to a zloop, then xoc_client_send() with a callback.    */
#ifndef XOC_CLIENT_H
#define XOC_CLIENT_H

#include <czmq.h>

#include "xoc_bus.h"
#include "xoc_msg.h"

typedef struct _xoc_client_t xoc_client_t;

/*  A reply: status 0 or a negative xoc code; body = reply body frame (may be NULL).      */
typedef struct {
    int status;
    char reason[256];
    zframe_t *body;
} xoc_reply_t;

void xoc_reply_clear(xoc_reply_t *reply);

/*  Decodes reply->body as `type` into out. Returns 0 or the decode error.                 */
int xoc_reply_decode(const xoc_reply_t *reply, xoc_msg_type_t type, xoc_msg_t *out);

/*  Async callback: the reply is the callback's for the duration of the call only.         */
typedef void(xoc_client_fn)(xoc_client_t *client, xoc_reply_t *reply, void *arg);

xoc_client_t *xoc_client_new(const xoc_bus_opts_t *opts);
void xoc_client_destroy(xoc_client_t **self_p);
/*  Ends every pending request now with XOC_ECANCELED, their callbacks called (before a
    destroy, by an owner whose callback arguments must be freed).                         */
void xoc_client_cancel_all(xoc_client_t *self);

/*  Sync call. body: a complete frame (a proto message) or NULL. Fills *reply (call
    xoc_reply_clear after). Returns reply->status.                                        */
int xoc_client_call(xoc_client_t *self, const char *service, const char *method,
                    const void *body, size_t body_len, int timeout_ms, xoc_reply_t *reply);

/*  Sync call with a proto message as body.                                                 */
int xoc_client_call_msg(xoc_client_t *self, const char *service, const char *method,
                        xoc_msg_type_t type, const void *msg, int timeout_ms,
                        xoc_reply_t *reply);

/*  Registers the socket and a timer (heartbeats, deadlines) on the loop.                  */
int xoc_client_attach(xoc_client_t *self, zloop_t *loop);

/*  Async send; `fn` is called exactly once with the reply or an error. Returns 0 or
    XOC_EIO/XOC_ENOMEM (then fn is not called).                                           */
int xoc_client_send(xoc_client_t *self, const char *service, const char *method,
                    const void *body, size_t body_len, int timeout_ms, xoc_client_fn *fn,
                    void *arg);

/*  For a thread that uses xoc_client_send without a zloop: waits up to timeout_ms for
    replies and runs their callbacks, heartbeats, and gives up on expired requests.        */
void xoc_client_pump(xoc_client_t *self, int timeout_ms);

/*  Requests waiting for a reply.                                                           */
size_t xoc_client_pending(const xoc_client_t *self);

#endif
