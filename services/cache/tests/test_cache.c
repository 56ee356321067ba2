/*  xoc-cache on real processes (xoc-bus + xoc-cache on loopback, a temporary cache.path):
    apply/ack/revisions, duplicates, gaps, image/image_end/drop, get/query, snapshots under
    concurrent change sets, journal and its pruning, configuration with sealed secrets,
    gap-free obj events, kill -9 in a stream of change sets, malformed change sets.        */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

#define HB "250" /* window 750 ms: single-writer commits under ASan on a loaded 2-core box take a while */
#define T_MS 5000

typedef struct {
    xoc_proc_t *bus;
    xoc_proc_t *cache;
    char endpoint[800];
    char path[256];
    xoc_bus_opts_t opts;
    xoc_client_t *client;
} s_env_t;

/* ---- processes ----------------------------------------------------------------------- */

static int s_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static void s_cache_up(s_env_t *env, char *const *extra)
{
    char *argv[32] = {(char *)xoc_test_bin("services/cache/xoc-cache"), "--bus.endpoint",
                      env->endpoint, "--bus.heartbeat_ms", HB, "--log.level", "warn",
                      "--cache.path", env->path};
    int n = 9;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    env->cache = xoc_proc_start(argv, "xoc-cache: ready", T_MS);
    assert_non_null(env->cache);
    /* ready once its worker is registered at the bus */
    int rc = XOC_ENOSERVICE;
    for (long long end = xoc_test_now_ms() + T_MS; rc == XOC_ENOSERVICE && xoc_test_now_ms() < end;) {
        xoc_msg_get_t g = {.id = XOC_STR("probe")};
        xoc_reply_t r;
        rc = xoc_client_call_msg(env->client, "cache", "cache.get", XOC_MSG_GET, &g, 1000, &r);
        xoc_reply_clear(&r);
    }
    assert_int_equal(rc, XOC_ENOENT);
}

static int s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    char *argv[] = {(char *)xoc_test_bin("services/bus/xoc-bus"), "--bus.listen",
                    "tcp://127.0.0.1:*", "--bus.heartbeat_ms", HB, "--log.level", "warn", NULL};
    env->bus = xoc_proc_start(argv, "xoc-bus: ready bus=", T_MS);
    assert_non_null(env->bus);
    snprintf(env->endpoint, sizeof env->endpoint, "%s", env->bus->line + strlen("xoc-bus: ready bus="));
    assert_int_equal(xoc_bus_endpoints_parse(env->endpoint, &env->opts), 0);
    env->opts.heartbeat_ms = 250;
    env->opts.liveness = 3;
    env->client = xoc_client_new(&env->opts);
    assert_non_null(env->client);
    snprintf(env->path, sizeof env->path, "/tmp/xoc-cache-test-XXXXXX");
    assert_non_null(mkdtemp(env->path));
    *state = env;
    return 0;
}

static int s_teardown(void **state)
{
    s_env_t *env = *state;
    xoc_client_destroy(&env->client);
    xoc_proc_stop(&env->cache);
    xoc_proc_stop(&env->bus);
    nftw(env->path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

/* ---- change sets --------------------------------------------------------------------- */

typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer body;
    msgpack_packer bpk;
    uint32_t count;
} s_cs_t;

static void s_cs_init(s_cs_t *cs)
{
    memset(cs, 0, sizeof *cs);
    msgpack_sbuffer_init(&cs->sb);
    msgpack_sbuffer_init(&cs->body);
    msgpack_packer_init(&cs->bpk, &cs->body, msgpack_sbuffer_write);
    msgpack_packer_init(&cs->pk, &cs->sb, msgpack_sbuffer_write);
}

static void s_cs_free(s_cs_t *cs)
{
    msgpack_sbuffer_destroy(&cs->sb);
    msgpack_sbuffer_destroy(&cs->body);
}

static void s_pstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* enter id with object {id, type, n, power_state} */
static void s_enter(s_cs_t *cs, const char *id, const char *type, int64_t n, const char *power)
{
    msgpack_packer *pk = &cs->bpk;
    msgpack_pack_array(pk, 4);
    s_pstr(pk, "enter");
    s_pstr(pk, id);
    s_pstr(pk, type);
    msgpack_pack_map(pk, 4);
    s_pstr(pk, "id");
    s_pstr(pk, id);
    s_pstr(pk, "type");
    s_pstr(pk, type);
    s_pstr(pk, "n");
    msgpack_pack_int64(pk, n);
    s_pstr(pk, "power_state");
    s_pstr(pk, power);
    cs->count++;
}

static void s_exit(s_cs_t *cs, const char *id, const char *type)
{
    msgpack_pack_array(&cs->bpk, 3);
    s_pstr(&cs->bpk, "exit");
    s_pstr(&cs->bpk, id);
    s_pstr(&cs->bpk, type);
    cs->count++;
}

/* sends the change set; fills ack on success; returns the status */
static int s_send(s_env_t *env, s_cs_t *cs, const char *pool, uint64_t epoch, uint64_t seq,
                  const char *kind, xoc_msg_ack_t *ack, int timeout_ms)
{
    cs->sb.size = 0;
    msgpack_pack_array(&cs->pk, cs->count);
    msgpack_sbuffer_write(&cs->sb, cs->body.data, cs->body.size);
    xoc_msg_changeset_t m = {.pool = xoc_str(pool), .epoch = epoch, .seq = seq,
                             .kind = xoc_str(kind),
                             .changes = {(const uint8_t *)cs->sb.data, (uint32_t)cs->sb.size}};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(env->client, "cache", "cache.apply", XOC_MSG_CHANGESET, &m,
                                 timeout_ms, &r);
    if (rc == 0) {
        xoc_msg_t a;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_ACK, &a), 0);
        if (ack)
            *ack = a.ack;
        if (ack)
            ack->pool = (xoc_str_t){NULL, 0}; /* points into the reply */
    }
    xoc_reply_clear(&r);
    return rc;
}

/* one change set with a fresh builder */
static int s_apply1(s_env_t *env, const char *pool, uint64_t epoch, uint64_t seq,
                    const char *kind, void (*fill)(s_cs_t *, void *), void *arg,
                    xoc_msg_ack_t *ack)
{
    s_cs_t cs;
    s_cs_init(&cs);
    if (fill)
        fill(&cs, arg);
    int rc = s_send(env, &cs, pool, epoch, seq, kind, ack, T_MS);
    s_cs_free(&cs);
    return rc;
}

