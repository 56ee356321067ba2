/*  xoc_metrics — registry and text exposition. See xoc_metrics.h.                         */
#include "xoc_metrics.h"

#include <assert.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "xoc_err.h"

#define S_VALUE_MAX 200 /* bytes of a label value kept */
#define S_HOOKS_MAX 8
#define S_INDEX 256 /* hash buckets of a labelled family's series */

const double xoc_metrics_latency_buckets[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
const size_t xoc_metrics_latency_nbuckets =
    sizeof xoc_metrics_latency_buckets / sizeof xoc_metrics_latency_buckets[0];

struct _xoc_metrics_series_t {
    _Atomic(xoc_metrics_series_t *) next;  /* all series, in creation order */
    _Atomic(xoc_metrics_series_t *) chain; /* the next in its hash bucket */
    xoc_metrics_family_t *family;
    uint64_t hash;
    char *values[XOC_METRICS_LABELS_MAX];
    atomic_bool hidden;
    _Atomic uint64_t value;    /* counter, gauge: bits of a double; histogram: bits of the sum */
    _Atomic uint64_t counts[]; /* histogram: nbuckets + 1 (the last: above every bound) */
};

struct _xoc_metrics_family_t {
    xoc_metrics_t *reg;
    xoc_metrics_kind_t kind;
    char *name;
    char *help;
    int nlabels;
    char *labels[XOC_METRICS_LABELS_MAX];
    double buckets[XOC_METRICS_BUCKETS_MAX];
    char les[XOC_METRICS_BUCKETS_MAX][32]; /* the bounds as rendered */
    size_t nbuckets;
    _Atomic(xoc_metrics_series_t *) head;
    _Atomic(xoc_metrics_series_t *) *index; /* S_INDEX buckets; labelled families only */
    xoc_metrics_series_t *tail;             /* under the registry's lock */
    size_t count;                           /* series, under the lock */
    xoc_metrics_series_t *other;            /* the overflow series */
};

typedef struct {
    xoc_metrics_series_t *start, *uptime, *rss, *vsize, *cpu, *fds, *threads;
    double started;
} s_process_t;

struct _xoc_metrics_t {
    pthread_mutex_t lock;
    s_process_t *process; /* xoc_metrics_add_process */
    xoc_metrics_family_t **families;
    size_t nfamilies, cap;
    struct {
        xoc_metrics_hook_fn *fn;
        void *arg;
    } hooks[S_HOOKS_MAX];
    int nhooks;
};

/* ---- doubles in atomics --------------------------------------------------------------- */

static uint64_t s_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double s_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static void s_atomic_add(_Atomic uint64_t *cell, double v)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(cell, &old, s_bits(s_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- names ------------------------------------------------------------------------------ */

static bool s_name_ok(const char *name, bool label)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alpha =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
        if (!alpha && !(p > name && c >= '0' && c <= '9'))
            return false;
    }
    return !label || (strncmp(name, "__", 2) != 0 && strcmp(name, "le") != 0);
}

/* splits "a,b" into family->labels; false on a bad name or too many */
static bool s_parse_labels(xoc_metrics_family_t *f, const char *labels)
{
    if (!labels || !*labels)
        return true;
    const char *p = labels;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (f->nlabels == XOC_METRICS_LABELS_MAX)
            return false;
        char *name = strndup(p, n);
        f->labels[f->nlabels++] = name;
        if (!name || !s_name_ok(name, true))
            return false;
        p += n + (comma ? 1 : 0);
    }
    return true;
}

static char *s_clean(const char *v, size_t max);
static void s_fmt_double(char *buf, size_t size, double v);

/* ---- registry ----------------------------------------------------------------------------- */

