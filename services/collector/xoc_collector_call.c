#include "xoc_collector_call.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"
#include "xoc_worker.h"
#include "xoc_xapi.h"

#define S_LANES_MAX 64

/* one lane: a worker (capacity 1) whose loop never blocks — it keeps heartbeating to the
   broker while its call thread waits on XAPI with its own session (a VM shutdown can take
   minutes; a worker silent for bus.liveness heartbeats would be declared lost) */
typedef struct {
    xoc_collector_call_t *gw;
    xoc_xapi_t *xapi;      /* used by the call thread only (cancel: any thread) */
    xoc_worker_t *worker;  /* used by the lane's loop thread only */
    zactor_t *actor;       /* the loop thread */
    zactor_t *caller;      /* the call thread */
    struct s_job *inflight;
    uint64_t calls, failures;
} s_lane_t;

struct _xoc_collector_call_t {
    xoc_collector_server_t server;
    char pool[64];
    char service[96];
    const xoc_bus_opts_t *bus;
    pthread_mutex_t lock; /* guards master */
    char master[512];
    int nlanes;
    s_lane_t lanes[S_LANES_MAX];
};

/* one call, handed from the loop thread to the call thread and back */
typedef struct s_job {
    xoc_request_t *req;          /* owned until the reply */
    xoc_msg_xapi_call_t call;    /* points into req->body */
    char method[128];
    int status;                  /* the reply: status, reason, body */
    char reason[1024];
    msgpack_sbuffer body;
} s_job_t;

static void s_job_destroy(s_job_t **job_p)
{
    if (!*job_p)
        return;
    xoc_request_destroy(&(*job_p)->req);
    msgpack_sbuffer_destroy(&(*job_p)->body);
    free(*job_p);
    *job_p = NULL;
}

static int s_login(s_lane_t *self)
{
    pthread_mutex_lock(&self->gw->lock);
    xoc_xapi_set_url(self->xapi, self->gw->master);
    pthread_mutex_unlock(&self->gw->lock);
    const xoc_collector_server_t *srv = &self->gw->server;
    int rc = xoc_xapi_login(self->xapi, srv->username, srv->password);
    if (rc == XOC_EXAPI && xoc_xapi_master_address(self->xapi) &&
        xoc_xapi_follow_master(self->xapi) == 0)
        rc = xoc_xapi_login(self->xapi, srv->username, srv->password);
    return rc;
}

static bool s_fault_is(xoc_xapi_t *x, const char *code)
{
    const xoc_xapi_fault_t *f = xoc_xapi_fault(x);
    return f && f->code && strcmp(f->code, code) == 0;
}

/* XAPI failure -> status xapi, reason CODE(p, ...), body error{data: [CODE, p...]} */
static void s_fault_reply(s_lane_t *self, s_job_t *job)
{
    const xoc_xapi_fault_t *f = xoc_xapi_fault(self->xapi);
    char *reason = job->reason;
    size_t size = sizeof job->reason;
    size_t n = (size_t)snprintf(reason, size, "%s(", f->code);
    for (size_t i = 0; i < f->nparams && n < size; i++)
        n += (size_t)snprintf(reason + n, size - n, "%s%s", i ? ", " : "", f->params[i]);
    if (n < size)
        snprintf(reason + n, size - n, ")");
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
    xoc_msg_error_encode(&err, &job->body);
    job->status = XOC_EXAPI;
    msgpack_sbuffer_destroy(&data);
}

/* one attempt; returns the xapi return code */
static int s_attempt(s_lane_t *self, s_job_t *job, msgpack_sbuffer *result, char **task)
{
    static const uint8_t empty[] = {0x90};
    const xoc_msg_xapi_call_t *call = &job->call;
    const void *params = call->params.len ? (const void *)call->params.ptr : empty;
    size_t len = call->params.len ? call->params.len : sizeof empty;
    if (!xoc_xapi_session(self->xapi)) {
        int rc = s_login(self);
        if (rc)
            return rc;
    }
    if (call->async)
        return xoc_xapi_call_async(self->xapi, job->method, params, len, task);
    return xoc_xapi_call(self->xapi, job->method, params, len, result);
}

