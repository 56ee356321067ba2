/*  The metrics registry and its text exposition (xoc_metrics): HELP/TYPE lines, escaping,
    label values from the network (UTF-8, length, cardinality), cumulative histogram buckets
    with +Inf, _sum and _count, number formatting, updates from several threads.          */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>


#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_metrics.h"

static char *s_render(xoc_metrics_t *reg)
{
    size_t len = 0;
    char *text = xoc_metrics_render(reg, &len);
    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

/* the text contains this exact line */
static void s_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return;
    fail_msg("line not found: [%s] in:\n%s", line, text);
}

static void test_counter_and_gauge(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_series_t *c = xoc_metrics_counter(reg, "xoc_things_total", "things done");
    xoc_metrics_series_t *g = xoc_metrics_gauge(reg, "xoc_level", "a level");
    xoc_metrics_inc(c);
    xoc_metrics_add(c, 41);
    xoc_metrics_add(c, -5);  /* a counter never goes down */
    xoc_metrics_add(c, NAN); /* nor becomes NaN */
    xoc_metrics_set(g, 10);
    xoc_metrics_add(g, -12.5);
    assert_true(xoc_metrics_get(c) == 42);
    assert_true(xoc_metrics_get(g) == -2.5);
    char *text = s_render(reg);
    assert_string_equal(text, "# HELP xoc_things_total things done\n"
                              "# TYPE xoc_things_total counter\n"
                              "xoc_things_total 42\n"
                              "# HELP xoc_level a level\n"
                              "# TYPE xoc_level gauge\n"
                              "xoc_level -2.5\n");
    free(text);
    /* NULL series: every update is a no-op */
    xoc_metrics_inc(NULL);
    xoc_metrics_set(NULL, 1);
    xoc_metrics_observe(NULL, 1);
    assert_true(xoc_metrics_get(NULL) == 0);
    xoc_metrics_destroy(&reg);
    assert_null(reg);
}

static void test_escaping(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f =
        xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_calls_total",
                           "calls\nby \"method\" \\ status", "method,status", NULL, 0);
    assert_non_null(f);
    xoc_metrics_inc(xoc_metrics_with(f, "a\"b\\c\nd", "ok"));
    xoc_metrics_inc(xoc_metrics_with(f, "bad\xff\xc3utf8\xe2\x82", "ok")); /* invalid UTF-8 */
    xoc_metrics_inc(xoc_metrics_with(f, "caf\xc3\xa9 \xe2\x82\xac", ""));  /* valid: kept */
    char *text = s_render(reg);
    s_has_line(text, "# HELP xoc_calls_total calls\\nby \"method\" \\\\ status");
    s_has_line(text, "# TYPE xoc_calls_total counter");
    s_has_line(text, "xoc_calls_total{method=\"a\\\"b\\\\c\\nd\",status=\"ok\"} 1");
    s_has_line(text, "xoc_calls_total{method=\"bad??utf8??\",status=\"ok\"} 1");
    s_has_line(text, "xoc_calls_total{method=\"caf\xc3\xa9 \xe2\x82\xac\",status=\"\"} 1");
    free(text);
    xoc_metrics_destroy(&reg);
}

