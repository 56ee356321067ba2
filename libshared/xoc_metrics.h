/*  xoc_metrics — a registry of Prometheus metrics: counters, gauges and histograms with fixed
    buckets, with optional labels, rendered in the text exposition format 0.0.4 (what
    GET /metrics answers: see xoc_metrics_http; every service has one, see xoc_service).

        xoc_metrics_t *reg = xoc_metrics_new();
        xoc_metrics_series_t *commits = xoc_metrics_counter(reg, "xoc_cache_commits_total",
                                                            "change sets committed");
        xoc_metrics_family_t *calls = xoc_metrics_family(reg, XOC_METRICS_COUNTER,
            "xoc_api_calls_total", "JSON-RPC calls", "method,status", NULL, 0);
        xoc_metrics_inc(commits);
        xoc_metrics_inc(xoc_metrics_with(calls, "vm.start", "ok"));
        char *text = xoc_metrics_render(reg, &len);      // any thread; free(text)

    Threads: families are declared at start; updates (inc, add, set, observe) may come from
    any thread and cost one atomic operation on the series (a compare-and-swap loop for the
    doubles), never a lock. xoc_metrics_with() finds a series without a lock (a list that
    only grows) and takes the registry's mutex only to create one. Rendering takes the mutex
    while it walks the families. A family holds at most XOC_METRICS_SERIES_MAX series: past
    that, new label values all land in one series whose labels are "_other" (label values
    may come from the network). Label values are copied, cut at 200 bytes, and invalid UTF-8
    bytes are replaced by '?' (in help texts too); rendering escapes \, " and newline.

    Every update function accepts NULL (a metric that could not be declared is a no-op).
    Names follow Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]*
    (not __*, not "le") for labels; a bad name is a programmer error (assert, NULL).      */
#ifndef XOC_METRICS_H
#define XOC_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _xoc_metrics_t xoc_metrics_t;
typedef struct _xoc_metrics_family_t xoc_metrics_family_t;
typedef struct _xoc_metrics_series_t xoc_metrics_series_t;

typedef enum { XOC_METRICS_COUNTER, XOC_METRICS_GAUGE, XOC_METRICS_HISTOGRAM } xoc_metrics_kind_t;

#define XOC_METRICS_SERIES_MAX 1000
#define XOC_METRICS_LABELS_MAX 4
#define XOC_METRICS_BUCKETS_MAX 32

/*  Latency buckets in seconds, 0.5 ms .. 120 s (request and call durations).              */
extern const double xoc_metrics_latency_buckets[];
extern const size_t xoc_metrics_latency_nbuckets;

xoc_metrics_t *xoc_metrics_new(void);
void xoc_metrics_destroy(xoc_metrics_t **self_p);

/*  Declares a family. labels: comma-separated label names ("service,outcome"), NULL or ""
    for none. buckets: the upper bounds of a histogram, increasing, without +Inf (copied).
    Declaring a name again returns the existing family when kind and labels match, NULL
    otherwise.                                                                             */
xoc_metrics_family_t *xoc_metrics_family(xoc_metrics_t *self, xoc_metrics_kind_t kind,
                                         const char *name, const char *help, const char *labels,
                                         const double *buckets, size_t nbuckets);

/*  The series of a family for these label values (as many as the family has labels),
    created at the first call. NULL when f is NULL or without memory.                      */
xoc_metrics_series_t *xoc_metrics_with(xoc_metrics_family_t *f, ...);
xoc_metrics_series_t *xoc_metrics_with_v(xoc_metrics_family_t *f, const char *const *values);

/*  Shorthands: a family without labels and its one series.                                */
xoc_metrics_series_t *xoc_metrics_counter(xoc_metrics_t *self, const char *name, const char *help);
xoc_metrics_series_t *xoc_metrics_gauge(xoc_metrics_t *self, const char *name, const char *help);
xoc_metrics_series_t *xoc_metrics_histogram(xoc_metrics_t *self, const char *name, const char *help,
                                            const double *buckets, size_t nbuckets);

/*  Updates. Counters only grow (add ignores negative and NaN values).                     */
void xoc_metrics_inc(xoc_metrics_series_t *s);
void xoc_metrics_add(xoc_metrics_series_t *s, double v);
void xoc_metrics_set(xoc_metrics_series_t *s, double v);
void xoc_metrics_observe(xoc_metrics_series_t *s, double v);

/*  Value of a counter or gauge; a histogram's count. 0 for NULL.                          */
double xoc_metrics_get(const xoc_metrics_series_t *s);

/*  Hides a series from the output (e.g. a pool that was removed); finding it again with
    xoc_metrics_with shows it again. Memory is kept until the registry is destroyed.       */
void xoc_metrics_hide(xoc_metrics_series_t *s);

/*  Called at the start of each rendering, on the rendering thread: it may only set metrics
    from values that are safe to read from that thread (the process's own figures).        */
typedef void(xoc_metrics_hook_fn)(xoc_metrics_t *reg, void *arg);
int xoc_metrics_on_render(xoc_metrics_t *self, xoc_metrics_hook_fn *fn, void *arg);

/*  The exposition text (NUL-terminated, *len without the NUL), to free. NULL without
    memory.                                                                                */
char *xoc_metrics_render(xoc_metrics_t *self, size_t *len);

/*  The process metrics every service has: process_start_time_seconds, xoc_uptime_seconds,
    process_resident_memory_bytes, process_virtual_memory_bytes, process_cpu_seconds_total,
    process_open_fds, process_threads (read from /proc at each rendering).                 */
int xoc_metrics_add_process(xoc_metrics_t *self);

#endif
