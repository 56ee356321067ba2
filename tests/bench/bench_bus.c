/*  Benchmark: xoc-bus against raw ZeroMQ, in the same run, printed as ratios.
      1. pub/sub: messages/s through the bus's XSUB/XPUB proxy vs a direct PUB->SUB, same
         sizes (goal: >= 80% of raw).
      2. request/reply: round trip through the broker to an xoc-echo worker vs a direct
         DEALER->ROUTER echo to a worker process (goal: p50 < 100 us and <= 2x direct).
    Usage: bench_bus [messages] [pubsub|reqrep|all] [tcp|ipc] (default 200000, both parts,
    loopback TCP; ipc: every socket of both paths, raw and bus, on ipc:// instead).
    BENCH_BUS_FLAGS="--zmq.io_threads 1 ..." adds flags to the bus's command line (A/B runs). */
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

/* where the raw sockets bind: loopback TCP or ipc, any free port or file */
static const char *s_any = "tcp://127.0.0.1:*";

static double s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef struct {
    const char *endpoint;
    int count;
    double first_us, last_us;
    int received;
} s_sub_args_t;

static void *s_subscriber(void *arg)
{
    s_sub_args_t *a = arg;
    void *sub = zmq_socket(zsys_init(), ZMQ_SUB);
    int hwm = 0, timeo = 1000;
    zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bench.", 6);
    zmq_connect(sub, a->endpoint);
    zmq_msg_t m;
    zmq_msg_init(&m);
    /* warm-up messages ("bench.warm") until the data starts */
    while (a->received < a->count) {
        if (zmq_msg_recv(&m, sub, 0) < 0)
            break;
        bool data = zmq_msg_size(&m) == 10 && memcmp(zmq_msg_data(&m), "bench.data", 10) == 0;
        while (zmq_msg_more(&m))
            zmq_msg_recv(&m, sub, 0);
        if (!data)
            continue;
        if (a->received++ == 0)
            a->first_us = s_now_us();
        a->last_us = s_now_us();
    }
    zmq_msg_close(&m);
    zmq_close(sub);
    return NULL;
}

/*  Publishes warm-up messages until the subscriber is joined, then `count` data messages;
    returns messages/s at the subscriber. Adds the CPU seconds used from the first data
    message to the last, by this process and by the bus (bus_pid, 0: none), to cpu[0], cpu[1]. */
static double s_pubsub(const char *pub_ep, bool bind, const char *sub_ep, int count,
                       size_t size, pid_t bus_pid, double cpu[2])
{
    void *pub = zmq_socket(zsys_init(), ZMQ_PUB);
    int hwm = 0;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    char bound[256];
    if (bind) { /* raw: the publisher binds a free port, the subscriber connects to it */
        zmq_bind(pub, s_any);
        size_t len = sizeof bound;
        zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, bound, &len);
        sub_ep = bound;
    } else
        zmq_connect(pub, pub_ep);
    s_sub_args_t a = {.endpoint = sub_ep, .count = count};
    pthread_t th;
    pthread_create(&th, NULL, s_subscriber, &a);
    char *payload = calloc(1, size);
    /* join: the subscription must have reached the publisher */
    for (int i = 0; i < 300; i++) {
        zmq_send(pub, "bench.warm", 10, ZMQ_SNDMORE);
        zmq_send(pub, payload, size, 0);
        zclock_sleep(10); /* benchmark warm-up pacing, not a test wait */
    }
    double self0 = xoc_proc_cpu_s(getpid()), bus0 = bus_pid ? xoc_proc_cpu_s(bus_pid) : 0;
    double t0 = s_now_us();
    for (int i = 0; i < count; i++) {
        zmq_send(pub, "bench.data", 10, ZMQ_SNDMORE);
        zmq_send(pub, payload, size, 0);
    }
    pthread_join(th, NULL);
    cpu[0] += xoc_proc_cpu_s(getpid()) - self0;
    if (bus_pid)
        cpu[1] += xoc_proc_cpu_s(bus_pid) - bus0;
    double span = (a.last_us > t0 ? a.last_us : s_now_us()) - t0;
    free(payload);
    zmq_close(pub);
    if (a.received < count)
        printf("  (received %d of %d)\n", a.received, count);
    return a.received / (span / 1e6);
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void *s_direct_worker(void *arg)
{
    void *router = arg;
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    while (zmq_msg_recv(&id, router, 0) >= 0) {
        if (zmq_msg_recv(&body, router, 0) < 0)
            break;
        if (zmq_msg_size(&body) == 4 && memcmp(zmq_msg_data(&body), "STOP", 4) == 0)
            break;
        zmq_msg_send(&id, router, ZMQ_SNDMORE);
        zmq_msg_send(&body, router, 0);
    }
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return NULL;
}

