/*  xoc_cache_store in process: the group commit without nested transactions. A change set
    that fails half-way (the map is full) takes only itself down: the sets before it in the
    group are committed, the next ones see the state without it; duplicates and gaps in a
    group are refused before any write. New objects in id order fill full pages. The
    journal's byte bound.                                                                  */
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
    /* a quarter of it: down to 7/8 of the bound at most */
    uint64_t max = bytes / 4;
    assert_int_equal(xoc_cache_store_prune(st, 1000000, 0, max, 100000, &pruned), 0);
    uint64_t left = s_journal_bytes(st, &entries);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_partial_failure, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_append_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_journal_bytes, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