/* on the call thread: the XAPI call and its reply */
static void s_perform(s_lane_t *self, s_job_t *job)
{
    msgpack_sbuffer result;
    msgpack_sbuffer_init(&result);
    char *task = NULL;
    int rc = s_attempt(self, job, &result, &task);
    bool session_lost = rc == XOC_EXAPI && s_fault_is(self->xapi, "SESSION_INVALID");
    bool unreachable = rc != 0 && rc != XOC_EXAPI && rc != XOC_ECANCELED;
    if (session_lost || unreachable || (rc == XOC_EXAPI && xoc_xapi_master_address(self->xapi))) {
        /* a new session (on the current master) and one more try */
        xoc_xapi_set_session(self->xapi, NULL);
        msgpack_sbuffer_clear(&result);
        free(task);
        task = NULL;
        rc = s_attempt(self, job, &result, &task);
    }
    if (rc == XOC_EXAPI && xoc_xapi_fault(self->xapi)->code)
        s_fault_reply(self, job);
    else if (rc) {
        job->status = rc == XOC_ECANCELED ? rc : XOC_EUNREACHABLE;
        snprintf(job->reason, sizeof job->reason, "%s", xoc_xapi_detail(self->xapi));
    } else {
        xoc_msg_xapi_call_t out = {.pool = xoc_str(self->gw->pool),
                                   .method = xoc_str(job->method),
                                   .result = {(const uint8_t *)result.data, (uint32_t)result.size},
                                   .task = xoc_str(task)};
        job->status = xoc_msg_xapi_call_encode(&out, &job->body);
        if (job->status)
            snprintf(job->reason, sizeof job->reason, "cannot encode the result");
    }
    free(task);
    msgpack_sbuffer_destroy(&result);
}

static void s_caller(zsock_t *pipe, void *arg)
{
    s_lane_t *self = arg;
    zsock_signal(pipe, 0);
    for (;;) {
        zmsg_t *msg = zmsg_recv(pipe);
        if (!msg)
            break;
        zframe_t *f = zmsg_first(msg);
        if (f && zframe_streq(f, "$TERM")) {
            zmsg_destroy(&msg);
            break;
        }
        s_job_t *job = NULL;
        if (f && zframe_size(f) == sizeof job)
            memcpy(&job, zframe_data(f), sizeof job);
        zmsg_destroy(&msg);
        if (job) {
            s_perform(self, job);
            zsock_send(pipe, "p", job);
        }
    }
    if (xoc_xapi_session(self->xapi))
        xoc_xapi_logout(self->xapi);
}

/* a call that changes nothing: <class>.get_*, event.*, session.*, system.* */
static bool s_read_call(const char *method)
{
    if (!strncmp(method, "Async.", 6))
        method += 6;
    const char *dot = strchr(method, '.');
    return dot && (!strncmp(dot + 1, "get_", 4) || !strncmp(method, "event.", 6) ||
                   !strncmp(method, "session.", 8) || !strncmp(method, "system.", 7));
}

static void s_handle(xoc_worker_t *worker, xoc_request_t *req, void *arg)
{
    s_lane_t *self = arg;
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
    if (self->gw->server.read_only && !s_read_call(method)) {
        /* a read-only server (xo-server's readOnly): nothing that changes the pool */
        char why[200];
        snprintf(why, sizeof why, "cannot call %s() in read only mode", method);
        xoc_worker_reply(worker, &req, XOC_EPERM, why, NULL, 0);
        return;
    }
    s_job_t *job = calloc(1, sizeof *job);
    if (!job || self->inflight) { /* capacity 1: the broker never sends a second one */
        free(job);
        xoc_worker_reply(worker, &req, self->inflight ? XOC_EBUSY : XOC_ENOMEM, NULL, NULL, 0);
        return;
    }
    self->calls++;
    job->req = req;
    job->call = m.xapi_call;
    snprintf(job->method, sizeof job->method, "%s", method);
    msgpack_sbuffer_init(&job->body);
    self->inflight = job;
    if (zsock_send(self->caller, "p", job) != 0) {
        self->inflight = NULL;
        job->req = NULL;
        s_job_destroy(&job);
        xoc_worker_reply(worker, &req, XOC_EIO, "gateway call thread gone", NULL, 0);
    }
}

