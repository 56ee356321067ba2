/*  The XAPI client against a tiny in-test HTTP server (libmicrohttpd on a free port chosen at
    run time) serving canned XML-RPC and JSON-RPC answers: success, failure, split and chunked
    deliveries, truncated bodies, stalls (timeout, cancel), wrong content type (AUTO fallback),
    HTTP errors, HOST_IS_SLAVE redirection, keep-alive.                                       */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_xapi.h"

/*  ---- the server ------------------------------------------------------------------------ */

typedef enum { R_WHOLE, R_SPLIT, R_CHUNKED, R_CUT, R_SHORT, R_STALL } s_delivery;

typedef struct {
    const char *path, *host, *ctype;
    char method[128]; /* RPC method name found in the body */
    const char *body;
} s_req;

typedef struct {
    int status;
    const char *ctype;
    const char *body;
    s_delivery how;
} s_resp;

typedef void(s_respond_fn)(const s_req *req, s_resp *resp);

static struct {
    struct MHD_Daemon *d;
    int port;
    s_respond_fn *respond;
    atomic_int connections, requests, jsonrpc_requests;
    atomic_bool stop;
    pthread_mutex_t lock;
    char last_body[8192];
    char last_path[64];
} S;

typedef struct {
    char *buf;
    size_t len;
} s_upload;

typedef struct {
    const char *body;
    size_t len, off;
    s_delivery how;
} s_reader;

static void s_method_of(const char *body, char *out, size_t cap)
{
    const char *p, *e = NULL;
    out[0] = 0;
    if ((p = strstr(body, "<methodName>"))) {
        p += strlen("<methodName>");
        e = strstr(p, "</methodName>");
    } else if ((p = strstr(body, "\"method\":\""))) {
        p += strlen("\"method\":\"");
        e = strchr(p, '"');
    }
    if (p && e && (size_t)(e - p) < cap)
        snprintf(out, cap, "%.*s", (int)(e - p), p);
}

static ssize_t s_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    s_reader *r = cls;
    size_t left = r->len - r->off;
    if (r->how == R_STALL && r->off >= 10) {
        for (int i = 0; i < 500 && !atomic_load(&S.stop); i++)
            usleep(10000); /* the client gives up long before */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (r->how == R_CUT && r->off >= r->len / 2)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = r->how == R_WHOLE ? left : (r->how == R_STALL ? 10 : 7);
    n = n < left ? n : left;
    n = n < max ? n : max;
    memcpy(buf, r->body + r->off, n);
    r->off += n;
    return (ssize_t)n;
}

static struct MHD_Response *s_make(const s_resp *rs)
{
    size_t len = strlen(rs->body);
    if (rs->how == R_WHOLE)
        return MHD_create_response_from_buffer(len, (void *)rs->body, MHD_RESPMEM_MUST_COPY);
    if (rs->how == R_SHORT) /* a valid HTTP answer whose XML/JSON stops half-way */
        return MHD_create_response_from_buffer(len / 2, (void *)rs->body, MHD_RESPMEM_MUST_COPY);
    s_reader *r = calloc(1, sizeof *r);
    r->body = rs->body;
    r->len = len;
    r->how = rs->how;
    uint64_t size = rs->how == R_CHUNKED ? MHD_SIZE_UNKNOWN : len;
    return MHD_create_response_from_callback(size, 64, s_read, r, free);
}

static enum MHD_Result s_answer(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *data,
                                size_t *data_size, void **con_cls)
{
    s_upload *up = *con_cls;
    if (!up) {
        *con_cls = calloc(1, sizeof *up);
        return MHD_YES;
    }
    if (*data_size) {
        up->buf = realloc(up->buf, up->len + *data_size + 1);
        memcpy(up->buf + up->len, data, *data_size);
        up->len += *data_size;
        up->buf[up->len] = 0;
        *data_size = 0;
        return MHD_YES;
    }
    s_req rq = {.path = url, .body = up->buf ? up->buf : ""};
    rq.host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    rq.ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    s_method_of(rq.body, rq.method, sizeof rq.method);
    atomic_fetch_add(&S.requests, 1);
    if (strcmp(url, "/jsonrpc") == 0)
        atomic_fetch_add(&S.jsonrpc_requests, 1);
    pthread_mutex_lock(&S.lock);
    snprintf(S.last_body, sizeof S.last_body, "%s", rq.body);
    snprintf(S.last_path, sizeof S.last_path, "%s", url);
    pthread_mutex_unlock(&S.lock);
    s_resp rs = {.status = 200, .how = R_WHOLE};
    S.respond(&rq, &rs);
    struct MHD_Response *r = s_make(&rs);
    MHD_add_response_header(r, "Content-Type", rs.ctype);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)rs.status, r);
    MHD_destroy_response(r);
    return ret;
}

