#include "sim_ser.h"

#include "sim_rec.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/*  Deepest nesting kept: the record's map is level 1, its values' maps and sets level 2...
    A writer at level d reuses the bytes only when d + depth stays below its limit, where a
    direct write would not have been clipped either.                                          */
#define S_MAX_DEPTH 32

/*  Room added when a patch makes the text grow, so that the next ones are done in place.    */
#define S_SLACK 64

struct sim_ser_t {
    uint32_t len;   /* bytes of text */
    uint32_t cap;   /* room for text */
    uint16_t nf;    /* members */
    uint8_t mode;   /* sim_wr_mode_t */
    uint8_t depth;  /* deepest level reached, the record's map being level 1 */
    uint32_t off[]; /* nf + 1 member starts in the text, then the text */
};

static size_t s_hdr(int nf)
{
    return offsetof(sim_ser_t, off) + ((size_t)nf + 1) * sizeof(uint32_t);
}

static char *s_text(const sim_ser_t *s)
{
    return (char *)s + s_hdr(s->nf);
}

sim_ser_t *sim_ser_new(sim_wr_mode_t mode, const sim_class_t *c, const uint8_t *rec, size_t len)
{
    if (c->nfields > UINT16_MAX - 1)
        return NULL;
    size_t hdr = s_hdr(c->nfields);
    uint32_t *off = malloc(((size_t)c->nfields + 1) * sizeof *off);
    if (!off)
        abort();
    sim_buf_t b;
    sim_buf_init(&b, hdr + len * 2 + 64);
    b.len = hdr; /* the text is written after the header's room */
    sim_wr_t w;
    sim_wr_init(&w, mode, &b);
    sim_rec_write_at(&w, c, rec, len, off);
    if (w.max_depth > S_MAX_DEPTH || b.len - hdr > UINT32_MAX) {
        free(off);
        sim_buf_free(&b);
        return NULL;
    }
    size_t total;
    sim_ser_t *s = (sim_ser_t *)sim_buf_take(&b, &total);
    sim_ser_t *fit = realloc(s, total); /* give back the growth margin */
    if (fit)
        s = fit;
    s->len = (uint32_t)(total - hdr);
    s->cap = s->len;
    s->nf = (uint16_t)c->nfields;
    s->mode = (uint8_t)mode;
    s->depth = (uint8_t)w.max_depth;
    for (int i = 0; i <= c->nfields; i++)
        s->off[i] = off[i] - (uint32_t)hdr;
    free(off);
    return s;
}

sim_ser_t *sim_ser_patch(sim_ser_t *s, const sim_class_t *c, const uint8_t *rec, size_t len,
                         int idx, size_t at, sim_buf_t *scratch)
{
    sim_buf_t *seg = scratch;
    if (!s)
        return NULL;
    if (idx < 0 || idx >= s->nf || c->nfields != s->nf) {
        free(s);
        return NULL;
    }
    sim_buf_reset(seg);
    sim_wr_t w;
    sim_wr_init(&w, (sim_wr_mode_t)s->mode, seg);
    sim_wr_enter_map(&w, idx == 0);
    sim_rec_write_member_at(&w, c, rec, len, idx, at);
    size_t a = s->off[idx], e = s->off[idx + 1];
    size_t nlen = s->len - (e - a) + seg->len;
    if (w.max_depth > S_MAX_DEPTH || nlen + S_SLACK > UINT32_MAX) {
        free(s);
        return NULL;
    }
    size_t hdr = s_hdr(s->nf);
    if (nlen > s->cap) {
        size_t cap = nlen + S_SLACK;
        sim_ser_t *n = realloc(s, hdr + cap);
        if (!n)
            abort();
        s = n;
        s->cap = (uint32_t)cap;
    }
    char *text = s_text(s);
    memmove(text + a + seg->len, text + e, s->len - e);
    memcpy(text + a, seg->data, seg->len);
    s->len = (uint32_t)nlen;
    if (w.max_depth > s->depth)
        s->depth = (uint8_t)w.max_depth;
    uint32_t grow = (uint32_t)seg->len - (uint32_t)(e - a); /* modulo 2^32: offsets move by it */
    for (int i = idx + 1; i <= s->nf; i++)
        s->off[i] += grow;
    return s;
}

bool sim_ser_write(sim_wr_t *w, const sim_ser_t *s)
{
    if (w->mode != (sim_wr_mode_t)s->mode || w->depth + s->depth >= SIM_WR_DEPTH - 1)
        return false;
    sim_wr_raw(w, s_text(s), s->len);
    if (w->depth + s->depth > w->max_depth)
        w->max_depth = w->depth + s->depth;
    return true;
}

size_t sim_ser_size(const sim_ser_t *s)
{
    return s ? s_hdr(s->nf) + s->cap : 0;
}

void sim_ser_free(sim_ser_t *s)
{
    free(s);
}
