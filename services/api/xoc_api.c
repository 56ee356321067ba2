/*  xoc_api — the actor: events of the WebSocket thread, the JSON-RPC call pipeline
    (xo-api.md §1.8: method lookup, permission with the user reloaded at every call,
    params schema, handler), sessions, replies. See xoc_api.h.                             */
#include "xoc_api.h"

#include <sodium.h>
#include <string.h>
#include <time.h>

#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_log.h"

const xoc_cfg_key_t xoc_api_cfg_keys[] = {
    {"api.listen", XOC_CFG_STR, "127.0.0.1:8080", 0, 0,
     "HTTP/WebSocket listening address host:port (port 0: a free port)"},
    {"api.max_frame", XOC_CFG_INT, "16777216", 1024, 1073741824,
     "largest incoming WebSocket message, in bytes (larger: closed with 1009)"},
    {"api.send_queue_max", XOC_CFG_INT, "67108864", 65536, 4294967296LL,
     "bytes queued for one client before it is closed as too slow (1008)"},
    {"api.handshake_timeout_s", XOC_CFG_INT, "10", 1, 3600, "HTTP/WebSocket handshake timeout"},
    {"api.ping_s", XOC_CFG_INT, "30", 1, 3600, "idle seconds before a WebSocket PING"},
    {"api.idle_timeout_s", XOC_CFG_INT, "90", 2, 86400,
     "idle seconds (no frame, no PONG) before hanging up"},
    {"api.signin_throttle_ms", XOC_CFG_INT, "2000", 0, 3600000,
     "after a wrong password, refuse the same user and the same address this long"},
    {"api.token_validity_s", XOC_CFG_INT, "2592000", 60, 15552000,
     "default validity of token.create (30 days; at most half a year)"},
    {"api.bus_timeout_ms", XOC_CFG_INT, "10000", 100, 600000, "deadline of bus requests"},
    {"api.xapi_timeout_ms", XOC_CFG_INT, "300000", 1000, 3600000,
     "deadline of one XAPI call made for an action (vm.start, ...)"},
    {"api.acl_refresh_s", XOC_CFG_INT, "30", 1, 86400,
     "reload the config dbs acls, groups and users this often (repairs a lost change event)"},
    {"api.http_body_max", XOC_CFG_INT, "1048576", 0, 1073741824,
     "largest HTTP request body, in bytes (larger: 413)"},
    {"api.http_header_max", XOC_CFG_INT, "8192", 1024, 65535,
     "bytes of HTTP request headers (larger: refused by lws)"},
    {"api.http_timeout_s", XOC_CFG_INT, "30", 1, 3600,
     "an HTTP answer starts and progresses within this, or the connection is dropped"},
    {"api.sse_ping_s", XOC_CFG_INT, "30", 1, 3600,
     "seconds between SSE ping events (keep-alive comments with ?all=true)"},
    {"api.get_from_ttl_s", XOC_CFG_INT, "60", 1, 86400,
     "validity of the one-shot $getFrom URLs of xo.getAllObjects {ndjson: true}"},
    {"api.push_coalesce_ms", XOC_CFG_INT, "10", 0, 1000,
     "the object changes of this window become one `all` enter + one exit push (0: per batch)"},
    {"api.push_coalesce_max_kib", XOC_CFG_INT, "4096", 1, 1048576,
     "a coalescing window is pushed early once its objects' JSON exceeds this (KiB)"},
    {"api.push_adaptive", XOC_CFG_BOOL, "true", 0, 0,
     "a window's pushes wait until the previous ones were handed to every connection (under "
     "load the windows grow instead of the send queues)"},
    {"api.getall_keep", XOC_CFG_BOOL, "true", 0, 0,
     "keep a super-admin's whole xo.getAllObjects answer and send it again while nothing "
     "changed (faster; holds about its size in memory)"},
    XOC_CFG_END};

/* ---- metrics ---------------------------------------------------------------------------------- */

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* a call answered: "ok" or the JSON-RPC error code */
static void s_metrics_call(xoc_api_server_t *srv, const char *method, int rpc_code,
                           int64_t started_us)
{
    char status[16] = "ok";
    if (rpc_code)
        snprintf(status, sizeof status, "%d", rpc_code);
    xoc_metrics_inc(xoc_metrics_with(srv->m_calls, method, status));
    if (started_us)
        xoc_metrics_observe(xoc_metrics_with(srv->m_call_seconds, method),
                            (double)(s_now_us() - started_us) / 1e6);
}

