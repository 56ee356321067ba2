#include "sim.h"

#include "sim_console.h"
#include "sim_http.h"
#include "sim_pool.h"
#include "sim_tls.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "xoc_log.h"

struct sim_t {
    sim_config_t cfg;
    sim_pool_t *pools;
    int npools;
    char *cert_pem;
    char *key_pem;
    pthread_mutex_t conn_mutex;
    int *fds;
    size_t nfds, capfds;
    sim_console_t *console;
    struct MHD_Daemon *vendor;
    int vendor_port;
};

sim_console_t *sim_console(sim_t *sim)
{
    return sim->console;
}

void sim_config_defaults(sim_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->pools = 1;
    cfg->vms = 20;
    cfg->max_body = 64u * 1024 * 1024;
    cfg->disk_size = 10LL * 1024 * 1024 * 1024;
    cfg->seed = 42;
    cfg->patch_size = 1024 * 1024;
    cfg->record_cache = SIM_STORE_SER_MAX;
}

sim_pool_t *sim_pool_at(sim_t *sim, int i)
{
    return i >= 0 && i < sim->npools ? &sim->pools[i] : NULL;
}

int sim_pool_count(sim_t *sim)
{
    return sim->npools;
}

void sim_conn_add(sim_t *sim, int fd);
void sim_conn_del(sim_t *sim, int fd);

void sim_conn_add(sim_t *sim, int fd)
{
    pthread_mutex_lock(&sim->conn_mutex);
    if (sim->nfds == sim->capfds) {
        sim->capfds = sim->capfds ? sim->capfds * 2 : 64;
        sim->fds = realloc(sim->fds, sim->capfds * sizeof *sim->fds);
        if (!sim->fds)
            abort();
    }
    sim->fds[sim->nfds++] = fd;
    pthread_mutex_unlock(&sim->conn_mutex);
}

void sim_conn_del(sim_t *sim, int fd)
{
    pthread_mutex_lock(&sim->conn_mutex);
    for (size_t i = 0; i < sim->nfds; i++)
        if (sim->fds[i] == fd) {
            sim->fds[i] = sim->fds[--sim->nfds];
            break;
        }
    pthread_mutex_unlock(&sim->conn_mutex);
}

void sim_drop_connections(sim_t *sim, int except_fd)
{
    pthread_mutex_lock(&sim->conn_mutex);
    for (size_t i = 0; i < sim->nfds; i++)
        if (sim->fds[i] != except_fd)
            shutdown(sim->fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&sim->conn_mutex);
}

static int s_auto_hosts(const sim_config_t *cfg)
{
    if (cfg->hosts > 0)
        return cfg->hosts > 200 ? 200 : cfg->hosts;
    int n = (cfg->vms + 199) / 200;
    return n < 1 ? 1 : n > 64 ? 64 : n;
}

static void s_session_free(void **item)
{
    sim_session_t *s = *item;
    if (s)
        json_decref(s->registered);
    free(s);
    *item = NULL;
}

static void s_pool_init(sim_t *sim, sim_pool_t *p, int index)
{
    p->sim = sim;
    p->cfg = &sim->cfg;
    p->index = index;
    snprintf(p->name, sizeof p->name, "pool%d", index + 1);
    p->store = sim_store_new();
    sim_store_set_ser_max(p->store, sim->cfg.record_cache);
    p->sessions = zhashx_new();
    zhashx_set_destructor(p->sessions, s_session_free);
    p->jobs = zlistx_new();
    p->rng = (sim->cfg.seed + 1) * 0x9E3779B97F4A7C15ull + (uint64_t)index;
    p->churn_rate = sim->cfg.churn;
    if (sim_gen_mix_parse(sim->cfg.churn_mix, p->churn_mix) != 0)
        sim_gen_mix_parse(NULL, p->churn_mix);
    p->nhosts = s_auto_hosts(&sim->cfg);
    p->hosts = calloc((size_t)p->nhosts, sizeof *p->hosts);
    char u[40];
    sim_uuid(u);
    snprintf(p->ref, sizeof p->ref, "OpaqueRef:%s", u);
    for (int i = 0; i < p->nhosts; i++) {
        sim_host_t *h = &p->hosts[i];
        h->pool = p;
        h->index = i;
        snprintf(h->ip, sizeof h->ip, "127.0.0.%d", i + 1);
        sim_uuid(u);
        snprintf(h->ref, sizeof h->ref, "OpaqueRef:%s", u);
    }
    sim_store_lock(p->store);
    sim_gen_pool(p);
    sim_store_unlock(p->store);
}

