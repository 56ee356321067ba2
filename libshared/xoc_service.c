#include "xoc_service.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_err.h"
#include "xoc_log.h"

const xoc_cfg_key_t xoc_service_cfg_keys[] = {
    {"log.level", XOC_CFG_STR, "info", 0, 0, "error | warn | info | debug | trace"},
    XOC_CFG_END};

const xoc_cfg_key_t xoc_service_metrics_cfg_keys[] = {
    {"metrics.listen", XOC_CFG_STR, "127.0.0.1:0", 0, 0,
     "GET /metrics (Prometheus text) on host:port; port 0: a free port, printed at start; "
     "empty: no endpoint"},
    XOC_CFG_END};

static volatile sig_atomic_t s_stop_signal;

static void s_on_signal(int sig)
{
    s_stop_signal = sig;
    zsys_interrupted = 1; /* also ends sync bus calls in progress */
}

/* SIGINT and SIGTERM ask for a clean stop (the actor gets $TERM); a second one is fatal */
static void s_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int xoc_service_main(const char *name, const char *summary, const xoc_cfg_key_t *own_keys,
                     zactor_fn *actor_fn, xoc_service_ready_fn *ready, int argc, char **argv)
{
    const xoc_cfg_key_t *tables[] = {xoc_service_cfg_keys, xoc_bus_cfg_keys,
                                     xoc_service_metrics_cfg_keys, own_keys, NULL};
    char err[512] = "";
    bool help = false;
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        printf("%s — %s\n\n", name, summary);
    xoc_cfg_t *cfg = xoc_cfg_new(name, tables, argc, argv, &help, err, sizeof err);
    if (!cfg) {
        fprintf(stderr, "%s: %s\n", name, err);
        return 2;
    }
    if (help) {
        xoc_cfg_destroy(&cfg);
        return 0;
    }
    int level = xoc_log_level_parse(xoc_cfg_str(cfg, "log.level"));
    if (level < 0) {
        fprintf(stderr, "%s: log.level: unknown level '%s'\n", name, xoc_cfg_str(cfg, "log.level"));
        xoc_cfg_destroy(&cfg);
        return 2;
    }
    xoc_log_init(name, (xoc_log_level_t)level);
    zsys_init();
    zsys_set_logstream(NULL);      /* our own log lines only */
    s_catch_signals();             /* after zsys_init, which installs czmq's own handler */
    if (xoc_cfg_has(cfg, "zmq.io_threads")) /* before the first socket starts the context */
        zsys_set_io_threads((size_t)xoc_cfg_int(cfg, "zmq.io_threads"));

    zactor_t *actor = zactor_new(actor_fn, cfg);
    int rc = 0;
    if (!actor) {
        xoc_error("failed to start");
        rc = 1;
        goto done;
    }
    xoc_info("started pid=%d", (int)getpid());
    if (ready)
        ready(actor, cfg);
    if (*xoc_cfg_str(cfg, "metrics.listen")) { /* the actor wrote back the real address */
        printf("%s: metrics url=http://%s/metrics\n", name, xoc_cfg_str(cfg, "metrics.listen"));
        fflush(stdout);
    }
    /* wait for SIGINT/SIGTERM; the actor may also end by itself (fatal error) */
    while (!s_stop_signal) {
        zsock_t *pipe = zactor_sock(actor);
        zpoller_t *poller = zpoller_new(pipe, NULL);
        void *which = zpoller_wait(poller, 500);
        bool ended = which == pipe;
        zpoller_destroy(&poller);
        if (ended) {
            char *msg = zstr_recv(actor);
            bool died = !msg || streq(msg, "$DIED");
            zstr_free(&msg);
            if (died) {
                rc = 1;
                break;
            }
        }
    }
    xoc_info("stopping%s", s_stop_signal == SIGTERM ? " on SIGTERM" : s_stop_signal ? " on SIGINT" : "");
    zactor_destroy(&actor);
done:
    xoc_cfg_destroy(&cfg);
    return rc;
}

int xoc_service_metrics_start(xoc_service_metrics_t *m, const char *service, xoc_cfg_t *cfg)
{
    memset(m, 0, sizeof *m);
    m->reg = xoc_metrics_new();
    if (!m->reg || xoc_metrics_add_process(m->reg) != 0)
        return XOC_ENOMEM;
    m->heartbeats = xoc_metrics_counter(m->reg, "xoc_heartbeats_sent_total",
                                        "sys.<service>.heartbeat events published");
    char instance[96], host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(instance, sizeof instance, "%s:%d", host, (int)getpid());
    xoc_metrics_set(
        xoc_metrics_with(xoc_metrics_family(m->reg, XOC_METRICS_GAUGE, "xoc_service_info",
                                            "the service and its instance (always 1)",
                                            "service,instance", NULL, 0),
                         service, instance),
        1);
    const char *listen =
        cfg && xoc_cfg_has(cfg, "metrics.listen") ? xoc_cfg_str(cfg, "metrics.listen") : "";
    if (!*listen)
        return 0;
    int rc = 0;
    m->http = xoc_metrics_http_new(m->reg, listen, &rc);
    if (!m->http) {
        xoc_error("metrics: cannot listen on %s: %s", listen, xoc_strerror(rc));
        return rc;
    }
    xoc_info("metrics url=%s", xoc_metrics_http_url(m->http));
    xoc_cfg_set(cfg, "metrics.listen", xoc_metrics_http_address(m->http));
    return 0;
}

void xoc_service_metrics_stop(xoc_service_metrics_t *m)
{
    xoc_metrics_http_destroy(&m->http); /* first: no more rendering */
    xoc_metrics_destroy(&m->reg);
    m->heartbeats = NULL;
}

struct _xoc_sys_t {
    char service[64];
    char instance[96];
    char topic[128];
    zsock_t *pub;
    int64_t started;
};

xoc_sys_t *xoc_sys_new(const char *service, zsock_t *pub)
{
    xoc_sys_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->service, sizeof self->service, "%s", service);
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(self->instance, sizeof self->instance, "%s:%d", host, (int)getpid());
    self->pub = pub;
    self->started = xoc_bus_now_ms();
    return self;
}

void xoc_sys_destroy(xoc_sys_t **self_p)
{
    if (self_p && *self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

int xoc_sys_publish(xoc_sys_t *self, const char *state, const char *detail, const void *stats,
                    size_t stats_len)
{
    snprintf(self->topic, sizeof self->topic, "sys.%s.%s", self->service, state);
    xoc_msg_sys_t sys = {.service = xoc_str(self->service), .instance = xoc_str(self->instance),
                         .state = xoc_str(state), .pid = (uint64_t)getpid(),
                         .uptime_ms = (uint64_t)(xoc_bus_now_ms() - self->started),
                         .detail = xoc_str(detail),
                         .stats = {stats, (uint32_t)stats_len}};
    return xoc_bus_publish(self->pub, self->topic, XOC_MSG_SYS, &sys);
}
