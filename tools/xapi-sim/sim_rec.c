#include "sim_rec.h"

#include "sim_buf.h"

#include <stdlib.h>
#include <string.h>

enum { T_STR = 1, T_INT, T_FLT, T_TRUE, T_FALSE, T_DATE, T_ARR, T_MAP };

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} s_rd_t;

static void s_varint(sim_buf_t *b, uint64_t v)
{
    uint8_t tmp[10];
    int n = 0;
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        tmp[n++] = byte | (v ? 0x80 : 0);
    } while (v);
    sim_buf_add(b, tmp, (size_t)n);
}

static uint64_t s_get_varint(s_rd_t *r)
{
    uint64_t v = 0;
    int shift = 0;
    while (r->p < r->end && shift < 64) {
        uint8_t byte = *r->p++;
        v |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80))
            break;
        shift += 7;
    }
    return v;
}

/*  A set's or map's element bytes follow its count as 4 bytes (little-endian), so that a
    walk to a later field jumps over it instead of reading every element.                   */
static size_t s_size_begin(sim_buf_t *b)
{
    static const uint8_t zero[4];
    sim_buf_add(b, zero, 4);
    return b->len;
}

static void s_size_end(sim_buf_t *b, size_t at)
{
    uint32_t n = (uint32_t)(b->len - at);
    uint8_t *q = (uint8_t *)b->data + at - 4;
    q[0] = (uint8_t)n, q[1] = (uint8_t)(n >> 8), q[2] = (uint8_t)(n >> 16), q[3] = (uint8_t)(n >> 24);
}

/*  Reads the element size of a set or map (after its count).                                */
static uint64_t s_get_size(s_rd_t *r)
{
    if (r->end - r->p < 4) {
        r->p = r->end;
        return 0;
    }
    uint64_t n = (uint64_t)r->p[0] | (uint64_t)r->p[1] << 8 | (uint64_t)r->p[2] << 16 |
                 (uint64_t)r->p[3] << 24;
    r->p += 4;
    return n;
}

static void s_enc_str(sim_buf_t *b, int tag, const char *s, size_t n)
{
    sim_buf_addc(b, (char)tag);
    s_varint(b, n);
    sim_buf_add(b, s, n);
}

static void s_enc(sim_buf_t *b, const json_t *v, bool date)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        s_enc_str(b, date ? T_DATE : T_STR, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        int64_t i = json_integer_value(v);
        sim_buf_addc(b, T_INT);
        s_varint(b, ((uint64_t)i << 1) ^ (uint64_t)(i >> 63));
        break;
    }
    case JSON_REAL: {
        double d = json_real_value(v);
        sim_buf_addc(b, T_FLT);
        sim_buf_add(b, &d, sizeof d);
        break;
    }
    case JSON_TRUE:
        sim_buf_addc(b, T_TRUE);
        break;
    case JSON_FALSE:
        sim_buf_addc(b, T_FALSE);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        sim_buf_addc(b, T_ARR);
        s_varint(b, json_array_size(v));
        size_t at = s_size_begin(b);
        json_array_foreach(v, i, e) s_enc(b, e, false);
        s_size_end(b, at);
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        sim_buf_addc(b, T_MAP);
        s_varint(b, json_object_size(v));
        size_t at = s_size_begin(b);
        json_object_foreach((json_t *)v, k, e)
        {
            s_varint(b, strlen(k));
            sim_buf_adds(b, k);
            s_enc(b, e, false);
        }
        s_size_end(b, at);
        break;
    }
    default:
        s_enc_str(b, T_STR, "", 0);
        break;
    }
}

uint8_t *sim_rec_encode(const sim_class_t *c, const json_t *obj, size_t *len)
{
    sim_buf_t b;
    sim_buf_init(&b, 512);
    for (int i = 0; i < c->nfields; i++) {
        const sim_field_t *f = &c->fields[i];
        json_t *v = obj ? json_object_get(obj, f->name) : NULL;
        if (v) {
            s_enc(&b, v, f->type == 'd');
        } else {
            json_t *d = sim_schema_default(f);
            s_enc(&b, d, f->type == 'd');
            json_decref(d);
        }
    }
    return (uint8_t *)sim_buf_take(&b, len);
}

/*  Skips one value.                                                                          */
static void s_skip(s_rd_t *r)
{
    if (r->p >= r->end)
        return;
    int tag = *r->p++;
    uint64_t n;
    switch (tag) {
    case T_STR:
    case T_DATE:
        n = s_get_varint(r);
        r->p = n <= (uint64_t)(r->end - r->p) ? r->p + n : r->end;
        break;
    case T_INT:
        s_get_varint(r);
        break;
    case T_FLT:
        r->p = r->end - r->p >= 8 ? r->p + 8 : r->end;
        break;
    case T_ARR:
    case T_MAP:
        s_get_varint(r);
        n = s_get_size(r);
        r->p = n <= (uint64_t)(r->end - r->p) ? r->p + n : r->end;
        break;
    default:
        break;
    }
}

