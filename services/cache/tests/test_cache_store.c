/*  xoc_cache_store in process: the group commit without nested transactions. A change set
    that fails half-way (the map is full) takes only itself down: the sets before it in the
    group are committed, the next ones see the state without it; duplicates and gaps in a
    group are refused before any write. New objects in id order fill full pages. The
    journal's byte bound; its retention kept by the change sets' own transactions under
    sustained churn, and bounded pruning steps.                                            */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_cache_store.h"
#include "xoc_err.h"

typedef struct {
    char path[64];
    msgpack_sbuffer obj[3000];
    xoc_cache_change_t ch[3000];
    char ids[3000][32];
} s_env_t;

static int s_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

/* change set seq of n objects "<prefix>-<i>" of pad bytes each */
static xoc_cache_cs_t s_cs(s_env_t *env, size_t *used, uint64_t seq, const char *prefix,
                           size_t n, size_t pad)
{
    static char padding[4096];
    memset(padding, 'x', sizeof padding);
    xoc_cache_cs_t cs = {.pool = XOC_STR("p1"), .epoch = 1, .seq = seq,
                         .kind = XOC_CACHE_DELTA, .count = n, .changes = &env->ch[*used]};
    for (size_t i = 0; i < n; i++, (*used)++) {
        msgpack_sbuffer *sb = &env->obj[*used];
        msgpack_sbuffer_init(sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 2);
        msgpack_pack_str_with_body(&pk, "n", 1);
        msgpack_pack_uint64(&pk, i);
        msgpack_pack_str_with_body(&pk, "pad", 3);
        msgpack_pack_str_with_body(&pk, padding, pad);
        snprintf(env->ids[*used], sizeof env->ids[0], "%.8s-%zu", prefix, i);
        env->ch[*used] = (xoc_cache_change_t){XOC_CACHE_ENTER, xoc_str(env->ids[*used]),
                                              XOC_STR("VM"),
                                              {(const uint8_t *)sb->data, (uint32_t)sb->size}};
    }
    return cs;
}

static int s_cmp_change(const void *a, const void *b)
{
    const xoc_cache_change_t *x = a, *y = b;
    int c = memcmp(x->id.ptr, y->id.ptr, x->id.len < y->id.len ? x->id.len : y->id.len);
    return c ? c : (int)x->id.len - (int)y->id.len;
}

static int s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    snprintf(env->path, sizeof env->path, "/tmp/xoc-cache-store-XXXXXX");
    assert_non_null(mkdtemp(env->path));
    *state = env;
    return 0;
}

static int s_teardown(void **state)
{
    s_env_t *env = *state;
    for (size_t i = 0; i < 3000; i++)
        msgpack_sbuffer_destroy(&env->obj[i]);
    nftw(env->path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(env);
    return 0;
}

static bool s_has(xoc_cache_store_t *st, const char *id)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_store_get(st, xoc_str(id), &out);
    msgpack_sbuffer_destroy(&out);
    assert_true(rc == 0 || rc == XOC_ENOENT);
    return rc == 0;
}

