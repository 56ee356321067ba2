/*  /metrics of every service, on real processes: xapi-sim -> xoc-collector -> xoc-cache ->
    xoc-api, all through xoc-bus, every one with metrics.listen on a free port (the default).
    Each exposition is scraped with libcurl and checked by tests/integration/prom_check.py
    (the Prometheus client's parser plus the format's rules), and the values must move: the
    cache's revision and commit latencies once the pool is loaded, the collector's XAPI call
    latencies and acknowledged change sets, the bus's requests by service, the api's calls by
    method and status after JSON-RPC calls over a WebSocket, its connections and replica
    revision. Bad input: unknown paths, other methods, a huge request header.              */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

#define HB "200"
#define DEADLINE_MS 30000
#define ADMIN_PASSWORD "metrics-test-password"

enum { S_BUS, S_CACHE, S_COLLECTOR, S_API, S_COUNT };
static const char *const s_names[S_COUNT] = {"xoc-bus", "xoc-cache", "xoc-collector", "xoc-api"};

static struct {
    xoc_proc_t *sim, *proc[S_COUNT];
    char metrics[S_COUNT][256]; /* URL of each /metrics */
    char api_url[256];
    char bus_ep[800];
    char dir[64], ports_file[128], cache_dir[128];
    char sim_url[256];
    xoc_bus_opts_t opts;
    xoc_client_t *client;
} s_env;

/* ---- HTTP ---------------------------------------------------------------------------------- */

typedef struct {
    char *data;
    size_t len;
} s_body_t;

static size_t s_on_body(char *ptr, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    char *grown = realloc(b->data, b->len + size * n + 1);
    if (!grown)
        return 0;
    b->data = grown;
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* a request: returns the HTTP status (0: no answer), the body in *body (free it) */
static long s_http(const char *url, const char *method, const char *header, char **body,
                   char *ctype, size_t ctype_size)
{
    CURL *c = curl_easy_init();
    s_body_t b = {NULL, 0};
    struct curl_slist *h = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (h)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ctype)
        snprintf(ctype, ctype_size, "%s", ct ? ct : "");
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (body)
        *body = b.data;
    else
        free(b.data);
    return status;
}

/* scrapes a /metrics and checks it with prom_check.py: the samples, as JSON */
static json_t *s_scrape(int svc)
{
    char *text = NULL, ctype[128];
    long status = s_http(s_env.metrics[svc], NULL, NULL, &text, ctype, sizeof ctype);
    assert_int_equal(status, 200);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    char path[160];
    snprintf(path, sizeof path, "%s/scrape-%d.txt", s_env.dir, svc);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    const char *py = getenv("XOC_PYTHON3");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s/tests/integration/prom_check.py < %s", py ? py : "python3",
             getenv("XOC_SOURCE_DIR"), path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t err;
    json_t *samples = json_loadf(p, 0, &err);
    int rc = pclose(p);
    if (rc != 0 || !json_is_array(samples))
        fail_msg("%s: the exposition does not pass prom_check.py (%s, kept in %s)", s_names[svc],
                 err.text, path);
    return samples;
}

/* the value of the sample `name` whose labels include `labels` (a JSON object); NAN if none */
static double s_value(json_t *samples, const char *name, const char *labels)
{
    json_t *want = labels ? json_loads(labels, 0, NULL) : json_object();
    double out = NAN;
    size_t i;
    json_t *s;
    json_array_foreach(samples, i, s)
    {
        if (strcmp(json_string_value(json_array_get(s, 0)), name) != 0)
            continue;
        json_t *have = json_array_get(s, 1);
        const char *k;
        json_t *v;
        bool match = true;
        json_object_foreach(want, k, v) match &= json_equal(json_object_get(have, k), v);
        if (match) {
            out = json_number_value(json_array_get(s, 2));
            break;
        }
    }
    json_decref(want);
    return out;
}

