#include "xoc_collector_call.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"
#include "xoc_worker.h"
#include "xoc_xapi.h"

struct _xoc_collector_call_t {
    xoc_collector_server_t server;
    char pool[64];
    char service[96];
    const xoc_bus_opts_t *bus;
    pthread_mutex_t lock; /* guards master and xapi (cancel from another thread) */
    char master[512];
    xoc_xapi_t *xapi;
    xoc_worker_t *worker;
    zactor_t *actor;
    uint64_t calls, failures;
};

static int s_login(xoc_collector_call_t *self)
{
    pthread_mutex_lock(&self->lock);
    xoc_xapi_set_url(self->xapi, self->master);
    pthread_mutex_unlock(&self->lock);
    int rc = xoc_xapi_login(self->xapi, self->server.username, self->server.password);
    if (rc == XOC_EXAPI && xoc_xapi_master_address(self->xapi) &&
        xoc_xapi_follow_master(self->xapi) == 0)
        rc = xoc_xapi_login(self->xapi, self->server.username, self->server.password);
    return rc;
}

static bool s_fault_is(xoc_xapi_t *x, const char *code)
{
    const xoc_xapi_fault_t *f = xoc_xapi_fault(x);
    return f && f->code && strcmp(f->code, code) == 0;
}

/* XAPI failure -> rep status xapi, reason CODE(p, ...), body error{data: [CODE, p...]} */
static void s_reply_fault(xoc_collector_call_t *self, xoc_request_t **req_p)
{
    const xoc_xapi_fault_t *f = xoc_xapi_fault(self->xapi);
    char reason[1024];
    size_t n = (size_t)snprintf(reason, sizeof reason, "%s(", f->code);
    for (size_t i = 0; i < f->nparams && n < sizeof reason; i++)
        n += (size_t)snprintf(reason + n, sizeof reason - n, "%s%s", i ? ", " : "", f->params[i]);
    if (n < sizeof reason)
        snprintf(reason + n, sizeof reason - n, ")");
    msgpack_sbuffer data;
    msgpack_sbuffer_init(&data);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &data, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)f->nparams + 1);
    msgpack_pack_str_with_body(&pk, f->code, strlen(f->code));
    for (size_t i = 0; i < f->nparams; i++)
        msgpack_pack_str_with_body(&pk, f->params[i], strlen(f->params[i]));
    xoc_msg_error_t err = {.code = XOC_EXAPI, .message = xoc_str(reason),
                           .data = {(const uint8_t *)data.data, (uint32_t)data.size}};
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    xoc_msg_error_encode(&err, &body);
    xoc_worker_reply(self->worker, req_p, XOC_EXAPI, reason, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    msgpack_sbuffer_destroy(&data);
}

/* one attempt; returns the xapi return code */
static int s_attempt(xoc_collector_call_t *self, const xoc_msg_xapi_call_t *call, char *method,
                     msgpack_sbuffer *result, char **task)
{
    static const uint8_t empty[] = {0x90};
    const void *params = call->params.len ? (const void *)call->params.ptr : empty;
    size_t len = call->params.len ? call->params.len : sizeof empty;
    if (!xoc_xapi_session(self->xapi)) {
        int rc = s_login(self);
        if (rc)
            return rc;
    }
    if (call->async)
        return xoc_xapi_call_async(self->xapi, method, params, len, task);
    return xoc_xapi_call(self->xapi, method, params, len, result);
}