static void s_report(const char *what, double *lat, int n, double *p50_out)
{
    qsort(lat, (size_t)n, sizeof *lat, s_cmp);
    printf("  %-28s p50 %7.1f us   p99 %7.1f us\n", what, lat[n / 2], lat[n * 99 / 100]);
    *p50_out = lat[n / 2];
}

/* the direct baseline: the same client, and an echo worker in ANOTHER process (as the bus's
   worker is), so both paths pay the same process wake-ups per hop */
static double s_direct_rtt(int n)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    pid_t child = fork();
    if (child == 0) { /* a fresh libzmq context: contexts do not survive fork */
        close(fds[0]);
        void *ctx = zmq_ctx_new();
        void *router = zmq_socket(ctx, ZMQ_ROUTER);
        zmq_bind(router, s_any);
        char ep[256];
        size_t len = sizeof ep;
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &len);
        if (write(fds[1], ep, strlen(ep) + 1) < 0)
            _exit(1);
        close(fds[1]);
        s_direct_worker(router);
        zmq_close(router);
        zmq_ctx_term(ctx);
        _exit(0);
    }
    close(fds[1]);
    char ep[256] = "";
    ssize_t got = read(fds[0], ep, sizeof ep - 1);
    close(fds[0]);
    if (got <= 0)
        return 0;
    void *dealer = zmq_socket(zsys_init(), ZMQ_DEALER);
    zmq_connect(dealer, ep);
    /* the same header + body a bus request carries, encoded the same way */
    xoc_msg_req_t req = {.id = 1, .service = XOC_STR("echo"), .method = XOC_STR("echo.ping"),
                         .timeout_ms = 1000};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_req_encode(&req, &sb);
    double *lat = calloc((size_t)n, sizeof *lat), p50;
    char buf[512];
    for (int i = -1000; i < n; i++) {
        double t0 = s_now_us();
        zmq_send(dealer, sb.data, sb.size, 0);
        zmq_recv(dealer, buf, sizeof buf, 0);
        if (i >= 0)
            lat[i] = s_now_us() - t0;
    }
    s_report("direct, worker in a process", lat, n, &p50);
    zmq_send(dealer, "STOP", 4, 0);
    waitpid(child, NULL, 0);
    zmq_close(dealer);
    msgpack_sbuffer_destroy(&sb);
    free(lat);
    return p50;
}

static double s_bus_rtt(const char *endpoint, int n)
{
    xoc_bus_opts_t opts = {0};
    xoc_bus_endpoints_parse(endpoint, &opts);
    opts.heartbeat_ms = 1000;
    opts.liveness = 3;
    opts.spin_us = 200; /* the bus.spin_us default: the client polls 200 µs before sleeping */
    xoc_client_t *c = xoc_client_new(&opts);
    double *lat = calloc((size_t)n, sizeof *lat), p50;
    xoc_msg_echo_t e = {.text = XOC_STR("x")};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_echo_encode(&e, &sb);
    int errors = 0;
    for (int i = -1000; i < n; i++) {
        xoc_reply_t r;
        double t0 = s_now_us();
        if (xoc_client_call(c, "echo", "echo.ping", sb.data, sb.size, 5000, &r) != 0)
            errors++;
        if (i >= 0)
            lat[i] = s_now_us() - t0;
        xoc_reply_clear(&r);
    }
    s_report("through xoc-bus to xoc-echo", lat, n, &p50);
    if (errors)
        printf("  (%d errors)\n", errors);
    msgpack_sbuffer_destroy(&sb);
    xoc_client_destroy(&c);
    free(lat);
    return p50;
}

