/*  xoc_api_buf — shared byte buffers and the msgpack -> JSON writer. See xoc_api_buf.h.  */
#include "xoc_api_buf.h"

#include <math.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"

struct _xoc_api_buf_t {
    atomic_int refs;
    size_t len, cap;
    char *data;
};

xoc_api_buf_t *xoc_api_buf_new(size_t capacity)
{
    xoc_api_buf_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = capacity ? capacity : 256;
    self->data = malloc(self->cap);
    if (!self->data) {
        free(self);
        return NULL;
    }
    atomic_init(&self->refs, 1);
    return self;
}

xoc_api_buf_t *xoc_api_buf_from(const char *text, size_t len)
{
    xoc_api_buf_t *self = xoc_api_buf_new(len + 1);
    if (self && xoc_api_buf_put(self, text, len) != 0)
        xoc_api_buf_unref(&self);
    return self;
}

xoc_api_buf_t *xoc_api_buf_ref(xoc_api_buf_t *self)
{
    atomic_fetch_add(&self->refs, 1);
    return self;
}

void xoc_api_buf_unref(xoc_api_buf_t **self_p)
{
    xoc_api_buf_t *self = *self_p;
    *self_p = NULL;
    if (!self || atomic_fetch_sub(&self->refs, 1) != 1)
        return;
    free(self->data);
    free(self);
}

const char *xoc_api_buf_data(const xoc_api_buf_t *self) { return self->data; }
size_t xoc_api_buf_len(const xoc_api_buf_t *self) { return self->len; }
void xoc_api_buf_reset(xoc_api_buf_t *self) { self->len = 0; }

void xoc_api_buf_truncate(xoc_api_buf_t *self, size_t len)
{
    if (len < self->len)
        self->len = len;
}

bool xoc_api_buf_shared(const xoc_api_buf_t *self)
{
    return atomic_load(&self->refs) != 1;
}

int xoc_api_buf_patch(xoc_api_buf_t *self, size_t off, const void *data, size_t len)
{
    if (xoc_api_buf_shared(self))
        return XOC_EBUSY;
    if (off > self->len || len > self->len - off)
        return XOC_EINVAL;
    memcpy(self->data + off, data, len);
    return 0;
}

static int s_reserve(xoc_api_buf_t *self, size_t more)
{
    if (self->len + more <= self->cap)
        return 0;
    size_t cap = self->cap * 2;
    while (cap < self->len + more)
        cap *= 2;
    char *data = realloc(self->data, cap);
    if (!data)
        return XOC_ENOMEM;
    self->data = data;
    self->cap = cap;
    return 0;
}

int xoc_api_buf_put(xoc_api_buf_t *self, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (s_reserve(self, len) != 0)
        return XOC_ENOMEM;
    memcpy(self->data + self->len, data, len);
    self->len += len;
    return 0;
}

int xoc_api_buf_puts(xoc_api_buf_t *self, const char *text)
{
    return xoc_api_buf_put(self, text, strlen(text));
}

int xoc_api_buf_putc(xoc_api_buf_t *self, char c)
{
    if (s_reserve(self, 1) != 0)
        return XOC_ENOMEM;
    self->data[self->len++] = c;
    return 0;
}

/* ---- JSON ------------------------------------------------------------------------------------ */