xoc_metrics_t *xoc_metrics_new(void)
{
    xoc_metrics_t *self = calloc(1, sizeof *self);
    if (self)
        pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void s_series_free(xoc_metrics_series_t *s)
{
    for (int i = 0; i < XOC_METRICS_LABELS_MAX; i++)
        free(s->values[i]);
    free(s);
}

static void s_family_free(xoc_metrics_family_t *f)
{
    if (!f)
        return;
    xoc_metrics_series_t *s = atomic_load(&f->head);
    while (s) {
        xoc_metrics_series_t *next = atomic_load(&s->next);
        s_series_free(s);
        s = next;
    }
    if (f->other)
        s_series_free(f->other);
    for (int i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->index);
    free(f->name);
    free(f->help);
    free(f);
}

void xoc_metrics_destroy(xoc_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_metrics_t *self = *self_p;
    for (size_t i = 0; i < self->nfamilies; i++)
        s_family_free(self->families[i]);
    free(self->families);
    free(self->process);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static bool s_same_shape(const xoc_metrics_family_t *a, const xoc_metrics_family_t *b)
{
    if (a->kind != b->kind || a->nlabels != b->nlabels)
        return false;
    for (int i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i], b->labels[i]) != 0)
            return false;
    return true;
}

/* the existing family of that name, or adds f; returns what the caller gets */
static xoc_metrics_family_t *s_register(xoc_metrics_t *self, xoc_metrics_family_t *f)
{
    xoc_metrics_family_t *out = f;
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->nfamilies; i++)
        if (strcmp(self->families[i]->name, f->name) == 0) {
            out = s_same_shape(self->families[i], f) ? self->families[i] : NULL;
            s_family_free(f);
            goto done;
        }
    if (self->nfamilies == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 32;
        xoc_metrics_family_t **grown = realloc(self->families, cap * sizeof *grown);
        if (!grown) {
            s_family_free(f);
            out = NULL;
            goto done;
        }
        self->families = grown;
        self->cap = cap;
    }
    self->families[self->nfamilies++] = f;
done:
    pthread_mutex_unlock(&self->lock);
    return out;
}

xoc_metrics_family_t *xoc_metrics_family(xoc_metrics_t *self, xoc_metrics_kind_t kind,
                                         const char *name, const char *help, const char *labels,
                                         const double *buckets, size_t nbuckets)
{
    if (!self)
        return NULL;
    bool ok = s_name_ok(name, false) && nbuckets <= XOC_METRICS_BUCKETS_MAX &&
              (kind != XOC_METRICS_HISTOGRAM || nbuckets > 0);
    for (size_t i = 1; ok && i < nbuckets; i++)
        ok = buckets[i] > buckets[i - 1];
    for (size_t i = 0; ok && i < nbuckets; i++)
        ok = isfinite(buckets[i]);
    xoc_metrics_family_t *f = ok ? calloc(1, sizeof *f) : NULL;
    if (f) {
        f->reg = self;
        f->kind = kind;
        f->name = strdup(name);
        f->help = s_clean(help ? help : "", 4096);
        if (kind == XOC_METRICS_HISTOGRAM) {
            memcpy(f->buckets, buckets, nbuckets * sizeof *buckets);
            f->nbuckets = nbuckets;
            for (size_t i = 0; i < nbuckets; i++)
                s_fmt_double(f->les[i], sizeof f->les[i], buckets[i]);
        }
        ok = f->name && f->help && s_parse_labels(f, labels);
        if (ok && f->nlabels > 0)
            ok = (f->index = calloc(S_INDEX, sizeof *f->index)) != NULL;
    }
    assert(ok && "bad metric declaration");
    if (!ok) {
        s_family_free(f);
        return NULL;
    }
    return s_register(self, f);
}

/* ---- series ------------------------------------------------------------------------------- */

static uint64_t s_hash(const char *const *values, int n)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++)
            h = (h ^ *p) * 1099511628211ull;
        h = (h ^ 0xff) * 1099511628211ull; /* separator: ("ab","") != ("a","b") */
    }
    return h;
}