static void test_group_partial_failure(void **state)
{
    s_env_t *env = *state;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(env->path, 1048576, false, &err);
    assert_non_null(st);
    size_t used = 0;
    xoc_cache_cs_t cs[4];
    cs[0] = s_cs(env, &used, 1, "small", 3, 10);
    cs[1] = s_cs(env, &used, 2, "big", 1500, 1500); /* 2.3 MB: over the 1 MB map */
    cs[2] = s_cs(env, &used, 3, "after", 2, 10);    /* a gap once seq 2 is refused */
    cs[3] = s_cs(env, &used, 1, "dup", 1, 10);      /* a replay of seq 1 */
    xoc_cache_result_t res[4];
    int status[4];
    char why[4][256];
    assert_int_equal(xoc_cache_store_apply_batch(st, cs, 4, res, status, why), 0);
    assert_int_equal(status[0], 0);
    assert_int_equal(res[0].count, 3);
    assert_int_equal(res[0].rev, 3);
    assert_int_equal(status[1], MDB_MAP_FULL);
    assert_int_equal(status[2], XOC_ESTATE);
    assert_int_equal(status[3], 0);
    assert_true(res[3].duplicate);
    assert_int_equal(xoc_cache_store_rev(st), 3);
    assert_true(s_has(st, "small-0") && s_has(st, "small-2"));
    assert_false(s_has(st, "big-0"));
    assert_false(s_has(st, "after-0"));
    for (int i = 0; i < 4; i++)
        xoc_cache_result_clear(&res[i]);
    /* a group that goes through: one transaction, gap-free revisions across its sets */
    xoc_cache_cs_t ok[2] = {s_cs(env, &used, 2, "g", 2, 10), s_cs(env, &used, 3, "h", 2, 10)};
    assert_int_equal(xoc_cache_store_apply_batch(st, ok, 2, res, status, why), 0);
    assert_int_equal(status[0], 0);
    assert_int_equal(status[1], 0);
    assert_int_equal(res[0].rev, 5);
    assert_int_equal(res[1].rev, 7);
    assert_int_equal(res[1].events[0].rev, 6);
    assert_true(xoc_str_eq(res[1].events[1].id, "h-1"));
    for (int i = 0; i < 2; i++)
        xoc_cache_result_clear(&res[i]);
    xoc_cache_store_destroy(&st);
    /* durable: reopened, the same revision */
    st = xoc_cache_store_new(env->path, 1048576, false, &err);
    assert_non_null(st);
    assert_int_equal(xoc_cache_store_rev(st), 7);
    assert_true(s_has(st, "h-1"));
    xoc_cache_store_destroy(&st);
}

/* leaf pages of the objects db */
static size_t s_leaves(xoc_cache_store_t *st)
{
    MDB_txn *txn;
    MDB_stat ms;
    assert_int_equal(mdb_txn_begin(xoc_cache_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, xoc_cache_store_dbi(st, XOC_CACHE_DB_OBJECTS), &ms), 0);
    mdb_txn_abort(txn);
    return ms.ms_leaf_pages;
}

/* an image in id order fills full pages (new objects after the last id are appended); new
   ids that sort before the last one still go in their place */
static void test_append_in_order(void **state)
{
    s_env_t *env = *state;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(env->path, 64u << 20, false, &err);
    assert_non_null(st);
    size_t used = 0;
    /* 2 x 600 objects of ~900 bytes ("o-0".."o-599" then "p-0".."p-599": in order only
       within each set, as "o-10" < "o-2"); ids in order: sorted by the test */
    xoc_cache_cs_t cs[2] = {s_cs(env, &used, 1, "o", 600, 900),
                            s_cs(env, &used, 2, "p", 600, 900)};
    for (int k = 0; k < 2; k++)
        qsort(cs[k].changes, cs[k].count, sizeof *cs[k].changes, s_cmp_change);
    xoc_cache_result_t res[2];
    int status[2];
    char why[2][256];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(xoc_cache_store_apply_batch(st, &cs[k], 1, &res[k], &status[k], &why[k]),
                         0);
        assert_int_equal(status[k], 0);
        xoc_cache_result_clear(&res[k]);
    }
    /* 4 records of ~1 KB fit in a 4 KB page: 300 pages when full, 400 when split in two */
    size_t leaves = s_leaves(st);
    print_message("1200 objects in order: %zu leaf pages\n", leaves);
    assert_true(leaves <= 320);
    /* ids before the last one, in a later change set */
    xoc_cache_cs_t late = s_cs(env, &used, 3, "a", 3, 900);
    assert_int_equal(xoc_cache_store_apply_batch(st, &late, 1, res, status, why), 0);
    assert_int_equal(status[0], 0);
    assert_int_equal(res[0].count, 3);
    xoc_cache_result_clear(&res[0]);
    assert_true(s_has(st, "a-0") && s_has(st, "a-2") && s_has(st, "o-599") &&
                s_has(st, "p-0") && s_has(st, "p-599"));
    uint64_t objects = 0, journal = 0;
    assert_int_equal(xoc_cache_store_counts(st, &objects, &journal), 0);
    assert_int_equal(objects, 1203);
    assert_int_equal(journal, 1203);
    xoc_cache_store_destroy(&st);
}