/* scrapes svc until name{labels} satisfies value >= min; returns the value */
static double s_wait_at_least(int svc, const char *name, const char *labels, double min)
{
    long long end = xoc_test_now_ms() + DEADLINE_MS;
    double v = NAN;
    do {
        json_t *samples = s_scrape(svc);
        v = s_value(samples, name, labels);
        json_decref(samples);
        if (v >= min)
            return v;
        usleep(100 * 1000); /* polling with a deadline */
    } while (xoc_test_now_ms() < end);
    fail_msg("%s: %s%s is %g, expected >= %g", s_names[svc], name, labels ? labels : "", v, min);
    return v;
}

/* ---- a JSON-RPC client over WebSocket (libwebsockets) ------------------------------------ */

typedef struct {
    struct lws_context *ctx;
    struct lws *wsi;
    bool open, closed;
    const char *to_send; /* the request waiting for a writable callback */
    char *rx;            /* the message being received */
    size_t rx_len;
    json_t *reply; /* the last answer (a message with an id) */
} s_ws_t;

static int s_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    s_ws_t *w = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->open = true;
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (w->to_send) {
            size_t n = strlen(w->to_send);
            unsigned char *buf = malloc(LWS_PRE + n);
            memcpy(buf + LWS_PRE, w->to_send, n);
            int rc = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            w->to_send = NULL;
            if (rc < (int)n)
                return -1;
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        w->rx = realloc(w->rx, w->rx_len + len + 1);
        assert_non_null(w->rx);
        memcpy(w->rx + w->rx_len, in, len);
        w->rx_len += len;
        if (lws_is_final_fragment(wsi)) {
            json_t *doc = json_loadb(w->rx, w->rx_len, 0, NULL);
            w->rx_len = 0;
            if (doc && json_object_get(doc, "id")) { /* not a notification */
                json_decref(w->reply);
                w->reply = doc;
            } else
                json_decref(doc);
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        w->closed = true;
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols s_ws_protocols[] = {{"xoc-test", s_ws_cb, 0, 1 << 16, 0, NULL, 0},
                                                      {NULL, NULL, 0, 0, 0, NULL, 0}};

static void s_ws_open(s_ws_t *w, const char *host_port)
{
    memset(w, 0, sizeof *w);
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_ws_protocols;
    info.user = w;
    info.gid = -1;
    info.uid = -1;
    w->ctx = lws_create_context(&info);
    assert_non_null(w->ctx);
    char host[256];
    snprintf(host, sizeof host, "%s", host_port);
    char *colon = strrchr(host, ':');
    assert_non_null(colon);
    *colon = '\0';
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = w->ctx;
    ci.address = host;
    ci.port = atoi(colon + 1);
    ci.path = "/api/";
    ci.host = host;
    ci.origin = host;
    ci.protocol = NULL;
    w->wsi = lws_client_connect_via_info(&ci);
    assert_non_null(w->wsi);
    long long end = xoc_test_now_ms() + 10000;
    while (!w->open && !w->closed && xoc_test_now_ms() < end)
        lws_service(w->ctx, 50);
    assert_true(w->open);
}

/* sends a request and waits for its answer (a new reference) */
static json_t *s_ws_call(s_ws_t *w, const char *method, json_t *params)
{
    static int id;
    json_t *req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", ++id, "method", method,
                            "params", params ? params : json_object());
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_decref(w->reply);
    w->reply = NULL;
    w->to_send = text;
    lws_callback_on_writable(w->wsi);
    long long end = xoc_test_now_ms() + 10000;
    while (!w->reply && !w->closed && xoc_test_now_ms() < end)
        lws_service(w->ctx, 50);
    free(text);
    assert_non_null(w->reply);
    json_t *out = w->reply;
    w->reply = NULL;
    return out;
}

static void s_ws_close(s_ws_t *w)
{
    json_decref(w->reply);
    lws_context_destroy(w->ctx);
    free(w->rx);
}

/* ---- processes --------------------------------------------------------------------------- */

/* reads the lines after the ready line until "<name>: metrics url=URL" */
static void s_read_metrics_url(int svc)
{
    char line[1024], prefix[64];
    snprintf(prefix, sizeof prefix, "%s: metrics url=", s_names[svc]);
    long long end = xoc_test_now_ms() + 10000;
    while (xoc_test_now_ms() < end) {
        assert_true(xoc_proc_read_line(s_env.proc[svc], line, sizeof line, 10000));
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            snprintf(s_env.metrics[svc], sizeof s_env.metrics[svc], "%s", line + strlen(prefix));
            return;
        }
    }
    fail_msg("%s printed no metrics URL", s_names[svc]);
}