/* n of the object, -1 when absent */
static int64_t s_get_n(s_env_t *env, const char *id, uint64_t *rev)
{
    xoc_msg_get_t g = {.id = xoc_str(id)};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(env->client, "cache", "cache.get", XOC_MSG_GET, &g, T_MS, &r);
    int64_t n = -1;
    if (rc == 0) {
        xoc_msg_t m;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_OBJ, &m), 0);
        assert_true(xoc_str_eq(m.obj.id, id));
        if (rev)
            *rev = m.obj.rev;
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, (const char *)m.obj.object.ptr,
                                             m.obj.object.len, NULL),
                         MSGPACK_UNPACK_SUCCESS);
        for (uint32_t i = 0; i < u.data.via.map.size; i++)
            if (u.data.via.map.ptr[i].key.via.str.size == 1 &&
                u.data.via.map.ptr[i].key.via.str.ptr[0] == 'n')
                n = u.data.via.map.ptr[i].val.via.i64;
        msgpack_unpacked_destroy(&u);
    } else
        assert_int_equal(rc, XOC_ENOENT);
    xoc_reply_clear(&r);
    return n;
}

/* query: returns the count (or the error) and the revision */
static int s_query(s_env_t *env, const char *type, const char *pool, const void *filter,
                   size_t flen, uint64_t limit, uint64_t *rev)
{
    xoc_msg_query_t q = {.type = xoc_str(type), .pool = xoc_str(pool), .limit = limit,
                         .filter = {filter, (uint32_t)flen}};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(env->client, "cache", "cache.query", XOC_MSG_QUERY, &q, T_MS,
                                 &r);
    if (rc == 0) {
        xoc_msg_t m;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_OBJECTS, &m), 0);
        rc = (int)m.objects.count;
        if (rev)
            *rev = m.objects.rev;
    }
    xoc_reply_clear(&r);
    return rc;
}

static void s_fill_abc(s_cs_t *cs, void *arg)
{
    const char *ids = arg;
    for (const char *p = ids; *p; p++) {
        char id[8] = {*p, 0};
        s_enter(cs, id, "VM", 1, "Running");
    }
}

/* ---- tests --------------------------------------------------------------------------- */

static void s_fill_seq2(s_cs_t *cs, void *arg)
{
    s_enter(cs, "a", "VM", 1, "Running");   /* identical: no revision */
    s_exit(cs, "b", "VM");
    s_exit(cs, "zz", "VM");                 /* absent: nothing */
}

static void test_apply_duplicate_gap(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    xoc_msg_ack_t ack;
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_abc, "abc", &ack), 0);
    assert_int_equal(ack.rev, 3);
    assert_int_equal(ack.applied, 3);
    assert_false(ack.duplicate);
    /* replay: acknowledged as duplicate, nothing changes */
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_abc, "xyz", &ack), 0);
    assert_true(ack.duplicate);
    assert_int_equal(ack.rev, 3);
    assert_int_equal(s_get_n(env, "x", NULL), -1);
    /* gap */
    assert_int_equal(s_apply1(env, "p1", 1, 3, "delta", s_fill_abc, "d", NULL), XOC_ESTATE);
    assert_int_equal(s_apply1(env, "p1", 3, 2, "delta", s_fill_abc, "d", NULL), XOC_ESTATE);
    assert_int_equal(s_get_n(env, "d", NULL), -1);
    assert_int_equal(s_apply1(env, "p1", 1, 2, "delta", s_fill_seq2, NULL, &ack), 0);
    assert_int_equal(ack.applied, 1);
    assert_int_equal(ack.rev, 4);
    uint64_t rev = 0;
    assert_int_equal(s_get_n(env, "a", &rev), 1);
    assert_int_equal(rev, 1);
    assert_int_equal(s_get_n(env, "b", NULL), -1);
    /* a new epoch starts at seq 1; older epochs are replays */
    assert_int_equal(s_apply1(env, "p1", 2, 1, "delta", s_fill_abc, "d", &ack), 0);
    assert_int_equal(ack.rev, 5);
    assert_int_equal(s_apply1(env, "p1", 1, 3, "delta", s_fill_abc, "e", &ack), 0);
    assert_true(ack.duplicate);
}

static void s_fill_ab(s_cs_t *cs, void *arg)
{
    s_enter(cs, "a", "VM", 1, "Running");   /* unchanged: stamped, no revision */
    s_enter(cs, "b", "VM", 2, "Halted");    /* changed */
}

static void test_image_end_and_drop(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    xoc_msg_ack_t ack;
    assert_int_equal(s_apply1(env, "p1", 1, 1, "image", s_fill_abc, "abc", &ack), 0);
    assert_int_equal(s_apply1(env, "p1", 1, 2, "image_end", NULL, NULL, &ack), 0);
    assert_int_equal(s_apply1(env, "p2", 1, 1, "image_end", s_fill_abc, "xy", &ack), 0);
    assert_int_equal(s_query(env, NULL, "p1", NULL, 0, 0, NULL), 3);
    /* reconnection: the new image no longer has c */
    assert_int_equal(s_apply1(env, "p1", 2, 1, "image", s_fill_ab, NULL, &ack), 0);
    assert_int_equal(ack.applied, 1);
    assert_int_equal(s_apply1(env, "p1", 2, 2, "image_end", NULL, NULL, &ack), 0);
    assert_int_equal(ack.applied, 1);
    assert_int_equal(ack.rev, 7);
    assert_int_equal(s_get_n(env, "c", NULL), -1);
    assert_int_equal(s_get_n(env, "b", NULL), 2);
    assert_int_equal(s_query(env, NULL, "p1", NULL, 0, 0, NULL), 2);
    /* drop: every object of p1 leaves, p2 stays */
    assert_int_equal(s_apply1(env, "p1", 2, 3, "drop", NULL, NULL, &ack), 0);
    assert_int_equal(ack.applied, 2);
    assert_int_equal(s_query(env, NULL, "p1", NULL, 0, 0, NULL), 0);
    assert_int_equal(s_query(env, NULL, "p2", NULL, 0, 0, NULL), 2);
    assert_int_equal(s_query(env, NULL, NULL, NULL, 0, 0, NULL), 2);
}