static void s_done(void *cls, struct MHD_Connection *c, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    s_upload *up = *con_cls;
    if (up)
        free(up->buf);
    free(up);
    *con_cls = NULL;
}

static void s_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&S.connections, 1);
}

static int s_server_up(void **state)
{
    pthread_mutex_init(&S.lock, NULL);
    atomic_store(&S.stop, false);
    S.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                           NULL, NULL, s_answer, NULL, MHD_OPTION_NOTIFY_COMPLETED, s_done, NULL,
                           MHD_OPTION_NOTIFY_CONNECTION, s_notify, NULL, MHD_OPTION_END);
    if (!S.d)
        return -1;
    S.port = MHD_get_daemon_info(S.d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int s_server_down(void **state)
{
    atomic_store(&S.stop, true);
    MHD_stop_daemon(S.d);
    return 0;
}

static xoc_xapi_t *s_client(const char *host, xoc_xapi_transport_t t)
{
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d", host, S.port);
    xoc_xapi_t *x = xoc_xapi_new(url);
    assert_non_null(x);
    xoc_xapi_set_transport(x, t);
    atomic_store(&S.connections, 0);
    atomic_store(&S.requests, 0);
    atomic_store(&S.jsonrpc_requests, 0);
    return x;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*  ---- canned answers -------------------------------------------------------------------- */

#define XHEAD "<?xml version=\"1.0\"?><methodResponse><params><param><value>"
#define XTAIL "</value></param></params></methodResponse>"
#define XOK(v) XHEAD "<struct><member><name>Status</name><value>Success</value></member>" \
               "<member><name>Value</name>" v "</member></struct>" XTAIL
#define XFAIL(v) XHEAD "<struct><member><name>Status</name><value>Failure</value></member>" \
               "<member><name>ErrorDescription</name><value><array><data>" v                \
               "</data></array></value></member></struct>" XTAIL
#define JOK(v) "{\"jsonrpc\":\"2.0\",\"result\":" v ",\"id\":0}"
#define JFAIL(code, data) "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":\"" code \
                          "\",\"data\":" data "},\"id\":0}"

static const char s_xml_vms[] = XOK(
    "<value><struct>"
    "<member><name>OpaqueRef:v1</name><value><struct><member><name>uuid</name><value>u1</value>"
    "</member><member><name>power_state</name><value>Running</value></member>"
    "<member><name>memory_target</name><value>4294967296</value></member></struct></value>"
    "</member><member><name>OpaqueRef:v2</name><value><struct><member><name>uuid</name>"
    "<value>u2</value></member><member><name>power_state</name><value>Halted</value></member>"
    "<member><name>memory_target</name><value>0</value></member></struct></value></member>"
    "<member><name>OpaqueRef:v3</name><value><struct><member><name>uuid</name><value>u3</value>"
    "</member><member><name>power_state</name><value>Paused</value></member>"
    "<member><name>memory_target</name><value>1</value></member></struct></value></member>"
    "</struct></value>");

static const char s_json_events[] = JOK(
    "{\"events\":[{\"id\":\"10\",\"timestamp\":\"0.0\",\"class\":\"vm\",\"operation\":\"mod\","
    "\"ref\":\"OpaqueRef:v1\",\"snapshot\":{\"uuid\":\"u1\",\"power_state\":\"Halted\"}},"
    "{\"id\":\"11\",\"timestamp\":\"0.0\",\"class\":\"vm\",\"operation\":\"del\","
    "\"ref\":\"OpaqueRef:v2\"}],\"valid_ref_counts\":{\"vm\":2,\"task\":0},"
    "\"token\":\"00000000000000000011,00000000000000000000\"}");

/*  A small host: login, records, events, async, failures, selected by method name.        */
static void s_host(const s_req *rq, s_resp *rs, bool json)
{
    const char *m = rq->method;
    rs->ctype = json ? "application/json" : "text/xml";
    if (strcmp(m, "session.login_with_password") == 0)
        rs->body = json ? JOK("\"OpaqueRef:sess\"") : XOK("<value>OpaqueRef:sess</value>");
    else if (strcmp(m, "session.logout") == 0)
        rs->body = json ? JOK("\"\"") : XOK("<value></value>");
    else if (strcmp(m, "VM.get_all_records") == 0) {
        rs->body = json ? JOK("{\"OpaqueRef:v1\":{\"uuid\":\"u1\"},\"OpaqueRef:v2\":{\"uuid\":"
                              "\"u2\"},\"OpaqueRef:v3\":{\"uuid\":\"u3\"}}")
                        : s_xml_vms;
        rs->how = R_SPLIT;
    } else if (strcmp(m, "event.from") == 0) {
        rs->body = s_json_events;
        rs->ctype = "application/json";
        rs->how = R_CHUNKED;
    } else if (strcmp(m, "Async.VM.start") == 0)
        rs->body = json ? JOK("\"OpaqueRef:task1\"") : XOK("<value>OpaqueRef:task1</value>");
    else if (strcmp(m, "VM.start") == 0)
        rs->body = json ? JFAIL("VM_BAD_POWER_STATE", "[\"OpaqueRef:v1\",\"halted\",\"running\"]")
                        : XFAIL("<value>VM_BAD_POWER_STATE</value><value>OpaqueRef:v1</value>"
                                "<value>halted</value><value>running</value>");
    else if (strcmp(m, "VM.get_record") == 0)
        rs->body = json ? JFAIL("SESSION_INVALID", "[\"OpaqueRef:sess\"]")
                        : XFAIL("<value>SESSION_INVALID</value><value>OpaqueRef:sess</value>");
    else
        rs->body = json ? JFAIL("MESSAGE_METHOD_UNKNOWN", "[\"x\"]")
                        : XFAIL("<value>MESSAGE_METHOD_UNKNOWN</value><value>x</value>");
}

static void s_modern_host(const s_req *rq, s_resp *rs)
{
    s_host(rq, rs, strcmp(rq->path, "/jsonrpc") == 0);
}

/*  An old host: every path is XML-RPC, /jsonrpc included.                                  */
static void s_old_host(const s_req *rq, s_resp *rs)
{
    s_host(rq, rs, false);
    if (strcmp(rq->method, "event.from") == 0) {
        rs->body = XOK("<value><struct><member><name>events</name><value><array><data></data>"
                       "</array></value></member><member><name>token</name><value>t2</value>"
                       "</member></struct></value>");
        rs->ctype = "text/xml";
    }
}

typedef struct {
    int n;
    char keys[8][64];
} s_seen;

static int s_collect(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    s_seen *s = arg;
    if (s->n < 8)
        snprintf(s->keys[s->n], sizeof s->keys[0], "%.*s", (int)key_len, key ? key : "-");
    s->n++;
    return 0;
}

/*  ---- tests ---------------------------------------------------------------------------- */

static void test_xmlrpc_session_records_keepalive(void **state)
{
    S.respond = s_modern_host;
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_XMLRPC);
    assert_int_equal(xoc_xapi_login(x, "root", "p<&>"), 0);
    assert_string_equal(xoc_xapi_session(x), "OpaqueRef:sess");
    assert_string_equal(S.last_path, "/");
    assert_non_null(strstr(S.last_body, "<param><value><string>root</string></value></param>"
                                        "<param><value><string>p&lt;&amp;&gt;</string></value>"
                                        "</param></params>"));
    s_seen seen = {0};
    assert_int_equal(xoc_xapi_get_all_records(x, "VM", s_collect, &seen), 0); /* split */
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.keys[2], "OpaqueRef:v3");
    assert_non_null(strstr(S.last_body, "<methodName>VM.get_all_records</methodName><params>"
                                        "<param><value><string>OpaqueRef:sess</string>"));
    assert_int_equal(xoc_xapi_logout(x), 0);
    assert_null(xoc_xapi_session(x));
    assert_int_equal(atomic_load(&S.requests), 3);
    assert_int_equal(atomic_load(&S.connections), 1); /* keep-alive */
    xoc_xapi_destroy(&x);
}

