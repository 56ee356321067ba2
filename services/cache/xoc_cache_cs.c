#include "xoc_cache_cs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"

static const char *s_kinds[] = {"delta", "image", "image_end", "drop"};

const char *xoc_cache_kind_name(xoc_cache_kind_t kind)
{
    return (unsigned)kind < 4 ? s_kinds[kind] : "?";
}

bool xoc_cache_name_ok(xoc_str_t s, size_t max, bool dotless)
{
    if (s.len == 0 || s.len > max || !s.ptr)
        return false;
    if (memchr(s.ptr, '\0', s.len))
        return false;
    return !(dotless && memchr(s.ptr, '.', s.len));
}

/* a msgpack reader over one buffer: only the headers we need are read by hand (array and
   string lengths); whole values (the objects) are walked by the codec's check */
typedef struct {
    const uint8_t *p;
    size_t size;
    size_t off;
} s_rd_t;

static int s_be(s_rd_t *rd, int n, uint32_t *out)
{
    if (rd->size - rd->off < (size_t)n)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | rd->p[rd->off++];
    *out = v;
    return 0;
}

static int s_array(s_rd_t *rd, uint32_t *n)
{
    if (rd->off >= rd->size)
        return -1;
    uint8_t b = rd->p[rd->off++];
    if ((b & 0xf0) == 0x90) {
        *n = b & 0x0f;
        return 0;
    }
    if (b == 0xdc)
        return s_be(rd, 2, n);
    if (b == 0xdd)
        return s_be(rd, 4, n);
    return -1;
}

static int s_str(s_rd_t *rd, xoc_str_t *out)
{
    if (rd->off >= rd->size)
        return -1;
    uint8_t b = rd->p[rd->off++];
    uint32_t n;
    if ((b & 0xe0) == 0xa0)
        n = b & 0x1f;
    else if (b == 0xd9 || b == 0xda || b == 0xdb) {
        if (s_be(rd, b == 0xd9 ? 1 : b == 0xda ? 2 : 4, &n))
            return -1;
    } else
        return -1;
    if (rd->size - rd->off < n)
        return -1;
    out->ptr = (const char *)rd->p + rd->off;
    out->len = n;
    rd->off += n;
    return 0;
}

/* one whole value that must be a map: its raw bytes (well-formed, nesting bounded) */
static int s_map_value(s_rd_t *rd, xoc_bin_t *out)
{
    size_t used;
    uint8_t b = rd->off < rd->size ? rd->p[rd->off] : 0;
    if (!((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf))
        return -1;
    if (xoc_mp_size(rd->p + rd->off, rd->size - rd->off, XOC_MSG_MAX_DEPTH, &used) != 0)
        return -1;
    out->ptr = rd->p + rd->off;
    out->len = (uint32_t)used;
    rd->off += used;
    return 0;
}

static int s_change(s_rd_t *rd, size_t i, xoc_cache_change_t *c, char *why, size_t ws)
{
    uint32_t n;
    xoc_str_t op;
    if (s_array(rd, &n) || n < 3 || n > 4) {
        snprintf(why, ws, "change %zu: not an array [op, id, type, object?]", i);
        return XOC_EINVAL;
    }
    if (s_str(rd, &op) || s_str(rd, &c->id) || s_str(rd, &c->type)) {
        snprintf(why, ws, "change %zu: op, id and type must be strings", i);
        return XOC_EINVAL;
    }
    if (!xoc_cache_name_ok(c->id, XOC_CACHE_ID_MAX, false) ||
        !xoc_cache_name_ok(c->type, XOC_CACHE_TYPE_MAX, true)) {
        snprintf(why, ws, "change %zu: bad id or type (empty, too long, NUL or '.')", i);
        return XOC_EINVAL;
    }
    if (xoc_str_eq(op, "enter") && n == 4) {
        c->op = XOC_CACHE_ENTER;
        if (s_map_value(rd, &c->object) == 0)
            return 0;
        snprintf(why, ws, "change %zu: object of enter must be a map", i);
        return XOC_EINVAL;
    }
    if (xoc_str_eq(op, "exit") && n == 3) {
        c->op = XOC_CACHE_EXIT;
        c->object = (xoc_bin_t){NULL, 0};
        return 0;
    }
    snprintf(why, ws, "change %zu: unknown op or wrong arity (enter: 4, exit: 3)", i);
    return XOC_EINVAL;
}

static int s_kind(xoc_str_t s, xoc_cache_kind_t *kind)
{
    for (int i = 0; i < 4; i++)
        if (xoc_str_eq(s, s_kinds[i])) {
            *kind = (xoc_cache_kind_t)i;
            return 0;
        }
    return -1;
}

static int s_changes(xoc_bin_t bin, xoc_cache_cs_t *cs, char *why, size_t ws)
{
    s_rd_t rd = {.p = bin.ptr, .size = bin.len};
    uint32_t n;
    if (s_array(&rd, &n)) {
        snprintf(why, ws, "changes: not an array");
        return XOC_EINVAL;
    }
    if (n > XOC_CACHE_CHANGES_MAX || n > bin.len) {
        snprintf(why, ws, "changes: %u changes, at most %d", n, XOC_CACHE_CHANGES_MAX);
        return n > bin.len ? XOC_EINVAL : XOC_ETOOBIG;
    }
    cs->changes = n ? calloc(n, sizeof *cs->changes) : NULL;
    if (n && !cs->changes)
        return XOC_ENOMEM;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = s_change(&rd, i, &cs->changes[i], why, ws);
    if (rc == 0 && rd.off != rd.size) {
        snprintf(why, ws, "changes: trailing bytes");
        rc = XOC_EINVAL;
    }
    cs->count = rc ? 0 : n;
    return rc;
}

int xoc_cache_cs_parse(const xoc_msg_changeset_t *msg, xoc_cache_cs_t *cs, char *why,
                       size_t ws)
{
    memset(cs, 0, sizeof *cs);
    cs->pool = msg->pool;
    cs->epoch = msg->epoch;
    cs->seq = msg->seq;
    if (!xoc_cache_name_ok(msg->pool, XOC_CACHE_POOL_MAX, true)) {
        snprintf(why, ws, "pool: empty, too long, NUL or '.'");
        return XOC_EINVAL;
    }
    if (s_kind(msg->kind, &cs->kind)) {
        snprintf(why, ws, "kind: not one of delta, image, image_end, drop");
        return XOC_EINVAL;
    }
    if (msg->seq == 0) {
        snprintf(why, ws, "seq: starts at 1");
        return XOC_EINVAL;
    }
    int rc = msg->changes.len ? s_changes(msg->changes, cs, why, ws) : 0;
    if (rc)
        xoc_cache_cs_clear(cs);
    return rc;
}

void xoc_cache_cs_clear(xoc_cache_cs_t *cs)
{
    free(cs->changes);
    cs->changes = NULL;
    cs->count = 0;
}

int xoc_cache_cs_decode(const void *data, size_t size, xoc_msg_t *msg, xoc_cache_cs_t *cs,
                        char *why, size_t ws)
{
    memset(cs, 0, sizeof *cs);
    int rc = xoc_msg_decode_as(msg, XOC_MSG_CHANGESET, data, size);
    if (rc) {
        snprintf(why, ws, "%s", msg->why);
        return rc;
    }
    return xoc_cache_cs_parse(&msg->changeset, cs, why, ws);
}
