/*  bench_prune — what journal pruning costs the change sets' commits, measured in process
    on xoc_cache_store (durable commits, as in xoc-cache), load-independent figures first:
    entries removed, pages freed and bytes written per pruning transaction, how long it
    holds the single writer (a change set arriving meanwhile waits that long), and each
    commit's own time and bytes written, during and after the pruning.

        bench_prune MODE [OBJECTS [COMMITS [CHANGES [PER_TICK [MAX_MB]]]]]

    A pool of OBJECTS objects (every 200th of 6.7 KB like a host, the others ~900 B like
    a VM) is loaded in sets of 2 000, then COMMITS change sets of CHANGES random objects
    are committed one per transaction; a "tick" comes every PER_TICK commits. The journal
    is bound to MAX_MB (count and age unbound). Modes:
      tick   one pruning transaction per tick, up to 20 000 entries (xoc-cache before
             h-prune; also runs against that code's store)
      commit each change set's transaction prunes its share (the store's retention), and
             bounded steps drain what is left once the churn stops (xoc-cache now)
    Defaults: 40000 4000 40 200 32.                                                         */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_cache_store.h"
#include "xoc_err.h"

#define S_TICK_BATCH 20000 /* the former S_PRUNE_BATCH of xoc-cache */

static int s_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static double s_now_us(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* bytes this process has written (write, pwrite, writev: LMDB's page writes) */
static double s_wchar(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    unsigned long long v = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return (double)v;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, s_cmp);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static double s_sum(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

/* journal: entries and bytes of pages; freelist: pages held by the free DB */
static void s_journal(xoc_cache_store_t *st, uint64_t *entries, uint64_t *bytes, uint64_t *free_pgs)
{
    MDB_txn *txn;
    MDB_stat ms;
    if (mdb_txn_begin(xoc_cache_store_env(st), NULL, MDB_RDONLY, &txn))
        exit(1);
    mdb_stat(txn, xoc_cache_store_dbi(st, XOC_CACHE_DB_JOURNAL), &ms);
    *entries = ms.ms_entries;
    *bytes = (uint64_t)(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) * ms.ms_psize;
    MDB_cursor *cur;
    MDB_val k, v;
    *free_pgs = 0;
    if (mdb_cursor_open(txn, 0, &cur) == 0) {
        for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            *free_pgs += *(const size_t *)v.mv_data;
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
}

typedef struct {
    int n;
    char (*ids)[48];
    msgpack_sbuffer *obj;
    xoc_cache_change_t *ch;
    uint64_t seq;
} s_pool_t;

static void s_object(s_pool_t *p, int i, uint64_t version)
{
    static char pad[8192];
    memset(pad, 'x', sizeof pad);
    msgpack_sbuffer *sb = &p->obj[i];
    sb->size = 0;
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, p->ids[i], strlen(p->ids[i]));
    msgpack_pack_str_with_body(&pk, "version", 7);
    msgpack_pack_uint64(&pk, version);
    msgpack_pack_str_with_body(&pk, "pad", 3);
    msgpack_pack_str_with_body(&pk, pad, i % 200 == 0 ? 6600 : 800);
}

static void s_commit(xoc_cache_store_t *st, s_pool_t *p, const int *which, size_t n)
{
    static xoc_cache_change_t ch[4096];
    for (size_t i = 0; i < n; i++) {
        int o = which[i];
        ch[i] = (xoc_cache_change_t){XOC_CACHE_ENTER,
                                     xoc_str(p->ids[o]),
                                     XOC_STR(o % 200 == 0 ? "host" : "VM"),
                                     {(const uint8_t *)p->obj[o].data, (uint32_t)p->obj[o].size}};
    }
    xoc_cache_cs_t cs = {.pool = XOC_STR("pool-1"),
                         .epoch = 1,
                         .seq = ++p->seq,
                         .kind = XOC_CACHE_DELTA,
                         .count = n,
                         .changes = ch};
    xoc_cache_result_t res;
    int status;
    char why[1][256];
    int rc = xoc_cache_store_apply_batch(st, &cs, 1, &res, &status, why);
    if (rc || status) {
        fprintf(stderr, "apply: %s %s\n", xoc_cache_strerror(rc ? rc : status), why[0]);
        exit(1);
    }
    xoc_cache_result_clear(&res);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "tick";
    int objects = argc > 2 ? atoi(argv[2]) : 40000;
    int commits = argc > 3 ? atoi(argv[3]) : 4000;
    int changes = argc > 4 ? atoi(argv[4]) : 40;
    int per_tick = argc > 5 ? atoi(argv[5]) : 200;
    uint64_t max_bytes = (uint64_t)(argc > 6 ? atoi(argv[6]) : 32) << 20;
    bool tick = !strcmp(mode, "tick");
#ifdef BENCH_PRUNE_TICK_ONLY
    if (!tick) {
        fprintf(stderr, "this build has only the tick mode\n");
        return 2;
    }
#else
    if (!tick && strcmp(mode, "commit")) {
        fprintf(stderr, "mode: tick or commit\n");
        return 2;
    }
#endif
    if (objects < 2000 || changes < 1 || changes > 4096 || per_tick < 1)
        return 2;
    char path[] = "/tmp/xoc-bench-prune-XXXXXX";
    if (!mkdtemp(path))
        return 1;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(path, 4ull << 30, false, &err);
    if (!st)
        return 1;
#ifndef BENCH_PRUNE_TICK_ONLY
    if (!tick)
        xoc_cache_store_set_retention(
            st, &(xoc_cache_retention_t){.keep = 1000000, .max_bytes = max_bytes});
#endif
    s_pool_t p = {.n = objects};
    p.ids = calloc((size_t)objects, sizeof *p.ids);
    p.obj = calloc((size_t)objects, sizeof *p.obj);
    int *which = calloc(4096, sizeof *which);
    for (int i = 0; i < objects; i++) {
        snprintf(p.ids[i], sizeof p.ids[i], "0b5e2c6a-1f9d-4c3e-9a51-%012d", i);
        msgpack_sbuffer_init(&p.obj[i]);
        s_object(&p, i, 0);
    }
    for (int i = 0; i < objects; i += 2000) {
        for (int j = 0; j < 2000; j++)
            which[j] = i + j < objects ? i + j : objects - 1;
        s_commit(st, &p, which, 2000);
    }
    printf("bench_prune %s: %d objects, %d commits of %d changes, a tick every %d commits, "
           "journal bound %llu MB\n",
           mode, objects, commits, changes, per_tick, (unsigned long long)(max_bytes >> 20));

    double *c_wall = calloc((size_t)commits, sizeof(double)),
           *c_cpu = calloc((size_t)commits, sizeof(double)),
           *c_wr = calloc((size_t)commits, sizeof(double));
    size_t nticks = (size_t)commits / (size_t)per_tick + 1;
    double *p_wall = calloc(nticks, sizeof(double)), *p_cpu = calloc(nticks, sizeof(double)),
           *p_wr = calloc(nticks, sizeof(double)), *p_n = calloc(nticks, sizeof(double)),
           *p_pg = calloc(nticks, sizeof(double)), *after = calloc(nticks, sizeof(double)),
           *after_cpu = calloc(nticks, sizeof(double)), *after_wr = calloc(nticks, sizeof(double));
    size_t np = 0, na = 0;
    bool after_prune = false;
    uint64_t version = 1, pruned_total = 0;
    srand(1);
    double t_start = s_now_us(CLOCK_MONOTONIC);
    for (int c = 0; c < commits; c++) {
        for (int j = 0; j < changes; j++) {
            which[j] = rand() % objects;
            s_object(&p, which[j], ++version);
        }
        double w0 = s_now_us(CLOCK_MONOTONIC), u0 = s_now_us(CLOCK_THREAD_CPUTIME_ID),
               b0 = s_wchar();
        s_commit(st, &p, which, (size_t)changes);
        c_wall[c] = s_now_us(CLOCK_MONOTONIC) - w0;
        c_cpu[c] = s_now_us(CLOCK_THREAD_CPUTIME_ID) - u0;
        c_wr[c] = s_wchar() - b0;
        if (after_prune) {
            after_cpu[na] = c_cpu[c];
            after_wr[na] = c_wr[c];
            after[na++] = c_wall[c];
        }
        after_prune = false;
        if (!tick || (c + 1) % per_tick)
            continue;
        uint64_t e0, by0, f0, e1, by1, f1, pruned = 0;
        s_journal(st, &e0, &by0, &f0);
        w0 = s_now_us(CLOCK_MONOTONIC), u0 = s_now_us(CLOCK_THREAD_CPUTIME_ID), b0 = s_wchar();
        if (xoc_cache_store_prune(st, 1000000, 0, max_bytes, S_TICK_BATCH, &pruned))
            return 1;
        double w = s_now_us(CLOCK_MONOTONIC) - w0, u = s_now_us(CLOCK_THREAD_CPUTIME_ID) - u0,
               b = s_wchar() - b0;
        s_journal(st, &e1, &by1, &f1);
        pruned_total += pruned;
        if (!pruned)
            continue;
        p_wall[np] = w;
        p_cpu[np] = u;
        p_wr[np] = b;
        p_n[np] = (double)pruned;
        p_pg[np] = (double)(by0 - by1) / 4096;
        np++;
        after_prune = true;
    }
    double t_total = s_now_us(CLOCK_MONOTONIC) - t_start;
    uint64_t entries, bytes, free_pgs;
    s_journal(st, &entries, &bytes, &free_pgs);
    double sum_c = s_sum(c_wall, (size_t)commits), sum_cpu = s_sum(c_cpu, (size_t)commits),
           sum_wr = s_sum(c_wr, (size_t)commits);
    printf("commits: %d, wall p50 %.0f us p99 %.0f us max %.0f us; CPU %.0f us each (p99 %.0f); "
           "written %.1f KB each (p99 %.1f)\n",
           commits, s_pct(c_wall, (size_t)commits, 0.5), s_pct(c_wall, (size_t)commits, 0.99),
           s_pct(c_wall, (size_t)commits, 1), sum_cpu / commits,
           s_pct(c_cpu, (size_t)commits, 0.99), sum_wr / commits / 1024,
           s_pct(c_wr, (size_t)commits, 0.99) / 1024);
#ifndef BENCH_PRUNE_TICK_ONLY
    if (!tick) {
        xoc_cache_prune_stats_t ps;
        xoc_cache_store_prune_stats(st, &ps);
        pruned_total = ps.entries;
        printf("pruned inside the commits: %llu entries, %llu pages freed, in %llu commits: "
               "%.1f entries and %.0f us of deletes each (at most %llu entries, %.0f us)\n",
               (unsigned long long)ps.entries, (unsigned long long)ps.pages,
               (unsigned long long)ps.txns, (double)ps.entries / (double)(ps.txns ? ps.txns : 1),
               ps.us / (double)(ps.txns ? ps.txns : 1), (unsigned long long)ps.max_entries,
               ps.max_us);
    }
#endif
    if (np) {
        double held = s_sum(p_wall, np);
        printf("pruning transactions: %zu, entries %.0f each (max %.0f), pages freed %.0f each, "
               "written %.0f KB each\n",
               np, s_sum(p_n, np) / (double)np, s_pct(p_n, np, 1), s_sum(p_pg, np) / (double)np,
               s_sum(p_wr, np) / (double)np / 1024);
        printf("  writer held %.1f ms each (p50 %.1f, max %.1f; CPU %.1f ms each): %.1f %% of the "
               "run; a change set arriving meanwhile waits %.1f ms on average\n",
               held / (double)np / 1e3, s_pct(p_wall, np, 0.5) / 1e3, s_pct(p_wall, np, 1) / 1e3,
               s_sum(p_cpu, np) / (double)np / 1e3, 100 * held / t_total, held / (double)np / 2e3);
        printf("  the commit right after a pruning: wall p50 %.0f us max %.0f us, CPU %.0f us, "
               "written %.1f KB (means)\n",
               s_pct(after, na, 0.5), s_pct(after, na, 1), s_sum(after_cpu, na) / (double)na,
               s_sum(after_wr, na) / (double)na / 1024);
    }
    printf("commits + pruning: %.0f ms of writer time (CPU %.0f ms) for %d change sets, %.0f "
           "entries pruned\n",
           (sum_c + s_sum(p_wall, np)) / 1e3, (sum_cpu + s_sum(p_cpu, np)) / 1e3, commits,
           (double)pruned_total);
    printf("journal at the end: %llu entries, %.1f MB (bound %llu MB), free list %llu pages\n",
           (unsigned long long)entries, (double)bytes / 1048576.0,
           (unsigned long long)(max_bytes >> 20), (unsigned long long)free_pgs);
#ifndef BENCH_PRUNE_TICK_ONLY
    if (!tick) { /* the churn stopped: bounded steps drain the rest */
        int steps = 0;
        double worst = 0;
        xoc_cache_prune_t pr;
        do {
            double w0 = s_now_us(CLOCK_MONOTONIC);
            if (xoc_cache_store_prune_step(st, &pr))
                return 1;
            double w = s_now_us(CLOCK_MONOTONIC) - w0;
            worst = w > worst ? w : worst;
            steps += pr.entries > 0;
        } while (pr.more);
        s_journal(st, &entries, &bytes, &free_pgs);
        printf("idle steps after the churn: %d (longest %.1f ms); journal %llu entries, %.1f MB\n",
               steps, worst / 1e3, (unsigned long long)entries, (double)bytes / 1048576.0);
    }
#endif
    xoc_cache_store_destroy(&st);
    nftw(path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