static char *s_read_file(const char *path)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *d = n >= 0 ? calloc(1, (size_t)n + 1) : NULL;
    if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    return d;
}

sim_t *sim_new(const sim_config_t *cfg)
{
    sim_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.nusers == 0) {
        self->cfg.nusers = 1;
        snprintf(self->cfg.users[0], 64, "root");
        snprintf(self->cfg.passwords[0], 64, "password");
    }
    pthread_mutex_init(&self->conn_mutex, NULL);
    self->console = sim_console_new();
    if (cfg->tls_cert || cfg->tls_key) {
        self->cert_pem = s_read_file(cfg->tls_cert);
        self->key_pem = s_read_file(cfg->tls_key);
        if (!self->cert_pem || !self->key_pem) {
            xoc_error("cannot read TLS files cert=%s key=%s", cfg->tls_cert, cfg->tls_key);
            sim_destroy(&self);
            return NULL;
        }
    }
    if (cfg->tls && !self->cert_pem &&
        sim_tls_self_signed(s_auto_hosts(cfg), &self->cert_pem, &self->key_pem) != 0) {
        xoc_error("cannot make a self-signed certificate");
        sim_destroy(&self);
        return NULL;
    }
    sim_schema_init();
    self->npools = cfg->pools < 1 ? 1 : cfg->pools;
    self->pools = calloc((size_t)self->npools, sizeof *self->pools);
    for (int i = 0; i < self->npools; i++)
        s_pool_init(self, &self->pools[i], i);
    return self;
}

static void *s_ticker(void *arg)
{
    sim_pool_t *p = arg;
    int64_t last = sim_now_ms();
    int tick = 0;
    while (!p->stop) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
        int64_t now = sim_now_ms();
        sim_store_lock(p->store);
        p->churn_credit += p->churn_rate * (double)(now - last) / 1000.0;
        last = now;
        /* a backlog beyond 50 ms of churn is dropped: a rate the simulator cannot make must
           not keep the lock ever longer (event.from would starve) */
        if (p->churn_credit > p->churn_rate / 20 + 1)
            p->churn_credit = p->churn_rate / 20 + 1;
        int n = (int)p->churn_credit;
        if (n > 0) {
            p->churn_credit -= n;
            sim_gen_churn(p, n);
        }
        if (++tick % 5 == 0)
            sim_api_tick_jobs(p);
        sim_store_unlock(p->store);
    }
    return NULL;
}

static void s_stop_pool_servers(sim_pool_t *p)
{
    for (int i = 0; i < p->nhosts; i++)
        sim_http_stop(&p->hosts[i].mhd);
}

/*  All hosts of a pool listen on one port, each on its own loopback address.                */
static int s_start_pool(sim_t *self, sim_pool_t *p, int want_port)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        int port = want_port;
        int i = 0;
        for (; i < p->nhosts; i++) {
            p->hosts[i].mhd = sim_http_start(&p->hosts[i], port, self->cert_pem, self->key_pem);
            if (!p->hosts[i].mhd)
                break;
            port = p->hosts[i].port;
        }
        if (i == p->nhosts)
            return 0;
        s_stop_pool_servers(p);
        if (want_port)
            break;
    }
    xoc_error("cannot listen pool=%s port=%d", p->name, want_port);
    return -1;
}

