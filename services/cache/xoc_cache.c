#include "xoc_cache.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "xoc_cache_config.h"
#include "xoc_cache_cs.h"
#include "xoc_cache_snap.h"
#include "xoc_cache_store.h"
#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_node.h"

#define S_REPLY_MAX (32u * 1024u * 1024u) /* larger query/list replies: use a snapshot */
#define S_TICK_MS 1000
/* journal pruning outside the change sets (which prune their share themselves): a bounded
   step when no change set was committed for S_PRUNE_IDLE_MS, the next S_PRUNE_GAP_MS later
   while the bounds ask for more, requests served in between */
#define S_PRUNE_IDLE_MS 50
#define S_PRUNE_GAP_MS 10
#define S_BATCH_MAX 64                    /* change sets in one group commit at most */
/* bytes of change sets in one group commit: a transaction keeps every page it writes in
   memory (LMDB's dirty pages, malloc'd and kept for reuse by the next transactions: what
   the largest transaction dirtied stays in the process), and each page it rewrites stays
   in the file until two later commits. Small change sets still group by hundreds; a set of
   a pool's image (2 000 objects, 0.5-3 MB) is committed on its own. */
#define S_BATCH_BYTES (1024u * 1024u)
#define S_TRIM_BYTES (16u * 1024u * 1024u) /* applied since the last malloc_trim */

const xoc_cfg_key_t xoc_cache_cfg_keys[] = {
    {"cache.path", XOC_CFG_STR, "/var/lib/xoc/cache", 0, 0,
     "LMDB directory (created if missing)"},
    {"cache.map_size", XOC_CFG_INT, "4294967296", 1048576, (int64_t)1 << 40,
     "LMDB map size in bytes (the largest the store may grow)"},
    {"cache.nometasync", XOC_CFG_BOOL, "false", 0, 0,
     "MDB_NOMETASYNC: one sync per commit instead of two (a power loss may lose the last "
     "acknowledged commit; kill -9 loses nothing either way)"},
    {"cache.journal_max", XOC_CFG_INT, "1000000", 1, (int64_t)1 << 40,
     "object changes kept in the journal"},
    {"cache.journal_age_s", XOC_CFG_INT, "86400", 0, (int64_t)1 << 32,
     "journal entries older than this are removed (0: no age bound)"},
    {"cache.journal_max_bytes", XOC_CFG_INT, "268435456", 0, (int64_t)1 << 40,
     "the oldest journal entries are removed while the journal takes more than this in the "
     "store (0: no bound)"},
    {"cache.secret_key", XOC_CFG_STR, "", 0, 0,
     "key file of the secrets (created with mode 0600 if missing; empty: "
     "<cache.path>/secret.key)"},
    {"cache.snapshot_idle_s", XOC_CFG_INT, "30", 1, 86400,
     "a snapshot without a request for this long is closed"},
    {"cache.snapshots_max", XOC_CFG_INT, "64", 1, 4096, "snapshots open at once"},
    {"cache.chunk_bytes", XOC_CFG_INT, "1048576", 1024, 16777216,
     "size of a snapshot chunk when the request gives max_bytes 0 (also its upper bound)"},
    XOC_CFG_END};

typedef struct {
    xoc_node_t node;
    xoc_cache_store_t *store;
    xoc_cache_snaps_t *snaps;
    xoc_cache_config_t *config;
    struct { /* /metrics (the change set counters are set from the heartbeat's own) */
        xoc_metrics_family_t *config_ops;
        xoc_metrics_series_t *applied, *duplicates, *gaps, *refused, *revision, *objects, *journal,
            *pruned, *snapshots, *snapshots_open, *chunks, *chunk_bytes, *commits, *prune_steps,
            *prune_seconds;
    } m;
    uint64_t journal_max, journal_age_ms, journal_max_bytes;
    int64_t snapshot_idle_ms;
    size_t chunk_bytes;
    uint64_t applies, duplicates, gaps, refused, pruned, commits;
    uint64_t prune_steps;          /* pruning transactions of their own (idle steps) */
    uint64_t step_pruned;          /* entries they removed */
    uint64_t log_pruned, log_txns; /* the store's counters at the last log line */
    double log_us;
    int64_t last_commit_ms;        /* monotonic */
    int timer;
    bool stepping; /* a pruning step's one-shot timer is armed */
    /* the group commit: change sets received together, applied in one transaction */
    size_t pending, pending_bytes;
    size_t trim_bytes; /* change set bytes applied since the last malloc_trim */
    xoc_request_t *preq[S_BATCH_MAX];
    xoc_msg_t pmsg[S_BATCH_MAX];
    xoc_cache_cs_t pcs[S_BATCH_MAX];
    xoc_cache_result_t pres[S_BATCH_MAX];
    int pstatus[S_BATCH_MAX];
    char pwhy[S_BATCH_MAX][256];
} s_cache_t;