static void s_fill_mix(s_cs_t *cs, void *arg)
{
    char id[32];
    for (int i = 0; i < 30; i++) {
        snprintf(id, sizeof id, "%s-%d", (char *)arg, i);
        s_enter(cs, id, i % 3 == 0 ? "host" : "VM", i, i % 2 ? "Running" : "Halted");
    }
}

static void test_query_filter_limit(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_mix, "p1", NULL), 0);
    assert_int_equal(s_apply1(env, "p2", 1, 1, "delta", s_fill_mix, "p2", NULL), 0);
    uint64_t rev;
    assert_int_equal(s_query(env, NULL, NULL, NULL, 0, 0, &rev), 60);
    assert_int_equal(rev, 60);
    assert_int_equal(s_query(env, "VM", NULL, NULL, 0, 0, NULL), 40);
    assert_int_equal(s_query(env, "host", "p2", NULL, 0, 0, NULL), 10);
    msgpack_sbuffer f;
    msgpack_sbuffer_init(&f);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    s_pstr(&pk, "power_state");
    s_pstr(&pk, "Running");
    assert_int_equal(s_query(env, "VM", "p1", f.data, f.size, 0, NULL), 10);
    assert_int_equal(s_query(env, "VM", NULL, f.data, f.size, 3, NULL), 3);
    f.size = 0;
    msgpack_pack_array(&pk, 1);   /* not a map */
    msgpack_pack_int(&pk, 1);
    assert_int_equal(s_query(env, NULL, NULL, f.data, f.size, 0, NULL), XOC_EINVAL);
    msgpack_sbuffer_destroy(&f);
    assert_int_equal(s_get_n(env, "p2-7", NULL), 7);
}

static void s_fill_many(s_cs_t *cs, void *arg)
{
    int *v = arg;
    char id[32];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "o-%03d", i);
        s_enter(cs, id, "VM", v[0], "Running");
    }
    snprintf(id, sizeof id, "new-%d", v[0]);
    s_enter(cs, id, "VM", v[0], "Halted");
}

static void test_snapshot_consistent_chunks(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    int v = 1;
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_many, &v, NULL), 0);
    xoc_msg_snap_t s = {0};
    xoc_reply_t r;
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot", XOC_MSG_SNAP,
                                         &s, T_MS, &r), 0);
    xoc_msg_t m;
    assert_int_equal(xoc_reply_decode(&r, XOC_MSG_SNAP, &m), 0);
    uint64_t id = m.snap.snapshot, rev = m.snap.rev;
    assert_int_equal(rev, 201);
    assert_int_equal(m.snap.count, 201);
    xoc_reply_clear(&r);
    /* change sets land between the chunks: the snapshot must not see them */
    uint64_t total = 0, chunks = 0;
    bool done = false;
    for (uint64_t seq = 2; !done; seq++) {
        v = (int)seq;
        assert_int_equal(s_apply1(env, "p1", 1, seq, "delta", s_fill_many, &v, NULL), 0);
        xoc_msg_snap_t n = {.snapshot = id, .max_bytes = 1500};
        assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot_next",
                                             XOC_MSG_SNAP, &n, T_MS, &r), 0);
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_OBJECTS, &m), 0);
        assert_int_equal(m.objects.rev, rev);
        assert_true(m.objects.count >= 1);
        assert_true(m.objects.items.len < 1500 + 200);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, (const char *)m.objects.items.ptr,
                                             m.objects.items.len, NULL), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(u.data.via.array.size, m.objects.count);
        for (uint32_t i = 0; i < u.data.via.array.size; i++) {
            msgpack_object *it = u.data.via.array.ptr[i].via.array.ptr;
            assert_int_equal(u.data.via.array.ptr[i].via.array.size, 4);
            msgpack_object obj = it[3];
            for (uint32_t j = 0; j < obj.via.map.size; j++)
                if (obj.via.map.ptr[j].key.via.str.ptr[0] == 'n')
                    assert_int_equal(obj.via.map.ptr[j].val.via.i64, 1);
        }
        msgpack_unpacked_destroy(&u);
        total += m.objects.count;
        chunks++;
        done = m.objects.done;
        xoc_reply_clear(&r);
    }
    assert_int_equal(total, 201);
    assert_true(chunks > 5);
    xoc_msg_snap_t n = {.snapshot = id};
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot_next",
                                         XOC_MSG_SNAP, &n, T_MS, &r), XOC_ENOENT);
    xoc_reply_clear(&r);
    /* close releases; an unknown id is no-such-object */
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot", XOC_MSG_SNAP,
                                         &s, T_MS, &r), 0);
    assert_int_equal(xoc_reply_decode(&r, XOC_MSG_SNAP, &m), 0);
    n.snapshot = m.snap.snapshot;
    assert_true(m.snap.rev > rev);
    xoc_reply_clear(&r);
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot_close",
                                         XOC_MSG_SNAP, &n, T_MS, &r), 0);
    xoc_reply_clear(&r);
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.snapshot_close",
                                         XOC_MSG_SNAP, &n, T_MS, &r), XOC_ENOENT);
    xoc_reply_clear(&r);
}

/* cache.changes since: returns status; count of items, more */
static int s_changes(s_env_t *env, uint64_t since, uint64_t limit, uint64_t *count, bool *more,
                     uint64_t *first)
{
    xoc_msg_journal_t j = {.since = since, .limit = limit};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(env->client, "cache", "cache.changes", XOC_MSG_JOURNAL, &j,
                                 T_MS, &r);
    if (rc == 0) {
        xoc_msg_t m;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_JOURNAL, &m), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, (const char *)m.journal.items.ptr,
                                             m.journal.items.len, NULL), MSGPACK_UNPACK_SUCCESS);
        *count = u.data.via.array.size;
        for (uint32_t i = 0; i < u.data.via.array.size; i++)
            assert_int_equal(u.data.via.array.ptr[i].via.array.ptr[0].via.u64, since + i);
        if (first && *count)
            *first = u.data.via.array.ptr[0].via.array.ptr[0].via.u64;
        *more = m.journal.more;
        msgpack_unpacked_destroy(&u);
    }
    xoc_reply_clear(&r);
    return rc;
}