/* a copy of a text: cut at max bytes, invalid UTF-8 bytes replaced by '?' */
static char *s_clean(const char *v, size_t max)
{
    size_t n = strnlen(v, max);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)v;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok && len == 2)
            ok = c >= 0xc2; /* no overlong forms */
        if (ok && len == 3)
            ok = !(c == 0xe0 && p[i + 1] < 0xa0) && !(c == 0xed && p[i + 1] >= 0xa0);
        if (ok && len == 4)
            ok = c <= 0xf4 && !(c == 0xf0 && p[i + 1] < 0x90) && !(c == 0xf4 && p[i + 1] >= 0x90);
        if (!ok) {
            out[i++] = '?';
            continue;
        }
        memcpy(out + i, p + i, len);
        i += len;
    }
    out[n] = '\0';
    return out;
}

/* a value that is not short ASCII is cleaned before use */
static bool s_needs_copy(const char *v)
{
    size_t i = 0;
    for (; v[i] && i <= S_VALUE_MAX; i++)
        if ((unsigned char)v[i] >= 0x80)
            return true;
    return i > S_VALUE_MAX;
}

static char *s_value_copy(const char *v)
{
    return s_clean(v, S_VALUE_MAX);
}

static xoc_metrics_series_t *s_series_new(xoc_metrics_family_t *f, const char *const *values,
                                          uint64_t hash)
{
    size_t ncounts = f->kind == XOC_METRICS_HISTOGRAM ? f->nbuckets + 1 : 0;
    xoc_metrics_series_t *s = calloc(1, sizeof *s + ncounts * sizeof(_Atomic uint64_t));
    if (!s)
        return NULL;
    s->family = f;
    s->hash = hash;
    for (int i = 0; i < f->nlabels; i++)
        if (!(s->values[i] = s_value_copy(values[i]))) {
            s_series_free(s);
            return NULL;
        }
    return s;
}

static xoc_metrics_series_t *s_find(xoc_metrics_family_t *f, const char *const *values,
                                    uint64_t hash)
{
    bool indexed = f->index != NULL;
    for (xoc_metrics_series_t *s = atomic_load_explicit(
             indexed ? &f->index[hash % S_INDEX] : &f->head, memory_order_acquire);
         s; s = atomic_load_explicit(indexed ? &s->chain : &s->next, memory_order_acquire)) {
        if (s->hash != hash)
            continue;
        int i = 0;
        while (i < f->nlabels && strncmp(s->values[i], values[i], S_VALUE_MAX) == 0)
            i++;
        if (i == f->nlabels)
            return s;
    }
    return NULL;
}

/* under the lock: the overflow series of a full family */
static xoc_metrics_series_t *s_other(xoc_metrics_family_t *f)
{
    if (!f->other) {
        const char *others[XOC_METRICS_LABELS_MAX] = {"_other", "_other", "_other", "_other"};
        f->other = s_series_new(f, others, 0);
    }
    return f->other;
}

xoc_metrics_series_t *xoc_metrics_with_v(xoc_metrics_family_t *f, const char *const *values)
{
    if (!f)
        return NULL;
    /* lookups use the values as they are stored: cut and with valid UTF-8 */
    const char *safe[XOC_METRICS_LABELS_MAX];
    char *cleaned[XOC_METRICS_LABELS_MAX] = {NULL};
    xoc_metrics_series_t *s = NULL;
    for (int i = 0; i < f->nlabels; i++) {
        safe[i] = values && values[i] ? values[i] : "";
        if (s_needs_copy(safe[i]) && !(safe[i] = cleaned[i] = s_value_copy(safe[i])))
            goto done;
    }
    uint64_t hash = s_hash(safe, f->nlabels);
    s = s_find(f, safe, hash);
    if (s) {
        if (atomic_load_explicit(&s->hidden, memory_order_relaxed))
            atomic_store(&s->hidden, false);
        goto done;
    }
    pthread_mutex_lock(&f->reg->lock);
    s = s_find(f, safe, hash); /* created meanwhile by another thread? */
    if (!s && f->count >= XOC_METRICS_SERIES_MAX)
        s = s_other(f);
    else if (!s && (s = s_series_new(f, safe, hash))) {
        if (f->tail)
            atomic_store_explicit(&f->tail->next, s, memory_order_release);
        else
            atomic_store_explicit(&f->head, s, memory_order_release);
        f->tail = s;
        f->count++;
        if (f->index) {
            _Atomic(xoc_metrics_series_t *) *bucket = &f->index[hash % S_INDEX];
            atomic_store_explicit(&s->chain, atomic_load(bucket), memory_order_relaxed);
            atomic_store_explicit(bucket, s, memory_order_release);
        }
    }
    pthread_mutex_unlock(&f->reg->lock);
done:
    for (int i = 0; i < f->nlabels; i++)
        free(cleaned[i]);
    return s;
}