/* pages of the journal, in bytes */
static uint64_t s_journal_bytes(xoc_cache_store_t *st, uint64_t *entries)
{
    MDB_txn *txn;
    MDB_stat ms;
    assert_int_equal(mdb_txn_begin(xoc_cache_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, xoc_cache_store_dbi(st, XOC_CACHE_DB_JOURNAL), &ms), 0);
    mdb_txn_abort(txn);
    *entries = ms.ms_entries;
    return (uint64_t)(ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages) * ms.ms_psize;
}

/* the journal's byte bound: the oldest entries go until it fits, the newest stay */
static void test_journal_bytes(void **state)
{
    s_env_t *env = *state;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(env->path, 64u << 20, false, &err);
    assert_non_null(st);
    size_t used = 0;
    /* the same 100 objects of ~2.5 KB changed 10 times: 1 000 entries, 900 with a copy */
    xoc_cache_result_t res;
    int status;
    char why[1][256];
    for (uint64_t seq = 1; seq <= 10; seq++) {
        xoc_cache_cs_t cs = s_cs(env, &used, seq, "o", 100, 2400 + seq);
        assert_int_equal(xoc_cache_store_apply_batch(st, &cs, 1, &res, &status, why), 0);
        assert_int_equal(status, 0);
        xoc_cache_result_clear(&res);
    }
    uint64_t entries, bytes = s_journal_bytes(st, &entries), pruned = 0;
    assert_int_equal(entries, 1000);
    assert_true(bytes > 2000000);
    /* no bound, a large one: nothing goes */
    assert_int_equal(xoc_cache_store_prune(st, 1000000, 0, 0, 100000, &pruned), 0);
    assert_int_equal(pruned, 0);
    assert_int_equal(xoc_cache_store_prune(st, 1000000, 0, bytes, 100000, &pruned), 0);
    assert_int_equal(pruned, 0);
    /* a quarter of it: pruned to the bound (again while the estimate at the mean size of an
       entry leaves it a page over) */
    uint64_t max = bytes / 4, more = 0, left;
    assert_int_equal(xoc_cache_store_prune(st, 1000000, 0, max, 100000, &pruned), 0);
    assert_true(pruned > 0);
    do {
        assert_int_equal(xoc_cache_store_prune(st, 1000000, 0, max, 100000, &more), 0);
        pruned += more;
    } while (more);
    left = s_journal_bytes(st, &entries);
    print_message("journal %llu -> %llu bytes (bound %llu), %llu entries pruned\n",
                  (unsigned long long)bytes, (unsigned long long)left, (unsigned long long)max,
                  (unsigned long long)pruned);
    assert_int_equal(entries + pruned, 1000);
    assert_true(left <= max);
    assert_true(entries > 100);
    /* the newest entries are the ones kept: 1000 down to 1001 - entries */
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    assert_int_equal(xoc_cache_store_changes(st, 1001 - entries, 10, 1 << 20, &out), 0);
    out.size = 0;
    assert_int_equal(xoc_cache_store_changes(st, 1000 - entries, 10, 1 << 20, &out), XOC_ESTATE);
    msgpack_sbuffer_destroy(&out);
    xoc_cache_store_destroy(&st);
}

static uint64_t s_first_rev(xoc_cache_store_t *st)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    assert_int_equal(mdb_txn_begin(xoc_cache_store_env(st), NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, xoc_cache_store_dbi(st, XOC_CACHE_DB_JOURNAL), &cur), 0);
    uint64_t r = 0;
    if (mdb_cursor_get(cur, &k, &v, MDB_FIRST) == 0)
        for (size_t i = 0; i < 8; i++)
            r = r << 8 | ((const uint8_t *)k.mv_data)[i];
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return r;
}

/* since R: 0 when the journal still reaches back to R, XOC_ESTATE (take a snapshot) when
   R was pruned */
static int s_since(xoc_cache_store_t *st, uint64_t since)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    int rc = xoc_cache_store_changes(st, since, 10, 1 << 20, &out);
    msgpack_sbuffer_destroy(&out);
    return rc;
}