static json_t *s_dec(s_rd_t *r)
{
    if (r->p >= r->end)
        return json_string("");
    int tag = *r->p++;
    uint64_t n;
    switch (tag) {
    case T_STR:
    case T_DATE: {
        n = s_get_varint(r);
        if (n > (uint64_t)(r->end - r->p))
            n = (uint64_t)(r->end - r->p);
        json_t *s = json_stringn_nocheck((const char *)r->p, n);
        r->p += n;
        return s;
    }
    case T_INT: {
        uint64_t z = s_get_varint(r);
        return json_integer((int64_t)(z >> 1) ^ -(int64_t)(z & 1));
    }
    case T_FLT: {
        double d = 0;
        if (r->end - r->p >= 8)
            memcpy(&d, r->p, 8);
        r->p += 8;
        return json_real(d);
    }
    case T_TRUE:
        return json_true();
    case T_FALSE:
        return json_false();
    case T_ARR: {
        json_t *a = json_array();
        n = s_get_varint(r);
        s_get_size(r);
        for (uint64_t i = 0; i < n && r->p < r->end; i++)
            json_array_append_new(a, s_dec(r));
        return a;
    }
    case T_MAP: {
        json_t *m = json_object();
        n = s_get_varint(r);
        s_get_size(r);
        for (uint64_t i = 0; i < n && r->p < r->end; i++) {
            uint64_t kl = s_get_varint(r);
            if (kl > (uint64_t)(r->end - r->p))
                break;
            char *k = strndup((const char *)r->p, kl);
            r->p += kl;
            json_object_set_new(m, k, s_dec(r));
            free(k);
        }
        return m;
    }
    default:
        return json_string("");
    }
}

json_t *sim_rec_decode(const sim_class_t *c, const uint8_t *p, size_t len)
{
    s_rd_t r = {p, p + len};
    json_t *o = json_object();
    for (int i = 0; i < c->nfields; i++)
        json_object_set_new(o, c->fields[i].name, s_dec(&r));
    return o;
}

void sim_rec_fields(const sim_class_t *c, const uint8_t *p, size_t len, const int *idx, int n,
                    json_t **out)
{
    s_rd_t r = {p, p + len};
    int at = 0;
    for (int k = 0; k < n; k++) {
        out[k] = NULL;
        if (idx[k] < at || idx[k] >= c->nfields)
            continue;
        for (; at < idx[k]; at++)
            s_skip(&r);
        out[k] = s_dec(&r);
        at++;
    }
}

uint8_t *sim_rec_set_field(const sim_class_t *c, const uint8_t *p, size_t len, int idx,
                           const json_t *v, size_t *out_len)
{
    size_t at;
    return sim_rec_set_field_at(c, p, len, idx, v, out_len, &at);
}

uint8_t *sim_rec_set_field_at(const sim_class_t *c, const uint8_t *p, size_t len, int idx,
                              const json_t *v, size_t *out_len, size_t *at)
{
    if (idx < 0 || idx >= c->nfields || !v)
        return NULL;
    s_rd_t r = {p, p + len};
    for (int i = 0; i < idx; i++)
        s_skip(&r);
    const uint8_t *start = r.p;
    *at = (size_t)(start - p);
    s_skip(&r);
    sim_buf_t b;
    sim_buf_init(&b, len + 64);
    sim_buf_add(&b, p, (size_t)(start - p));
    s_enc(&b, v, c->fields[idx].type == 'd');
    sim_buf_add(&b, r.p, (size_t)(r.end - r.p));
    return (uint8_t *)sim_buf_take(&b, out_len);
}

json_t *sim_rec_field(const sim_class_t *c, const uint8_t *p, size_t len, int idx)
{
    if (idx < 0 || idx >= c->nfields)
        return NULL;
    s_rd_t r = {p, p + len};
    for (int i = 0; i < idx; i++)
        s_skip(&r);
    return s_dec(&r);
}

