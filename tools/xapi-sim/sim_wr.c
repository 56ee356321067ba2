#include "sim_wr.h"

#include <math.h>
#include <string.h>

void sim_wr_init(sim_wr_t *w, sim_wr_mode_t mode, sim_buf_t *buf)
{
    memset(w, 0, sizeof *w);
    w->mode = mode;
    w->buf = buf;
    w->first[0] = true;
}

/*  Before any value: JSON separator; XML opening <value>.                                    */
static void s_pre(sim_wr_t *w)
{
    if (w->mode == SIM_WR_JSON) {
        if (!w->first[w->depth])
            sim_buf_addc(w->buf, ',');
        w->first[w->depth] = false;
    } else {
        sim_buf_add(w->buf, "<value>", 7);
    }
}

static void s_post(sim_wr_t *w)
{
    if (w->mode == SIM_WR_XML) {
        sim_buf_add(w->buf, "</value>", 8);
        if (w->in_map[w->depth]) {
            sim_buf_add(w->buf, "</member>", 9);
            w->in_map[w->depth] = false;
        }
    }
}

void sim_wr_strn(sim_wr_t *w, const char *s, size_t n)
{
    s_pre(w);
    if (w->mode == SIM_WR_JSON) {
        sim_buf_addc(w->buf, '"');
        sim_buf_json_esc(w->buf, s, n);
        sim_buf_addc(w->buf, '"');
    } else {
        sim_buf_xml_esc(w->buf, s, n);
    }
    s_post(w);
}

void sim_wr_str(sim_wr_t *w, const char *s)
{
    sim_wr_strn(w, s, strlen(s));
}

/*  Appends v in decimal (what "%" PRId64 gives, without printf's parsing).                 */
static void s_dec(sim_buf_t *b, int64_t v)
{
    char tmp[24];
    size_t n = sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--n] = '-';
    sim_buf_add(b, tmp + n, sizeof tmp - n);
}

void sim_wr_int(sim_wr_t *w, int64_t v)
{
    s_pre(w);
    s_dec(w->buf, v);
    s_post(w);
}

void sim_wr_i4(sim_wr_t *w, int64_t v)
{
    s_pre(w);
    if (w->mode == SIM_WR_XML) {
        sim_buf_add(w->buf, "<i4>", 4);
        s_dec(w->buf, v);
        sim_buf_add(w->buf, "</i4>", 5);
    } else {
        s_dec(w->buf, v);
    }
    s_post(w);
}

void sim_wr_float(sim_wr_t *w, double v)
{
    if (!isfinite(v))
        v = 0.0;
    s_pre(w);
    if (w->mode == SIM_WR_XML)
        sim_buf_printf(w->buf, "<double>%.17g</double>", v);
    else if (v == floor(v) && fabs(v) < 1e15)
        sim_buf_printf(w->buf, "%.1f", v);
    else
        sim_buf_printf(w->buf, "%.17g", v);
    s_post(w);
}

void sim_wr_bool(sim_wr_t *w, bool v)
{
    s_pre(w);
    if (w->mode == SIM_WR_XML)
        sim_buf_adds(w->buf, v ? "<boolean>1</boolean>" : "<boolean>0</boolean>");
    else
        sim_buf_adds(w->buf, v ? "true" : "false");
    s_post(w);
}

void sim_wr_date(sim_wr_t *w, const char *s, size_t n)
{
    if (w->mode == SIM_WR_JSON) {
        sim_wr_strn(w, s, n);
        return;
    }
    s_pre(w);
    sim_buf_adds(w->buf, "<dateTime.iso8601>");
    sim_buf_xml_esc(w->buf, s, n);
    sim_buf_adds(w->buf, "</dateTime.iso8601>");
    s_post(w);
}

static void s_push(sim_wr_t *w)
{
    if (w->depth + 1 < SIM_WR_DEPTH)
        w->depth++;
    if (w->depth > w->max_depth)
        w->max_depth = w->depth;
    w->first[w->depth] = true;
    w->in_map[w->depth] = false;
}

void sim_wr_arr_begin(sim_wr_t *w)
{
    s_pre(w);
    sim_buf_adds(w->buf, w->mode == SIM_WR_XML ? "<array><data>" : "[");
    s_push(w);
}

void sim_wr_arr_end(sim_wr_t *w)
{
    if (w->depth > 0)
        w->depth--;
    sim_buf_adds(w->buf, w->mode == SIM_WR_XML ? "</data></array>" : "]");
    s_post(w);
}

void sim_wr_map_begin(sim_wr_t *w)
{
    s_pre(w);
    sim_buf_adds(w->buf, w->mode == SIM_WR_XML ? "<struct>" : "{");
    s_push(w);
}

void sim_wr_key(sim_wr_t *w, const char *k, size_t n)
{
    if (w->mode == SIM_WR_JSON) {
        if (!w->first[w->depth])
            sim_buf_addc(w->buf, ',');
        sim_buf_addc(w->buf, '"');
        sim_buf_json_esc(w->buf, k, n);
        sim_buf_add(w->buf, "\":", 2);
        w->first[w->depth] = true; /* the value that follows takes no comma */
        return;
    }
    sim_buf_add(w->buf, "<member><name>", 14);
    sim_buf_xml_esc(w->buf, k, n);
    sim_buf_add(w->buf, "</name>", 7);
    w->in_map[w->depth] = true;
}

void sim_wr_map_end(sim_wr_t *w)
{
    if (w->depth > 0)
        w->depth--;
    sim_buf_adds(w->buf, w->mode == SIM_WR_XML ? "</struct>" : "}");
    s_post(w);
}

void sim_wr_json(sim_wr_t *w, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        sim_wr_strn(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        sim_wr_int(w, json_integer_value(v));
        break;
    case JSON_REAL:
        sim_wr_float(w, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        sim_wr_bool(w, json_is_true(v));
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        sim_wr_arr_begin(w);
        json_array_foreach(v, i, e) sim_wr_json(w, e);
        sim_wr_arr_end(w);
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        sim_wr_map_begin(w);
        json_object_foreach((json_t *)v, k, e)
        {
            sim_wr_key(w, k, strlen(k));
            sim_wr_json(w, e);
        }
        sim_wr_map_end(w);
        break;
    }
    default:
        sim_wr_str(w, "");
        break;
    }
}

void sim_wr_raw(sim_wr_t *w, const char *s, size_t n)
{
    if (w->mode == SIM_WR_JSON) {
        s_pre(w);
        sim_buf_add(w->buf, s, n);
        return;
    }
    sim_buf_add(w->buf, s, n); /* its own <value>...</value> */
    if (w->in_map[w->depth]) {
        sim_buf_add(w->buf, "</member>", 9);
        w->in_map[w->depth] = false;
    }
}

void sim_wr_enter_map(sim_wr_t *w, bool first)
{
    w->depth = 1;
    if (w->max_depth < 1)
        w->max_depth = 1;
    w->first[1] = first;
    w->in_map[1] = false;
}