static void test_journal_and_pruning(void **state)
{
    s_env_t *env = *state;
    char *extra[] = {"--cache.journal_max", "250", NULL};
    s_cache_up(env, extra);
    int v = 1;
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_many, &v, NULL), 0);
    uint64_t count = 0, first = 0;
    bool more;
    assert_int_equal(s_changes(env, 1, 5, &count, &more, &first), 0);
    assert_int_equal(count, 5);
    assert_true(more);
    assert_int_equal(s_changes(env, 150, 0, &count, &more, NULL), 0);
    assert_int_equal(count, 52);
    assert_false(more);
    assert_int_equal(s_changes(env, 202, 0, &count, &more, NULL), 0);
    assert_int_equal(count, 0);
    v = 2;
    assert_int_equal(s_apply1(env, "p1", 1, 2, "delta", s_fill_many, &v, NULL), 0);
    /* 402 changes, 250 kept: the change set's own transaction pruned the first 152 (a
       client asking for them gets incorrect-state: take a snapshot) */
    assert_int_equal(s_changes(env, 1, 1, &count, &more, NULL), XOC_ESTATE);
    assert_int_equal(s_changes(env, 152, 1, &count, &more, NULL), XOC_ESTATE);
    assert_int_equal(s_changes(env, 153, 0, &count, &more, NULL), 0);
    assert_int_equal(count, 250);
}

/* the journal as cache.changes returns it: "rev op id type n" per item (n -1: exit) */
static int s_history(s_env_t *env, uint64_t since, char *out, size_t size)
{
    xoc_msg_journal_t j = {.since = since, .limit = 100};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(env->client, "cache", "cache.changes", XOC_MSG_JOURNAL, &j,
                                 T_MS, &r);
    out[0] = '\0';
    if (rc == 0) {
        xoc_msg_t m;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_JOURNAL, &m), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0, len = 0;
        assert_int_equal(msgpack_unpack_next(&u, (const char *)m.journal.items.ptr,
                                             m.journal.items.len, &off), MSGPACK_UNPACK_SUCCESS);
        for (uint32_t i = 0; i < u.data.via.array.size; i++) {
            msgpack_object *it = u.data.via.array.ptr[i].via.array.ptr;
            uint32_t n = u.data.via.array.ptr[i].via.array.size;
            int64_t v = -1;
            if (n == 6) /* the object: {id, type, n, power_state} */
                v = it[5].via.map.ptr[2].val.via.i64;
            len += (size_t)snprintf(out + len, size - len, "%s%llu %.*s %.*s %.*s %.*s %lld",
                                    len ? ", " : "", (unsigned long long)it[0].via.u64,
                                    (int)it[1].via.str.size, it[1].via.str.ptr,
                                    (int)it[2].via.str.size, it[2].via.str.ptr,
                                    (int)it[3].via.str.size, it[3].via.str.ptr,
                                    (int)it[4].via.str.size, it[4].via.str.ptr, (long long)v);
            assert_true(len < size);
        }
        msgpack_unpacked_destroy(&u);
    }
    xoc_reply_clear(&r);
    return rc;
}

static void s_fill_hist1(s_cs_t *cs, void *arg)
{
    s_enter(cs, "a", "VM", 1, "Running");
    s_enter(cs, "b", "host", 1, "Running");
    s_enter(cs, "c", "SR", 1, "Running");
}

static void s_fill_hist2(s_cs_t *cs, void *arg)
{
    s_enter(cs, "a", "VM", 2, "Running");
    s_exit(cs, "b", "host");
    s_enter(cs, "a", "VM", 3, "Halted");  /* changed twice in one set */
    s_enter(cs, "c", "SR", 1, "Running"); /* identical: no revision */
}

static void s_fill_hist3(s_cs_t *cs, void *arg)
{
    int64_t *n = arg;
    s_enter(cs, "a", "VM", n[0], "Halted");
    s_enter(cs, "c", "SR", n[1], "Running");
}

/* an entry refers to the current object until it changes: every version is still
   returned, across restarts, a new epoch's identical image and pruning */
static void test_journal_history(void **state)
{
    s_env_t *env = *state;
    char h[1024];
    s_cache_up(env, NULL);
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_hist1, NULL, NULL), 0);
    assert_int_equal(s_history(env, 1, h, sizeof h), 0);
    assert_string_equal(h, "1 enter a VM p1 1, 2 enter b host p1 1, 3 enter c SR p1 1");
    assert_int_equal(s_apply1(env, "p1", 1, 2, "delta", s_fill_hist2, NULL, NULL), 0);
    const char *all = "1 enter a VM p1 1, 2 enter b host p1 1, 3 enter c SR p1 1, "
                      "4 enter a VM p1 2, 5 exit b host p1 -1, 6 enter a VM p1 3";
    assert_int_equal(s_history(env, 1, h, sizeof h), 0);
    assert_string_equal(h, all);
    /* a new connection's image with the same objects: no revision, same history */
    int64_t n[2] = {3, 1};
    assert_int_equal(s_apply1(env, "p1", 2, 1, "image", s_fill_hist3, n, NULL), 0);
    assert_int_equal(s_apply1(env, "p1", 2, 2, "image_end", NULL, NULL, NULL), 0);
    assert_int_equal(s_get_n(env, "a", NULL), 3);
    xoc_proc_stop(&env->cache);
    s_cache_up(env, NULL);
    assert_int_equal(s_history(env, 1, h, sizeof h), 0);
    assert_string_equal(h, all);
    assert_int_equal(s_history(env, 4, h, sizeof h), 0);
    assert_string_equal(h, "4 enter a VM p1 2, 5 exit b host p1 -1, 6 enter a VM p1 3");
    /* bound lowered to 3 entries: pruned while no change set comes (the idle steps), then
       changing an object whose entry is gone (c, 3) and one whose entry is kept (a, 6);
       each change set's own transaction keeps the bound */
    xoc_proc_stop(&env->cache);
    char *extra[] = {"--cache.journal_max", "3", NULL};
    s_cache_up(env, extra);
    int rc = 0;
    for (long long end = xoc_test_now_ms() + 5000; xoc_test_now_ms() < end;)
        if ((rc = s_history(env, 3, h, sizeof h)) != 0)
            break;
    assert_int_equal(rc, XOC_ESTATE);
    assert_int_equal(s_history(env, 4, h, sizeof h), 0);
    assert_string_equal(h, "4 enter a VM p1 2, 5 exit b host p1 -1, 6 enter a VM p1 3");
    n[0] = 4;
    n[1] = 2;
    assert_int_equal(s_apply1(env, "p1", 2, 3, "delta", s_fill_hist3, n, NULL), 0);
    assert_int_equal(s_history(env, 5, h, sizeof h), XOC_ESTATE);
    assert_int_equal(s_history(env, 6, h, sizeof h), 0);
    assert_string_equal(h, "6 enter a VM p1 3, 7 enter a VM p1 4, 8 enter c SR p1 2");
    n[0] = 5;
    assert_int_equal(s_apply1(env, "p1", 2, 4, "delta", s_fill_hist3, n, NULL), 0);
    assert_int_equal(s_history(env, 6, h, sizeof h), XOC_ESTATE);
    assert_int_equal(s_history(env, 7, h, sizeof h), 0);
    assert_string_equal(h, "7 enter a VM p1 4, 8 enter c SR p1 2, 9 enter a VM p1 5");
}