/* gauges from the actor's state (before each heartbeat) */
static void s_metrics_refresh(xoc_metrics_t *reg, void *arg)
{
    xoc_api_server_t *srv = arg;
    xoc_metrics_set(srv->m_connections, (double)zhashx_size(srv->sessions));
    xoc_metrics_set(srv->m_signed_in, (double)srv->signed_in);
    xoc_metrics_set(srv->m_pushes, (double)srv->pushes);
    if (srv->ws) {
        xoc_api_ws_stats_t ws;
        xoc_api_ws_stats(srv->ws, &ws);
        xoc_metrics_set(srv->m_queued, (double)ws.queued);
        xoc_metrics_set(srv->m_queued_max, (double)ws.queued_max);
        xoc_metrics_set(srv->m_slow_closed, (double)ws.slow_closed);
    }
    if (srv->replica) {
        uint64_t rev = xoc_replica_rev(srv->replica), seen = xoc_replica_seen_rev(srv->replica);
        xoc_replica_stats_t st;
        xoc_replica_stats(srv->replica, &st);
        xoc_metrics_set(srv->m_rev, (double)rev);
        xoc_metrics_set(srv->m_seen_rev, (double)seen);
        xoc_metrics_set(srv->m_lag, (double)(seen - rev));
        xoc_metrics_set(srv->m_objects, (double)xoc_replica_count(srv->replica));
        xoc_metrics_set(srv->m_replica_bytes, (double)xoc_replica_bytes(srv->replica));
        xoc_metrics_set(srv->m_snapshots, (double)st.snapshots);
        xoc_metrics_set(srv->m_gaps, (double)st.gaps);
    }
}

static void s_metrics_declare(xoc_api_server_t *srv)
{
    xoc_metrics_t *reg = srv->node.metrics.reg;
    srv->m_calls = xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_api_calls_total",
                                      "JSON-RPC calls answered, by method and status (ok, or the "
                                      "JSON-RPC error code; method _unknown: not in the table, "
                                      "_invalid: not a valid request)",
                                      "method,status", NULL, 0);
    srv->m_call_seconds =
        xoc_metrics_family(reg, XOC_METRICS_HISTOGRAM, "xoc_api_call_seconds",
                           "time from a call's arrival to its answer, by method", "method",
                           xoc_metrics_latency_buckets, xoc_metrics_latency_nbuckets);
    srv->m_connections = xoc_metrics_gauge(reg, "xoc_api_connections", "WebSocket connections");
    srv->m_signed_in =
        xoc_metrics_gauge(reg, "xoc_api_sessions_signed_in", "connections signed in");
    srv->m_pushes = xoc_metrics_counter(reg, "xoc_api_push_batches_total",
                                        "`all` notification batches pushed to connections (one "
                                        "batch: an enter and/or an exit message)");
    srv->m_queued = xoc_metrics_gauge(reg, "xoc_api_send_queue_bytes",
                                      "bytes queued for the clients, all connections");
    srv->m_queued_max = xoc_metrics_gauge(reg, "xoc_api_send_queue_max_bytes",
                                          "bytes queued for the client with the longest queue");
    srv->m_slow_closed = xoc_metrics_counter(reg, "xoc_api_slow_clients_closed_total",
                                             "clients closed because their send queue was full");
    srv->m_rev =
        xoc_metrics_gauge(reg, "xoc_api_replica_revision", "revision of the object replica");
    srv->m_seen_rev = xoc_metrics_gauge(reg, "xoc_api_replica_seen_revision",
                                        "highest revision published by the cache seen on the bus");
    srv->m_lag = xoc_metrics_gauge(reg, "xoc_api_replica_revision_lag",
                                   "revisions seen on the bus and not applied to the replica yet");
    srv->m_objects = xoc_metrics_gauge(reg, "xoc_api_replica_objects", "objects in the replica");
    srv->m_replica_bytes =
        xoc_metrics_gauge(reg, "xoc_api_replica_bytes", "bytes held by the replica's objects");
    srv->m_snapshots = xoc_metrics_counter(reg, "xoc_api_replica_snapshots_total",
                                           "snapshots taken by the replica (1 + resyncs)");
    srv->m_gaps = xoc_metrics_counter(reg, "xoc_api_replica_gaps_total",
                                      "revision gaps that started a new snapshot");
    xoc_node_set_metrics(&srv->node, s_metrics_refresh, srv);
}