xoc_metrics_series_t *xoc_metrics_with(xoc_metrics_family_t *f, ...)
{
    if (!f)
        return NULL;
    const char *values[XOC_METRICS_LABELS_MAX];
    va_list ap;
    va_start(ap, f);
    for (int i = 0; i < f->nlabels; i++)
        values[i] = va_arg(ap, const char *);
    va_end(ap);
    return xoc_metrics_with_v(f, values);
}

static xoc_metrics_series_t *s_single(xoc_metrics_t *self, xoc_metrics_kind_t kind,
                                      const char *name, const char *help, const double *buckets,
                                      size_t nbuckets)
{
    return xoc_metrics_with_v(xoc_metrics_family(self, kind, name, help, NULL, buckets, nbuckets),
                              NULL);
}

xoc_metrics_series_t *xoc_metrics_counter(xoc_metrics_t *self, const char *name, const char *help)
{
    return s_single(self, XOC_METRICS_COUNTER, name, help, NULL, 0);
}

xoc_metrics_series_t *xoc_metrics_gauge(xoc_metrics_t *self, const char *name, const char *help)
{
    return s_single(self, XOC_METRICS_GAUGE, name, help, NULL, 0);
}

xoc_metrics_series_t *xoc_metrics_histogram(xoc_metrics_t *self, const char *name, const char *help,
                                            const double *buckets, size_t nbuckets)
{
    return s_single(self, XOC_METRICS_HISTOGRAM, name, help, buckets, nbuckets);
}

/* ---- updates -------------------------------------------------------------------------------- */

void xoc_metrics_inc(xoc_metrics_series_t *s)
{
    xoc_metrics_add(s, 1);
}

void xoc_metrics_add(xoc_metrics_series_t *s, double v)
{
    if (!s || s->family->kind == XOC_METRICS_HISTOGRAM || isnan(v))
        return;
    if (s->family->kind == XOC_METRICS_COUNTER && v < 0)
        return;
    s_atomic_add(&s->value, v);
}

void xoc_metrics_set(xoc_metrics_series_t *s, double v)
{
    if (s && s->family->kind != XOC_METRICS_HISTOGRAM)
        atomic_store_explicit(&s->value, s_bits(v), memory_order_relaxed);
}

void xoc_metrics_observe(xoc_metrics_series_t *s, double v)
{
    if (!s || s->family->kind != XOC_METRICS_HISTOGRAM || isnan(v))
        return;
    const xoc_metrics_family_t *f = s->family;
    size_t i = 0;
    while (i < f->nbuckets && v > f->buckets[i])
        i++;
    atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
    s_atomic_add(&s->value, v);
}

double xoc_metrics_get(const xoc_metrics_series_t *s)
{
    if (!s)
        return 0;
    if (s->family->kind != XOC_METRICS_HISTOGRAM)
        return s_double(atomic_load_explicit(&s->value, memory_order_relaxed));
    uint64_t n = 0;
    for (size_t i = 0; i <= s->family->nbuckets; i++)
        n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    return (double)n;
}

void xoc_metrics_hide(xoc_metrics_series_t *s)
{
    if (s)
        atomic_store(&s->hidden, true);
}