static bool s_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

static int s_cfg(s_env_t *env, const char *method, xoc_msg_cfg_t *c, xoc_reply_t *r,
                 xoc_msg_t *m)
{
    int rc = xoc_client_call_msg(env->client, "cache", method, XOC_MSG_CFG, c, T_MS, r);
    if (rc == 0)
        assert_int_equal(xoc_reply_decode(r, XOC_MSG_CFG, m), 0);
    return rc;
}

static bool s_bin_has(xoc_bin_t b, const char *needle)
{
    return b.len && memmem(b.ptr, b.len, needle, strlen(needle)) != NULL;
}

/* config.set / config.delete with `expect` (a read-modify-write's compare-and-set): done
   while the record is the one read (compared as JSON values: key order and number types
   do not matter; secrets as config.get shows them), incorrect-state once another writer
   changed it; nil expects an absent record */
static void s_compare_and_set(s_env_t *env, xoc_msg_cfg_t *c, msgpack_sbuffer *v,
                              msgpack_packer *pk)
{
    xoc_reply_t r;
    xoc_msg_t m;
    xoc_msg_cfg_t g = {.db = c->db, .key = c->key};
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    size_t read_len = m.cfg.value.len;
    uint8_t *read = malloc(read_len);
    memcpy(read, m.cfg.value.ptr, read_len);
    xoc_reply_clear(&r);
    v->size = 0; /* the record read, written again with another host */
    msgpack_pack_map(pk, 2);
    s_pstr(pk, "host");
    s_pstr(pk, "10.0.0.3");
    s_pstr(pk, "password");
    s_pstr(pk, "* obfuscated *");
    c->value = (xoc_bin_t){(const uint8_t *)v->data, (uint32_t)v->size};
    c->expect = (xoc_bin_t){read, (uint32_t)read_len};
    assert_int_equal(s_cfg(env, "config.set", c, &r, &m), 0);
    xoc_reply_clear(&r);
    /* a second writer that read the same record: refused, nothing changed */
    assert_int_equal(s_cfg(env, "config.set", c, &r, &m), XOC_ESTATE);
    xoc_reply_clear(&r);
    xoc_msg_cfg_t d = {.db = c->db, .key = c->key, .expect = c->expect};
    assert_int_equal(s_cfg(env, "config.delete", &d, &r, &m), XOC_ESTATE);
    xoc_reply_clear(&r);
    /* the current record, keys in another order, as a JSON round trip may give it */
    msgpack_sbuffer e;
    msgpack_sbuffer_init(&e);
    msgpack_packer ep;
    msgpack_packer_init(&ep, &e, msgpack_sbuffer_write);
    msgpack_pack_map(&ep, 2);
    s_pstr(&ep, "password");
    s_pstr(&ep, "* obfuscated *");
    s_pstr(&ep, "host");
    s_pstr(&ep, "10.0.0.3");
    c->expect = (xoc_bin_t){(const uint8_t *)e.data, (uint32_t)e.size};
    assert_int_equal(s_cfg(env, "config.set", c, &r, &m), 0);
    xoc_reply_clear(&r);
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    assert_true(s_bin_has(m.cfg.value, "10.0.0.3"));
    xoc_reply_clear(&r);
    g.reveal = true; /* the secret kept through it all */
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    assert_true(s_bin_has(m.cfg.value, "hunter2-SECRET"));
    xoc_reply_clear(&r);
    /* nil: only while absent */
    e.size = 0;
    msgpack_pack_nil(&ep);
    c->expect = (xoc_bin_t){(const uint8_t *)e.data, (uint32_t)e.size};
    assert_int_equal(s_cfg(env, "config.set", c, &r, &m), XOC_ESTATE);
    xoc_reply_clear(&r);
    xoc_msg_cfg_t fresh = *c;
    fresh.key = XOC_STR("s1-cas");
    assert_int_equal(s_cfg(env, "config.set", &fresh, &r, &m), 0);
    xoc_reply_clear(&r);
    assert_int_equal(s_cfg(env, "config.set", &fresh, &r, &m), XOC_ESTATE);
    xoc_reply_clear(&r);
    c->expect = (xoc_bin_t){NULL, 0};
    msgpack_sbuffer_destroy(&e);
    free(read);
}