/* ---- replies ---------------------------------------------------------------------------------- */

void xoc_api_send(xoc_api_server_t *srv, uint64_t conn, xoc_api_buf_t *buf)
{
    if (buf)
        xoc_api_ws_send(srv->ws, conn, buf);
}

static void s_send_text(xoc_api_server_t *srv, uint64_t conn, char *text)
{
    if (!text)
        return;
    xoc_api_buf_t *buf = xoc_api_buf_from(text, strlen(text));
    xoc_api_send(srv, conn, buf);
    xoc_api_buf_unref(&buf);
    free(text);
}

static void s_call_free(xoc_api_call_t *call)
{
    json_decref(call->id);
    json_decref(call->params);
    json_decref(call->user);
    free(call);
}

void xoc_api_call_done(xoc_api_call_t *call, json_t *result)
{
    s_metrics_call(call->srv, call->method->name, 0, call->started_us);
    if (call->id)
        s_send_text(call->srv, call->conn,
                    xoc_api_rpc_result(call->id, result ? result : json_true()));
    else
        json_decref(result);
    s_call_free(call);
}

int xoc_api_call_result_open(xoc_api_call_t *call, xoc_api_buf_t *buf)
{
    char *id = call->id ? json_dumps(call->id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    int rc = xoc_api_buf_puts(buf, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (rc == 0)
        rc = xoc_api_buf_puts(buf, id ? id : "null");
    if (rc == 0)
        rc = xoc_api_buf_puts(buf, ",\"result\":");
    free(id);
    return rc;
}

void xoc_api_call_done_buf(xoc_api_call_t *call, xoc_api_buf_t *buf)
{
    s_metrics_call(call->srv, call->method->name, 0, call->started_us);
    if (call->id && xoc_api_buf_putc(buf, '}') == 0)
        xoc_api_send(call->srv, call->conn, buf);
    s_call_free(call);
}

void xoc_api_call_fail_raw(xoc_api_call_t *call, int rpc_code, const char *message,
                           json_t *data)
{
    xoc_debug("call failed method=%s code=%d conn=%llu", call->method ? call->method->name : "?",
              rpc_code, (unsigned long long)call->conn);
    s_metrics_call(call->srv, call->method ? call->method->name : "_unknown", rpc_code,
                   call->started_us);
    if (call->id)
        s_send_text(call->srv, call->conn,
                    xoc_api_rpc_error(call->id, xoc_api_rpc_error_raw(rpc_code, message, data)));
    else
        json_decref(data);
    s_call_free(call);
}

void xoc_api_call_fail(xoc_api_call_t *call, int xoc_code, const char *message, json_t *data)
{
    if (!data && xoc_err_jsonrpc(xoc_code) == 28) { /* serviceUnavailable {serviceName} (§2) */
        const char *t = call->method ? call->method->service : NULL;
        data = json_pack("{s:s}", "serviceName", t && strncmp(t, "xapi.", 5) ? t : "cache");
    }
    json_t *err = xoc_api_rpc_error_object(xoc_code, message, data);
    json_t *code = json_object_get(err, "code");
    json_t *msg = json_object_get(err, "message");
    xoc_api_call_fail_raw(call, (int)json_integer_value(code), json_string_value(msg),
                          json_incref(json_object_get(err, "data")));
    json_decref(err);
}

/* ---- sessions ----------------------------------------------------------------------------------- */

static void s_key(uint64_t conn, char *key, size_t size)
{
    snprintf(key, size, "%llu", (unsigned long long)conn);
}

xoc_api_session_t *xoc_api_session(xoc_api_server_t *srv, uint64_t conn)
{
    char key[24];
    s_key(conn, key, sizeof key);
    return zhashx_lookup(srv->sessions, key);
}

void xoc_api_session_set_user(xoc_api_server_t *srv, xoc_api_session_t *s, const char *user_id,
                              int64_t expiration_ms)
{
    if (s->user_id[0])
        srv->signed_in--;
    snprintf(s->user_id, sizeof s->user_id, "%s", user_id ? user_id : "");
    s->expiration_ms = user_id ? expiration_ms : 0;
    s->token_key[0] = '\0'; /* a token sign-in sets it afterwards */
    if (s->user_id[0])
        srv->signed_in++;
    xoc_api_access_session(srv, s); /* follow this user's permissions (or stop) */
}

static void s_session_open(xoc_api_server_t *srv, uint64_t conn, const char *peer)
{
    xoc_api_session_t *s = calloc(1, sizeof *s);
    if (!s) {
        xoc_api_ws_close(srv->ws, conn, 1011, "out of memory");
        return;
    }
    s->conn = conn;
    snprintf(s->ip, sizeof s->ip, "%s", peer);
    char key[24];
    s_key(conn, key, sizeof key);
    zhashx_update(srv->sessions, key, s);
}

static void s_session_close(xoc_api_server_t *srv, uint64_t conn)
{
    xoc_api_session_t *s = xoc_api_session(srv, conn);
    if (!s)
        return;
    xoc_api_session_set_user(srv, s, NULL, 0);
    char key[24];
    s_key(conn, key, sizeof key);
    zhashx_delete(srv->sessions, key);
}

/* ---- the call pipeline ----------------------------------------------------------------------- */

static void s_run(xoc_api_call_t *call)
{
    json_t *errors = NULL;
    xoc_api_normalize_id(call);
    if (xoc_api_rpc_check(&call->method->params, call->params, &errors) != 0) {
        xoc_api_call_fail(call, XOC_EINVAL, NULL, json_pack("{s:o}", "errors", errors));
        return;
    }
    int rc = call->method->handler(call);
    if (rc < 0)
        xoc_api_call_fail(call, rc, NULL, NULL);
}

/* the caller's user, reloaded from the cache at every call (xo-api.md §1.2) */
static void s_on_user(xoc_api_server_t *srv, int status, json_t *user, void *arg)
{
    xoc_api_call_t *call = arg;
    if (status != 0 || !json_is_object(user)) {
        xoc_api_session_t *s = xoc_api_session(srv, call->conn);
        if (s && status == XOC_ENOENT)
            xoc_api_session_set_user(srv, s, NULL, 0); /* the user was deleted */
        xoc_api_call_fail(call, status == XOC_ENOENT ? XOC_EPERM : status, NULL, NULL);
        return;
    }
    call->user = json_incref(user);
    if (call->method->permission == XOC_API_PERM_ADMIN && !xoc_api_acl_is_admin(user)) {
        xoc_api_call_fail(call, XOC_EPERM, NULL,
                          json_pack("{s:s,s:{}}", "permission", "admin", "object"));
        return;
    }
    s_run(call);
}

static void s_call_start(xoc_api_server_t *srv, xoc_api_session_t *s, xoc_api_req_t *req,
                         const xoc_api_method_t *m)
{
    xoc_api_call_t *call = calloc(1, sizeof *call);
    if (!call)
        return;
    call->srv = srv;
    call->conn = s->conn;
    call->id = req->notification ? NULL : json_incref(req->id);
    call->method = m;
    call->params = json_incref(req->params);
    call->started_us = s_now_us();
    snprintf(call->ip, sizeof call->ip, "%s", s->ip);
    srv->calls++;
    if (m->permission == XOC_API_PERM_PUBLIC)
        s_run(call);
    else if (!s->user_id[0])
        xoc_api_call_fail(call, XOC_EPERM, NULL, json_pack("{s:{}}", "object"));
    else if (xoc_api_cfg(srv, "get", "users", s->user_id, NULL, s_on_user, call) != 0)
        xoc_api_call_fail(call, XOC_EIO, NULL, NULL);
}

static void s_on_message(xoc_api_server_t *srv, uint64_t conn, const char *text, size_t len)
{
    xoc_api_session_t *s = xoc_api_session(srv, conn);
    if (!s)
        return;
    if (s->expiration_ms && s->expiration_ms < (int64_t)zclock_time()) {
        xoc_api_ws_close(srv->ws, conn, 1008, "session expired");
        return;
    }
    xoc_api_req_t req;
    char *error_doc = NULL;
    if (xoc_api_rpc_decode(text, len, &req, &error_doc) != 0) {
        json_t *doc = error_doc ? json_loads(error_doc, 0, NULL) : NULL;
        json_t *code = json_object_get(json_object_get(doc, "error"), "code");
        s_metrics_call(srv, "_invalid", code ? (int)json_integer_value(code) : -32600, 0);
        json_decref(doc);
        s_send_text(srv, conn, error_doc);
        return;
    }
    const xoc_api_method_t *m = xoc_api_method_find(req.method);
    if (!m) {
        char msg[200];
        snprintf(msg, sizeof msg, "method not found: %.160s", req.method);
        s_metrics_call(srv, "_unknown", XOC_API_RPC_METHOD_NOT_FOUND, 0);
        if (!req.notification)
            s_send_text(srv, conn,
                        xoc_api_rpc_error(req.id, xoc_api_rpc_error_raw(
                                                      XOC_API_RPC_METHOD_NOT_FOUND, msg,
                                                      json_string(req.method))));
    } else
        s_call_start(srv, s, &req, m);
    xoc_api_req_clear(&req);
}

static int s_on_ws_event(zloop_t *loop, zsock_t *sock, void *arg)
{
    xoc_api_server_t *srv = arg;
    zmsg_t *msg = zmsg_recv(sock);
    if (!msg)
        return 0;
    char *kind = zmsg_popstr(msg);
    char *id = zmsg_popstr(msg);
    zframe_t *payload = zmsg_pop(msg);
    uint64_t conn = id ? strtoull(id, NULL, 10) : 0;
    if (kind && streq(kind, "msg") && payload)
        s_on_message(srv, conn, (const char *)zframe_data(payload), zframe_size(payload));
    else if (kind && streq(kind, "open"))
        s_session_open(srv, conn, payload ? (const char *)zframe_data(payload) : "");
    else if (kind && streq(kind, "close"))
        s_session_close(srv, conn);
    else if (kind && streq(kind, "http"))
        xoc_api_rest_request(srv, conn, payload, msg);
    else if (kind && streq(kind, "hclose"))
        xoc_api_rest_closed(srv, conn);
    else if (kind && streq(kind, "drained"))
        xoc_api_objects_drained(srv, conn);
    zframe_destroy(&payload);
    zstr_free(&id);
    zstr_free(&kind);
    zmsg_destroy(&msg);
    return 0;
}

/* ---- life -------------------------------------------------------------------------------------- */

static int s_cron(zloop_t *loop, int timer_id, void *arg)
{
    xoc_api_server_t *srv = arg;
    /* forget sign-in failures older than the throttling delay */
    int64_t now = zclock_mono();
    zlistx_t *keys = zhashx_keys(srv->throttle);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys))
        if (now - (int64_t)(intptr_t)zhashx_lookup(srv->throttle, k) > srv->signin_delay_ms)
            zhashx_delete(srv->throttle, k);
    zlistx_destroy(&keys);
    xoc_api_ws_set_ready(srv->ws, xoc_replica_synced(srv->replica)); /* GET /healthz */
    return 0;
}

