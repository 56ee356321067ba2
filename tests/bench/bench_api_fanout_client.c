/*  bench_api_fanout_client — n WebSocket clients of xoc-api in one process, on
    libwebsockets' client API: the lean load generator of bench_api_fanout.mjs (its "C
    clients" phase), next to its Node `ws` clients (the xo-lib-like ones). What a client
    does and measures is the same as a Node worker of bench_api_fanout.mjs: sign in with
    a token (session.signIn), then for every complete notification received (a message
    whose first 40 bytes hold "method"), note its receipt time (CLOCK_MONOTONIC, the
    clock of the stamps) and each stamp "fan-<seq>-<t>" in it seen the first time by this
    client: latency = receipt - t, and per stamp the first and last receipt.
    Driven through stdin/stdout, one JSON object a line:
      stdout {"ready":true}                  every client signed in
      stdin  cpu-start                       start counting CPU time and messages
      stdin  cpu-stop  -> {"cpu":s,"cpuUser":s,"msgs":n}
      stdin  report    -> {"lat":[ns,...],"bytes":n,"messages":n,"first":[[seq,"lo","hi",n],...]}
                          then exit 0
    Usage: bench_api_fanout_client <ws://host:port/api/> <token> <n> <min seq>            */
#include <libwebsockets.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_SEQ (1 << 16)
#define S_RX_CHUNK (64 * 1024)

typedef struct {
    struct lws *wsi;
    char *rx;
    size_t rx_len, rx_cap;
    bool sent;              /* session.signIn written */
    bool signed_in;
    uint8_t seen[S_MAX_SEQ / 8];
} s_client_t;

static struct {
    struct lws_context *ctx;
    const char *token;
    uint32_t min_seq;
    int n, signed_in, open;
    s_client_t *clients;
    int64_t *lat;
    size_t n_lat, cap_lat;
    int64_t lo[S_MAX_SEQ], hi[S_MAX_SEQ];
    uint32_t count[S_MAX_SEQ];
    uint64_t bytes, messages, msgs0;
    struct rusage ru0;
    atomic_int cmd;         /* from the stdin thread: 1 cpu-start, 2 cpu-stop, 3 report */
    bool stop, reported;
} s;

static int64_t s_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double s_secs(struct timeval tv) { return (double)tv.tv_sec + tv.tv_usec / 1e6; }

/* ---- what a client measures ------------------------------------------------------------------ */

static void s_stamp(s_client_t *c, uint32_t seq, int64_t t, int64_t now)
{
    if (seq < s.min_seq || seq >= S_MAX_SEQ || (c->seen[seq / 8] & (1u << (seq % 8))))
        return;
    c->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
    if (s.n_lat == s.cap_lat) {
        size_t cap = s.cap_lat ? s.cap_lat * 2 : 1 << 16;
        int64_t *lat = realloc(s.lat, cap * sizeof *lat);
        if (!lat)
            abort();
        s.lat = lat;
        s.cap_lat = cap;
    }
    s.lat[s.n_lat++] = now - t;
    if (s.count[seq] == 0 || now < s.lo[seq])
        s.lo[seq] = now;
    if (s.count[seq] == 0 || now > s.hi[seq])
        s.hi[seq] = now;
    s.count[seq]++;
}

/* digits at p (up to end); false if none */
static bool s_digits(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    while (q < end && *q >= '0' && *q <= '9' && q - *p < 20)
        x = x * 10 + (uint64_t)(*q++ - '0');
    if (q == *p)
        return false;
    *p = q;
    *v = x;
    return true;
}

/* a complete notification: every "fan-<seq>-<t>" in it (the Node worker's regex) */
static void s_notification(s_client_t *c, const char *data, size_t len, int64_t now)
{
    s.bytes += len;
    s.messages++;
    const char *end = data + len;
    for (const char *at = memmem(data, len, "fan-", 4); at;
         at = memmem(at + 4, (size_t)(end - at - 4), "fan-", 4)) {
        const char *p = at + 4;
        uint64_t seq, t;
        if (!s_digits(&p, end, &seq) || p >= end || *p++ != '-' || !s_digits(&p, end, &t))
            continue;
        s_stamp(c, (uint32_t)(seq < S_MAX_SEQ ? seq : S_MAX_SEQ), (int64_t)t, now);
    }
}

static int s_message(s_client_t *c, const char *data, size_t len, int64_t now)
{
    if (memmem(data, len < 40 ? len : 40, "\"method\"", 8)) {
        s_notification(c, data, len, now);
        return 0;
    }
    /* the answer to session.signIn */
    if (c->signed_in || !memmem(data, len, "\"result\"", 8)) {
        fprintf(stderr, "bench_api_fanout_client: unexpected answer: %.*s\n",
                (int)(len < 300 ? len : 300), data);
        return -1;
    }
    c->signed_in = true;
    if (++s.signed_in == s.n) {
        printf("{\"ready\":true}\n");
        fflush(stdout);
    }
    return 0;
}

/* ---- the control commands -------------------------------------------------------------------- */

