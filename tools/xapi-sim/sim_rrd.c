#include "sim_rrd.h"

#include "sim_buf.h"

#include <math.h>
#include <string.h>
#include <time.h>

typedef struct {
    char legend[160];
    uint32_t seed;
    double base, amp;
} s_col_t;

static uint32_t s_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static void s_add(s_col_t **cols, size_t *n, const char *cf, const char *kind, const char *uuid,
                  const char *ds, double base, double amp)
{
    *cols = realloc(*cols, (*n + 1) * sizeof **cols);
    s_col_t *c = &(*cols)[(*n)++];
    snprintf(c->legend, sizeof c->legend, "%s:%s:%s:%s", cf, kind, uuid, ds);
    c->seed = s_hash(c->legend);
    c->base = base;
    c->amp = amp;
}

static double s_value(const s_col_t *c, int64_t t)
{
    double phase = (double)(c->seed % 1000) / 1000.0 * 6.28318;
    return c->base + c->amp * (0.5 + 0.5 * sin(phase + (double)t / 600.0));
}

static void s_vm_cols(sim_pool_t *p, const sim_host_t *host, const char *cf, const char *only,
                      s_col_t **cols, size_t *n)
{
    sim_obj_t *h = sim_store_get(p->store, host->ref);
    json_t *hr = h ? sim_store_json(h) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(hr, "resident_VMs"), i, e)
    {
        sim_obj_t *vm = sim_store_get(p->store, json_string_value(e));
        if (!vm || (only && strcmp(only, vm->uuid)))
            continue;
        s_add(cols, n, cf, "vm", vm->uuid, "cpu0", 0.02, 0.3);
        s_add(cols, n, cf, "vm", vm->uuid, "cpu1", 0.02, 0.3);
        s_add(cols, n, cf, "vm", vm->uuid, "memory", 2147483648.0, 0.0);
        s_add(cols, n, cf, "vm", vm->uuid, "memory_internal_free", 524288.0, 786432.0);
        s_add(cols, n, cf, "vm", vm->uuid, "vif_0_rx", 100.0, 50000.0);
        s_add(cols, n, cf, "vm", vm->uuid, "vif_0_tx", 100.0, 30000.0);
        s_add(cols, n, cf, "vm", vm->uuid, "vbd_xvda_read", 0.0, 2e6);
        s_add(cols, n, cf, "vm", vm->uuid, "vbd_xvda_write", 0.0, 1e6);
    }
    json_decref(hr);
}

static void s_write_xml(sim_buf_t *b, const s_col_t *cols, size_t n, int64_t start, int64_t end,
                        int step, int rows)
{
    sim_buf_printf(b,
                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xport><meta><start>%lld</start>"
                   "<step>%d</step><end>%lld</end><rows>%d</rows><columns>%zu</columns>"
                   "<legend>",
                   (long long)start, step, (long long)end, rows, n);
    for (size_t i = 0; i < n; i++)
        sim_buf_printf(b, "<entry>%s</entry>", cols[i].legend);
    sim_buf_adds(b, "</legend></meta><data>");
    for (int r = 0; r < rows; r++) {
        int64_t t = end - (int64_t)r * step;
        sim_buf_printf(b, "<row><t>%lld</t>", (long long)t);
        for (size_t i = 0; i < n; i++)
            sim_buf_printf(b, "<v>%.4f</v>", s_value(&cols[i], t));
        sim_buf_adds(b, "</row>");
    }
    sim_buf_adds(b, "</data></xport>");
}

static void s_write_json(sim_buf_t *b, const s_col_t *cols, size_t n, int64_t start, int64_t end,
                         int step, int rows)
{
    sim_buf_printf(b,
                   "{\"meta\":{\"start\":%lld,\"step\":%d,\"end\":%lld,\"rows\":%d,"
                   "\"columns\":%zu,\"legend\":[",
                   (long long)start, step, (long long)end, rows, n);
    for (size_t i = 0; i < n; i++)
        sim_buf_printf(b, "%s\"%s\"", i ? "," : "", cols[i].legend);
    sim_buf_adds(b, "]},\"data\":[");
    for (int r = 0; r < rows; r++) {
        int64_t t = end - (int64_t)r * step;
        sim_buf_printf(b, "%s{\"t\":%lld,\"values\":[", r ? "," : "", (long long)t);
        for (size_t i = 0; i < n; i++)
            sim_buf_printf(b, "%s%.4f", i ? "," : "", s_value(&cols[i], t));
        sim_buf_adds(b, "]}");
    }
    sim_buf_adds(b, "]}");
}

char *sim_rrd_updates(sim_pool_t *p, const sim_host_t *host, int64_t start, int step,
                      const char *cf, bool with_host, const char *vm_uuid, bool json, size_t *len)
{
    if (step != 5 && step != 60 && step != 3600 && step != 86400)
        step = 5;
    int64_t now = (int64_t)time(NULL) / step * step;
    if (start <= 0 || start > now)
        start = now - 10L * step;
    int rows = (int)((now - start) / step);
    if (rows < 1)
        rows = 1;
    if (rows > 120)
        rows = 120;
    s_col_t *cols = NULL;
    size_t n = 0;
    sim_store_lock(p->store);
    sim_obj_t *h = sim_store_get(p->store, host->ref);
    if (with_host && h) {
        for (int c = 0; c < 4; c++) {
            char ds[16];
            snprintf(ds, sizeof ds, "cpu%d", c);
            s_add(&cols, &n, cf, "host", h->uuid, ds, 0.01, 0.4);
        }
        s_add(&cols, &n, cf, "host", h->uuid, "cpu_avg", 0.01, 0.4);
        s_add(&cols, &n, cf, "host", h->uuid, "loadavg", 0.1, 2.0);
        s_add(&cols, &n, cf, "host", h->uuid, "memory_total_kib", 268435456.0, 0.0);
        s_add(&cols, &n, cf, "host", h->uuid, "memory_free_kib", 180000000.0, 40000000.0);
        s_add(&cols, &n, cf, "host", h->uuid, "pif_eth0_rx", 1000.0, 5e6);
        s_add(&cols, &n, cf, "host", h->uuid, "pif_eth0_tx", 1000.0, 3e6);
    }
    s_vm_cols(p, host, cf, vm_uuid, &cols, &n);
    sim_store_unlock(p->store);
    sim_buf_t b;
    sim_buf_init(&b, 4096 + n * (size_t)rows * 12);
    if (json)
        s_write_json(&b, cols, n, start, now, step, rows);
    else
        s_write_xml(&b, cols, n, start, now, step, rows);
    free(cols);
    return sim_buf_take(&b, len);
}