int xoc_metrics_on_render(xoc_metrics_t *self, xoc_metrics_hook_fn *fn, void *arg)
{
    pthread_mutex_lock(&self->lock);
    int rc = XOC_ETOOBIG;
    if (self->nhooks < S_HOOKS_MAX) {
        self->hooks[self->nhooks].fn = fn;
        self->hooks[self->nhooks++].arg = arg;
        rc = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return rc;
}

/* ---- rendering ------------------------------------------------------------------------------- */

/* the text being built (stdio's FILE costs a lock per character) */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed;
} s_out_t;

static void s_put(s_out_t *o, const char *text, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 16384;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *grown = realloc(o->data, cap);
        if (!grown) {
            o->failed = true;
            return;
        }
        o->data = grown;
        o->cap = cap;
    }
    memcpy(o->data + o->len, text, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static void s_puts(s_out_t *o, const char *text)
{
    s_put(o, text, strlen(text));
}

static void s_put_u64(s_out_t *o, uint64_t v)
{
    char buf[24], *p = buf + sizeof buf;
    do
        *--p = (char)('0' + v % 10);
    while ((v /= 10));
    s_put(o, p, (size_t)(buf + sizeof buf - p));
}

/* Go's ParseFloat syntax: NaN, +Inf, -Inf, or the shortest decimal that reads back the same */
static void s_fmt_double(char *buf, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return;
    }
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void s_put_double(s_out_t *o, double v)
{
    if (v >= 0 && v < 1e15 && v == floor(v)) {
        s_put_u64(o, (uint64_t)v);
        return;
    }
    char num[40];
    s_fmt_double(num, sizeof num, v);
    s_puts(o, num);
}

/* text with \ and newline escaped (HELP), and " too (label values) */
static void s_escaped(s_out_t *o, const char *text, bool quote)
{
    const char *run = text;
    for (const char *p = text;; p++) {
        const char *esc = *p == '\\'           ? "\\\\"
                          : *p == '\n'         ? "\\n"
                          : quote && *p == '"' ? "\\\""
                                               : NULL;
        if (!esc && *p)
            continue;
        s_put(o, run, (size_t)(p - run));
        if (!*p)
            return;
        s_put(o, esc, 2);
        run = p + 1;
    }
}

/* name{l1="v1",...[,le="x"]} */
static void s_sample_name(s_out_t *o, const xoc_metrics_family_t *f, const char *suffix,
                          const xoc_metrics_series_t *s, const char *le)
{
    s_puts(o, f->name);
    s_puts(o, suffix);
    if (f->nlabels == 0 && !le)
        return;
    s_put(o, "{", 1);
    for (int i = 0; i < f->nlabels; i++) {
        if (i)
            s_put(o, ",", 1);
        s_puts(o, f->labels[i]);
        s_put(o, "=\"", 2);
        s_escaped(o, s->values[i], true);
        s_put(o, "\"", 1);
    }
    if (le) {
        s_puts(o, f->nlabels ? ",le=\"" : "le=\"");
        s_puts(o, le);
        s_put(o, "\"", 1);
    }
    s_put(o, "}", 1);
}

static void s_render_histogram(s_out_t *o, const xoc_metrics_family_t *f,
                               const xoc_metrics_series_t *s)
{
    /* _count is the sum of the buckets read here: +Inf and _count always agree */
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbuckets; i++) {
        cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        s_sample_name(o, f, "_bucket", s, i < f->nbuckets ? f->les[i] : "+Inf");
        s_put(o, " ", 1);
        s_put_u64(o, cum);
        s_put(o, "\n", 1);
    }
    s_sample_name(o, f, "_sum", s, NULL);
    s_put(o, " ", 1);
    s_put_double(o, s_double(atomic_load_explicit(&s->value, memory_order_relaxed)));
    s_put(o, "\n", 1);
    s_sample_name(o, f, "_count", s, NULL);
    s_put(o, " ", 1);
    s_put_u64(o, cum);
    s_put(o, "\n", 1);
}

