/*  A host that answers garbage: truncated XML, wrong types, a huge value, an HTML error page.
    The collector must log the error, publish it as the server's status, and reconnect with
    backoff — never crash, never hang. The host is a libmicrohttpd server in this process.  */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <jansson.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

typedef enum { M_TRUNCATED, M_WRONG_TYPE, M_HUGE, M_HTML_500, M_COUNT } s_mode_t;
static const char *s_mode_names[] = {"truncated XML", "wrong types", "huge value",
                                     "HTML error page"};

static atomic_int s_mode;
static atomic_int s_logins;

#define OK_HEAD "<?xml version=\"1.0\"?><methodResponse><params><param><value><struct>" \
                "<member><name>Status</name><value>Success</value></member>"          \
                "<member><name>Value</name>"
#define OK_TAIL "</member></struct></value></param></params></methodResponse>"

static char *s_answer(const char *body, int *status, const char **type)
{
    *status = 200;
    *type = "text/xml";
    if (strstr(body, "session.login_with_password")) {
        atomic_fetch_add(&s_logins, 1);
        return strdup(OK_HEAD "<value>OpaqueRef:session-1</value>" OK_TAIL);
    }
    if (strstr(body, "session.logout"))
        return strdup(OK_HEAD "<value></value>" OK_TAIL);
    switch (atomic_load(&s_mode)) {
    case M_TRUNCATED:
        /* the load's event.from, cut in the middle of a record */
        return strdup(OK_HEAD "<value><struct><member><name>events</name><value><array><data>"
                              "<value><struct><member><name>class</name><value>VM</value>"
                              "</member><member><name>snapshot</name><value><struct><member>"
                              "<name>name_la");
    case M_WRONG_TYPE: /* listMethods must be an array, event.from's events an array and its
                          token a string: give a struct, numbers */
        if (strstr(body, "system.listMethods"))
            return strdup(OK_HEAD "<value><struct><member><name>x</name><value><i4>1</i4>"
                                  "</value></member></struct></value>" OK_TAIL);
        if (strstr(body, "event.from"))
            return strdup(OK_HEAD "<value><struct><member><name>events</name><value><i4>1</i4>"
                                  "</value></member><member><name>token</name><value><i4>2</i4>"
                                  "</value></member></struct></value>" OK_TAIL);
        return strdup(OK_HEAD "<value><double>3.5</double></value>" OK_TAIL);
    case M_HUGE: {
        size_t n = 80u << 20; /* over the client's 64 MiB limit for one value */
        char *buf = malloc(n + 512);
        size_t off = (size_t)sprintf(buf, OK_HEAD "<value>");
        memset(buf + off, 'A', n);
        off += n;
        strcpy(buf + off, "</value>" OK_TAIL);
        return buf;
    }
    default:
        *status = 500;
        *type = "text/html";
        return strdup("<html><body>Internal error</body></html>");
    }
}

typedef struct {
    char *body;
    size_t len;
} s_conn_t;

