#include "sim_http.h"

#include "sim_console.h"
#include "sim_patch.h"
#include "sim_rpc.h"
#include "sim_rrd.h"
#include "sim_xfer.h"

#include <netinet/in.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <pthread.h>
#include <sodium.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "xoc_log.h"

typedef enum { S_BODY = 0, S_IMPORT, S_UPLOAD } s_kind_t;

typedef struct {
    sim_buf_t body;
    bool too_big;
    s_kind_t kind;
    sim_xva_reader_t *xva; /* S_IMPORT */
    char task[64];
    char sr[64];
    bool imported; /* S_IMPORT: the XVA was read and the task ended */
    bool has_task; /* the client passed task_id: errors go to the task, reply 200 */
    json_t *err;
    sim_host_t *host;
    char url[64]; /* S_UPLOAD: the handler */
    char vdi[64];
    char head[4096]; /* S_UPLOAD: the first bytes (patch header) */
    size_t head_len;
    uint64_t bytes;
    bool uploaded;
} s_req_t;

/*  Connection tracking for sim.drop_connections, implemented in sim.c.                       */
void sim_conn_add(sim_t *sim, int fd);
void sim_conn_del(sim_t *sim, int fd);

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned status, char *data, size_t len,
                               const char *ctype, bool close)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    if (close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result s_reply_text(struct MHD_Connection *conn, unsigned status, const char *text,
                                    const char *ctype, bool close)
{
    char *d = strdup(text);
    return s_reply(conn, status, d, strlen(d), ctype, close);
}

static bool s_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

static int s_conn_fd(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

static void s_stall(sim_pool_t *p)
{
    for (;;) {
        int64_t left = p->stall_until_ms - sim_now_ms();
        if (left <= 0 || p->stop)
            return;
        if (left > 50)
            left = 50;
        struct timespec ts = {0, (long)left * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static enum MHD_Result s_rpc(sim_host_t *h, struct MHD_Connection *conn, s_req_t *r, bool json)
{
    sim_rpc_req_t req;
    const char *why = NULL;
    int rc = json ? sim_rpc_decode_json(r->body.data, r->body.len, &req, &why)
                  : sim_rpc_decode_xml(r->body.data, r->body.len, &req, &why);
    if (rc != 0) {
        xoc_debug("bad request host=%s why=%s", h->ip, why);
        return s_reply_text(conn, 500,
                            "<html><body><h1>HTTP 500 internal server error</h1>"
                            "An unexpected error occurred; please wait a while and try again. "
                            "If the problem persists, please contact your support "
                            "representative.</body></html>",
                            "text/html", false);
    }
    s_stall(h->pool);
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 4096);
    int bare = !json && !strcmp(req.method, "system.listMethods");
    sim_rpc_begin(&req, &out, &w, bare);
    sim_call_t call = {.pool = h->pool,
                       .host = h,
                       .loopback = s_loopback(conn),
                       .conn_fd = s_conn_fd(conn),
                       .method = req.method,
                       .params = req.params,
                       .w = &w};
    if (sim_api_call(&call) == 0)
        sim_rpc_end(&req, &out, bare);
    else
        sim_rpc_error(&req, &out, call.err);
    xoc_trace("call host=%s method=%s ok=%d", h->ip, req.method, call.err == NULL);
    json_decref(call.err);
    sim_rpc_req_clear(&req);
    size_t len;
    char *data = sim_buf_take(&out, &len);
    return s_reply(conn, 200, data, len, json ? "application/json" : "text/xml", false);
}

static const char *s_arg(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/*  session_id (query or cookie) or HTTP Basic credentials, as a host accepts them.           */
static bool s_authorized(sim_host_t *h, struct MHD_Connection *conn)
{
    const char *sess = s_arg(conn, "session_id");
    if (!sess)
        sess = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "session_id");
    char user[128] = "", *pw = NULL;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Basic ", 6)) {
        size_t n = 0;
        if (sodium_base642bin((unsigned char *)user, sizeof user - 1, auth + 6, strlen(auth + 6),
                              NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
            user[n] = '\0';
            pw = strchr(user, ':');
            if (pw)
                *pw++ = '\0';
        }
    }
    sim_store_lock(h->pool->store);
    int rc = sim_api_auth(h->pool, sess, pw ? user : NULL, pw);
    sim_store_unlock(h->pool->store);
    return rc == 0;
}

static enum MHD_Result s_unauthorized(struct MHD_Connection *conn)
{
    return s_reply_text(conn, 401, "<html><body><h1>HTTP 401 unauthorised</h1></body></html>",
                        "text/html", true);
}

/*  The task a handler reports on: task_id from the query, or a new one.                     */
static void s_task_begin(sim_host_t *h, struct MHD_Connection *conn, const char *label,
                         char task[64])
{
    sim_pool_t *p = h->pool;
    const char *t = s_arg(conn, "task_id");
    sim_store_lock(p->store);
    sim_obj_t *o = t ? sim_store_get(p->store, t) : NULL;
    if (!o)
        o = sim_api_task_new(p, label, "");
    snprintf(task, 64, "%s", o->ref);
    sim_store_unlock(p->store);
}

static void s_task_finish(sim_pool_t *p, const char *task, const char *result, json_t *err)
{
    sim_store_lock(p->store);
    sim_obj_t *o = sim_store_get(p->store, task);
    if (o)
        sim_api_task_end(p, o, result, err);
    sim_store_unlock(p->store);
}

static void s_task_progress(sim_pool_t *p, const char *task, double progress)
{
    sim_store_lock(p->store);
    sim_obj_t *o = sim_store_get(p->store, task);
    json_t *r = o ? sim_store_json(o) : NULL;
    if (r && !strcmp(json_string_value(json_object_get(r, "status")), "pending")) {
        json_object_set_new(r, "progress", json_real(progress));
        sim_store_update(p->store, o, r);
    }
    json_decref(r);
    sim_store_unlock(p->store);
}

typedef struct {
    sim_pool_t *pool;
    sim_xva_writer_t *xva;
    char task[64];
    uint64_t bytes;
    bool failed;
} s_export_t;

static ssize_t s_export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_export_t *x = cls;
    ssize_t n = sim_xva_writer_read(x->xva, buf, max);
    if (n < 0) {
        x->failed = true;
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if ((x->bytes >> 26) != ((x->bytes + (uint64_t)n) >> 26)) /* every 64 MiB */
        s_task_progress(x->pool, x->task, sim_xva_writer_progress(x->xva));
    x->bytes += (uint64_t)n;
    return n;
}

static void s_export_free(void *cls)
{
    s_export_t *x = cls;
    json_t *err = x->failed ? json_pack("[s,s]", "VDI_IO_ERROR", "export interrupted") : NULL;
    bool done = sim_xva_writer_progress(x->xva) >= 1.0 && !x->failed;
    if (!done && !err)
        err = json_pack("[s,s]", "VDI_IO_ERROR", "connection closed during the export");
    s_task_finish(x->pool, x->task, "", err);
    json_decref(err);
    sim_xva_writer_destroy(&x->xva);
    free(x);
}

static enum MHD_Result s_export(sim_host_t *h, struct MHD_Connection *conn, bool metadata)
{
    if (!s_authorized(h, conn))
        return s_unauthorized(conn);
    const char *vm = s_arg(conn, "ref");
    if (!vm)
        vm = s_arg(conn, "uuid");
    s_export_t *x = calloc(1, sizeof *x);
    x->pool = h->pool;
    s_task_begin(h, conn, "VM.export", x->task);
    json_t *err = NULL;
    x->xva = sim_xfer_export(h->pool, vm, s_arg(conn, "use_compression"), metadata, &err);
    if (!x->xva) {
        s_task_finish(h->pool, x->task, NULL, err);
        char *e = json_dumps(err, JSON_COMPACT);
        json_decref(err);
        free(x);
        enum MHD_Result rc = s_reply(conn, 500, e, strlen(e), "text/plain", true);
        return rc;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256 * 1024,
                                                                  s_export_read, x, s_export_free);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

/*  First call of PUT /import: authorise, start the XVA reader and the task.                 */
static enum MHD_Result s_import_begin(sim_host_t *h, struct MHD_Connection *conn, s_req_t *r)
{
    if (!s_authorized(h, conn))
        return s_unauthorized(conn);
    const char *force = s_arg(conn, "force");
    r->kind = S_IMPORT;
    r->host = h;
    r->xva = sim_xva_reader_new(force && !strcmp(force, "true"));
    if (!r->xva)
        return MHD_NO;
    const char *sr = s_arg(conn, "sr_id");
    snprintf(r->sr, sizeof r->sr, "%s", sr ? sr : "");
    s_task_begin(h, conn, "VM.import", r->task);
    r->has_task = s_arg(conn, "task_id") != NULL;
    return MHD_YES;
}

/*  Once the archive is read (its end marker, or the end of the body): create the VM, end the
    task. A client may send a fake huge Content-Length and close after the archive.         */
static void s_import_complete(s_req_t *r)
{
    json_t *ova = NULL;
    uint64_t bytes = 0;
    char vm[64] = "", result[160];
    if (r->imported)
        return;
    r->imported = true;
    if (sim_xva_reader_finish(r->xva, &ova, &bytes, &r->err) == 0)
        sim_xfer_import(r->host->pool, ova, r->sr, vm, &r->err);
    snprintf(result, sizeof result, "<value><array><data><value>%s</value></data></array></value>",
             vm);
    s_task_finish(r->host->pool, r->task, result, r->err);
    xoc_info("import host=%s vm=%s bytes=%llu ok=%d", r->host->ip, vm, (unsigned long long)bytes,
             r->err == NULL);
    json_decref(ova);
}

static enum MHD_Result s_import_end(sim_host_t *h, struct MHD_Connection *conn, s_req_t *r)
{
    s_import_complete(r);
    if (r->err && !r->has_task) {
        char *e = json_dumps(r->err, JSON_COMPACT);
        return s_reply(conn, 500, e, strlen(e), "text/plain", true);
    }
    return s_reply_text(conn, 200, "", "text/plain", false);
}

/*  PUT /pool_patch_upload and /import_raw_vdi: the body is counted and its first bytes kept
    (the patch header), never stored whole.                                                  */
static enum MHD_Result s_upload_begin(sim_host_t *h, struct MHD_Connection *conn, const char *url,
                                      s_req_t *r)
{
    if (!s_authorized(h, conn))
        return s_unauthorized(conn);
    r->kind = S_UPLOAD;
    r->host = h;
    snprintf(r->url, sizeof r->url, "%s", url);
    const char *vdi = s_arg(conn, "vdi");
    snprintf(r->vdi, sizeof r->vdi, "%s", vdi ? vdi : "");
    s_task_begin(h, conn, url, r->task);
    r->has_task = s_arg(conn, "task_id") != NULL;
    return MHD_YES;
}

static void s_upload_data(s_req_t *r, const char *data, size_t n)
{
    size_t room = sizeof r->head - r->head_len;
    memcpy(r->head + r->head_len, data, n < room ? n : room);
    r->head_len += n < room ? n : room;
    r->bytes += n;
}

static void s_upload_complete(s_req_t *r)
{
    if (r->uploaded)
        return;
    r->uploaded = true;
    sim_pool_t *p = r->host->pool;
    sim_patch_info_t info;
    sim_patch_parse(r->head, r->head_len, &info);
    char result[128] = "";
    sim_store_lock(p->store);
    if (!strncmp(r->url, "/pool_patch_upload", 18)) {
        sim_obj_t *o = sim_patch_uploaded(p, &info, r->bytes);
        snprintf(result, sizeof result, "<value>%s</value>", o->ref);
    } else if (sim_patch_vdi_uploaded(p, r->vdi, &info, r->bytes) != 0) {
        r->err = json_pack("[s,s,s]", "HANDLE_INVALID", "VDI", r->vdi);
    }
    sim_store_unlock(p->store);
    s_task_finish(p, r->task, result, r->err);
    xoc_info("upload host=%s url=%s bytes=%llu name=%s", r->host->ip, r->url,
             (unsigned long long)r->bytes, info.name);
}

static enum MHD_Result s_upload_end(struct MHD_Connection *conn, s_req_t *r)
{
    s_upload_complete(r);
    if (r->err && !r->has_task) {
        char *e = json_dumps(r->err, JSON_COMPACT);
        return s_reply(conn, 500, e, strlen(e), "text/plain", true);
    }
    return s_reply_text(conn, 200, "", "text/plain", false);
}

static int64_t s_arg_int(struct MHD_Connection *conn, const char *name, int64_t def)
{
    const char *v = s_arg(conn, name);
    return v && *v ? strtoll(v, NULL, 10) : def;
}

static bool s_arg_true(struct MHD_Connection *conn, const char *name)
{
    const char *v = s_arg(conn, name);
    return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static enum MHD_Result s_rrd(sim_host_t *h, struct MHD_Connection *conn)
{
    if (!s_authorized(h, conn))
        return s_unauthorized(conn);
    const char *cf = s_arg(conn, "cf");
    bool json = s_arg_true(conn, "json");
    size_t len;
    char *body = sim_rrd_updates(h->pool, h, s_arg_int(conn, "start", 0),
                                 (int)s_arg_int(conn, "interval", 5), cf ? cf : "AVERAGE",
                                 s_arg_true(conn, "host"), s_arg(conn, "uuid"), json, &len);
    return s_reply(conn, 200, body, len, json ? "application/json" : "text/xml", false);
}

static enum MHD_Result s_header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    sim_buf_printf(cls, "%s: %s\r\n", key, value ? value : "");
    return MHD_YES;
}

static enum MHD_Result s_query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    sim_buf_t *b = cls;
    sim_buf_printf(b, "%c%s=%s", memchr(b->data, '?', b->len) ? '&' : '?', key, value ? value : "");
    return MHD_YES;
}

/*  The console's VM name, or NULL when the console is unknown (lock taken here).            */
static bool s_console_title(sim_pool_t *p, const char *id, char uuid[40], char title[128])
{
    sim_store_lock(p->store);
    sim_obj_t *o = id ? sim_store_get(p->store, id) : NULL;
    if (!o && id)
        o = sim_store_by_uuid(p->store, id);
    bool ok = o && o->cls == sim_schema_find("console")->id;
    if (ok) {
        json_t *c = sim_store_json(o);
        sim_obj_t *vm = sim_store_get(p->store, json_string_value(json_object_get(c, "VM")));
        json_t *v = vm ? sim_store_json(vm) : NULL;
        snprintf(uuid, 40, "%s", o->uuid);
        snprintf(title, 128, "%s", v ? json_string_value(json_object_get(v, "name_label")) : "");
        json_decref(v);
        json_decref(c);
    }
    sim_store_unlock(p->store);
    return ok;
}

static int s_connect_local(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static bool s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/*  Console bridges still running: the servers must not stop under them (MHD_upgrade_action
    on a stopped daemon is a use after free).                                                */
static pthread_mutex_t s_bridge_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_bridge_cond = PTHREAD_COND_INITIALIZER;
static int s_bridges;

static void s_bridge_count(int delta)
{
    pthread_mutex_lock(&s_bridge_mutex);
    s_bridges += delta;
    pthread_cond_broadcast(&s_bridge_cond);
    pthread_mutex_unlock(&s_bridge_mutex);
}

void sim_http_wait_bridges(int timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s_bridge_mutex);
    while (s_bridges > 0)
        if (pthread_cond_timedwait(&s_bridge_cond, &s_bridge_mutex, &ts) != 0)
            break;
    pthread_mutex_unlock(&s_bridge_mutex);
}

typedef struct {
    int vnc; /* connected to libvncserver, upgrade request already replayed */
    struct MHD_UpgradeResponseHandle *urh;
    int sock;
    char *extra; /* bytes the client sent after its request, for libvncserver */
    size_t extra_len;
} s_bridge_t;

/*  Reads libvncserver's own 101 answer to the replayed request and drops it: the client got
    ours from MHD. Then pumps until either side closes.                                       */
static void *s_bridge_run(void *arg)
{
    s_bridge_t *b = arg;
    char c, last[4] = {0};
    bool ok = true;
    while (ok && memcmp(last, "\r\n\r\n", 4) != 0) {
        ok = read(b->vnc, &c, 1) == 1;
        memmove(last, last + 1, 3);
        last[3] = c;
    }
    if (ok && (!b->extra_len || s_write_all(b->vnc, b->extra, b->extra_len)))
        sim_console_pump(b->sock, b->vnc);
    close(b->vnc);
    MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(b->extra);
    free(b);
    s_bridge_count(-1);
    return NULL;
}

static void s_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    s_bridge_t *b = cls;
    b->urh = urh;
    b->sock = sock;
    if (extra_in_size) {
        b->extra = malloc(extra_in_size);
        memcpy(b->extra, extra_in, extra_in_size);
        b->extra_len = extra_in_size;
    }
    pthread_t t;
    s_bridge_count(1);
    if (pthread_create(&t, NULL, s_bridge_run, b) == 0) {
        pthread_detach(t);
        return;
    }
    s_bridge_count(-1);
    close(b->vnc);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    free(b->extra);
    free(b);
}

/*  Sec-WebSocket-Accept of a key (RFC 6455): base64(SHA-1(key + GUID)).                     */
static bool s_ws_accept(const char *key, char out[64])
{
    char buf[128];
    uint8_t sha[20];
    int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    if (n <= 0 || (size_t)n >= sizeof buf)
        return false;
    gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, (size_t)n, sha);
    sodium_bin2base64(out, 64, sha, sizeof sha, sodium_base64_VARIANT_ORIGINAL);
    return true;
}

/*  WebSocket: MHD answers 101 (so TLS works too) and hands over the socket; a thread bridges
    it to libvncserver, to which the upgrade request was replayed (it frames the RFB).       */
static enum MHD_Result s_console_ws(struct MHD_Connection *conn, int vnc)
{
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    const char *proto =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
    char accept[64];
    if (!key || !s_ws_accept(key, accept)) {
        close(vnc);
        return s_reply_text(conn, 400, "bad WebSocket request", "text/plain", true);
    }
    s_bridge_t *b = calloc(1, sizeof *b);
    b->vnc = vnc;
    struct MHD_Response *resp = MHD_create_response_for_upgrade(s_upgraded, b);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    if (proto)
        MHD_add_response_header(resp, "Sec-WebSocket-Protocol",
                                strstr(proto, "binary") ? "binary" : proto);
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
    MHD_destroy_response(resp);
    if (rc != MHD_YES) {
        close(vnc);
        free(b);
    }
    return rc;
}

/*  CONNECT /console?uuid=… (raw RFB after 200 OK) or GET /console with a WebSocket upgrade
    (replayed to libvncserver, which does the handshake and framing). The connection thread
    pumps bytes until either side closes, then the connection ends.                          */
static enum MHD_Result s_console(sim_host_t *h, struct MHD_Connection *conn, const char *url,
                                 bool websocket)
{
    if (!s_authorized(h, conn))
        return s_unauthorized(conn);
    const char *id = s_arg(conn, "uuid");
    char uuid[40], title[128];
    if (!s_console_title(h->pool, id ? id : s_arg(conn, "ref"), uuid, title))
        return s_reply_text(conn, 404, "<html><body><h1>HTTP 404 not found</h1></body></html>",
                            "text/html", true);
    int port = sim_console_port(sim_console(h->pool->sim), uuid, title);
    int vnc = port > 0 ? s_connect_local(port) : -1;
    int fd = s_conn_fd(conn);
    bool tls = h->pool->cfg->tls_cert || h->pool->cfg->tls;
    if (vnc < 0 || fd < 0 || (tls && !websocket)) {
        if (vnc >= 0)
            close(vnc);
        return s_reply_text(conn, 503, "console unavailable", "text/plain", true);
    }
    bool ok;
    if (websocket) {
        sim_buf_t req;
        sim_buf_init(&req, 1024);
        sim_buf_printf(&req, "GET %s", url);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, s_query_cb, &req);
        sim_buf_adds(&req, " HTTP/1.1\r\n");
        MHD_get_connection_values(conn, MHD_HEADER_KIND, s_header_cb, &req);
        if (!MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin"))
            sim_buf_printf(&req, "Origin: http://%s\r\n", h->ip); /* libvncserver wants one */
        sim_buf_adds(&req, "\r\n");
        ok = s_write_all(vnc, req.data, req.len);
        sim_buf_free(&req);
        xoc_info("console host=%s console=%s vm=%s transport=websocket", h->ip, uuid, title);
        if (ok)
            return s_console_ws(conn, vnc);
    } else {
        const char *ok200 = "HTTP/1.1 200 OK\r\n\r\n";
        ok = s_write_all(fd, ok200, strlen(ok200));
    }
    xoc_info("console host=%s console=%s vm=%s transport=%s", h->ip, uuid, title,
             websocket ? "websocket" : "connect");
    if (ok)
        sim_console_pump(fd, vnc);
    close(vnc);
    return MHD_NO;
}

static enum MHD_Result s_handle(sim_host_t *h, struct MHD_Connection *conn, const char *url,
                                const char *method, s_req_t *r)
{
    if (r->too_big)
        return s_reply_text(conn, 413,
                            "<html><body><h1>413 request entity too large</h1>"
                            "</body></html>",
                            "text/html", true);
    if (!strcmp(method, "OPTIONS"))
        return s_reply_text(conn, 200, "", "text/plain", false);
    if (!strcmp(method, "POST"))
        return s_rpc(h, conn, r, !strcmp(url, "/jsonrpc") || !strncmp(url, "/jsonrpc?", 9));
    if (r->kind == S_IMPORT)
        return s_import_end(h, conn, r);
    if (r->kind == S_UPLOAD)
        return s_upload_end(conn, r);
    if (!strcmp(method, "GET") && !strcmp(url, "/rrd_updates"))
        return s_rrd(h, conn);
    if (!strcmp(url, "/console") || !strcmp(url, "/console/")) {
        const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
        bool ws = !strcmp(method, "GET") && up && !strcasecmp(up, "websocket");
        if (ws || !strcmp(method, "CONNECT"))
            return s_console(h, conn, url, ws);
    }
    if (!strcmp(method, "GET") && (!strcmp(url, "/export") || !strcmp(url, "/export/")))
        return s_export(h, conn, false);
    if (!strcmp(method, "GET") &&
        (!strcmp(url, "/export_metadata") || !strcmp(url, "/export_metadata/")))
        return s_export(h, conn, true);
    if (!strcmp(method, "GET") && !strcmp(url, "/"))
        return s_reply_text(conn, 200,
                            "<html><head><title>XCP-ng (simulated)</title></head>"
                            "<body><p>xapi-sim</p></body></html>",
                            "text/html", false);
    return s_reply_text(conn, 404, "<html><body><h1>HTTP 404 not found</h1></body></html>",
                        "text/html", false);
}

static enum MHD_Result s_access(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    sim_host_t *h = cls;
    s_req_t *r = *con_cls;
    if (!r && atomic_load(&h->down_until_ms) > sim_now_ms())
        return MHD_NO; /* a host that is down: the connection closes, nothing answered */
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        sim_buf_init(&r->body, 1024);
        *con_cls = r;
        if (!strcmp(method, "PUT") && (!strcmp(url, "/import") || !strcmp(url, "/import/")))
            return s_import_begin(h, conn, r);
        if (!strcmp(method, "PUT") &&
            (!strncmp(url, "/pool_patch_upload", 18) || !strncmp(url, "/import_raw_vdi", 15)))
            return s_upload_begin(h, conn, url, r);
        return MHD_YES;
    }
    if (*upload_data_size && r->kind == S_IMPORT) {
        if (!r->imported)
            sim_xva_reader_feed(r->xva, upload_data, *upload_data_size);
        if (!r->imported && sim_xva_reader_done(r->xva))
            s_import_complete(r);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size && r->kind == S_UPLOAD) {
        s_upload_data(r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->body.len + *upload_data_size > h->pool->cfg->max_body)
            r->too_big = true;
        else
            sim_buf_add(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    sim_buf_addc(&r->body, '\0');
    r->body.len--;
    return s_handle(h, conn, url, method, r);
}

static void s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    s_req_t *r = *con_cls;
    if (r) {
        if (r->kind == S_IMPORT && r->xva)
            s_import_complete(r);
        if (r->kind == S_UPLOAD)
            s_upload_complete(r);
        json_decref(r->err);
        sim_xva_reader_destroy(&r->xva);
        sim_buf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

static void s_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                     enum MHD_ConnectionNotificationCode toe)
{
    sim_host_t *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        int fd = s_conn_fd(conn);
        *socket_context = (void *)(intptr_t)(fd + 1);
        sim_conn_add(h->pool->sim, fd);
    } else if (*socket_context) {
        sim_conn_del(h->pool->sim, (int)(intptr_t)*socket_context - 1);
        *socket_context = NULL;
    }
}

struct MHD_Daemon *sim_http_start(sim_host_t *h, int port, const char *cert_pem,
                                  const char *key_pem)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, h->ip, &sa.sin_addr) != 1)
        return NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_ALLOW_UPGRADE;
    if (cert_pem && key_pem)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem tls[] = {
        {cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cert_pem},
        {key_pem ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, (void *)key_pem},
        {MHD_OPTION_END, 0, NULL},
    };
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, s_access, h, MHD_OPTION_SOCK_ADDR, &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, s_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
                         s_notify, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                         MHD_OPTION_ARRAY, cert_pem ? tls : tls + 2, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : port;
    return d;
}