static void test_jsonrpc_events_chunked(void **state)
{
    S.respond = s_modern_host;
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_JSONRPC);
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), 0);
    assert_string_equal(S.last_path, "/jsonrpc");
    const char *classes[] = {"VM", "task"};
    s_seen seen = {0};
    char *token = NULL;
    msgpack_sbuffer counts;
    msgpack_sbuffer_init(&counts);
    assert_int_equal(xoc_xapi_event_from(x, classes, 2, "", 60.0, s_collect, &seen, &token,
                                         &counts), 0);
    assert_non_null(strstr(S.last_body, "\"params\":[\"OpaqueRef:sess\",[\"VM\",\"task\"],\"\","
                                        "60.0"));
    assert_int_equal(seen.n, 2);
    assert_string_equal(token, "00000000000000000011,00000000000000000000");
    assert_int_equal((uint8_t)counts.data[0], 0x82); /* {vm: 2, task: 0} */
    free(token);
    msgpack_sbuffer_destroy(&counts);
    xoc_xapi_destroy(&x);
}

static void test_auto_falls_back_to_xmlrpc(void **state)
{
    S.respond = s_old_host;
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_AUTO);
    assert_int_equal(xoc_xapi_transport(x), XOC_XAPI_AUTO);
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), 0);
    assert_int_equal(xoc_xapi_transport(x), XOC_XAPI_XMLRPC);
    assert_string_equal(S.last_path, "/");
    s_seen seen = {0};
    assert_int_equal(xoc_xapi_get_all_records(x, "VM", s_collect, &seen), 0);
    assert_int_equal(seen.n, 3);
    assert_int_equal(atomic_load(&S.jsonrpc_requests), 1); /* one probe, then XML-RPC only */
    xoc_xapi_destroy(&x);

    S.respond = s_modern_host; /* a modern host keeps JSON-RPC */
    x = s_client("127.0.0.1", XOC_XAPI_AUTO);
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), 0);
    assert_int_equal(xoc_xapi_transport(x), XOC_XAPI_AUTO);
    assert_string_equal(S.last_path, "/jsonrpc");
    xoc_xapi_destroy(&x);
}