/* the call thread is done: the reply goes out from here (the worker's thread) */
static int s_on_done(zloop_t *loop, zsock_t *sock, void *arg)
{
    s_lane_t *self = arg;
    s_job_t *job = NULL;
    if (zsock_recv(sock, "p", &job) != 0 || !job || job != self->inflight)
        return 0;
    self->inflight = NULL;
    self->failures += job->status != 0;
    xoc_worker_reply(self->worker, &job->req, job->status, job->status ? job->reason : NULL,
                     job->body.size ? job->body.data : NULL, job->body.size);
    s_job_destroy(&job);
    return 0;
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
    s_lane_t *self = arg;
    zloop_t *loop = zloop_new();
    self->caller = zactor_new(s_caller, self);
    self->worker = xoc_worker_new(self->gw->service, self->gw->bus, 1, s_handle, self);
    if (!loop || !self->caller || !self->worker || xoc_worker_attach(self->worker, loop) != 0) {
        xoc_worker_destroy(&self->worker);
        zactor_destroy(&self->caller);
        zloop_destroy(&loop);
        zsock_signal(pipe, 1);
        return;
    }
    zloop_set_nonstop(loop, true);
    zloop_reader(loop, pipe, s_on_pipe, self);
    zloop_reader(loop, zactor_sock(self->caller), s_on_done, self);
    zsock_signal(pipe, 0);
    xoc_debug("pool=%s XAPI gateway lane %d ready service=%s", self->gw->pool,
              (int)(self - self->gw->lanes), self->gw->service);
    zloop_start(loop);
    xoc_worker_destroy(&self->worker); /* first: it ends its reader on the loop */
    zloop_destroy(&loop);
    zactor_destroy(&self->caller); /* the call in progress was cancelled: it returns at once */
    s_job_destroy(&self->inflight); /* its client gets its timeout (the service is stopping) */
}

static void s_lanes_stop(xoc_collector_call_t *self)
{
    for (int i = 0; i < self->nlanes; i++)
        if (self->lanes[i].xapi)
            xoc_xapi_cancel(self->lanes[i].xapi); /* a call in progress returns at once */
    for (int i = 0; i < self->nlanes; i++) {
        zactor_destroy(&self->lanes[i].actor);
        xoc_xapi_destroy(&self->lanes[i].xapi);
    }
    self->nlanes = 0;
}

xoc_collector_call_t *xoc_collector_call_new(const xoc_collector_server_t *server,
                                             const char *pool_id, const char *master_url,
                                             const xoc_bus_opts_t *bus)
{
    return xoc_collector_call_new_observed(server, pool_id, master_url, bus, NULL, NULL);
}

xoc_collector_call_t *xoc_collector_call_new_observed(const xoc_collector_server_t *server,
                                                      const char *pool_id,
                                                      const char *master_url,
                                                      const xoc_bus_opts_t *bus,
                                                      xoc_xapi_observe_fn *observe, void *arg)
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
    int want = server->gateway_lanes > 0 ? server->gateway_lanes : 4;
    if (want > S_LANES_MAX)
        want = S_LANES_MAX;
    for (int i = 0; i < want; i++) {
        s_lane_t *lane = &self->lanes[i];
        lane->gw = self;
        lane->xapi = xoc_xapi_new(master_url);
        if (lane->xapi && xoc_xapi_set_proxy(lane->xapi, server->http_proxy) != 0)
            xoc_xapi_destroy(&lane->xapi); /* never around the configured proxy */
        if (!lane->xapi)
            break;
        self->nlanes++;
        xoc_xapi_set_tls_verify(lane->xapi, !server->allow_unauthorized);
        xoc_xapi_set_timeouts(lane->xapi, 5000, 300000);
        if (observe)
            xoc_xapi_set_observer(lane->xapi, observe, arg);
        lane->actor = zactor_new(s_actor, lane);
        if (!lane->actor)
            break;
    }
    if (self->nlanes < want || !self->lanes[want - 1].actor) {
        s_lanes_stop(self);
        pthread_mutex_destroy(&self->lock);
        free(self);
        return NULL;
    }
    xoc_info("pool=%s XAPI gateway ready service=%s lanes=%d", self->pool, self->service,
             self->nlanes);
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
    s_lanes_stop(self);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}