static void s_render_series(s_out_t *o, const xoc_metrics_family_t *f,
                            const xoc_metrics_series_t *s)
{
    if (atomic_load_explicit(&s->hidden, memory_order_relaxed))
        return;
    if (f->kind == XOC_METRICS_HISTOGRAM) {
        s_render_histogram(o, f, s);
        return;
    }
    s_sample_name(o, f, "", s, NULL);
    s_put(o, " ", 1);
    s_put_double(o, s_double(atomic_load_explicit(&s->value, memory_order_relaxed)));
    s_put(o, "\n", 1);
}

static void s_render_family(s_out_t *o, const xoc_metrics_family_t *f)
{
    static const char *const types[] = {" counter\n", " gauge\n", " histogram\n"};
    s_puts(o, "# HELP ");
    s_puts(o, f->name);
    s_put(o, " ", 1);
    s_escaped(o, f->help, false);
    s_puts(o, "\n# TYPE ");
    s_puts(o, f->name);
    s_puts(o, types[f->kind]);
    for (const xoc_metrics_series_t *s = atomic_load_explicit(&f->head, memory_order_acquire); s;
         s = atomic_load_explicit(&s->next, memory_order_acquire))
        s_render_series(o, f, s);
    if (f->other)
        s_render_series(o, f, f->other);
}

char *xoc_metrics_render(xoc_metrics_t *self, size_t *len)
{
    pthread_mutex_lock(&self->lock);
    int nhooks = self->nhooks;
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < nhooks; i++)
        self->hooks[i].fn(self, self->hooks[i].arg);
    s_out_t o = {NULL, 0, 0, false};
    s_put(&o, "", 0); /* an empty registry is "" */
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->nfamilies; i++)
        s_render_family(&o, self->families[i]);
    pthread_mutex_unlock(&self->lock);
    if (o.failed) {
        free(o.data);
        return NULL;
    }
    if (len)
        *len = o.len;
    return o.data;
}

/* ---- process metrics ------------------------------------------------------------------------- */

static double s_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_process_hook(xoc_metrics_t *reg, void *arg)
{
    s_process_t *p = arg;
    xoc_metrics_set(p->uptime, s_wall_now() - p->started);
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long vpages = 0, rpages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &vpages, &rpages) == 2) {
            xoc_metrics_set(p->vsize, (double)vpages * (double)page);
            xoc_metrics_set(p->rss, (double)rpages * (double)page);
        }
        fclose(f);
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
                     ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
        xoc_metrics_set(p->cpu, cpu);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        xoc_metrics_set(p->fds, n - 1); /* not the one opendir holds */
    }
    d = opendir("/proc/self/task");
    if (d) {
        int n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        xoc_metrics_set(p->threads, n);
    }
}

int xoc_metrics_add_process(xoc_metrics_t *self)
{
    if (self->process)
        return 0;
    s_process_t *p = calloc(1, sizeof *p);
    if (!p)
        return XOC_ENOMEM;
    self->process = p;
    p->started = s_wall_now();
    p->start = xoc_metrics_gauge(self, "process_start_time_seconds",
                                 "start time of the process since the Unix epoch, in seconds");
    p->uptime = xoc_metrics_gauge(self, "xoc_uptime_seconds", "seconds since the start");
    p->rss = xoc_metrics_gauge(self, "process_resident_memory_bytes", "resident memory size");
    p->vsize = xoc_metrics_gauge(self, "process_virtual_memory_bytes", "virtual memory size");
    p->cpu = xoc_metrics_counter(self, "process_cpu_seconds_total",
                                 "user and system CPU time spent, in seconds");
    p->fds = xoc_metrics_gauge(self, "process_open_fds", "open file descriptors");
    p->threads = xoc_metrics_gauge(self, "process_threads", "threads of the process");
    if (!p->start || !p->uptime || !p->rss || !p->vsize || !p->cpu || !p->fds || !p->threads)
        return XOC_ENOMEM;
    xoc_metrics_set(p->start, p->started);
    return xoc_metrics_on_render(self, s_process_hook, p);
}