static void s_stats(msgpack_packer *pk, void *arg)
{
    xoc_api_server_t *srv = arg;
    msgpack_pack_map(pk, 5);
    msgpack_pack_str_with_body(pk, "connections", 11);
    msgpack_pack_uint64(pk, zhashx_size(srv->sessions));
    msgpack_pack_str_with_body(pk, "signed_in", 9);
    msgpack_pack_uint64(pk, srv->signed_in);
    msgpack_pack_str_with_body(pk, "calls", 5);
    msgpack_pack_uint64(pk, srv->calls);
    msgpack_pack_str_with_body(pk, "objects", 7);
    msgpack_pack_uint64(pk, srv->replica ? xoc_replica_count(srv->replica) : 0);
    msgpack_pack_str_with_body(pk, "replica_bytes", 13); /* xoc_replica_bytes (bench_api rss) */
    msgpack_pack_uint64(pk, srv->replica ? xoc_replica_bytes(srv->replica) : 0);
}

static int s_start_ws(xoc_api_server_t *srv, xoc_cfg_t *cfg)
{
    char host[128];
    snprintf(host, sizeof host, "%s", xoc_cfg_str(cfg, "api.listen"));
    char *colon = strrchr(host, ':');
    if (!colon) {
        xoc_error("api.listen must be host:port, not %s", host);
        return XOC_EINVAL;
    }
    *colon = '\0';
    xoc_api_ws_opts_t o = {
        .host = host,
        .port = atoi(colon + 1),
        .max_frame = (size_t)xoc_cfg_int(cfg, "api.max_frame"),
        .send_queue_max = (size_t)xoc_cfg_int(cfg, "api.send_queue_max"),
        .handshake_timeout_s = (int)xoc_cfg_int(cfg, "api.handshake_timeout_s"),
        .ping_s = (int)xoc_cfg_int(cfg, "api.ping_s"),
        .idle_timeout_s = (int)xoc_cfg_int(cfg, "api.idle_timeout_s"),
        .http_body_max = (size_t)xoc_cfg_int(cfg, "api.http_body_max"),
        .http_header_max = (int)xoc_cfg_int(cfg, "api.http_header_max"),
        .http_timeout_s = (int)xoc_cfg_int(cfg, "api.http_timeout_s"),
    };
    srv->ws = xoc_api_ws_new(&o);
    if (!srv->ws) {
        xoc_error("cannot listen on %s", xoc_cfg_str(cfg, "api.listen"));
        return XOC_EIO;
    }
    char listen[160];
    snprintf(listen, sizeof listen, "%s:%d", host, xoc_api_ws_port(srv->ws));
    xoc_cfg_set(cfg, "api.listen", listen); /* main prints the real address */
    return zloop_reader(srv->node.loop, xoc_api_ws_events(srv->ws), s_on_ws_event, srv);
}