void sim_http_stop(struct MHD_Daemon **d_p)
{
    if (d_p && *d_p) {
        MHD_stop_daemon(*d_p);
        *d_p = NULL;
    }
}

/* ------------------------------------------------------------------------------------------ */
/*  Vendor stand-in: /updates.xml and /patches/<name>.zip                                     */

typedef struct {
    int port;
    size_t patch_size;
} s_vendor_t;

static enum MHD_Result s_vendor_access(void *cls, struct MHD_Connection *conn, const char *url,
                                       const char *method, const char *version,
                                       const char *upload_data, size_t *upload_data_size,
                                       void **con_cls)
{
    s_vendor_t *v = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return s_reply_text(conn, 405, "method not allowed", "text/plain", false);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", v->port);
    size_t len;
    char *body = sim_patch_vendor_file(url, &len, base, v->patch_size);
    if (!body)
        return s_reply_text(conn, 404, "not found", "text/plain", false);
    return s_reply(conn, 200, body, len,
                   strstr(url, ".zip") ? "application/zip" : "application/xml", false);
}

struct MHD_Daemon *sim_http_vendor_start(size_t patch_size, int *port)
{
    static s_vendor_t vendor;
    vendor.patch_size = patch_size;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL, 0, NULL,
        NULL, s_vendor_access, &vendor, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
    const union MHD_DaemonInfo *di = d ? MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    vendor.port = di ? di->port : 0;
    *port = vendor.port;
    return d;
}