static void s_start(int svc, const char *bin, const char *ready, char **extra)
{
    char *argv[32] = {(char *)xoc_test_bin(bin),
                      "--bus.endpoint",
                      s_env.bus_ep,
                      "--bus.heartbeat_ms",
                      HB,
                      "--log.level",
                      "warn"};
    int n = 7;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s_env.proc[svc] = xoc_proc_start(argv, ready, 20000);
    assert_non_null(s_env.proc[svc]);
    s_read_metrics_url(svc);
}

static void s_configure_pool(void)
{
    msgpack_sbuffer val;
    msgpack_sbuffer_init(&val);
    json_t *rec = json_pack("{s:s,s:s,s:s}", "host", s_env.sim_url, "username", "root", "password",
                            "password");
    xoc_json_to_mp(rec, &val);
    json_decref(rec);
    xoc_msg_cfg_t cfg = {.db = XOC_STR("servers"),
                         .key = XOC_STR("s1"),
                         .value = {(const uint8_t *)val.data, (uint32_t)val.size}};
    xoc_reply_t r;
    assert_int_equal(
        xoc_client_call_msg(s_env.client, "cache", "config.set", XOC_MSG_CFG, &cfg, 5000, &r), 0);
    xoc_reply_clear(&r);
    msgpack_sbuffer_destroy(&val);
}

static void s_read_sim_url(void)
{
    json_t *hosts = json_load_file(s_env.ports_file, 0, NULL);
    assert_non_null(hosts);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) if (json_is_true(json_object_get(h, "master"))) snprintf(
        s_env.sim_url, sizeof s_env.sim_url, "%s", json_string_value(json_object_get(h, "url")));
    json_decref(hosts);
    assert_true(s_env.sim_url[0]);
}

static int s_setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(s_env.dir, sizeof s_env.dir, "/tmp/xoc-metrics-XXXXXX");
    assert_non_null(mkdtemp(s_env.dir));
    snprintf(s_env.ports_file, sizeof s_env.ports_file, "%s/ports.json", s_env.dir);
    snprintf(s_env.cache_dir, sizeof s_env.cache_dir, "%s/db", s_env.dir);
    char *sim[] = {(char *)xoc_test_bin("tools/xapi-sim/xapi-sim"),
                   "--pools",
                   "1",
                   "--hosts",
                   "2",
                   "--vms",
                   "20",
                   "--churn",
                   "5",
                   "--ports-file",
                   s_env.ports_file,
                   "--log-level",
                   "warn",
                   NULL};
    s_env.sim = xoc_proc_start(sim, "xapi-sim: ready", 20000);
    assert_non_null(s_env.sim);
    s_read_sim_url();
    s_env.proc[S_BUS] = xoc_test_start_bus(NULL, HB, NULL, s_env.bus_ep, sizeof s_env.bus_ep);
    assert_non_null(s_env.proc[S_BUS]);
    s_read_metrics_url(S_BUS);
    s_start(S_CACHE, "services/cache/xoc-cache", "xoc-cache: ready",
            (char *[]){"--cache.path", s_env.cache_dir, NULL});
    s_start(S_COLLECTOR, "services/collector/xoc-collector", "xoc-collector: ready", NULL);
    setenv("XOC_ADMIN_PASSWORD", ADMIN_PASSWORD, 1);
    s_start(S_API, "services/api/xoc-api", "xoc-api: ready",
            (char *[]){"--api.listen", "127.0.0.1:0", NULL});
    const char *line = s_env.proc[S_API]->line; /* xoc-api: ready url=http://HOST:PORT */
    const char *url = strstr(line, "http://");
    assert_non_null(url);
    snprintf(s_env.api_url, sizeof s_env.api_url, "%s", url + 7);
    xoc_bus_endpoints_parse(s_env.bus_ep, &s_env.opts);
    s_env.opts.heartbeat_ms = 200;
    s_env.opts.liveness = 3;
    s_env.client = xoc_client_new(&s_env.opts);
    assert_non_null(s_env.client);
    s_configure_pool();
    return 0;
}