static int s_init(xoc_api_server_t *srv, zsock_t *pipe, xoc_cfg_t *cfg)
{
    int rc = xoc_node_init(&srv->node, "api", pipe, cfg);
    if (rc)
        return rc;
    srv->cfg = cfg;
    srv->signin_delay_ms = xoc_cfg_int(cfg, "api.signin_throttle_ms");
    srv->getall_keep = xoc_cfg_bool(cfg, "api.getall_keep");
    srv->token_validity_ms = xoc_cfg_int(cfg, "api.token_validity_s") * 1000;
    srv->bus_timeout_ms = (int)xoc_cfg_int(cfg, "api.bus_timeout_ms");
    srv->sessions = zhashx_new();
    srv->throttle = zhashx_new();
    srv->json = zhashx_new();
    srv->scratch = xoc_api_buf_new(64 * 1024);
    srv->client = xoc_client_new(&srv->node.bus);
    srv->replica = xoc_replica_new(&srv->node.bus);
    srv->work = xoc_api_work_new(srv->node.loop);
    if (!srv->sessions || !srv->throttle || !srv->client || !srv->replica || !srv->work ||
        !srv->json || !srv->scratch)
        return XOC_ENOMEM;
    zhashx_set_destructor(srv->json, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_destructor(srv->sessions, (zhashx_destructor_fn *)zstr_free);
    if ((rc = xoc_api_access_start(srv)) != 0)
        return rc;
    xoc_replica_set_callbacks(srv->replica, xoc_api_objects_change, xoc_api_objects_batch, srv);
    if (xoc_client_attach(srv->client, srv->node.loop) != 0 ||
        xoc_replica_attach(srv->replica, srv->node.loop) != 0)
        return XOC_EIO;
    if (xoc_api_acts_init(srv) != 0)
        return XOC_ENOMEM;
    xoc_api_users_bootstrap(srv); /* needs the client on the loop */
    zloop_timer(srv->node.loop, 1000, 0, s_cron, srv);
    if ((rc = xoc_api_rest_init(srv)) != 0)
        return rc;
    xoc_node_set_stats(&srv->node, s_stats, srv);
    s_metrics_declare(srv);
    return s_start_ws(srv, cfg);
}

static void s_fini(xoc_api_server_t *srv)
{
    xoc_api_users_bootstrap_stop(srv); /* before the WebSocket thread goes */
    xoc_api_ws_destroy(&srv->ws); /* first: no more events */
    xoc_api_rest_fini(srv);
    xoc_api_work_destroy(&srv->work);
    xoc_api_acts_fini(srv);
    xoc_replica_destroy(&srv->replica);
    xoc_api_access_stop(srv);
    xoc_client_destroy(&srv->client);
    zhashx_destroy(&srv->sessions);
    zhashx_destroy(&srv->throttle);
    zhashx_destroy(&srv->json);
    xoc_api_buf_unref(&srv->scratch);
    xoc_api_buf_unref(&srv->all_answer);
    xoc_api_buf_unref(&srv->push_enter);
    xoc_api_buf_unref(&srv->push_exit);
    xoc_api_objects_fini(srv);
    xoc_node_fini(&srv->node);
}

void xoc_api_actor(zsock_t *pipe, void *args)
{
    xoc_api_server_t srv;
    memset(&srv, 0, sizeof srv);
    if (sodium_init() < 0) {
        zsock_signal(pipe, 1);
        return;
    }
    int rc = s_init(&srv, pipe, args);
    if (rc == 0)
        xoc_node_run(&srv.node);
    else
        xoc_error("xoc-api did not start: %s", xoc_strerror(rc));
    s_fini(&srv);
}