static void test_config_and_secrets(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    zsock_t *sub = xoc_bus_connect(ZMQ_SUB, env->opts.sub, NULL);
    zsock_set_subscribe(sub, "config.");
    zsock_set_rcvtimeo(sub, 200);
    msgpack_sbuffer v;
    msgpack_sbuffer_init(&v);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &v, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    s_pstr(&pk, "host");
    s_pstr(&pk, "10.0.0.1");
    s_pstr(&pk, "username");
    s_pstr(&pk, "root");
    s_pstr(&pk, "password");
    s_pstr(&pk, "hunter2-SECRET");
    xoc_msg_cfg_t c = {.db = XOC_STR("servers"), .key = XOC_STR("s1"),
                       .value = {(const uint8_t *)v.data, (uint32_t)v.size}};
    xoc_reply_t r;
    xoc_msg_t m;
    /* the subscription joins asynchronously: set until an event arrives */
    zmsg_t *ev = NULL;
    for (long long end = xoc_test_now_ms() + T_MS; !ev && xoc_test_now_ms() < end;) {
        assert_int_equal(s_cfg(env, "config.set", &c, &r, &m), 0);
        assert_true(s_bin_has(m.cfg.value, "* obfuscated *"));
        assert_false(s_bin_has(m.cfg.value, "hunter2"));
        xoc_reply_clear(&r);
        ev = zmsg_recv(sub);
    }
    assert_non_null(ev);
    char *topic = zmsg_popstr(ev);
    assert_string_equal(topic, "config.servers");
    zstr_free(&topic);
    zframe_t *body = zmsg_pop(ev);
    assert_int_equal(xoc_msg_decode_as(&m, XOC_MSG_CFG, zframe_data(body), zframe_size(body)), 0);
    assert_true(xoc_str_eq(m.cfg.op, "set"));
    assert_true(s_bin_has(m.cfg.value, "* obfuscated *"));
    assert_false(s_bin_has(m.cfg.value, "hunter2"));
    zframe_destroy(&body);
    zmsg_destroy(&ev);
    /* create only: refused on a key that is there, done on a new one */
    c.create = true;
    assert_int_equal(s_cfg(env, "config.set", &c, &r, &m), XOC_EEXIST);
    xoc_reply_clear(&r);
    c.key = XOC_STR("s1-created");
    assert_int_equal(s_cfg(env, "config.set", &c, &r, &m), 0);
    xoc_reply_clear(&r);
    c.create = false;
    c.key = XOC_STR("s1");
    /* get: obfuscated; with reveal: in clear */
    xoc_msg_cfg_t g = {.db = XOC_STR("servers"), .key = XOC_STR("s1")};
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    assert_false(s_bin_has(m.cfg.value, "hunter2"));
    assert_true(s_bin_has(m.cfg.value, "10.0.0.1"));
    xoc_reply_clear(&r);
    g.reveal = true;
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    assert_true(s_bin_has(m.cfg.value, "hunter2-SECRET"));
    xoc_reply_clear(&r);
    /* writing back the obfuscated record keeps the secret */
    v.size = 0;
    msgpack_pack_map(&pk, 2);
    s_pstr(&pk, "host");
    s_pstr(&pk, "10.0.0.2");
    s_pstr(&pk, "password");
    s_pstr(&pk, "* obfuscated *");
    c.value = (xoc_bin_t){(const uint8_t *)v.data, (uint32_t)v.size};
    assert_int_equal(s_cfg(env, "config.set", &c, &r, &m), 0);
    xoc_reply_clear(&r);
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), 0);
    assert_true(s_bin_has(m.cfg.value, "hunter2-SECRET"));
    assert_true(s_bin_has(m.cfg.value, "10.0.0.2"));
    xoc_reply_clear(&r);
    s_compare_and_set(env, &c, &v, &pk);
    /* list */
    xoc_msg_cfg_t l = {.db = XOC_STR("servers")};
    assert_int_equal(s_cfg(env, "config.list", &l, &r, &m), 0);
    assert_true(s_bin_has(m.cfg.items, "s1"));
    assert_false(s_bin_has(m.cfg.items, "hunter2"));
    xoc_reply_clear(&r);
    /* on disk: never in clear; key file 0600 */
    char file[512];
    snprintf(file, sizeof file, "%s/data.mdb", env->path);
    assert_false(s_has(file, "hunter2-SECRET"));
    assert_true(s_has(file, "10.0.0.2"));
    snprintf(file, sizeof file, "%s/secret.key", env->path);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* delete, then absent; a bad db is refused */
    assert_int_equal(s_cfg(env, "config.delete", &g, &r, &m), 0);
    assert_true(xoc_str_eq(m.cfg.op, "delete"));
    xoc_reply_clear(&r);
    assert_int_equal(s_cfg(env, "config.get", &g, &r, &m), XOC_ENOENT);
    xoc_reply_clear(&r);
    xoc_msg_cfg_t bad = {.db = XOC_STR("nope"), .key = XOC_STR("x")};
    assert_int_equal(s_cfg(env, "config.get", &bad, &r, &m), XOC_EINVAL);
    xoc_reply_clear(&r);
    bool deleted = false;
    for (long long end = xoc_test_now_ms() + T_MS; !deleted && xoc_test_now_ms() < end;) {
        ev = zmsg_recv(sub);
        if (!ev)
            continue;
        zframe_t *t = zmsg_pop(ev), *b = zmsg_pop(ev);
        deleted = xoc_msg_decode_as(&m, XOC_MSG_CFG, zframe_data(b), zframe_size(b)) == 0 &&
                  xoc_str_eq(m.cfg.op, "delete");
        zframe_destroy(&t);
        zframe_destroy(&b);
        zmsg_destroy(&ev);
    }
    assert_true(deleted);
    msgpack_sbuffer_destroy(&v);
    zsock_destroy(&sub);
}

static void s_fill_n(s_cs_t *cs, void *arg)
{
    int *v = arg;
    char id[32];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "o-%d", i);
        s_enter(cs, id, i % 2 ? "VM" : "host", v[0], "Running");
    }
    snprintf(id, sizeof id, "s-%d", v[0]);
    s_enter(cs, id, "SR", v[0], "Running");
}