static void s_handle(xoc_worker_t *worker, xoc_request_t *req, void *arg)
{
    xoc_collector_call_t *self = arg;
    if (strcmp(req->method, "xapi.call") != 0) {
        xoc_worker_reply(worker, &req, XOC_ENOMETHOD, "unknown method", NULL, 0);
        return;
    }
    xoc_msg_t m;
    if (xoc_worker_decode(worker, &req, XOC_MSG_XAPI_CALL, &m) != 0)
        return;
    if (m.xapi_call.params.len &&
        (m.xapi_call.params.ptr[0] & 0xf0) != 0x90 && m.xapi_call.params.ptr[0] != 0xdc &&
        m.xapi_call.params.ptr[0] != 0xdd) {
        xoc_worker_reply(worker, &req, XOC_EINVAL, "params must be an array", NULL, 0);
        return;
    }
    char method[128];
    xoc_str_copy(m.xapi_call.method, method, sizeof method);
    self->calls++;
    msgpack_sbuffer result;
    msgpack_sbuffer_init(&result);
    char *task = NULL;
    int rc = s_attempt(self, &m.xapi_call, method, &result, &task);
    bool session_lost = rc == XOC_EXAPI && s_fault_is(self->xapi, "SESSION_INVALID");
    bool unreachable = rc != 0 && rc != XOC_EXAPI && rc != XOC_ECANCELED;
    if (session_lost || unreachable || (rc == XOC_EXAPI && xoc_xapi_master_address(self->xapi))) {
        /* a new session (on the current master) and one more try */
        xoc_xapi_set_session(self->xapi, NULL);
        msgpack_sbuffer_clear(&result);
        rc = s_attempt(self, &m.xapi_call, method, &result, &task);
    }
    if (rc == XOC_EXAPI && xoc_xapi_fault(self->xapi)->code) {
        self->failures++;
        s_reply_fault(self, &req);
    } else if (rc) {
        self->failures++;
        char why[512];
        snprintf(why, sizeof why, "%s", xoc_xapi_detail(self->xapi));
        xoc_worker_reply(worker, &req, rc == XOC_ECANCELED ? rc : XOC_EUNREACHABLE, why, NULL, 0);
    } else {
        xoc_msg_xapi_call_t out = {.pool = xoc_str(self->pool), .method = xoc_str(method),
                                   .result = {(const uint8_t *)result.data, (uint32_t)result.size},
                                   .task = xoc_str(task)};
        xoc_worker_reply_msg(worker, &req, XOC_MSG_XAPI_CALL, &out);
    }
    free(task);
    msgpack_sbuffer_destroy(&result);
}

static int s_on_pipe(zloop_t *loop, zsock_t *pipe, void *arg)
{
    char *cmd = zstr_recv(pipe);
    int rc = (!cmd || streq(cmd, "$TERM")) ? -1 : 0;
    zstr_free(&cmd);
    return rc;
}

static void s_actor(zsock_t *pipe, void *arg)
{
    xoc_collector_call_t *self = arg;
    zloop_t *loop = zloop_new();
    self->worker = xoc_worker_new(self->service, self->bus, 1, s_handle, self);
    if (!loop || !self->worker || xoc_worker_attach(self->worker, loop) != 0) {
        xoc_worker_destroy(&self->worker);
        zloop_destroy(&loop);
        zsock_signal(pipe, 1);
        return;
    }
    zloop_set_nonstop(loop, true);
    zloop_reader(loop, pipe, s_on_pipe, self);
    zsock_signal(pipe, 0);
    xoc_info("pool=%s XAPI gateway ready service=%s", self->pool, self->service);
    zloop_start(loop);
    xoc_worker_destroy(&self->worker);
    zloop_destroy(&loop);
    if (xoc_xapi_session(self->xapi))
        xoc_xapi_logout(self->xapi);
}

xoc_collector_call_t *xoc_collector_call_new(const xoc_collector_server_t *server,
                                             const char *pool_id, const char *master_url,
                                             const xoc_bus_opts_t *bus)
{
    xoc_collector_call_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->server = *server;
    snprintf(self->pool, sizeof self->pool, "%s", pool_id);
    snprintf(self->service, sizeof self->service, "xapi.%s", pool_id);
    snprintf(self->master, sizeof self->master, "%s", master_url);
    self->bus = bus;
    pthread_mutex_init(&self->lock, NULL);
    self->xapi = xoc_xapi_new(master_url);
    if (self->xapi) {
        xoc_xapi_set_tls_verify(self->xapi, !server->allow_unauthorized);
        xoc_xapi_set_timeouts(self->xapi, 5000, 300000);
        self->actor = zactor_new(s_actor, self);
    }
    if (!self->actor) {
        xoc_xapi_destroy(&self->xapi);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    return self;
}

void xoc_collector_call_set_master(xoc_collector_call_t *self, const char *master_url)
{
    pthread_mutex_lock(&self->lock);
    snprintf(self->master, sizeof self->master, "%s", master_url);
    pthread_mutex_unlock(&self->lock);
}

const char *xoc_collector_call_pool(const xoc_collector_call_t *self)
{
    return self->pool;
}

void xoc_collector_call_destroy(xoc_collector_call_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_collector_call_t *self = *self_p;
    xoc_xapi_cancel(self->xapi); /* a call in progress returns at once */
    zactor_destroy(&self->actor);
    xoc_xapi_destroy(&self->xapi);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