static void s_report(void)
{
    printf("{\"lat\":[");
    for (size_t i = 0; i < s.n_lat; i++)
        printf(i ? ",%lld" : "%lld", (long long)s.lat[i]);
    printf("],\"bytes\":%llu,\"messages\":%llu,\"first\":[", (unsigned long long)s.bytes,
           (unsigned long long)s.messages);
    bool first = true;
    for (uint32_t q = 0; q < S_MAX_SEQ; q++)
        if (s.count[q]) {
            printf("%s[%u,\"%lld\",\"%lld\",%u]", first ? "" : ",", q, (long long)s.lo[q],
                   (long long)s.hi[q], s.count[q]);
            first = false;
        }
    printf("]}\n");
    fflush(stdout);
}

static void s_command(int cmd)
{
    struct rusage ru;
    switch (cmd) {
    case 1:
        getrusage(RUSAGE_SELF, &s.ru0);
        s.msgs0 = s.messages;
        break;
    case 2:
        getrusage(RUSAGE_SELF, &ru);
        double user = s_secs(ru.ru_utime) - s_secs(s.ru0.ru_utime);
        double sys = s_secs(ru.ru_stime) - s_secs(s.ru0.ru_stime);
        printf("{\"cpu\":%.6f,\"cpuUser\":%.6f,\"msgs\":%llu}\n", user + sys, user,
               (unsigned long long)(s.messages - s.msgs0));
        fflush(stdout);
        break;
    case 3:
        s_report();
        s.reported = s.stop = true;
        break;
    default: break;
    }
}

static void *s_stdin_thread(void *arg)
{
    (void)arg;
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        int cmd = strncmp(line, "cpu-start", 9) == 0  ? 1
                  : strncmp(line, "cpu-stop", 8) == 0 ? 2
                  : strncmp(line, "report", 6) == 0   ? 3
                                                      : 0;
        if (!cmd)
            continue;
        while (atomic_load(&s.cmd) != 0) /* the previous one is being handled */
            lws_cancel_service(s.ctx), usleep(1000);
        atomic_store(&s.cmd, cmd);
        lws_cancel_service(s.ctx);
    }
    return NULL;
}

/* ---- libwebsockets ----------------------------------------------------------------------------- */

static int s_receive(s_client_t *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : S_RX_CHUNK;
        while (cap < c->rx_len + len)
            cap *= 2;
        char *rx = realloc(c->rx, cap);
        if (!rx)
            return -1;
        c->rx = rx;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    int rc = s_message(c, c->rx, c->rx_len, s_now_ns());
    c->rx_len = 0;
    return rc;
}

static int s_sign_in(s_client_t *c, struct lws *wsi)
{
    if (c->sent)
        return 0;
    unsigned char buf[LWS_PRE + 512];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"session.signIn\","
                     "\"params\":{\"token\":\"%s\"}}",
                     s.token);
    if (n <= 0 || (size_t)n >= sizeof buf - LWS_PRE)
        return -1;
    c->sent = true;
    return lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    s_client_t *c = user; /* the connection's userdata */
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s.open++;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: return c ? s_sign_in(c, wsi) : 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: return c ? s_receive(c, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "bench_api_fanout_client: connection error: %s\n",
                in ? (const char *)in : "?");
        s.stop = true;
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!s.stop)
            fprintf(stderr, "bench_api_fanout_client: a connection closed\n");
        s.stop = true;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        int cmd = atomic_load(&s.cmd);
        if (cmd) {
            s_command(cmd);
            atomic_store(&s.cmd, 0);
        }
        return 0;
    }
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* per-session data: the client, given as the connection's userdata (s_connect) */
static const struct lws_protocols s_protocols[] = {
    {"bench-fanout", s_callback, 0, S_RX_CHUNK, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int s_connect(int i, const char *host, int port, const char *path)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s.ctx;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.local_protocol_name = "bench-fanout";
    ci.pwsi = &s.clients[i].wsi;
    ci.userdata = &s.clients[i];
    return lws_client_connect_via_info(&ci) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s <ws://host:port/api/> <token> <n> <min seq>\n", argv[0]);
        return 2;
    }
    s.token = argv[2];
    s.n = atoi(argv[3]);
    s.min_seq = (uint32_t)strtoul(argv[4], NULL, 10);
    char url[512], path[512];
    snprintf(url, sizeof url, "%s", argv[1]);
    const char *prot, *host, *p;
    int port;
    if (s.n <= 0 || lws_parse_uri(url, &prot, &host, &port, &p)) {
        fprintf(stderr, "bench_api_fanout_client: bad arguments\n");
        return 2;
    }
    snprintf(path, sizeof path, "/%s", p);
    s.clients = calloc((size_t)s.n, sizeof *s.clients);
    if (!s.clients)
        return 1;

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.gid = -1;
    info.uid = -1;
    info.pt_serv_buf_size = 256 * 1024; /* bytes read per recv */
    s.ctx = lws_create_context(&info);
    if (!s.ctx)
        return 1;
    for (int i = 0; i < s.n; i++)
        if (s_connect(i, host, port, path) != 0) {
            fprintf(stderr, "bench_api_fanout_client: cannot connect\n");
            return 1;
        }
    pthread_t th;
    if (pthread_create(&th, NULL, s_stdin_thread, NULL) != 0)
        return 1;
    pthread_detach(th);
    while (!s.stop)
        if (lws_service(s.ctx, 0) < 0)
            break;
    int rc = s.reported ? 0 : 1;
    lws_context_destroy(s.ctx);
    return rc;
}
