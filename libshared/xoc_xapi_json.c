/*  xoc_xapi_json — JSON-RPC response parser: yajl fed piece by piece (UTF-8 validated, no
    comments, no trailing garbage), values passed to the sink. Numbers are kept as their text
    so that 64-bit integers stay exact.                                                       */
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "xoc_err.h"
#include "xoc_xapi_int.h"

typedef struct {
    xoc_xapi_sink_t *sink;
    yajl_handle yh;
    size_t idle; /* bytes fed since the last callback (a token yajl still buffers) */
    size_t max_value; /* the sink's, read once */
} s_json;

static int s_ok(s_json *j, int rc)
{
    j->idle = 0;
    return rc == 0;
}

static int s_null(void *ctx)
{
    s_json *j = ctx;
    return s_ok(j, xoc_xapi_sink_scalar(j->sink, XOC_XAPI_V_NIL, "", 0));
}

static int s_bool(void *ctx, int b)
{
    s_json *j = ctx;
    return s_ok(j, xoc_xapi_sink_scalar(j->sink, XOC_XAPI_V_BOOL, b ? "1" : "0", 1));
}

static int s_number(void *ctx, const char *s, size_t n)
{
    s_json *j = ctx;
    bool real = memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n);
    int kind = real ? XOC_XAPI_V_DOUBLE : XOC_XAPI_V_INT;
    return s_ok(j, xoc_xapi_sink_scalar(j->sink, kind, s, n));
}

static int s_string(void *ctx, const unsigned char *s, size_t n)
{
    s_json *j = ctx;
    if (n > j->max_value)
        return s_ok(j, xoc_xapi_sink_fail(j->sink, XOC_ETOOBIG));
    if (!xoc_xapi_utf8_ok((const char *)s, n, false))
        return s_ok(j, xoc_xapi_sink_fail(j->sink, XOC_EPROTO));
    return s_ok(j, xoc_xapi_sink_scalar(j->sink, XOC_XAPI_V_STR, (const char *)s, n));
}

static int s_key(void *ctx, const unsigned char *s, size_t n)
{
    s_json *j = ctx;
    if (n > j->max_value)
        return s_ok(j, xoc_xapi_sink_fail(j->sink, XOC_ETOOBIG));
    if (!xoc_xapi_utf8_ok((const char *)s, n, false))
        return s_ok(j, xoc_xapi_sink_fail(j->sink, XOC_EPROTO));
    return s_ok(j, xoc_xapi_sink_key(j->sink, (const char *)s, n));
}

static int s_start_map(void *ctx)
{
    s_json *j = ctx;
    return s_ok(j, xoc_xapi_sink_begin(j->sink, true));
}

static int s_start_array(void *ctx)
{
    s_json *j = ctx;
    return s_ok(j, xoc_xapi_sink_begin(j->sink, false));
}

static int s_end(void *ctx)
{
    s_json *j = ctx;
    return s_ok(j, xoc_xapi_sink_end(j->sink));
}

static const yajl_callbacks s_callbacks = {
    .yajl_null = s_null,
    .yajl_boolean = s_bool,
    .yajl_number = s_number,
    .yajl_string = s_string,
    .yajl_start_map = s_start_map,
    .yajl_map_key = s_key,
    .yajl_end_map = s_end,
    .yajl_start_array = s_start_array,
    .yajl_end_array = s_end,
};

void *xoc_xapi_json_new(xoc_xapi_sink_t *sink)
{
    s_json *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->sink = sink;
    j->max_value = xoc_xapi_sink_max_value(sink);
    j->yh = yajl_alloc(&s_callbacks, NULL, j);
    if (!j->yh) {
        free(j);
        return NULL;
    }
    return j;
}

void xoc_xapi_json_destroy(void *h)
{
    s_json *j = h;
    if (!j)
        return;
    yajl_free(j->yh);
    free(j);
}

/*  yajl reports an incomplete text only at yajl_complete_parse: that is a truncated body. */
int xoc_xapi_json_feed(void *h, const void *buf, size_t len, bool last)
{
    s_json *j = h;
    int err = xoc_xapi_sink_error(j->sink);
    if (err)
        return err;
    j->idle += len;
    if (j->idle > xoc_xapi_sink_max_value(j->sink) + 65536)
        return xoc_xapi_sink_fail(j->sink, XOC_ETOOBIG);
    yajl_status st = len ? yajl_parse(j->yh, buf, len) : yajl_status_ok;
    if (st == yajl_status_ok && last)
        st = yajl_complete_parse(j->yh);
    err = xoc_xapi_sink_error(j->sink);
    if (err)
        return err;
    if (st != yajl_status_ok) {
        bool done = xoc_xapi_sink_done(j->sink);
        return xoc_xapi_sink_fail(j->sink, last && len == 0 && !done ? XOC_ETRUNCATED
                                                                     : XOC_EPROTO);
    }
    if (last && !xoc_xapi_sink_done(j->sink))
        return xoc_xapi_sink_fail(j->sink, XOC_ETRUNCATED);
    return 0;
}