int main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 200000;
    const char *part = argc > 2 ? argv[2] : "";
    bool ipc = argc > 3 && strcmp(argv[3], "ipc") == 0;
    bool do_pubsub = strcmp(part, "reqrep") != 0, do_reqrep = strcmp(part, "pubsub") != 0;
    zsys_init();
    zsys_set_logstream(NULL);
    char endpoint[800];
    /* the bus's flags: a high-water mark no run reaches, then BENCH_BUS_FLAGS (A/B runs) */
    char *extra[32] = {"--bus.hwm", "10000000", NULL};
    static char flags[1024];
    snprintf(flags, sizeof flags, "%s", getenv("BENCH_BUS_FLAGS") ? getenv("BENCH_BUS_FLAGS") : "");
    int nx = 2;
    for (char *save = NULL, *w = strtok_r(flags, " ", &save); w && nx < 31;
         w = strtok_r(NULL, " ", &save))
        extra[nx++] = w;
    extra[nx] = NULL;
    char dir[] = "/tmp/xoc-bench-bus-XXXXXX", listen[200] = "";
    if (ipc) { /* the bus's three endpoints as files of a fresh folder */
        if (!mkdtemp(dir))
            return 1;
        snprintf(listen, sizeof listen, "ipc://%s/pub,ipc://%s/sub,ipc://%s/req", dir, dir, dir);
        s_any = "ipc://*";
        printf("== transport: ipc:// (raw and bus)\n");
    }
    xoc_proc_t *bus =
        xoc_test_start_bus(ipc ? listen : NULL, NULL, extra, endpoint, sizeof endpoint);
    if (!bus)
        return 1;
    xoc_bus_opts_t opts = {0};
    xoc_bus_endpoints_parse(endpoint, &opts);

    int ok = 1;
    size_t sizes[] = {64, 1024};
    if (do_pubsub)
        printf("== pub/sub, %d messages each, median of 3 alternating runs\n", count);
    for (int i = 0; do_pubsub && i < 2; i++) {
        /* alternate raw and bus runs, 3 each, and keep the medians: the machine is shared */
        double raws[3], buses[3], raw_cpu[2] = {0, 0}, bus_cpu[2] = {0, 0};
        for (int k = 0; k < 3; k++) {
            raws[k] = s_pubsub(NULL, true, NULL, count, sizes[i], 0, raw_cpu);
            buses[k] = s_pubsub(opts.pub, false, opts.sub, count, sizes[i], bus->pid, bus_cpu);
        }
        qsort(raws, 3, sizeof raws[0], s_cmp);
        qsort(buses, 3, sizeof buses[0], s_cmp);
        double raw = raws[1], bus_rate = buses[1];
        double ratio = bus_rate / raw;
        printf("  %5zu B: raw %9.0f msg/s   bus %9.0f msg/s   ratio %.2f (goal >= 0.80)\n",
               sizes[i], raw, bus_rate, ratio);
        /* load-independent: CPU per message over the 3 runs (clock ticks of 10 ms) */
        double per = 1e6 / (3.0 * count);
        printf("          CPU per message: raw %.2f us; bus %.2f us (publisher+subscriber %.2f, "
               "xoc-bus %.2f)\n", raw_cpu[0] * per, (bus_cpu[0] + bus_cpu[1]) * per,
               bus_cpu[0] * per, bus_cpu[1] * per);
        ok &= ratio >= 0.8;
    }
    if (!do_reqrep)
        goto done;
    char *echo_argv[] = {(char *)xoc_test_bin("tests/integration/xoc-echo"), "--bus.endpoint",
                         endpoint, "--log.level", "warn", NULL};
    xoc_proc_t *echo = xoc_proc_start(echo_argv, "xoc-echo: ready", 5000);
    int n = count / 30 > 1000 ? count / 30 : 1000;
    printf("== request/reply round trip, %d calls a run, 3 alternating runs each\n", n);
    /* alternate direct and bus runs, 3 each, and keep the medians of their p50 */
    double directs[3], vias[3];
    for (int k = 0; k < 3; k++) {
        directs[k] = s_direct_rtt(n);
        vias[k] = s_bus_rtt(endpoint, n);
    }
    qsort(directs, 3, sizeof directs[0], s_cmp);
    qsort(vias, 3, sizeof vias[0], s_cmp);
    double direct = directs[1], via = vias[1];
    printf("  ratio bus/direct %.2f (goal <= 2.0), bus p50 %.1f us (goal < 100)\n",
           via / direct, via);
    ok &= via / direct <= 2.0 && via < 100;
    xoc_proc_stop(&echo);
done:
    xoc_proc_stop(&bus);
    if (ipc) {
        const char *names[] = {"pub", "sub", "req"};
        for (int i = 0; i < 3; i++) {
            char path[100];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            unlink(path);
        }
        rmdir(dir);
    }
    printf("bench_bus: %s\n", ok ? "all goals met" : "some goals missed");
    return 0; /* a benchmark reports; it does not fail the run */
}