static void s_write(sim_wr_t *w, s_rd_t *r)
{
    if (r->p >= r->end) {
        sim_wr_str(w, "");
        return;
    }
    int tag = *r->p++;
    uint64_t n;
    switch (tag) {
    case T_STR:
    case T_DATE:
        n = s_get_varint(r);
        if (n > (uint64_t)(r->end - r->p))
            n = (uint64_t)(r->end - r->p);
        if (tag == T_DATE)
            sim_wr_date(w, (const char *)r->p, n);
        else
            sim_wr_strn(w, (const char *)r->p, n);
        r->p += n;
        break;
    case T_INT: {
        uint64_t z = s_get_varint(r);
        sim_wr_int(w, (int64_t)(z >> 1) ^ -(int64_t)(z & 1));
        break;
    }
    case T_FLT: {
        double d = 0;
        if (r->end - r->p >= 8)
            memcpy(&d, r->p, 8);
        r->p += 8;
        sim_wr_float(w, d);
        break;
    }
    case T_TRUE:
        sim_wr_bool(w, true);
        break;
    case T_FALSE:
        sim_wr_bool(w, false);
        break;
    case T_ARR:
        n = s_get_varint(r);
        s_get_size(r);
        sim_wr_arr_begin(w);
        for (uint64_t i = 0; i < n && r->p < r->end; i++)
            s_write(w, r);
        sim_wr_arr_end(w);
        break;
    case T_MAP:
        n = s_get_varint(r);
        s_get_size(r);
        sim_wr_map_begin(w);
        for (uint64_t i = 0; i < n && r->p < r->end; i++) {
            uint64_t kl = s_get_varint(r);
            if (kl > (uint64_t)(r->end - r->p))
                break;
            sim_wr_key(w, (const char *)r->p, kl);
            r->p += kl;
            s_write(w, r);
        }
        sim_wr_map_end(w);
        break;
    default:
        sim_wr_str(w, "");
        break;
    }
}

void sim_rec_write(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len)
{
    sim_rec_write_at(w, c, p, len, NULL);
}

void sim_rec_write_at(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len,
                      uint32_t *off)
{
    s_rd_t r = {p, p + len};
    sim_wr_map_begin(w);
    for (int i = 0; i < c->nfields; i++) {
        if (off)
            off[i] = (uint32_t)w->buf->len;
        sim_wr_key(w, c->fields[i].name, strlen(c->fields[i].name));
        s_write(w, &r);
    }
    if (off)
        off[c->nfields] = (uint32_t)w->buf->len;
    sim_wr_map_end(w);
}

void sim_rec_write_member(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len, int idx)
{
    s_rd_t r = {p, p + len};
    for (int i = 0; i < idx; i++)
        s_skip(&r);
    sim_rec_write_member_at(w, c, p, len, idx, (size_t)(r.p - p));
}

void sim_rec_write_member_at(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len,
                             int idx, size_t at)
{
    s_rd_t r = {p + (at < len ? at : len), p + len};
    sim_wr_key(w, c->fields[idx].name, strlen(c->fields[idx].name));
    s_write(w, &r);
}

const char *sim_rec_str(const sim_class_t *c, const uint8_t *p, size_t len, int idx, size_t *n)
{
    if (idx < 0 || idx >= c->nfields)
        return NULL;
    s_rd_t r = {p, p + len};
    for (int i = 0; i < idx; i++)
        s_skip(&r);
    if (r.p >= r.end || (*r.p != T_STR && *r.p != T_DATE))
        return NULL;
    r.p++;
    uint64_t l = s_get_varint(&r);
    if (l > (uint64_t)(r.end - r.p))
        return NULL;
    *n = (size_t)l;
    return (const char *)r.p;
}

void sim_rec_write_field(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len, int idx)
{
    s_rd_t r = {p, p + len};
    for (int i = 0; i < idx; i++)
        s_skip(&r);
    s_write(w, &r);
}

void sim_rec_write_json(sim_wr_t *w, const sim_class_t *c, const json_t *rec)
{
    sim_wr_map_begin(w);
    for (int i = 0; i < c->nfields; i++) {
        const sim_field_t *f = &c->fields[i];
        json_t *v = json_object_get(rec, f->name);
        json_t *d = v ? NULL : sim_schema_default(f);
        sim_wr_key(w, f->name, strlen(f->name));
        if (f->type == 'd' && json_is_string(v ? v : d))
            sim_wr_date(w, json_string_value(v ? v : d), json_string_length(v ? v : d));
        else
            sim_wr_json(w, v ? v : d);
        json_decref(d);
    }
    sim_wr_map_end(w);
}

void sim_rec_coerce(const sim_class_t *c, json_t *rec)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(rec, tmp, k, v)
    {
        int i = sim_schema_field(c, k);
        if (i < 0) {
            json_object_del(rec, k);
            continue;
        }
        const char *s = json_string_value(v);
        char t = c->fields[i].type;
        if (s && t == 'i')
            json_object_set_new(rec, k, json_integer(strtoll(s, NULL, 10)));
        else if (s && t == 'f')
            json_object_set_new(rec, k, json_real(strtod(s, NULL)));
        else if (s && t == 'b')
            json_object_set_new(rec, k, json_boolean(!strcmp(s, "true") || !strcmp(s, "1")));
        else if (json_is_integer(v) && t == 'f')
            json_object_set_new(rec, k, json_real((double)json_integer_value(v)));
    }
}