static void test_xapi_failures_and_async(void **state)
{
    S.respond = s_modern_host;
    xoc_xapi_transport_t ts[] = {XOC_XAPI_XMLRPC, XOC_XAPI_JSONRPC};
    for (int i = 0; i < 2; i++) {
        xoc_xapi_t *x = s_client("127.0.0.1", ts[i]);
        assert_int_equal(xoc_xapi_login(x, "root", "pw"), 0);
        assert_int_equal(xoc_xapi_callf(x, "VM.start", NULL, "sbb", "OpaqueRef:v1", 0, 0),
                         XOC_EXAPI);
        const xoc_xapi_fault_t *f = xoc_xapi_fault(x);
        assert_string_equal(f->code, "VM_BAD_POWER_STATE");
        assert_int_equal(f->nparams, 3);
        assert_string_equal(f->params[2], "running");
        assert_non_null(strstr(xoc_xapi_detail(x), "VM_BAD_POWER_STATE"));
        assert_int_equal(xoc_xapi_callf(x, "VM.get_record", NULL, "s", "OpaqueRef:v1"),
                         XOC_EXAPI);
        assert_string_equal(xoc_xapi_fault(x)->code, "SESSION_INVALID");
        char *task = NULL;
        msgpack_sbuffer p;
        msgpack_sbuffer_init(&p);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &p, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str_with_body(&pk, "OpaqueRef:v1", 12);
        msgpack_pack_false(&pk);
        msgpack_pack_false(&pk);
        assert_int_equal(xoc_xapi_call_async(x, "VM.start", p.data, p.size, &task), 0);
        assert_string_equal(task, "OpaqueRef:task1");
        assert_null(xoc_xapi_fault(x)->code);
        assert_string_equal(xoc_xapi_detail(x), "");
        free(task);
        msgpack_sbuffer_destroy(&p);
        xoc_xapi_destroy(&x);
    }
}

/*  A slave answers HOST_IS_SLAVE with the master's address; here the "master" is the same
    server reached as 127.0.0.1 instead of localhost.                                        */
static void s_slave_host(const s_req *rq, s_resp *rs)
{
    s_host(rq, rs, false);
    if (rq->host && strncmp(rq->host, "localhost", 9) == 0 &&
        strcmp(rq->method, "session.login_with_password") == 0)
        rs->body = XFAIL("<value>HOST_IS_SLAVE</value><value>127.0.0.1</value>");
}

static void test_host_is_slave(void **state)
{
    S.respond = s_slave_host;
    xoc_xapi_t *x = s_client("localhost", XOC_XAPI_XMLRPC);
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), XOC_EXAPI);
    assert_string_equal(xoc_xapi_master_address(x), "127.0.0.1");
    assert_int_equal(xoc_xapi_follow_master(x), 0);
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d", S.port);
    assert_string_equal(xoc_xapi_url(x), want);
    assert_int_equal(xoc_xapi_login(x, "root", "pw"), 0);
    char *u = xoc_xapi_handler_url(x, "/export", (const char *[]){"uuid", "u1"}, 1);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/export?session_id=OpaqueRef%%3Asess&uuid=u1",
             S.port);
    assert_string_equal(u, want);
    free(u);
    xoc_xapi_destroy(&x);
}