static int s_teardown(void **state)
{
    xoc_client_destroy(&s_env.client);
    bool clean = true;
    for (int i = S_COUNT - 1; i >= 0; i--)
        clean &= xoc_proc_stop_clean(&s_env.proc[i]);
    xoc_proc_stop(&s_env.sim);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_env.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", s_env.dir);
    curl_global_cleanup();
    assert_true(clean); /* every service stops with status 0 on SIGTERM */
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_expositions(void **state)
{
    static const char *const svc_label[S_COUNT] = {"bus", "cache", "collector", "api"};
    for (int i = 0; i < S_COUNT; i++) {
        json_t *samples = s_scrape(i);
        char labels[64];
        snprintf(labels, sizeof labels, "{\"service\":\"%s\"}", svc_label[i]);
        assert_true(s_value(samples, "xoc_service_info", labels) == 1);
        assert_true(s_value(samples, "process_resident_memory_bytes", NULL) > 0);
        assert_true(s_value(samples, "process_start_time_seconds", NULL) > 1.6e9);
        json_decref(samples);
        s_wait_at_least(i, "xoc_heartbeats_sent_total", NULL, 1);
    }
}

static void test_cache_and_collector_move(void **state)
{
    /* the pool is loaded: committed change sets, a revision, XAPI latencies */
    s_wait_at_least(S_COLLECTOR, "xoc_collector_pool_state",
                    "{\"server\":\"s1\",\"state\":\"connected\"}", 1);
    s_wait_at_least(S_COLLECTOR, "xoc_collector_xapi_call_seconds_count",
                    "{\"server\":\"s1\",\"method\":\"event.from\"}", 1);
    s_wait_at_least(
        S_COLLECTOR, "xoc_collector_xapi_call_seconds_bucket",
        "{\"server\":\"s1\",\"method\":\"session.login_with_password\",\"le\":\"+Inf\"}", 1);
    s_wait_at_least(S_COLLECTOR, "xoc_collector_changesets_acked_total", "{\"server\":\"s1\"}", 1);
    s_wait_at_least(S_COLLECTOR, "xoc_collector_objects", "{\"server\":\"s1\"}", 20);
    s_wait_at_least(S_CACHE, "xoc_cache_revision", NULL, 1);
    s_wait_at_least(S_CACHE, "xoc_cache_objects", NULL, 20);
    s_wait_at_least(S_CACHE, "xoc_request_seconds_count", "{\"service\":\"cache\",\"method\":\"cache.apply\"}", 1);
    s_wait_at_least(S_CACHE, "xoc_requests_total", "{\"method\":\"cache.apply\",\"status\":\"ok\"}",
                    1);
    s_wait_at_least(S_CACHE, "xoc_cache_changesets_total", "{\"outcome\":\"applied\"}", 1);
    s_wait_at_least(S_CACHE, "xoc_cache_config_ops_total", "{\"op\":\"set\",\"outcome\":\"ok\"}",
                    1);
    /* the simulator churns: events keep arriving, revisions keep growing */
    json_t *samples = s_scrape(S_CACHE);
    double rev = s_value(samples, "xoc_cache_revision", NULL);
    json_decref(samples);
    s_wait_at_least(S_COLLECTOR, "xoc_collector_events_total", "{\"server\":\"s1\"}", 1);
    s_wait_at_least(S_CACHE, "xoc_cache_revision", NULL, rev + 1);
    /* the bus routed them */
    s_wait_at_least(S_BUS, "xoc_bus_requests_total", "{\"service\":\"cache\",\"outcome\":\"ok\"}",
                    2);
    s_wait_at_least(S_BUS, "xoc_bus_workers", "{\"service\":\"cache\"}", 1);
    s_wait_at_least(S_BUS, "xoc_bus_request_seconds_count", "{\"service\":\"cache\"}", 1);
    s_wait_at_least(S_BUS, "xoc_bus_events_total", NULL, 1);
}

/* the pool's XAPI gateway: its xapi.call requests are counted by its workers */
static void test_gateway_counted(void **state)
{
    s_wait_at_least(S_COLLECTOR, "xoc_collector_pool_state",
                    "{\"server\":\"s1\",\"state\":\"connected\"}", 1);
    /* the gateway's service name, from the bus's workers */
    char service[128] = "";
    long long end = xoc_test_now_ms() + DEADLINE_MS;
    while (!service[0] && xoc_test_now_ms() < end) {
        json_t *samples = s_scrape(S_BUS);
        size_t i;
        json_t *smp;
        json_array_foreach(samples, i, smp)
        {
            const char *svc = json_string_value(
                json_object_get(json_array_get(smp, 1), "service"));
            if (strcmp(json_string_value(json_array_get(smp, 0)), "xoc_bus_workers") == 0 &&
                svc && strncmp(svc, "xapi.", 5) == 0)
                snprintf(service, sizeof service, "%s", svc);
        }
        json_decref(samples);
        if (!service[0])
            usleep(100 * 1000);
    }
    assert_true(service[0]);
    static const uint8_t no_params[] = {0x90};
    xoc_msg_xapi_call_t call = {.pool = xoc_str(service + 5), .method = XOC_STR("pool.get_all"),
                                .params = {no_params, sizeof no_params}};
    xoc_reply_t rep;
    assert_int_equal(xoc_client_call_msg(s_env.client, service, "xapi.call", XOC_MSG_XAPI_CALL,
                                         &call, 10000, &rep),
                     0);
    xoc_reply_clear(&rep);
    call.method = XOC_STR("no_such_class.get_all"); /* the host's own error */
    assert_int_equal(xoc_client_call_msg(s_env.client, service, "xapi.call", XOC_MSG_XAPI_CALL,
                                         &call, 10000, &rep),
                     XOC_EXAPI);
    xoc_reply_clear(&rep);
    char labels[256];
    snprintf(labels, sizeof labels,
             "{\"service\":\"%s\",\"method\":\"xapi.call\",\"status\":\"ok\"}", service);
    s_wait_at_least(S_COLLECTOR, "xoc_requests_total", labels, 1);
    snprintf(labels, sizeof labels,
             "{\"service\":\"%s\",\"method\":\"xapi.call\",\"status\":\"xapi\"}", service);
    s_wait_at_least(S_COLLECTOR, "xoc_requests_total", labels, 1);
    snprintf(labels, sizeof labels, "{\"service\":\"%s\",\"method\":\"xapi.call\"}", service);
    s_wait_at_least(S_COLLECTOR, "xoc_request_seconds_count", labels, 2);
    snprintf(labels, sizeof labels, "{\"service\":\"%s\",\"outcome\":\"ok\"}", service);
    s_wait_at_least(S_BUS, "xoc_bus_requests_total", labels, 1);
}

static void test_api_moves(void **state)
{
    s_wait_at_least(S_API, "xoc_api_replica_revision", NULL, 1);
    json_t *samples = s_scrape(S_API);
    assert_false(isnan(s_value(samples, "xoc_api_replica_revision_lag", NULL)));
    double before = s_value(samples, "xoc_api_calls_total",
                            "{\"method\":\"session.signIn\",\"status\":\"ok\"}");
    json_decref(samples);
    before = isnan(before) ? 0 : before;

    s_ws_t ws;
    s_ws_open(&ws, s_env.api_url);
    json_t *r =
        s_ws_call(&ws, "session.signIn",
                  json_pack("{s:s,s:s}", "email", "admin@admin.net", "password", ADMIN_PASSWORD));
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    r = s_ws_call(&ws, "xo.getAllObjects", NULL);
    assert_true(json_object_size(json_object_get(r, "result")) > 0);
    json_decref(r);
    json_decref(s_ws_call(&ws, "no.such.method", NULL));
    r = s_ws_call(&ws, "session.signIn", json_pack("{s:i}", "email", 3)); /* invalid params */
    assert_non_null(json_object_get(r, "error"));
    json_decref(r);

    s_wait_at_least(S_API, "xoc_api_calls_total",
                    "{\"method\":\"session.signIn\",\"status\":\"ok\"}", before + 1);
    s_wait_at_least(S_API, "xoc_api_calls_total",
                    "{\"method\":\"xo.getAllObjects\",\"status\":\"ok\"}", 1);
    s_wait_at_least(S_API, "xoc_api_calls_total", "{\"method\":\"_unknown\",\"status\":\"-32601\"}",
                    1);
    s_wait_at_least(S_API, "xoc_api_calls_total",
                    "{\"method\":\"session.signIn\",\"status\":\"10\"}", 1);
    s_wait_at_least(S_API, "xoc_api_call_seconds_count", "{\"method\":\"xo.getAllObjects\"}", 1);
    /* while the connection is open and signed in (the gauges refresh at each heartbeat) */
    s_wait_at_least(S_API, "xoc_api_connections", NULL, 1);
    s_wait_at_least(S_API, "xoc_api_sessions_signed_in", NULL, 1);
    s_ws_close(&ws);
    /* the bus saw the api's requests to the cache (users, snapshot) */
    s_wait_at_least(S_CACHE, "xoc_cache_snapshot_chunks_total", NULL, 1);
}

static void test_bad_requests(void **state)
{
    for (int i = 0; i < S_COUNT; i++) {
        char url[300];
        snprintf(url, sizeof url, "%s", s_env.metrics[i]);
        char *slash = strrchr(url, '/');
        assert_non_null(slash);
        strcpy(slash, "/nope");
        assert_int_equal(s_http(url, NULL, NULL, NULL, NULL, 0), 404);
        strcpy(slash, "/");
        assert_int_equal(s_http(url, NULL, NULL, NULL, NULL, 0), 404);
        strcpy(slash, "/metrics/x");
        assert_int_equal(s_http(url, NULL, NULL, NULL, NULL, 0), 404);
        assert_int_equal(s_http(s_env.metrics[i], "POST", NULL, NULL, NULL, 0), 404);
        assert_int_equal(s_http(s_env.metrics[i], "DELETE", NULL, NULL, NULL, 0), 404);
        /* a 64 KiB header: refused (an error status or the connection closed), never served */
        size_t n = 64 * 1024;
        char *big = malloc(n + 16);
        memcpy(big, "X-Big: ", 7);
        memset(big + 7, 'a', n);
        big[7 + n] = '\0';
        long status = s_http(s_env.metrics[i], NULL, big, NULL, NULL, 0);
        free(big);
        assert_true(status == 0 || status >= 400);
        /* and the endpoint still serves */
        json_decref(s_scrape(i));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expositions),
        cmocka_unit_test(test_cache_and_collector_move),
        cmocka_unit_test(test_gateway_counted),
        cmocka_unit_test(test_api_moves),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