static void test_obj_events_gap_free(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    zsock_t *sub = xoc_bus_connect(ZMQ_SUB, env->opts.sub, NULL);
    zsock_set_subscribe(sub, "obj.");
    zsock_set_rcvtimeo(sub, 100);
    int seq = 0;
    zmsg_t *ev = NULL;
    for (long long end = xoc_test_now_ms() + T_MS; !ev && xoc_test_now_ms() < end;) {
        seq++;
        assert_int_equal(s_apply1(env, "p1", 1, (uint64_t)seq, "delta", s_fill_n, &seq, NULL), 0);
        ev = zmsg_recv(sub);
    }
    assert_non_null(ev);
    zmsg_destroy(&ev);
    while ((ev = zmsg_recv(sub)) != NULL) /* drain the probes */
        zmsg_destroy(&ev);
    xoc_msg_ack_t ack = {0};
    int first = seq + 1;
    for (int i = 0; i < 50; i++) {
        seq++;
        assert_int_equal(s_apply1(env, "p1", 1, (uint64_t)seq, "delta", s_fill_n, &seq, &ack), 0);
    }
    uint64_t expect = (uint64_t)(first - 1) * 21 + 1, lasts = 0;
    zsock_set_rcvtimeo(sub, 2000);
    while (expect <= ack.rev) {
        ev = zmsg_recv(sub);
        assert_non_null(ev);
        char *topic = zmsg_popstr(ev);
        zframe_t *b = zmsg_pop(ev);
        xoc_msg_t m;
        assert_int_equal(xoc_msg_decode_as(&m, XOC_MSG_OBJ, zframe_data(b), zframe_size(b)), 0);
        assert_int_equal(m.obj.rev, expect);
        char want[128];
        snprintf(want, sizeof want, "obj.%.*s.p1", (int)m.obj.type.len, m.obj.type.ptr);
        assert_string_equal(topic, want);
        lasts += m.obj.last;
        assert_true(m.obj.last == (expect % 21 == 0));
        expect++;
        zstr_free(&topic);
        zframe_destroy(&b);
        zmsg_destroy(&ev);
    }
    assert_int_equal(lasts, 50);
    zsock_destroy(&sub);
}

/* group commit: change sets sent without waiting are committed together (one transaction,
   one sync), yet each gets its own answer: revisions follow one another, a gap in the
   middle is refused alone, a replay is a duplicate */
typedef struct {
    int done, status;
    xoc_msg_ack_t ack;
} s_async_t;

static void s_on_async(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_async_t *a = arg;
    a->done = 1;
    a->status = reply->status;
    xoc_msg_t m;
    if (reply->status == 0 && xoc_reply_decode(reply, XOC_MSG_ACK, &m) == 0) {
        a->ack = m.ack;
        a->ack.pool = (xoc_str_t){NULL, 0};
    }
}

/* the cache's `name` counter from its next heartbeat */
static uint64_t s_cache_stat(s_env_t *env, zsock_t *sys, const char *name)
{
    for (long long end = xoc_test_now_ms() + T_MS; xoc_test_now_ms() < end;) {
        zmsg_t *ev = zmsg_recv(sys);
        if (!ev)
            continue;
        char *topic = zmsg_popstr(ev);
        zframe_t *b = zmsg_pop(ev);
        xoc_msg_t m;
        uint64_t v = UINT64_MAX;
        if (topic && strcmp(topic, "sys.cache.heartbeat") == 0 && b &&
            xoc_msg_decode_as(&m, XOC_MSG_SYS, zframe_data(b), zframe_size(b)) == 0) {
            msgpack_unpacked u;
            msgpack_unpacked_init(&u);
            if (msgpack_unpack_next(&u, (const char *)m.sys.stats.ptr, m.sys.stats.len, NULL) ==
                    MSGPACK_UNPACK_SUCCESS &&
                u.data.type == MSGPACK_OBJECT_MAP)
                for (uint32_t i = 0; i < u.data.via.map.size; i++) {
                    msgpack_object_kv *kv = &u.data.via.map.ptr[i];
                    if (kv->key.via.str.size == strlen(name) &&
                        memcmp(kv->key.via.str.ptr, name, strlen(name)) == 0)
                        v = kv->val.via.u64;
                }
            msgpack_unpacked_destroy(&u);
        }
        zstr_free(&topic);
        zframe_destroy(&b);
        zmsg_destroy(&ev);
        if (v != UINT64_MAX)
            return v;
    }
    fail_msg("no heartbeat of the cache with %s", name);
    return 0;
}

static void test_group_commit(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    enum { N = 200, GAP = 97 };
    s_async_t *a = calloc(N + 1, sizeof *a);
    s_cs_t *cs = calloc(N + 1, sizeof *cs);
    assert_non_null(a);
    assert_non_null(cs);
    zsock_t *sys = xoc_bus_connect(ZMQ_SUB, env->opts.sub, NULL);
    zsock_set_subscribe(sys, "sys.cache.heartbeat");
    zsock_set_rcvtimeo(sys, 200);
    uint64_t commits0 = s_cache_stat(env, sys, "commits");
    /* 1..N in order, with seq GAP replaced by a gap (seq 10 000), then seq 5 again */
    for (int i = 1; i <= N; i++) {
        s_cs_init(&cs[i]);
        int v = i;
        s_fill_n(&cs[i], &v);
        uint64_t seq = i == GAP ? 10000 : i < GAP ? (uint64_t)i : (uint64_t)i - 1;
        if (i == N)
            seq = 5;
        msgpack_pack_array(&cs[i].pk, cs[i].count);
        msgpack_sbuffer_write(&cs[i].sb, cs[i].body.data, cs[i].body.size);
        xoc_msg_changeset_t m = {.pool = XOC_STR("p1"), .epoch = 1, .seq = seq,
                                 .kind = XOC_STR("delta"),
                                 .changes = {(const uint8_t *)cs[i].sb.data,
                                             (uint32_t)cs[i].sb.size}};
        msgpack_sbuffer body;
        msgpack_sbuffer_init(&body);
        assert_int_equal(xoc_msg_changeset_encode(&m, &body), 0);
        assert_int_equal(xoc_client_send(env->client, "cache", "cache.apply", body.data,
                                         body.size, T_MS, s_on_async, &a[i]),
                         0);
        msgpack_sbuffer_destroy(&body);
    }
    for (long long end = xoc_test_now_ms() + T_MS;
         xoc_client_pending(env->client) && xoc_test_now_ms() < end;)
        xoc_client_pump(env->client, 100);
    uint64_t rev = 0;
    for (int i = 1; i <= N; i++) {
        assert_true(a[i].done);
        if (i == GAP) {
            assert_int_equal(a[i].status, XOC_ESTATE);
        } else if (i == N) {
            assert_int_equal(a[i].status, 0);
            assert_true(a[i].ack.duplicate);
        } else {
            assert_int_equal(a[i].status, 0);
            assert_false(a[i].ack.duplicate);
            assert_int_equal(a[i].ack.applied, 21); /* 20 changed objects and a new SR */
            assert_int_equal(a[i].ack.rev, rev + 21);
            rev = a[i].ack.rev;
        }
        s_cs_free(&cs[i]);
    }
    /* everything is there after all */
    assert_int_equal(s_get_n(env, "o-3", NULL), N - 1);
    assert_int_equal(s_query(env, "SR", "p1", NULL, 0, 0, NULL), N - 2);
    /* and it took fewer commits than change sets */
    uint64_t commits = s_cache_stat(env, sys, "commits") - commits0;
    print_message("group commit: %d change sets in %llu commits\n", N,
                  (unsigned long long)commits);
    assert_true(commits < (uint64_t)N - 1);
    zsock_destroy(&sys);
    free(a);
    free(cs);
}