typedef void(s_method_fn)(s_cache_t *self, xoc_request_t **req_p);

/* ---- replies ------------------------------------------------------------------------- */

static int s_code(int rc)
{
    return rc < 0 && rc >= XOC_ETLS ? rc : XOC_EIO; /* LMDB codes and errno: io */
}

/* replies with the encoded body, or with the error (why, or the code's message) */
static void s_reply(s_cache_t *self, xoc_request_t **req_p, int rc, const char *why,
                    const msgpack_sbuffer *body)
{
    if (rc) {
        const char *reason = why && why[0] ? why : xoc_cache_strerror(rc);
        xoc_debug("request refused method=%s req=%llu: %s", (*req_p)->method,
                  (unsigned long long)(*req_p)->id, reason);
        xoc_worker_reply(self->node.worker, req_p, s_code(rc), reason, NULL, 0);
        return;
    }
    xoc_worker_reply(self->node.worker, req_p, 0, NULL, body ? body->data : NULL,
                     body ? body->size : 0);
}

/* ---- cache.apply --------------------------------------------------------------------- */

static void s_publish(s_cache_t *self, const xoc_cache_result_t *res)
{
    char topic[16 + XOC_CACHE_TYPE_MAX + XOC_CACHE_POOL_MAX];
    for (size_t i = 0; i < res->count; i++) {
        const xoc_cache_event_t *e = &res->events[i];
        snprintf(topic, sizeof topic, "obj.%.*s.%.*s", (int)e->type.len, e->type.ptr,
                 (int)e->pool.len, e->pool.ptr);
        xoc_msg_obj_t o = {.rev = e->rev, .id = e->id, .type = e->type, .pool = e->pool,
                           .op = e->op == XOC_CACHE_ENTER ? XOC_STR("enter") : XOC_STR("exit"),
                           .object = e->object, .last = i + 1 == res->count};
        if (xoc_bus_publish(self->node.pub, topic, XOC_MSG_OBJ, &o) != 0)
            xoc_warn("publish failed rev=%llu", (unsigned long long)e->rev);
    }
}

static void s_ack(s_cache_t *self, xoc_request_t **req_p, const xoc_cache_cs_t *cs,
                  const xoc_cache_result_t *res)
{
    xoc_msg_ack_t ack = {.pool = cs->pool, .epoch = cs->epoch, .seq = cs->seq, .rev = res->rev,
                         .applied = res->count, .duplicate = res->duplicate};
    xoc_worker_reply_msg(self->node.worker, req_p, XOC_MSG_ACK, &ack);
}

/* applies the change sets gathered so far in one transaction (one durable commit), then
   publishes and acknowledges each in order */
static void s_flush(s_cache_t *self)
{
    size_t n = self->pending;
    if (n == 0)
        return;
    xoc_cache_store_apply_batch(self->store, self->pcs, n, self->pres, self->pstatus,
                                self->pwhy);
    self->commits++;
    self->last_commit_ms = xoc_bus_now_ms();
    for (size_t i = 0; i < n; i++) {
        xoc_cache_cs_t *cs = &self->pcs[i];
        xoc_cache_result_t *res = &self->pres[i];
        int rc = self->pstatus[i];
        if (rc == XOC_ESTATE)
            self->gaps++;
        if (rc) {
            xoc_warn("change set refused pool=%.*s epoch=%llu seq=%llu: %s", (int)cs->pool.len,
                     cs->pool.ptr, (unsigned long long)cs->epoch, (unsigned long long)cs->seq,
                     self->pwhy[i]);
            s_reply(self, &self->preq[i], rc, self->pwhy[i], NULL);
        } else {
            self->applies += !res->duplicate;
            self->duplicates += res->duplicate;
            s_publish(self, res); /* events point into the request: before the reply */
            xoc_trace("applied pool=%.*s epoch=%llu seq=%llu rev=%llu changes=%zu batch=%zu",
                      (int)cs->pool.len, cs->pool.ptr, (unsigned long long)cs->epoch,
                      (unsigned long long)cs->seq, (unsigned long long)res->rev, res->count, n);
            s_ack(self, &self->preq[i], cs, res);
        }
        xoc_cache_result_clear(res);
        xoc_cache_cs_clear(cs);
    }
    self->pending = self->pending_bytes = 0;
}