static enum MHD_Result s_handler(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *size, void **con_cls)
{
    s_conn_t *conn = *con_cls;
    if (!conn) {
        *con_cls = calloc(1, sizeof(s_conn_t));
        return MHD_YES;
    }
    if (*size) {
        conn->body = realloc(conn->body, conn->len + *size + 1);
        memcpy(conn->body + conn->len, data, *size);
        conn->len += *size;
        conn->body[conn->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    int status;
    const char *type;
    char *answer;
    /* an old host: /jsonrpc answers XML-RPC (text/xml), so the client falls back to XML-RPC */
    answer = s_answer(conn->body ? conn->body : "", &status, &type);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(answer), answer, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static void s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                        enum MHD_RequestTerminationCode toe)
{
    s_conn_t *conn = *con_cls;
    if (conn) {
        free(conn->body);
        free(conn);
    }
    *con_cls = NULL;
}

static void test_garbage_never_crashes_the_collector(void **state)
{
    struct MHD_Daemon *host = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        s_handler, NULL, MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(host);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(host, MHD_DAEMON_INFO_BIND_PORT);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);

    char ep[800], dir[] = "/tmp/xoc-bad-XXXXXX";
    xoc_proc_t *bus = xoc_test_start_bus(NULL, "100", NULL, ep, sizeof ep);
    assert_non_null(bus);
    assert_non_null(mkdtemp(dir));
    char *cache_argv[] = {(char *)xoc_test_bin("services/cache/xoc-cache"), "--bus.endpoint", ep,
                          "--cache.path", dir, "--log.level", "warn", NULL};
    xoc_proc_t *cache = xoc_proc_start(cache_argv, "xoc-cache: ready", 10000);
    char *col_argv[] = {(char *)xoc_test_bin("services/collector/xoc-collector"),
                        "--bus.endpoint", ep, "--collector.backoff_max_ms", "400",
                        "--log.level", "warn", NULL};
    xoc_proc_t *col = xoc_proc_start(col_argv, "xoc-collector: ready", 10000);
    assert_non_null(cache);
    assert_non_null(col);

    xoc_bus_opts_t opts = {0};
    xoc_bus_endpoints_parse(ep, &opts);
    opts.heartbeat_ms = 100;
    opts.liveness = 3;
    xoc_client_t *client = xoc_client_new(&opts);
    json_t *rec = json_pack("{s:s,s:s,s:s}", "host", url, "username", "root", "password", "pw");
    msgpack_sbuffer val;
    msgpack_sbuffer_init(&val);
    xoc_json_to_mp(rec, &val);
    xoc_msg_cfg_t cfg = {.db = XOC_STR("servers"), .key = XOC_STR("bad"),
                         .value = {(const uint8_t *)val.data, (uint32_t)val.size}};
    xoc_reply_t r;
    assert_int_equal(xoc_client_call_msg(client, "cache", "config.set", XOC_MSG_CFG, &cfg, 5000,
                                         &r), 0);
    xoc_reply_clear(&r);

    char previous[512] = "";
    for (int mode = 0; mode < M_COUNT; mode++) {
        atomic_store(&s_mode, mode);
        int before = atomic_load(&s_logins);
        /* it must come back and try again (reconnect with backoff), more than once */
        long long end = xoc_test_now_ms() + 20000;
        while (atomic_load(&s_logins) < before + 2 && xoc_test_now_ms() < end)
            zclock_sleep(50); /* polling a counter with a deadline */
        assert_true(atomic_load(&s_logins) >= before + 2);
        assert_int_equal(xoc_proc_wait(col, 0), -1); /* still running */
        /* and it says what is wrong: this mode's error, not the previous one */
        char error[512] = "", status[32] = "";
        for (end = xoc_test_now_ms() + 20000; xoc_test_now_ms() < end;) {
            assert_int_equal(xoc_client_call(client, "collector", "collector.status", NULL, 0,
                                             5000, &r), 0);
            xoc_msg_t m;
            assert_int_equal(xoc_reply_decode(&r, XOC_MSG_CFG, &m), 0);
            json_t *items = xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len);
            json_t *st = json_object_get(items, "bad");
            const char *e = json_string_value(json_object_get(st, "error"));
            snprintf(status, sizeof status, "%s", json_string_value(json_object_get(st, "status")));
            bool fresh = e && *e && strcmp(e, previous) != 0;
            if (fresh)
                snprintf(error, sizeof error, "%s", e);
            json_decref(items);
            xoc_reply_clear(&r);
            if (fresh)
                break;
            zclock_sleep(50); /* polling the status with a deadline */
        }
        print_message("%s: %d logins so far, status %s, error \"%s\"\n", s_mode_names[mode],
                      atomic_load(&s_logins), status, error);
        assert_true(strlen(error) > 0);
        snprintf(previous, sizeof previous, "%s", error);
    }
    json_decref(rec);
    msgpack_sbuffer_destroy(&val);
    xoc_client_destroy(&client);
    bool clean = xoc_proc_stop_clean(&col);
    clean &= xoc_proc_stop_clean(&cache);
    clean &= xoc_proc_stop_clean(&bus);
    assert_true(clean); /* a clean stop on SIGTERM even after all that garbage */
    MHD_stop_daemon(host);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_never_crashes_the_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