/* length of the valid UTF-8 sequence at s (1..4), or 0 */
static size_t s_utf8_len(const unsigned char *s, size_t left)
{
    unsigned char c = s[0];
    size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

static int s_base64(xoc_api_buf_t *self, const void *data, size_t len)
{
    size_t b64 = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    if (s_reserve(self, b64 + 2) != 0)
        return XOC_ENOMEM;
    self->data[self->len++] = '"';
    sodium_bin2base64(self->data + self->len, b64, data, len, sodium_base64_VARIANT_ORIGINAL);
    self->len += b64 - 1; /* without the NUL */
    self->data[self->len++] = '"';
    return 0;
}

/* one pass: plain bytes are copied in runs; escapes and UTF-8 checks only where needed */
int xoc_api_buf_json_str(xoc_api_buf_t *self, const char *s, size_t len)
{
    if (s_reserve(self, len + 2) != 0)
        return XOC_ENOMEM;
    size_t start = self->len;
    self->data[self->len++] = '"';
    const unsigned char *u = (const unsigned char *)s;
    size_t run = 0; /* start of the pending run of plain bytes */
    for (size_t i = 0; i < len;) {
        unsigned char c = u[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t n = s_utf8_len(u + i, len - i);
            if (n == 0) { /* not UTF-8: the bytes as base64, as xoc_json does */
                self->len = start;
                return s_base64(self, s, len);
            }
            i += n;
            continue;
        }
        if (xoc_api_buf_put(self, s + run, i - run) != 0)
            return XOC_ENOMEM;
        char esc[8];
        int n = c == '"' ? snprintf(esc, sizeof esc, "\\\"")
              : c == '\\' ? snprintf(esc, sizeof esc, "\\\\")
              : c == '\n' ? snprintf(esc, sizeof esc, "\\n")
              : c == '\t' ? snprintf(esc, sizeof esc, "\\t")
              : c == '\r' ? snprintf(esc, sizeof esc, "\\r")
                          : snprintf(esc, sizeof esc, "\\u%04x", c);
        if (xoc_api_buf_put(self, esc, (size_t)n) != 0)
            return XOC_ENOMEM;
        run = ++i;
    }
    if (xoc_api_buf_put(self, s + run, len - run) != 0)
        return XOC_ENOMEM;
    return xoc_api_buf_putc(self, '"');
}

static int s_number(xoc_api_buf_t *self, const msgpack_object *o)
{
    char num[40];
    int n;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        n = snprintf(num, sizeof num, "%llu", (unsigned long long)o->via.u64);
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        n = snprintf(num, sizeof num, "%lld", (long long)o->via.i64);
    else if (!isfinite(o->via.f64))
        n = snprintf(num, sizeof num, "null");
    else {
        n = snprintf(num, sizeof num, "%.17g", o->via.f64);
        if (!strpbrk(num, ".eE")) /* a real stays a real: 3 -> 3.0 (as Jansson writes it) */
            n = snprintf(num + n, sizeof num - (size_t)n, ".0") + n;
    }
    return xoc_api_buf_put(self, num, (size_t)n);
}

static int s_key(xoc_api_buf_t *self, const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR)
        return xoc_api_buf_json_str(self, k->via.str.ptr, k->via.str.size);
    /* a non-string key: the JSON text of the key, as a string */
    xoc_api_buf_t *tmp = xoc_api_buf_new(64);
    if (!tmp)
        return XOC_ENOMEM;
    int rc = xoc_api_buf_json_mp(tmp, k);
    if (rc == 0)
        rc = xoc_api_buf_json_str(self, tmp->data, tmp->len);
    xoc_api_buf_unref(&tmp);
    return rc;
}

int xoc_api_buf_json_mp(xoc_api_buf_t *self, const msgpack_object *o)
{
    int rc = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: return xoc_api_buf_put(self, "null", 4);
    case MSGPACK_OBJECT_BOOLEAN:
        return o->via.boolean ? xoc_api_buf_put(self, "true", 4)
                              : xoc_api_buf_put(self, "false", 5);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return s_number(self, o);
    case MSGPACK_OBJECT_STR: return xoc_api_buf_json_str(self, o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: return s_base64(self, o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: return s_base64(self, o->via.ext.ptr, o->via.ext.size);
    case MSGPACK_OBJECT_ARRAY:
        rc = xoc_api_buf_putc(self, '[');
        for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
            if (i)
                rc = xoc_api_buf_putc(self, ',');
            if (rc == 0)
                rc = xoc_api_buf_json_mp(self, &o->via.array.ptr[i]);
        }
        return rc ? rc : xoc_api_buf_putc(self, ']');
    case MSGPACK_OBJECT_MAP:
        rc = xoc_api_buf_putc(self, '{');
        for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
            if (i)
                rc = xoc_api_buf_putc(self, ',');
            if (rc == 0)
                rc = s_key(self, &o->via.map.ptr[i].key);
            if (rc == 0)
                rc = xoc_api_buf_putc(self, ':');
            if (rc == 0)
                rc = xoc_api_buf_json_mp(self, &o->via.map.ptr[i].val);
        }
        return rc ? rc : xoc_api_buf_putc(self, '}');
    }
    return xoc_api_buf_put(self, "null", 4);
}