/* gathers the change set; the worker's drained callback (or a full batch, or any other
   request) applies what was gathered */
static void s_apply(s_cache_t *self, xoc_request_t **req_p)
{
    size_t i = self->pending;
    char why[256] = "";
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_CHANGESET, &self->pmsg[i]))
        return;
    int rc = xoc_cache_cs_parse(&self->pmsg[i].changeset, &self->pcs[i], why, sizeof why);
    if (rc) {
        self->refused++;
        s_reply(self, req_p, rc, why, NULL);
        return;
    }
    self->preq[i] = *req_p;
    *req_p = NULL;
    self->pending++;
    self->pending_bytes += self->pmsg[i].changeset.changes.len;
    self->trim_bytes += self->pmsg[i].changeset.changes.len;
    if (self->pending == S_BATCH_MAX || self->pending_bytes >= S_BATCH_BYTES)
        s_flush(self);
}

static void s_on_drained(xoc_worker_t *worker, void *arg)
{
    s_flush(arg);
}

/* ---- reads ----------------------------------------------------------------------------- */

static void s_get(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_GET, &m))
        return;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_store_get(self->store, m.get.id, &out);
    s_reply(self, req_p, rc, NULL, &out);
    msgpack_sbuffer_destroy(&out);
}

static void s_query(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_QUERY, &m))
        return;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    char why[256] = "";
    int rc = xoc_cache_store_query(self->store, &m.query, S_REPLY_MAX, &out, why, sizeof why);
    s_reply(self, req_p, rc, why, &out);
    msgpack_sbuffer_destroy(&out);
}

static void s_changes(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_JOURNAL, &m))
        return;
    uint64_t limit = m.journal.limit ? m.journal.limit : 10000;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_store_changes(self->store, m.journal.since, limit, S_REPLY_MAX, &out);
    s_reply(self, req_p, rc,
            rc == XOC_ESTATE ? "the journal no longer reaches back that far: take a snapshot"
                             : NULL,
            &out);
    msgpack_sbuffer_destroy(&out);
}

/* ---- snapshots ------------------------------------------------------------------------- */

static void s_snapshot(s_cache_t *self, xoc_request_t **req_p)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_snaps_open(self->snaps, &out);
    xoc_metrics_inc(rc == 0 ? self->m.snapshots : NULL);
    s_reply(self, req_p, rc, rc == XOC_EBUSY ? "too many snapshots open" : NULL, &out);
    msgpack_sbuffer_destroy(&out);
}

static void s_snapshot_next(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_SNAP, &m))
        return;
    size_t max = m.snap.max_bytes ? (size_t)m.snap.max_bytes : self->chunk_bytes;
    max = max > self->chunk_bytes ? self->chunk_bytes : max;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_snaps_next(self->snaps, m.snap.snapshot, max, &out);
    if (rc == 0) {
        xoc_metrics_inc(self->m.chunks);
        xoc_metrics_add(self->m.chunk_bytes, (double)out.size);
    }
    s_reply(self, req_p, rc, rc == XOC_ENOENT ? "no such snapshot (finished or expired)" : NULL,
            &out);
    msgpack_sbuffer_destroy(&out);
}

static void s_snapshot_close(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_SNAP, &m))
        return;
    int rc = xoc_cache_snaps_close(self->snaps, m.snap.snapshot);
    s_reply(self, req_p, rc, rc ? "no such snapshot" : NULL, NULL);
}

/* ---- configuration ------------------------------------------------------------------- */

static void s_config_event(s_cache_t *self, xoc_str_t db, const msgpack_sbuffer *event)
{
    char topic[64];
    snprintf(topic, sizeof topic, "config.%.*s", (int)db.len, db.ptr);
    void *pub = zsock_resolve(self->node.pub);
    if (zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(pub, event->data, event->size, ZMQ_DONTWAIT) < 0)
        xoc_warn("config event not published db=%.*s", (int)db.len, db.ptr);
}