static void test_labels(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f =
        xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_depth", "depth", "service", NULL, 0);
    xoc_metrics_series_t *a = xoc_metrics_with(f, "cache");
    assert_ptr_equal(a, xoc_metrics_with(f, "cache"));
    assert_ptr_not_equal(a, xoc_metrics_with(f, "api"));
    /* ("ab","") and ("a","b") are two series */
    xoc_metrics_family_t *two =
        xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_two", "two", "x,y", NULL, 0);
    assert_ptr_not_equal(xoc_metrics_with(two, "ab", ""), xoc_metrics_with(two, "a", "b"));
    /* the same declaration again: the same family; another shape: refused */
    assert_ptr_equal(
        f, xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_depth", "x", "service", NULL, 0));
    assert_null(xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_depth", "x", "service", NULL, 0));
    assert_null(xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_depth", "x", "other", NULL, 0));
    /* a long value is cut: two values equal over the first 200 bytes are one series */
    char long1[400], long2[400];
    memset(long1, 'x', sizeof long1 - 1);
    long1[sizeof long1 - 1] = '\0';
    memcpy(long2, long1, sizeof long2);
    long2[300] = 'y';
    assert_ptr_equal(xoc_metrics_with(f, long1), xoc_metrics_with(f, long2));
    /* hidden: not rendered until found again */
    xoc_metrics_set(a, 7);
    xoc_metrics_hide(a);
    char *text = s_render(reg);
    assert_null(strstr(text, "service=\"cache\""));
    free(text);
    assert_ptr_equal(a, xoc_metrics_with(f, "cache"));
    text = s_render(reg);
    s_has_line(text, "xoc_depth{service=\"cache\"} 7");
    free(text);
    xoc_metrics_destroy(&reg);
}

static void test_cardinality(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f = xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_by_name_total",
                                                 "by name", "name", NULL, 0);
    char name[32];
    for (int i = 0; i < XOC_METRICS_SERIES_MAX + 50; i++) {
        snprintf(name, sizeof name, "n%d", i);
        xoc_metrics_inc(xoc_metrics_with(f, name));
    }
    xoc_metrics_series_t *other = xoc_metrics_with(f, "yet another");
    assert_true(xoc_metrics_get(other) == 50);
    assert_ptr_not_equal(other, xoc_metrics_with(f, "n0")); /* old ones are still there */
    char *text = s_render(reg);
    s_has_line(text, "xoc_by_name_total{name=\"_other\"} 50");
    s_has_line(text, "xoc_by_name_total{name=\"n999\"} 1");
    assert_null(strstr(text, "name=\"n1000\""));
    free(text);
    xoc_metrics_destroy(&reg);
}

static void test_histogram(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    static const double bounds[] = {0.005, 0.1, 1, 2.5};
    xoc_metrics_family_t *f = xoc_metrics_family(reg, XOC_METRICS_HISTOGRAM, "xoc_call_seconds",
                                                 "call latency", "method", bounds, 4);
    xoc_metrics_series_t *h = xoc_metrics_with(f, "VM.start");
    xoc_metrics_observe(h, 0.001); /* <= 0.005 */
    xoc_metrics_observe(h, 0.1);   /* a value equal to a bound is in that bucket (le) */
    xoc_metrics_observe(h, 0.5);
    xoc_metrics_observe(h, 7);   /* above every bound: +Inf only */
    xoc_metrics_observe(h, NAN); /* ignored */
    assert_true(xoc_metrics_get(h) == 4);
    char *text = s_render(reg);
    assert_string_equal(text, "# HELP xoc_call_seconds call latency\n"
                              "# TYPE xoc_call_seconds histogram\n"
                              "xoc_call_seconds_bucket{method=\"VM.start\",le=\"0.005\"} 1\n"
                              "xoc_call_seconds_bucket{method=\"VM.start\",le=\"0.1\"} 2\n"
                              "xoc_call_seconds_bucket{method=\"VM.start\",le=\"1\"} 3\n"
                              "xoc_call_seconds_bucket{method=\"VM.start\",le=\"2.5\"} 3\n"
                              "xoc_call_seconds_bucket{method=\"VM.start\",le=\"+Inf\"} 4\n"
                              "xoc_call_seconds_sum{method=\"VM.start\"} 7.601\n"
                              "xoc_call_seconds_count{method=\"VM.start\"} 4\n");
    free(text);
    /* without labels, le is the only label; an empty histogram renders zeros */
    xoc_metrics_series_t *u =
        xoc_metrics_histogram(reg, "xoc_commit_seconds", "commits", xoc_metrics_latency_buckets,
                              xoc_metrics_latency_nbuckets);
    assert_non_null(u);
    text = s_render(reg);
    s_has_line(text, "xoc_commit_seconds_bucket{le=\"0.0005\"} 0");
    s_has_line(text, "xoc_commit_seconds_bucket{le=\"120\"} 0");
    s_has_line(text, "xoc_commit_seconds_bucket{le=\"+Inf\"} 0");
    s_has_line(text, "xoc_commit_seconds_sum 0");
    s_has_line(text, "xoc_commit_seconds_count 0");
    free(text);
    /* a histogram ignores counter/gauge updates and the reverse */
    xoc_metrics_inc(u);
    xoc_metrics_set(u, 3);
    assert_true(xoc_metrics_get(u) == 0);
    xoc_metrics_destroy(&reg);
}

static void test_numbers(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f =
        xoc_metrics_family(reg, XOC_METRICS_GAUGE, "xoc_n", "numbers", "k", NULL, 0);
    xoc_metrics_set(xoc_metrics_with(f, "tenth"), 0.1);
    xoc_metrics_set(xoc_metrics_with(f, "small"), 1e-4);
    xoc_metrics_set(xoc_metrics_with(f, "big"), 1e20);
    xoc_metrics_set(xoc_metrics_with(f, "int"), 1234567890123.0);
    xoc_metrics_set(xoc_metrics_with(f, "third"), 1.0 / 3);
    xoc_metrics_set(xoc_metrics_with(f, "nan"), NAN);
    xoc_metrics_set(xoc_metrics_with(f, "inf"), INFINITY);
    xoc_metrics_set(xoc_metrics_with(f, "minf"), -INFINITY);
    char *text = s_render(reg);
    s_has_line(text, "xoc_n{k=\"tenth\"} 0.1");
    s_has_line(text, "xoc_n{k=\"small\"} 0.0001");
    s_has_line(text, "xoc_n{k=\"big\"} 1e+20");
    s_has_line(text, "xoc_n{k=\"int\"} 1234567890123");
    s_has_line(text, "xoc_n{k=\"third\"} 0.3333333333333333");
    s_has_line(text, "xoc_n{k=\"nan\"} NaN");
    s_has_line(text, "xoc_n{k=\"inf\"} +Inf");
    s_has_line(text, "xoc_n{k=\"minf\"} -Inf");
    free(text);
    xoc_metrics_destroy(&reg);
}

static void test_process(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    assert_int_equal(xoc_metrics_add_process(reg), 0);
    char *text = s_render(reg);
    s_has_line(text, "# TYPE process_start_time_seconds gauge");
    s_has_line(text, "# TYPE process_resident_memory_bytes gauge");
    s_has_line(text, "# TYPE process_cpu_seconds_total counter");
    assert_non_null(strstr(text, "\nxoc_uptime_seconds "));
    const char *rss = strstr(text, "\nprocess_resident_memory_bytes ");
    assert_non_null(rss);
    assert_true(strtod(rss + strlen("\nprocess_resident_memory_bytes "), NULL) > 1e5);
    free(text);
    xoc_metrics_destroy(&reg);
}

/* ---- threads: updates are atomic, rendering meanwhile is safe --------------------------- */

#define S_THREADS 4
#define S_ROUNDS 50000

typedef struct {
    xoc_metrics_family_t *f, *h;
    int index;
} s_worker_arg_t;

static void *s_worker(void *arg)
{
    s_worker_arg_t *w = arg;
    char mine[16];
    snprintf(mine, sizeof mine, "t%d", w->index);
    for (int i = 0; i < S_ROUNDS; i++) {
        xoc_metrics_inc(xoc_metrics_with(w->f, "shared"));
        xoc_metrics_inc(xoc_metrics_with(w->f, mine));
        xoc_metrics_observe(xoc_metrics_with(w->h, "shared"), 0.25);
    }
    return NULL;
}

static void test_threads(void **state)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f =
        xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_t_total", "t", "who", NULL, 0);
    xoc_metrics_family_t *h =
        xoc_metrics_family(reg, XOC_METRICS_HISTOGRAM, "xoc_t_seconds", "t", "who",
                           xoc_metrics_latency_buckets, xoc_metrics_latency_nbuckets);
    pthread_t threads[S_THREADS];
    s_worker_arg_t args[S_THREADS];
    for (int i = 0; i < S_THREADS; i++) {
        args[i] = (s_worker_arg_t){f, h, i};
        assert_int_equal(pthread_create(&threads[i], NULL, s_worker, &args[i]), 0);
    }
    for (int i = 0; i < 20; i++)
        free(s_render(reg));
    for (int i = 0; i < S_THREADS; i++)
        pthread_join(threads[i], NULL);
    assert_true(xoc_metrics_get(xoc_metrics_with(f, "shared")) == S_THREADS * S_ROUNDS);
    assert_true(xoc_metrics_get(xoc_metrics_with(f, "t2")) == S_ROUNDS);
    xoc_metrics_series_t *hs = xoc_metrics_with(h, "shared");
    assert_true(xoc_metrics_get(hs) == S_THREADS * S_ROUNDS);
    char *text = s_render(reg);
    s_has_line(text, "xoc_t_seconds_sum{who=\"shared\"} 50000");
    s_has_line(text, "xoc_t_seconds_bucket{who=\"shared\",le=\"0.1\"} 0");
    s_has_line(text, "xoc_t_seconds_bucket{who=\"shared\",le=\"0.25\"} 200000");
    free(text);
    xoc_metrics_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_cardinality),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_process),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
