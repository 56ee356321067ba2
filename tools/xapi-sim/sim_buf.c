#include "sim_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sim_buf_init(sim_buf_t *b, size_t cap)
{
    b->len = 0;
    b->cap = cap ? cap : 256;
    b->data = malloc(b->cap);
    if (!b->data)
        abort();
}

void sim_buf_free(sim_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sim_buf_reset(sim_buf_t *b)
{
    b->len = 0;
}

void sim_buf_reserve(sim_buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

void sim_buf_add(sim_buf_t *b, const void *p, size_t n)
{
    sim_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void sim_buf_adds(sim_buf_t *b, const char *s)
{
    sim_buf_add(b, s, strlen(s));
}

void sim_buf_addc(sim_buf_t *b, char c)
{
    sim_buf_reserve(b, 1);
    b->data[b->len++] = c;
}

void sim_buf_printf(sim_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        sim_buf_add(b, tmp, (size_t)n);
        return;
    }
    sim_buf_reserve(b, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sim_buf_json_esc(sim_buf_t *b, const char *s, size_t n)
{
    sim_buf_reserve(b, n);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sim_buf_add(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            sim_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            sim_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            sim_buf_add(b, "\\n", 2);
            break;
        case '\r':
            sim_buf_add(b, "\\r", 2);
            break;
        case '\t':
            sim_buf_add(b, "\\t", 2);
            break;
        default:
            sim_buf_printf(b, "\\u%04x", c);
            break;
        }
    }
    sim_buf_add(b, s + run, n - run);
}

void sim_buf_xml_esc(sim_buf_t *b, const char *s, size_t n)
{
    sim_buf_reserve(b, n);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        const char *rep = NULL;
        if (c == '&')
            rep = "&amp;";
        else if (c == '<')
            rep = "&lt;";
        else if (c == '>')
            rep = "&gt;";
        else if (c == '\r')
            rep = "&#13;";
        if (!rep)
            continue;
        sim_buf_add(b, s + run, i - run);
        sim_buf_adds(b, rep);
        run = i + 1;
    }
    sim_buf_add(b, s + run, n - run);
}

char *sim_buf_take(sim_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (p)
        p[b->len] = '\0';
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