static void s_print_hosts(sim_t *self, FILE *out)
{
    FILE *pf = self->cfg.ports_file ? fopen(self->cfg.ports_file, "w") : NULL;
    const char *scheme = self->cert_pem ? "https" : "http";
    if (pf)
        fprintf(pf, "[");
    for (int k = 0; k < self->npools; k++) {
        sim_pool_t *p = &self->pools[k];
        sim_store_lock(p->store);
        int master = p->master;
        sim_store_unlock(p->store);
        for (int i = 0; i < p->nhosts; i++) {
            sim_host_t *h = &p->hosts[i];
            fprintf(out, "xapi-sim: pool=%s host=%s-host%02d master=%d url=%s://%s:%d\n", p->name,
                    p->name, i + 1, i == master, scheme, h->ip, h->port);
            if (pf)
                fprintf(pf,
                        "%s\n{\"pool\":\"%s\",\"host\":\"%s-host%02d\",\"master\":%s,"
                        "\"url\":\"%s://%s:%d\",\"address\":\"%s\",\"port\":%d}",
                        k + i ? "," : "", p->name, p->name, i + 1, i == master ? "true" : "false",
                        scheme, h->ip, h->port, h->ip, h->port);
        }
    }
    if (pf) {
        fprintf(pf, "\n]\n");
        fclose(pf);
    }
    if (self->vendor)
        fprintf(out, "xapi-sim: vendor url=http://127.0.0.1:%d/updates.xml\n", self->vendor_port);
    fprintf(out, "xapi-sim: ready\n");
    fflush(out);
}

int sim_start(sim_t *self, FILE *out)
{
    for (int k = 0; k < self->npools; k++) {
        sim_pool_t *p = &self->pools[k];
        if (s_start_pool(self, p, k == 0 ? self->cfg.port : 0) != 0)
            return -1;
        sim_store_lock(p->store);
        sim_gen_fix_consoles(p);
        sim_store_unlock(p->store);
        if (pthread_create(&p->ticker, NULL, s_ticker, p) == 0)
            p->ticker_started = true;
    }
    if (self->cfg.vendor &&
        !(self->vendor = sim_http_vendor_start(self->cfg.patch_size, &self->vendor_port)))
        return -1;
    if (out)
        s_print_hosts(self, out);
    return 0;
}

static void s_job_free(void **item)
{
    sim_job_t *j = *item;
    if (j) {
        json_decref(j->params);
        free(j);
    }
    *item = NULL;
}

static void s_pool_destroy(sim_pool_t *p)
{
    if (p->store) {
        sim_store_lock(p->store);
        p->stop = true;
        sim_store_wake(p->store);
        sim_store_unlock(p->store);
    }
    if (p->ticker_started)
        pthread_join(p->ticker, NULL);
    s_stop_pool_servers(p);
    if (p->jobs) {
        zlistx_set_destructor(p->jobs, s_job_free);
        zlistx_destroy(&p->jobs);
    }
    zhashx_destroy(&p->sessions);
    sim_gen_free(p);
    sim_store_destroy(&p->store);
    free(p->hosts);
}

void sim_destroy(sim_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sim_t *self = *self_p;
    for (int i = 0; i < self->npools; i++) {
        sim_pool_t *p = &self->pools[i];
        if (p->store) {
            sim_store_lock(p->store);
            p->stop = true;
            sim_store_wake(p->store);
            sim_store_unlock(p->store);
        }
    }
    /* consoles first: their clients are disconnected, so no bridge holds a connection open */
    sim_console_destroy(&self->console);
    sim_http_wait_bridges(5000);
    for (int i = 0; i < self->npools; i++)
        s_pool_destroy(&self->pools[i]);
    sim_http_stop(&self->vendor);
    free(self->pools);
    free(self->cert_pem);
    free(self->key_pem);
    free(self->fds);
    pthread_mutex_destroy(&self->conn_mutex);
    free(self);
    *self_p = NULL;
}