/* applies cs (made by s_cs from env's first slots), then frees its objects */
static void s_apply(s_env_t *env, xoc_cache_store_t *st, xoc_cache_cs_t *cs)
{
    xoc_cache_result_t res;
    int status;
    char why[1][256];
    assert_int_equal(xoc_cache_store_apply_batch(st, cs, 1, &res, &status, why), 0);
    assert_int_equal(status, 0);
    xoc_cache_result_clear(&res);
    for (size_t i = 0; i < cs->count; i++) {
        msgpack_sbuffer_destroy(&env->obj[i]);
        msgpack_sbuffer_init(&env->obj[i]);
    }
}

/* sustained churn: the change sets' own transactions keep the journal within its bounds
   (count, then bytes), after every commit, with no pruning transaction of its own; a
   pruned revision gives the snapshot error, the next one the changes */
static void test_retention_under_churn(void **state)
{
    s_env_t *env = *state;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(env->path, 256u << 20, false, &err);
    assert_non_null(st);
    xoc_cache_store_set_retention(st, &(xoc_cache_retention_t){.keep = 500});
    size_t used = 0;
    uint64_t seq = 0, entries, bytes;
    /* 40 change sets of 50 objects (2 000 revisions) against a bound of 500 entries */
    for (int i = 0; i < 40; i++) {
        used = 0;
        xoc_cache_cs_t cs = s_cs(env, &used, ++seq, i % 2 ? "a" : "b", 50, 100 + (size_t)i);
        s_apply(env, st, &cs);
        s_journal_bytes(st, &entries);
        assert_true(entries <= 500);
    }
    assert_int_equal(xoc_cache_store_rev(st), 2000);
    assert_int_equal(entries, 500);
    assert_int_equal(s_first_rev(st), 1501);
    assert_int_equal(s_since(st, 1500), XOC_ESTATE);
    assert_int_equal(s_since(st, 1501), 0);
    assert_int_equal(s_since(st, 2001), 0);
    xoc_cache_prune_stats_t ps;
    xoc_cache_store_prune_stats(st, &ps);
    assert_int_equal(ps.entries, 1500);
    assert_true(ps.max_entries <= 50 + XOC_CACHE_PRUNE_SLACK);

    /* the byte bound, 1 MB: the image of 2 000 objects (entries of ~50 bytes, referring to
       the current objects), then 30 change sets of 20 objects of ~2.5 KB: each change adds
       an entry and gives the previous one its own copy (an overflow page), so the journal
       grows by pages while the oldest entries are small ones: each transaction removes
       what it added, pages included */
    uint64_t max = 1u << 20;
    /* (no time budget here: this part checks the shares, not how fast this machine is) */
    xoc_cache_store_set_retention(st, &(xoc_cache_retention_t){.keep = 1000000,
                                                                .max_bytes = max,
                                                                .commit_us = 1e12});
    used = 0;
    xoc_cache_cs_t image = s_cs(env, &used, ++seq, "i", 2000, 10);
    s_apply(env, st, &image);
    for (int i = 0; i < 30; i++) {
        used = 0;
        xoc_cache_cs_t cs = s_cs(env, &used, ++seq, "c", 20, 2400 + (size_t)i);
        s_apply(env, st, &cs);
        bytes = s_journal_bytes(st, &entries);
        /* over by one transaction's pages at most (it adds before it prunes) */
        assert_true(bytes <= max + 24 * 4096);
    }
    xoc_cache_store_prune_stats(st, &ps);
    assert_true(ps.max_entries <= XOC_CACHE_PRUNE_COMMIT_MAX + XOC_CACHE_PRUNE_SLACK);
    /* the rest (a transaction stops at its share): bounded steps, until none is due */
    xoc_cache_prune_t pr;
    do
        assert_int_equal(xoc_cache_store_prune_step(st, &pr), 0);
    while (pr.entries);
    bytes = s_journal_bytes(st, &entries);
    print_message("byte bound %llu: journal %llu bytes, %llu entries\n", (unsigned long long)max,
                  (unsigned long long)bytes, (unsigned long long)entries);
    assert_true(bytes <= max);
    assert_true(entries > 100);
    uint64_t first = s_first_rev(st);
    assert_int_equal(first + entries - 1, xoc_cache_store_rev(st));
    assert_int_equal(s_since(st, first - 1), XOC_ESTATE);
    assert_int_equal(s_since(st, first), 0);
    xoc_cache_store_destroy(&st);
}