static const char *s_body_for_bad;
static s_delivery s_how_for_bad;
static int s_status_for_bad;

static void s_bad_host(const s_req *rq, s_resp *rs)
{
    rs->ctype = s_status_for_bad == 200 ? "text/xml" : "text/html";
    rs->status = s_status_for_bad;
    rs->body = s_body_for_bad;
    rs->how = s_how_for_bad;
}

static int s_bad(xoc_xapi_t *x, int status, const char *body, s_delivery how)
{
    S.respond = s_bad_host;
    s_status_for_bad = status;
    s_body_for_bad = body;
    s_how_for_bad = how;
    return xoc_xapi_call(x, "system.listMethods", NULL, 0, NULL);
}

static void test_transport_errors(void **state)
{
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_XMLRPC);
    assert_int_equal(s_bad(x, 500, "<html>Internal error</html>", R_WHOLE), XOC_EHTTP);
    assert_int_equal(xoc_xapi_http_status(x), 500);
    assert_non_null(strstr(xoc_xapi_detail(x), "HTTP 500 <html>Internal error"));
    assert_int_equal(s_bad(x, 200, s_xml_vms, R_CUT), XOC_ETRUNCATED);   /* connection cut */
    assert_int_equal(s_bad(x, 200, s_xml_vms, R_SHORT), XOC_ETRUNCATED); /* body stops early */
    assert_int_equal(s_bad(x, 200, "<?xml version=\"1.0\"?><html></html>", R_WHOLE), XOC_EPROTO);
    assert_int_equal(s_bad(x, 200, "", R_WHOLE), XOC_ETRUNCATED);
    assert_int_equal(s_bad(x, 200, XOK("<value><boolean>7</boolean></value>"), R_SPLIT), XOC_ETYPE);
    xoc_xapi_set_limits(x, 64, 0);
    assert_int_equal(s_bad(x, 200, s_xml_vms, R_SPLIT), XOC_ETOOBIG);
    xoc_xapi_set_limits(x, 0, 0);
    /* the client is still fine after all that */
    assert_int_equal(s_bad(x, 200, XOK("<value>ok</value>"), R_WHOLE), 0);
    assert_string_equal(xoc_xapi_detail(x), "");
    xoc_xapi_destroy(&x);
}

static void test_timeout(void **state)
{
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_XMLRPC);
    xoc_xapi_set_timeouts(x, 0, 300);
    double t0 = s_now();
    assert_int_equal(s_bad(x, 200, s_xml_vms, R_STALL), XOC_ETIMEOUT);
    double dt = s_now() - t0;
    assert_true(dt >= 0.25 && dt < 2.0);
    xoc_xapi_destroy(&x);
}

static void *s_canceler(void *arg)
{
    usleep(150000);
    xoc_xapi_cancel(arg);
    return NULL;
}

static void test_cancel_from_another_thread(void **state)
{
    xoc_xapi_t *x = s_client("127.0.0.1", XOC_XAPI_XMLRPC);
    pthread_t th;
    double t0 = s_now();
    pthread_create(&th, NULL, s_canceler, x);
    assert_int_equal(s_bad(x, 200, s_xml_vms, R_STALL), XOC_ECANCELED);
    double dt = s_now() - t0;
    pthread_join(th, NULL);
    assert_true(dt < 0.5); /* woken at once, not at the next progress tick */
    assert_int_equal(s_bad(x, 200, XOK("<value>ok</value>"), R_WHOLE), XOC_ECANCELED);
    xoc_xapi_uncancel(x);
    assert_int_equal(s_bad(x, 200, XOK("<value>ok</value>"), R_WHOLE), 0);
    xoc_xapi_destroy(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xmlrpc_session_records_keepalive),
        cmocka_unit_test(test_jsonrpc_events_chunked),
        cmocka_unit_test(test_auto_falls_back_to_xmlrpc),
        cmocka_unit_test(test_xapi_failures_and_async),
        cmocka_unit_test(test_host_is_slave),
        cmocka_unit_test(test_transport_errors),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel_from_another_thread),
    };
    return cmocka_run_group_tests(tests, s_server_up, s_server_down);
}