/* kill -9 during a stream of change sets */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool go;
    pid_t pid;
} s_killer_t;

static void *s_killer(void *arg)
{
    s_killer_t *k = arg;
    pthread_mutex_lock(&k->mu);
    while (!k->go)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
    kill(k->pid, SIGKILL);
    return NULL;
}

static void test_kill9_mid_stream(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    const int N = 120;
    s_killer_t k = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false,
                    env->cache->pid};
    pthread_t th;
    pthread_create(&th, NULL, s_killer, &k);
    int acked = 0, seq = 1;
    bool killed = false;
    while (seq <= N) {
        int rc = s_apply1(env, "p1", 1, (uint64_t)seq, "delta", s_fill_n, &seq, NULL);
        if (rc == 0) {
            acked = seq++;
            if (acked == 40) {   /* the kill lands while the next change sets are sent */
                pthread_mutex_lock(&k.mu);
                k.go = true;
                pthread_cond_signal(&k.cv);
                pthread_mutex_unlock(&k.mu);
            }
            continue;
        }
        assert_false(killed);
        killed = true;
        pthread_join(th, NULL);
        xoc_proc_wait(env->cache, T_MS);
        xoc_proc_stop(&env->cache);
        s_cache_up(env, NULL);
        /* every acknowledged change set is there */
        for (int s = 1; s <= acked; s++) {
            char id[32];
            snprintf(id, sizeof id, "s-%d", s);
            assert_int_equal(s_get_n(env, id, NULL), s);
        }
        seq = acked + 1;   /* the sender resumes after the last ack */
    }
    assert_true(killed);
    uint64_t rev = 0;
    assert_int_equal(s_query(env, NULL, NULL, NULL, 0, 0, &rev), 20 + N);
    assert_int_equal(rev, (uint64_t)21 * N);   /* nothing lost, nothing applied twice */
    for (int i = 0; i < 20; i++) {
        char id[32];
        snprintf(id, sizeof id, "o-%d", i);
        assert_int_equal(s_get_n(env, id, NULL), N);
    }
}

static void s_pack_bad(msgpack_packer *pk, int which)
{
    switch (which) {
    case 0: msgpack_pack_map(pk, 0); break;                        /* not an array */
    case 1: msgpack_pack_array(pk, 1); msgpack_pack_int(pk, 3); break; /* element not array */
    case 2: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 3);
        s_pstr(pk, "move"); s_pstr(pk, "a"); s_pstr(pk, "VM"); break;   /* unknown op */
    case 3: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 3);
        s_pstr(pk, "enter"); s_pstr(pk, "a"); s_pstr(pk, "VM"); break;  /* missing object */
    case 4: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 4);
        s_pstr(pk, "enter"); s_pstr(pk, "a"); s_pstr(pk, "VM"); msgpack_pack_int(pk, 1); break;
    case 5: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 4);
        s_pstr(pk, "enter"); s_pstr(pk, "a"); s_pstr(pk, "V.M"); msgpack_pack_map(pk, 0); break;
    case 6: msgpack_pack_array(pk, 1); msgpack_pack_array(pk, 3);
        s_pstr(pk, "exit"); msgpack_pack_int(pk, 7); s_pstr(pk, "VM"); break;
    default: /* a good change then a bad one: refused as a whole */
        msgpack_pack_array(pk, 2); msgpack_pack_array(pk, 4);
        s_pstr(pk, "enter"); s_pstr(pk, "good"); s_pstr(pk, "VM"); msgpack_pack_map(pk, 0);
        msgpack_pack_array(pk, 2); s_pstr(pk, "exit"); s_pstr(pk, "x"); break;
    }
}

static void test_malformed_refused(void **state)
{
    s_env_t *env = *state;
    s_cache_up(env, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    xoc_reply_t r;
    for (int which = 0; which < 8; which++) {
        sb.size = 0;
        s_pack_bad(&pk, which);
        xoc_msg_changeset_t m = {.pool = XOC_STR("p1"), .epoch = 1, .seq = 1,
                                 .kind = XOC_STR("delta"),
                                 .changes = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
        int rc = xoc_client_call_msg(env->client, "cache", "cache.apply", XOC_MSG_CHANGESET, &m,
                                     T_MS, &r);
        assert_int_equal(rc, XOC_EINVAL);
        assert_true(strlen(r.reason) > 0);
        xoc_reply_clear(&r);
    }
    xoc_msg_changeset_t k = {.pool = XOC_STR("p1"), .epoch = 1, .seq = 1, .kind = XOC_STR("full")};
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.apply", XOC_MSG_CHANGESET,
                                         &k, T_MS, &r), XOC_EINVAL);
    xoc_reply_clear(&r);
    xoc_msg_get_t wrong = {.id = XOC_STR("x")};
    assert_int_equal(xoc_client_call_msg(env->client, "cache", "cache.apply", XOC_MSG_GET,
                                         &wrong, T_MS, &r), XOC_EPROTO);
    xoc_reply_clear(&r);
    assert_int_equal(xoc_client_call(env->client, "cache", "cache.apply", NULL, 0, T_MS, &r),
                     XOC_EMISSING);
    xoc_reply_clear(&r);
    assert_int_equal(xoc_client_call(env->client, "cache", "cache.nope", NULL, 0, T_MS, &r),
                     XOC_ENOMETHOD);
    xoc_reply_clear(&r);
    /* nothing was committed: the pool still starts at seq 1, revision 0 */
    assert_int_equal(s_get_n(env, "good", NULL), -1);
    xoc_msg_ack_t ack;
    assert_int_equal(s_apply1(env, "p1", 1, 1, "delta", s_fill_abc, "a", &ack), 0);
    assert_int_equal(ack.rev, 1);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply_duplicate_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_image_end_and_drop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_query_filter_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_consistent_chunks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_and_pruning, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_history, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_config_and_secrets, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_obj_events_gap_free, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