static void s_config(s_cache_t *self, xoc_request_t **req_p)
{
    xoc_msg_t m;
    if (xoc_worker_decode(self->node.worker, req_p, XOC_MSG_CFG, &m))
        return;
    msgpack_sbuffer out, event;
    msgpack_sbuffer_init(&out);
    msgpack_sbuffer_init(&event);
    char why[256] = "";
    const char *method = (*req_p)->method;
    int rc;
    if (streq(method, "config.set"))
        rc = xoc_cache_config_set(self->config, &m.cfg, &out, &event, why, sizeof why);
    else if (streq(method, "config.delete"))
        rc = xoc_cache_config_delete(self->config, &m.cfg, &out, &event, why, sizeof why);
    else if (streq(method, "config.get"))
        rc = xoc_cache_config_get(self->config, &m.cfg, &out, why, sizeof why);
    else
        rc = xoc_cache_config_list(self->config, &m.cfg, S_REPLY_MAX, &out, why, sizeof why);
    if (rc == 0 && event.size)
        s_config_event(self, m.cfg.db, &event);
    xoc_metrics_inc(
        xoc_metrics_with(self->m.config_ops, method + 7, rc ? xoc_err_name(s_code(rc)) : "ok"));
    s_reply(self, req_p, rc, why, &out);
    msgpack_sbuffer_destroy(&event);
    msgpack_sbuffer_destroy(&out);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static const struct {
    const char *method;
    s_method_fn *fn;
} s_methods[] = {
    {"cache.apply", s_apply},
    {"cache.get", s_get},
    {"cache.query", s_query},
    {"cache.snapshot", s_snapshot},
    {"cache.snapshot_next", s_snapshot_next},
    {"cache.snapshot_close", s_snapshot_close},
    {"cache.changes", s_changes},
    {"config.set", s_config},
    {"config.get", s_config},
    {"config.delete", s_config},
    {"config.list", s_config},
};

static void s_handle(xoc_worker_t *worker, xoc_request_t *req, void *arg)
{
    if (!streq(req->method, "cache.apply"))
        s_flush(arg); /* whatever comes next sees the change sets received before it */
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (streq(req->method, s_methods[i].method)) {
            s_methods[i].fn(arg, &req);
            return;
        }
    xoc_worker_reply(worker, &req, XOC_ENOMETHOD, "unknown method", NULL, 0);
}

/* ---- housekeeping -------------------------------------------------------------------- */

/* entries pruned: by the change-set transactions (the store's counter) and by the steps */
static void s_prune_commits(s_cache_t *self, bool log)
{
    xoc_cache_prune_stats_t st;
    xoc_cache_store_prune_stats(self->store, &st);
    self->pruned = self->step_pruned + st.entries;
    uint64_t entries = st.entries - self->log_pruned, txns = st.txns - self->log_txns;
    if (!log || !entries)
        return;
    xoc_debug("journal pruned in change sets entries=%llu commits=%llu deletes_ms=%.3f each "
              "(most: %llu entries, %.2f ms) more=%d",
              (unsigned long long)entries, (unsigned long long)txns,
              (st.us - self->log_us) / 1e3 / (double)(txns ? txns : 1),
              (unsigned long long)st.max_entries, st.max_us / 1e3, st.more);
    self->log_pruned = st.entries;
    self->log_txns = st.txns;
    self->log_us = st.us;
}

static int s_on_prune_step(zloop_t *loop, int timer_id, void *arg);

/* one bounded pruning transaction when no change set is being committed; the next one
   shortly after while the bounds ask for more (change sets committed meanwhile prune
   their own share, and hold the steps back) */
static void s_prune_idle(s_cache_t *self)
{
    if (self->stepping || xoc_bus_now_ms() - self->last_commit_ms < S_PRUNE_IDLE_MS)
        return;
    xoc_cache_prune_t pr;
    int64_t t0 = zclock_usecs();
    int rc = xoc_cache_store_prune_step(self->store, &pr);
    if (rc) {
        xoc_warn("journal pruning failed: %s", xoc_cache_strerror(rc));
        return;
    }
    if (!pr.entries)
        return;
    double held = (double)(zclock_usecs() - t0) / 1e6; /* deletes and the durable commit */
    self->step_pruned += pr.entries;
    self->prune_steps++;
    xoc_metrics_observe(self->m.prune_seconds, held);
    xoc_debug("journal pruned by a step entries=%llu pages=%llu deletes_ms=%.2f held_ms=%.2f "
              "more=%d",
              (unsigned long long)pr.entries, (unsigned long long)pr.pages, pr.us / 1e3,
              held * 1e3, pr.more);
    if (pr.more)
        self->stepping =
            zloop_timer(self->node.loop, S_PRUNE_GAP_MS, 1, s_on_prune_step, self) >= 0;
}

static int s_on_prune_step(zloop_t *loop, int timer_id, void *arg)
{
    s_cache_t *self = arg;
    self->stepping = false; /* one-shot: zloop removed it */
    s_prune_idle(self);
    return 0;
}

static int s_on_tick(zloop_t *loop, int timer_id, void *arg)
{
    s_cache_t *self = arg;
    s_prune_commits(self, true);
    s_prune_idle(self);
    xoc_cache_snaps_expire(self->snaps, self->snapshot_idle_ms);
    if (self->trim_bytes >= S_TRIM_BYTES) {
        /* after a burst (a pool's image), give the freed buffers of the change sets back
           (glibc keeps them, its thresholds grown by the large messages) */
        self->trim_bytes = 0;
        malloc_trim(0);
    }
    return 0;
}

static void s_pack_kv(msgpack_packer *pk, const char *name, uint64_t v)
{
    msgpack_pack_str_with_body(pk, name, strlen(name));
    msgpack_pack_uint64(pk, v);
}

static void s_stats(msgpack_packer *pk, void *arg)
{
    s_cache_t *self = arg;
    uint64_t objects = 0, journal = 0;
    xoc_cache_store_counts(self->store, &objects, &journal);
    msgpack_pack_map(pk, 10);
    s_pack_kv(pk, "revision", xoc_cache_store_rev(self->store));
    s_pack_kv(pk, "objects", objects);
    s_pack_kv(pk, "journal", journal);
    s_pack_kv(pk, "snapshots", xoc_cache_snaps_open_count(self->snaps));
    s_pack_kv(pk, "applies", self->applies);
    s_pack_kv(pk, "duplicates", self->duplicates);
    s_pack_kv(pk, "gaps", self->gaps);
    s_pack_kv(pk, "refused", self->refused);
    s_prune_commits(self, false);
    s_pack_kv(pk, "pruned", self->pruned);
    s_pack_kv(pk, "commits", self->commits);
}

static int s_open(s_cache_t *self, const xoc_cfg_t *cfg)
{
    const char *path = xoc_cfg_str(cfg, "cache.path");
    char key_path[4096];
    const char *key = xoc_cfg_str(cfg, "cache.secret_key");
    if (key[0])
        snprintf(key_path, sizeof key_path, "%s", key);
    else
        snprintf(key_path, sizeof key_path, "%s/secret.key", path);
    int rc = 0;
    self->store = xoc_cache_store_new(path, (uint64_t)xoc_cfg_int(cfg, "cache.map_size"),
                                      xoc_cfg_bool(cfg, "cache.nometasync"), &rc);
    if (self->store)
        self->config = xoc_cache_config_new(self->store, key_path, &rc);
    if (self->config)
        self->snaps =
            xoc_cache_snaps_new(self->store, (size_t)xoc_cfg_int(cfg, "cache.snapshots_max"));
    if (!self->snaps)
        return rc ? rc : XOC_ENOMEM;
    self->journal_max = (uint64_t)xoc_cfg_int(cfg, "cache.journal_max");
    self->journal_age_ms = (uint64_t)xoc_cfg_int(cfg, "cache.journal_age_s") * 1000u;
    self->journal_max_bytes = (uint64_t)xoc_cfg_int(cfg, "cache.journal_max_bytes");
    xoc_cache_store_set_retention(self->store,
                                  &(xoc_cache_retention_t){.keep = self->journal_max,
                                                           .max_age_ms = self->journal_age_ms,
                                                           .max_bytes = self->journal_max_bytes});
    self->snapshot_idle_ms = xoc_cfg_int(cfg, "cache.snapshot_idle_s") * 1000;
    self->chunk_bytes = (size_t)xoc_cfg_int(cfg, "cache.chunk_bytes");
    return 0;
}

static void s_close(s_cache_t *self)
{
    xoc_cache_snaps_destroy(&self->snaps);
    xoc_cache_config_destroy(&self->config);
    xoc_cache_store_destroy(&self->store);
}

/* ---- metrics ------------------------------------------------------------------------- */

/* before each heartbeat; the commit latency of a change set is the worker's
   xoc_request_seconds{method="cache.apply"} (arrival to acknowledgement) */
static void s_metrics_refresh(xoc_metrics_t *reg, void *arg)
{
    s_cache_t *self = arg;
    xoc_metrics_set(self->m.applied, (double)self->applies);
    xoc_metrics_set(self->m.duplicates, (double)self->duplicates);
    xoc_metrics_set(self->m.gaps, (double)self->gaps);
    xoc_metrics_set(self->m.refused, (double)self->refused);
    s_prune_commits(self, false);
    xoc_metrics_set(self->m.pruned, (double)self->pruned);
    xoc_metrics_set(self->m.prune_steps, (double)self->prune_steps);
    xoc_metrics_set(self->m.commits, (double)self->commits);
    uint64_t objects = 0, journal = 0;
    if (xoc_cache_store_counts(self->store, &objects, &journal) == 0) {
        xoc_metrics_set(self->m.objects, (double)objects);
        xoc_metrics_set(self->m.journal, (double)journal);
    }
    xoc_metrics_set(self->m.revision, (double)xoc_cache_store_rev(self->store));
    xoc_metrics_set(self->m.snapshots_open, (double)xoc_cache_snaps_open_count(self->snaps));
}

static void s_metrics_declare(s_cache_t *self)
{
    xoc_metrics_t *reg = self->node.metrics.reg;
    xoc_metrics_family_t *cs = xoc_metrics_family(
        reg, XOC_METRICS_COUNTER, "xoc_cache_changesets_total",
        "change sets received, by outcome: applied (committed), duplicate (a replay, "
        "acknowledged), gap (refused: not the next in sequence), invalid (refused: malformed)",
        "outcome", NULL, 0);
    self->m.applied = xoc_metrics_with(cs, "applied");
    self->m.duplicates = xoc_metrics_with(cs, "duplicate");
    self->m.gaps = xoc_metrics_with(cs, "gap");
    self->m.refused = xoc_metrics_with(cs, "invalid");
    self->m.commits = xoc_metrics_counter(
        reg, "xoc_cache_commits_total",
        "durable LMDB commits of change sets (several change sets arriving together share "
        "one: group commit)");
    self->m.revision = xoc_metrics_gauge(reg, "xoc_cache_revision", "current revision");
    self->m.objects = xoc_metrics_gauge(reg, "xoc_cache_objects", "objects stored");
    self->m.journal =
        xoc_metrics_gauge(reg, "xoc_cache_journal_entries", "changes kept in the journal");
    self->m.pruned = xoc_metrics_counter(reg, "xoc_cache_journal_pruned_total",
                                         "journal entries removed by the retention bounds");
    self->m.prune_steps = xoc_metrics_counter(
        reg, "xoc_cache_journal_prune_steps_total",
        "pruning transactions of their own, run while no change set comes (change sets "
        "prune their share of the journal inside their own transaction)");
    self->m.prune_seconds = xoc_metrics_histogram(
        reg, "xoc_cache_journal_prune_seconds",
        "time a pruning transaction of its own held the writer (deletes and durable commit)",
        xoc_metrics_latency_buckets, xoc_metrics_latency_nbuckets);
    self->m.config_ops = xoc_metrics_family(
        reg, XOC_METRICS_COUNTER, "xoc_cache_config_ops_total",
        "configuration requests, by operation (set, get, delete, list) and outcome (ok or "
        "the error)",
        "op,outcome", NULL, 0);
    self->m.snapshots = xoc_metrics_counter(reg, "xoc_cache_snapshots_total", "snapshots opened");
    self->m.snapshots_open =
        xoc_metrics_gauge(reg, "xoc_cache_snapshots_open", "snapshots open now");
    self->m.chunks =
        xoc_metrics_counter(reg, "xoc_cache_snapshot_chunks_total", "snapshot chunks served");
    self->m.chunk_bytes = xoc_metrics_counter(reg, "xoc_cache_snapshot_bytes_total",
                                              "bytes of the snapshot chunks served");
    xoc_node_set_metrics(&self->node, s_metrics_refresh, self);
}

void xoc_cache_actor(zsock_t *pipe, void *args)
{
    s_cache_t self;
    memset(&self, 0, sizeof self);
    /* the store opens before the worker registers: no request comes before it is there */
    if (xoc_node_init(&self.node, "cache", pipe, args) == 0 && s_open(&self, args) == 0 &&
        xoc_node_serve(&self.node, 256, s_handle, &self) == 0) {
        s_metrics_declare(&self);
        xoc_node_set_stats(&self.node, s_stats, &self);
        xoc_worker_set_drained(self.node.worker, s_on_drained);
        self.timer = zloop_timer(self.node.loop, S_TICK_MS, 0, s_on_tick, &self);
        xoc_info("cache ready rev=%llu", (unsigned long long)xoc_cache_store_rev(self.store));
        xoc_node_run(&self.node);
    }
    s_flush(&self); /* change sets received before the stop are still committed */
    xoc_node_fini(&self.node);
    s_close(&self);
}