/* the work of one pruning is bounded: by count (a change set removes its own count plus
   XOC_CACHE_PRUNE_SLACK at most, a step XOC_CACHE_PRUNE_STEP at most) and by time (beyond
   its own count, a change set stops when its budget is spent; a step too; the clock is read
   every 16 entries); the steps go on until the bounds hold */
static void test_prune_bounded(void **state)
{
    s_env_t *env = *state;
    int err = 0;
    xoc_cache_store_t *st = xoc_cache_store_new(env->path, 256u << 20, false, &err);
    assert_non_null(st);
    size_t used = 0;
    uint64_t seq = 0, entries;
    for (int i = 0; i < 3; i++) { /* 9 000 revisions, nothing pruned: no retention set */
        used = 0;
        xoc_cache_cs_t cs = s_cs(env, &used, ++seq, i % 2 ? "a" : "b", 3000, 10 + (size_t)i);
        s_apply(env, st, &cs);
    }
    s_journal_bytes(st, &entries);
    assert_int_equal(entries, 9000);
    /* the bound lowered to 10, time budgets of ~nothing: a change set of 1 object removes
       its 1 + what it removed before the first look at the clock; a step the same */
    xoc_cache_store_set_retention(
        st, &(xoc_cache_retention_t){.keep = 10, .commit_us = 1e-3, .step_us = 1e-3});
    used = 0;
    xoc_cache_cs_t one = s_cs(env, &used, ++seq, "z", 1, 10);
    s_apply(env, st, &one);
    xoc_cache_prune_stats_t ps;
    xoc_cache_store_prune_stats(st, &ps);
    assert_true(ps.entries >= 1 && ps.entries <= 1 + 16);
    assert_true(ps.more);
    xoc_cache_prune_t pr;
    assert_int_equal(xoc_cache_store_prune_step(st, &pr), 0);
    assert_true(pr.entries >= 1 && pr.entries <= 16);
    assert_true(pr.more);
    uint64_t gone = ps.entries + pr.entries;
    /* default budgets: a change set of 1 object removes 1 + the slack at most */
    xoc_cache_store_set_retention(st, &(xoc_cache_retention_t){.keep = 10});
    used = 0;
    one = s_cs(env, &used, ++seq, "z", 1, 11);
    s_apply(env, st, &one);
    uint64_t before = ps.entries;
    xoc_cache_store_prune_stats(st, &ps);
    assert_true(ps.entries - before >= 1 && ps.entries - before <= 1 + XOC_CACHE_PRUNE_SLACK);
    assert_true(ps.more);
    gone += ps.entries - before;
    s_journal_bytes(st, &entries);
    assert_int_equal(entries, 9002 - gone);
    /* steps: each at most XOC_CACHE_PRUNE_STEP, `more` until the bound holds */
    int steps = 0;
    uint64_t left = entries;
    do {
        assert_int_equal(xoc_cache_store_prune_step(st, &pr), 0);
        assert_true(pr.entries <= XOC_CACHE_PRUNE_STEP);
        assert_true(pr.entries > 0 || !pr.more);
        left -= pr.entries;
        steps++;
        assert_true(steps < 1000);
    } while (pr.more);
    assert_true(steps >= (int)((entries - 10) / XOC_CACHE_PRUNE_STEP));
    s_journal_bytes(st, &entries);
    assert_int_equal(entries, 10);
    assert_int_equal(left, 10);
    uint64_t rev = xoc_cache_store_rev(st);
    assert_int_equal(rev, 9002);
    assert_int_equal(s_first_rev(st), rev - 9);
    assert_int_equal(s_since(st, rev - 10), XOC_ESTATE);
    assert_int_equal(s_since(st, rev - 9), 0);
    /* nothing left to do: a step removes nothing and commits nothing */
    assert_int_equal(xoc_cache_store_prune_step(st, &pr), 0);
    assert_int_equal(pr.entries, 0);
    assert_false(pr.more);
    xoc_cache_store_destroy(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_partial_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_retention_under_churn, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_prune_bounded, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
