/*  xoc_xapi_sink — value events of an XAPI answer turned into msgpack.

    The parsers (XML-RPC, JSON-RPC) report values as events (begin map/array, key, scalar,
    end). The sink routes them: the envelope (Status / Value / ErrorDescription, or result /
    error) is taken apart here, the result goes to a builder, and in the streamed modes each
    record or event is built alone in a reused buffer and handed to the callback, so memory
    follows the largest record, never the whole answer.

    A builder writes a container with a 5-byte placeholder header (map32/array32) and, when
    the container closes, rewrites the smallest header and moves the content down.           */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_msg.h"
#include "xoc_xapi_int.h"

#define S_HDR 5 /* placeholder: 0xdd/0xdf + uint32 */

typedef struct {
    msgpack_sbuffer *sb; /* where bytes go: the caller's buffer or own */
    msgpack_sbuffer own;
    msgpack_packer pk;
    size_t base;  /* sb->size when the builder started */
    size_t limit;
    size_t *hdr;  /* per open container: offset of its header */
    uint32_t *cnt;
    bool *ismap;
    int top;      /* index of the innermost open container, -1 when none */
} s_bld;

enum { R_NONE, R_SKIP, R_STATUS, R_RESULT, R_ERROR };

struct xoc_xapi_sink_t {
    int env;
    xoc_xapi_decode_opts_t o;
    int err;
    int depth;     /* open containers in the document */
    bool enveloped; /* the top-level value is an envelope map */
    bool done;
    int route;     /* destination of the member value at depth 1 */
    bool have_result, have_error, have_status;
    bool null_result; /* "result": null in a streamed mode (v1 failures carry one) */
    char status[16];
    s_bld main;    /* PLAIN result, EVENTS rest */
    s_bld elem;    /* the record/event being built */
    s_bld errb;    /* the error value */
    int rdepth;    /* open containers inside the result */
    bool ev_key;   /* the EVENTS key just read is "events" */
    bool in_events; /* inside the events array (EVENTS) */
    char *key;     /* RECORDS: the current member name */
    size_t keylen, keycap;
};

/*  ---- builder ---------------------------------------------------------------------------- */

static int s_bld_init(s_bld *b, msgpack_sbuffer *target, size_t limit, int depth)
{
    msgpack_sbuffer_init(&b->own);
    b->sb = target ? target : &b->own;
    msgpack_packer_init(&b->pk, b->sb, msgpack_sbuffer_write);
    b->base = b->sb->size;
    b->limit = limit;
    b->top = -1;
    b->hdr = calloc((size_t)depth, sizeof *b->hdr);
    b->cnt = calloc((size_t)depth, sizeof *b->cnt);
    b->ismap = calloc((size_t)depth, sizeof *b->ismap);
    return b->hdr && b->cnt && b->ismap ? 0 : XOC_ENOMEM;
}

static void s_bld_fini(s_bld *b)
{
    msgpack_sbuffer_destroy(&b->own);
    free(b->hdr);
    free(b->cnt);
    free(b->ismap);
}

static void s_bld_reset(s_bld *b)
{
    b->sb->size = b->base;
    b->top = -1;
}

static int s_bld_check(s_bld *b, int rc)
{
    if (rc != 0)
        return XOC_ENOMEM;
    return b->sb->size - b->base > b->limit ? XOC_ETOOBIG : 0;
}

static void s_bld_count(s_bld *b)
{
    if (b->top >= 0 && !b->ismap[b->top])
        b->cnt[b->top]++;
}

static int s_bld_begin(s_bld *b, bool is_map)
{
    s_bld_count(b);
    b->top++;
    b->hdr[b->top] = b->sb->size;
    b->cnt[b->top] = 0;
    b->ismap[b->top] = is_map;
    return s_bld_check(b, msgpack_sbuffer_write(b->sb, "\xdf\0\0\0\0", S_HDR));
}

/*  Writes the smallest header for the closed container and moves its content down.        */
static int s_bld_end(s_bld *b)
{
    if (b->top < 0)
        return XOC_EPROTO;
    char *base = b->sb->data + b->hdr[b->top];
    uint32_t n = b->cnt[b->top];
    bool is_map = b->ismap[b->top];
    b->top--;
    uint8_t h[S_HDR];
    size_t hl;
    if (n < 16) {
        h[0] = (uint8_t)((is_map ? 0x80 : 0x90) | n);
        hl = 1;
    } else if (n < 65536) {
        h[0] = is_map ? 0xde : 0xdc;
        h[1] = (uint8_t)(n >> 8);
        h[2] = (uint8_t)n;
        hl = 3;
    } else {
        h[0] = is_map ? 0xdf : 0xdd;
        for (int i = 0; i < 4; i++)
            h[1 + i] = (uint8_t)(n >> (24 - 8 * i));
        hl = 5;
    }
    size_t body = b->sb->size - (size_t)(base - b->sb->data) - S_HDR;
    memcpy(base, h, hl);
    if (hl < S_HDR) {
        memmove(base + hl, base + S_HDR, body);
        b->sb->size -= S_HDR - hl;
    }
    return 0;
}

/*  A msgpack str (header and bytes) written with one check of the buffer's room, as
    msgpack_pack_str would encode it (the smallest header).                                  */
static int s_bld_str(s_bld *b, const char *p, size_t n)
{
    int rc = xoc_mp_put_str(b->sb, p, n, 256);
    return rc ? rc : b->sb->size - b->base > b->limit ? XOC_ETOOBIG : 0;
}

static int s_bld_key(s_bld *b, const char *k, size_t n)
{
    if (b->top >= 0)
        b->cnt[b->top]++;
    return s_bld_str(b, k, n);
}

/*  Parses decimal text (optional sign, digits only, < 32 bytes) into an int64, or a uint64
    above INT64_MAX; XOC_ETYPE when it is not one or out of range (as strtoll/strtoull).    */
static int s_pack_int(s_bld *b, const char *txt, size_t n)
{
    if (n == 0 || n >= 32)
        return XOC_ETYPE;
    bool neg = txt[0] == '-';
    size_t i = (txt[0] == '-' || txt[0] == '+') ? 1 : 0;
    if (i == n)
        return XOC_ETYPE;
    uint64_t u = 0;
    for (; i < n; i++) {
        unsigned d = (unsigned)(txt[i] - '0');
        if (d > 9)
            return XOC_ETYPE;
        if (u > (UINT64_MAX - d) / 10)
            return XOC_ETYPE; /* beyond uint64 */
        u = u * 10 + d;
    }
    if (!neg)
        return s_bld_check(b, u <= INT64_MAX ? msgpack_pack_int64(&b->pk, (int64_t)u)
                                             : msgpack_pack_uint64(&b->pk, u));
    if (u > (uint64_t)INT64_MAX + 1)
        return XOC_ETYPE;
    int64_t v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    return s_bld_check(b, msgpack_pack_int64(&b->pk, v));
}

static int s_pack_double(s_bld *b, const char *txt, size_t n)
{
    char tmp[512];
    while (n && (*txt == ' ' || *txt == '\t' || *txt == '\n' || *txt == '\r')) {
        txt++;
        n--;
    }
    while (n && (txt[n - 1] == ' ' || txt[n - 1] == '\t' || txt[n - 1] == '\n' ||
                 txt[n - 1] == '\r'))
        n--;
    if (n == 0 || n >= sizeof tmp)
        return XOC_ETYPE;
    memcpy(tmp, txt, n);
    tmp[n] = 0;
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (*end != 0 || (errno == ERANGE && isinf(v)))
        return XOC_ETYPE;
    return s_bld_check(b, msgpack_pack_double(&b->pk, v));
}

static int s_pack_bool(s_bld *b, const char *txt, size_t n)
{
    if ((n == 1 && txt[0] == '1') || (n == 4 && memcmp(txt, "true", 4) == 0))
        return s_bld_check(b, msgpack_pack_true(&b->pk));
    if ((n == 1 && txt[0] == '0') || (n == 5 && memcmp(txt, "false", 5) == 0))
        return s_bld_check(b, msgpack_pack_false(&b->pk));
    return XOC_ETYPE;
}

static int s_bld_scalar(s_bld *b, int kind, const char *txt, size_t n, unsigned flags)
{
    s_bld_count(b);
    switch (kind) {
    case XOC_XAPI_V_INT:
        if (!(flags & XOC_XAPI_INT_AS_STRING))
            return s_pack_int(b, txt, n);
        /* kept as its decimal text */
        __attribute__((fallthrough));
    case XOC_XAPI_V_STR:
        return s_bld_str(b, txt, n);
    case XOC_XAPI_V_DOUBLE:
        return s_pack_double(b, txt, n);
    case XOC_XAPI_V_BOOL:
        return s_pack_bool(b, txt, n);
    default:
        return s_bld_check(b, msgpack_pack_nil(&b->pk));
    }
}

/*  ---- sink lifecycle ---------------------------------------------------------------------- */

xoc_xapi_sink_t *xoc_xapi_sink_new(int env, const xoc_xapi_decode_opts_t *opts,
                                   msgpack_sbuffer *result)
{
    xoc_xapi_sink_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->env = env;
    s->o = *opts;
    int depth = s->o.max_depth + 3;
    bool rest = s->o.mode != XOC_XAPI_RECORDS;
    int rc = s_bld_init(&s->main, rest ? result : NULL, s->o.max_value, depth);
    rc |= s_bld_init(&s->elem, NULL, s->o.max_value, depth);
    rc |= s_bld_init(&s->errb, NULL, s->o.max_value, depth);
    if (rc != 0)
        xoc_xapi_sink_destroy(&s);
    return s;
}

void xoc_xapi_sink_destroy(xoc_xapi_sink_t **p)
{
    if (!p || !*p)
        return;
    xoc_xapi_sink_t *s = *p;
    if (s->err || !s->done)
        s_bld_reset(&s->main);
    s_bld_fini(&s->main);
    s_bld_fini(&s->elem);
    s_bld_fini(&s->errb);
    free(s->key);
    free(s);
    *p = NULL;
}

int xoc_xapi_sink_fail(xoc_xapi_sink_t *s, int err)
{
    if (!s->err)
        s->err = err;
    return s->err;
}

int xoc_xapi_sink_replace(xoc_xapi_sink_t *s, int err)
{
    s->err = err;
    return err;
}

int xoc_xapi_sink_error(const xoc_xapi_sink_t *s)
{
    return s->err;
}

void xoc_xapi_sink_set_env(xoc_xapi_sink_t *s, int env)
{
    s->env = env;
}

bool xoc_xapi_sink_done(const xoc_xapi_sink_t *s)
{
    return s->done;
}

size_t xoc_xapi_sink_max_value(const xoc_xapi_sink_t *s)
{
    return s->o.max_value;
}

int xoc_xapi_sink_max_depth(const xoc_xapi_sink_t *s)
{
    return s->o.max_depth;
}

/*  ---- the result: plain, or split into records / events -------------------------------- */

static int s_emit(xoc_xapi_sink_t *s)
{
    s_bld *e = &s->elem;
    const char *key = s->o.mode == XOC_XAPI_RECORDS ? s->key : NULL;
    size_t klen = s->o.mode == XOC_XAPI_RECORDS ? s->keylen : 0;
    int rc = s->o.on_entry(key, klen, e->sb->data + e->base, e->sb->size - e->base, s->o.arg);
    s_bld_reset(e);
    return rc;
}

/*  Depth in the result at which each entry starts: 1 (records), 2 (events), 0 (plain).     */
static int s_split_depth(const xoc_xapi_sink_t *s)
{
    if (s->o.mode == XOC_XAPI_RECORDS)
        return 1;
    return s->o.mode == XOC_XAPI_EVENTS && s->in_events ? 2 : 0;
}

static s_bld *s_res_target(xoc_xapi_sink_t *s)
{
    int split = s_split_depth(s);
    if (split && s->rdepth >= split)
        return &s->elem;
    return s->o.mode == XOC_XAPI_RECORDS ? NULL : &s->main;
}

static int s_res_begin(xoc_xapi_sink_t *s, bool is_map)
{
    if (s->rdepth == 0 && s->o.mode != XOC_XAPI_PLAIN && !is_map)
        return XOC_ETYPE;
    if (s->o.mode == XOC_XAPI_EVENTS && s->rdepth == 1 && s->ev_key) {
        if (is_map)
            return XOC_ETYPE;
        s->ev_key = false;
        s->in_events = true;
        s->rdepth++;
        return 0;
    }
    s_bld *b = s_res_target(s);
    s->rdepth++;
    return b ? s_bld_begin(b, is_map) : 0;
}

static int s_res_end(xoc_xapi_sink_t *s)
{
    if (s->o.mode == XOC_XAPI_EVENTS && s->in_events && s->rdepth == 2) {
        s->in_events = false;
        s->rdepth--;
        return 0;
    }
    s->rdepth--;
    s_bld *b = s_res_target(s); /* the closed container's level is now rdepth */
    int rc = b ? s_bld_end(b) : 0;
    if (rc == 0 && b == &s->elem && s->rdepth == s_split_depth(s))
        rc = s_emit(s);
    return rc;
}

static int s_res_key(xoc_xapi_sink_t *s, const char *k, size_t n)
{
    if (s->o.mode == XOC_XAPI_RECORDS && s->rdepth == 1) {
        if (n + 1 > s->keycap) {
            char *nk = realloc(s->key, n + 1);
            if (!nk)
                return XOC_ENOMEM;
            s->key = nk;
            s->keycap = n + 1;
        }
        memcpy(s->key, k, n);
        s->key[n] = 0;
        s->keylen = n;
        return 0;
    }
    if (s->o.mode == XOC_XAPI_EVENTS && s->rdepth == 1 && n == 6 && memcmp(k, "events", 6) == 0) {
        s->ev_key = true;
        return 0;
    }
    s_bld *b = s_res_target(s);
    return b ? s_bld_key(b, k, n) : 0;
}

static int s_res_scalar(xoc_xapi_sink_t *s, int kind, const char *txt, size_t n)
{
    if (s->rdepth == 0 && s->o.mode != XOC_XAPI_PLAIN)
        return XOC_ETYPE;
    if (s->ev_key && s->rdepth == 1)
        return XOC_ETYPE;
    s_bld *b = s_res_target(s);
    int rc = b ? s_bld_scalar(b, kind, txt, n, s->o.flags) : 0;
    if (rc == 0 && b == &s->elem && s->rdepth == s_split_depth(s))
        rc = s_emit(s);
    return rc;
}

/*  ---- the envelope ------------------------------------------------------------------------ */

static int s_route_key(xoc_xapi_sink_t *s, const char *k, size_t n)
{
#define S_IS(lit) (n == sizeof(lit) - 1 && memcmp(k, lit, n) == 0)
    int r = R_SKIP;
    bool *seen = NULL;
    if (s->env == XOC_XAPI_ENV_XML && S_IS("Status"))
        r = R_STATUS, seen = &s->have_status;
    else if ((s->env == XOC_XAPI_ENV_XML && S_IS("Value")) ||
             (s->env == XOC_XAPI_ENV_JSON && S_IS("result")))
        r = R_RESULT, seen = &s->have_result;
    else if ((s->env == XOC_XAPI_ENV_XML && S_IS("ErrorDescription")) ||
             (s->env == XOC_XAPI_ENV_JSON && S_IS("error")))
        r = R_ERROR, seen = &s->have_error;
#undef S_IS
    if (seen && *seen)
        return XOC_EPROTO; /* a second Value, result, ... */
    if (seen)
        *seen = true;
    s->route = r;
    return 0;
}

/*  Routes a value event that belongs to the member at depth 1 (or to a bare top value).    */
static int s_routed(xoc_xapi_sink_t *s, int ev, bool is_map, int kind, const char *t, size_t n)
{
    switch (s->route) {
    case R_RESULT:
        if (ev == 3 && kind == XOC_XAPI_V_NIL && s->depth == 1 && s->o.mode != XOC_XAPI_PLAIN) {
            s->null_result = true; /* judged at the end: an error may follow */
            return 0;
        }
        if (ev == 0)
            return s_res_begin(s, is_map);
        if (ev == 1)
            return s_res_end(s);
        if (ev == 2)
            return s_res_key(s, t, n);
        return s_res_scalar(s, kind, t, n);
    case R_ERROR:
        if (ev == 0)
            return s_bld_begin(&s->errb, is_map);
        if (ev == 1)
            return s_bld_end(&s->errb);
        if (ev == 2)
            return s_bld_key(&s->errb, t, n);
        if (kind == XOC_XAPI_V_NIL && s->depth == 1) { /* "error": null */
            s->have_error = false;
            return 0;
        }
        return s_bld_scalar(&s->errb, kind, t, n, XOC_XAPI_INT_AS_STRING);
    case R_STATUS:
        if (ev != 3 || kind != XOC_XAPI_V_STR)
            return XOC_ETYPE;
        if (n >= sizeof s->status)
            n = sizeof s->status - 1;
        memcpy(s->status, t, n);
        s->status[n] = 0;
        return 0;
    case R_SKIP:
        return 0;
    default:
        return XOC_EPROTO; /* a value with no key */
    }
}

/*  The top-level value: an envelope map, or (XML-RPC system.*) a bare result.              */
static int s_top(xoc_xapi_sink_t *s, bool container, bool is_map)
{
    if (s->done)
        return XOC_EPROTO;
    if (s->env == XOC_XAPI_ENV_FAULT) {
        s->route = R_ERROR;
        s->have_error = true;
        return 0;
    }
    if (container && is_map) {
        s->enveloped = true;
        return 0;
    }
    if (s->env == XOC_XAPI_ENV_JSON)
        return XOC_EPROTO;
    s->route = R_RESULT;
    s->have_result = true;
    return 0;
}

static int s_set(xoc_xapi_sink_t *s, int rc)
{
    return rc ? xoc_xapi_sink_fail(s, rc) : s->err;
}

int xoc_xapi_sink_begin(xoc_xapi_sink_t *s, bool is_map)
{
    if (s->err)
        return s->err;
    if (s->depth == 0) {
        int rc = s_top(s, true, is_map);
        if (rc)
            return s_set(s, rc);
    }
    if (s->depth + 1 > s->o.max_depth + 1)
        return s_set(s, XOC_ETOOBIG);
    s->depth++;
    if (s->depth == 1 && s->enveloped)
        return 0;
    return s_set(s, s_routed(s, 0, is_map, 0, NULL, 0));
}

int xoc_xapi_sink_end(xoc_xapi_sink_t *s)
{
    if (s->err)
        return s->err;
    if (s->depth == 0)
        return s_set(s, XOC_EPROTO);
    s->depth--;
    if (s->depth == 0)
        s->done = true;
    if (s->depth == 0 && s->enveloped)
        return 0;
    int rc = s_routed(s, 1, false, 0, NULL, 0);
    if (s->depth == 1 && s->enveloped)
        s->route = R_NONE;
    return s_set(s, rc);
}

/*  true inside an entry of a streamed result (below its top container): every value event
    goes to the entry's builder as it is (what s_routed would do, without its dispatch).     */
static bool s_in_entry(const xoc_xapi_sink_t *s)
{
    if (s->route != R_RESULT)
        return false;
    int split = s_split_depth(s);
    return split && s->rdepth > split;
}

int xoc_xapi_sink_key(xoc_xapi_sink_t *s, const char *k, size_t n)
{
    if (s->err)
        return s->err;
    if (s_in_entry(s))
        return s_set(s, s_bld_key(&s->elem, k, n));
    if (s->depth == 1 && s->enveloped)
        return s_set(s, s_route_key(s, k, n));
    return s_set(s, s_routed(s, 2, false, 0, k, n));
}

int xoc_xapi_sink_scalar(xoc_xapi_sink_t *s, int kind, const char *txt, size_t n)
{
    if (s->err)
        return s->err;
    if (s->depth > 1 && s_in_entry(s))
        return s_set(s, s_bld_scalar(&s->elem, kind, txt, n, s->o.flags));
    if (s->depth == 0) {
        int rc = s_top(s, false, false);
        if (rc == 0)
            rc = s_routed(s, 3, false, kind, txt, n);
        s->done = true;
        return s_set(s, rc);
    }
    int rc = s_routed(s, 3, false, kind, txt, n);
    if (s->depth == 1 && s->enveloped)
        s->route = R_NONE;
    return s_set(s, rc);
}

/*  ---- the fault --------------------------------------------------------------------------- */

char *xoc_xapi_strdup_mp(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0)
        return strdup("");
    return strndup(o->via.str.ptr, o->via.str.size);
}

static char *s_strof(const msgpack_object *o)
{
    char tmp[64];
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        return xoc_xapi_strdup_mp(o);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%" PRIu64, o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        snprintf(tmp, sizeof tmp, "%" PRId64, o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT64:
    case MSGPACK_OBJECT_FLOAT32:
        snprintf(tmp, sizeof tmp, "%.17g", o->via.f64);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        snprintf(tmp, sizeof tmp, "%s", o->via.boolean ? "true" : "false");
        break;
    default:
        tmp[0] = 0;
    }
    return strdup(tmp);
}

static const msgpack_object *s_map_get(const msgpack_object *m, const char *key)
{
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
            memcmp(k->via.str.ptr, key, kl) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static int s_fault_add(xoc_xapi_fault_t *f, const msgpack_object *o)
{
    char **np = realloc(f->params, (f->nparams + 1) * sizeof *np);
    if (!np)
        return XOC_ENOMEM;
    f->params = np;
    if (!(np[f->nparams] = s_strof(o)))
        return XOC_ENOMEM;
    f->nparams++;
    return 0;
}

static int s_fault_from_array(xoc_xapi_fault_t *f, const msgpack_object *items, uint32_t n)
{
    int rc = 0;
    for (uint32_t i = 1; i < n && rc == 0; i++)
        rc = s_fault_add(f, &items[i]);
    f->code = n ? s_strof(&items[0]) : strdup("UNKNOWN_ERROR");
    return rc ? rc : f->code ? 0 : XOC_ENOMEM;
}

/*  JSON-RPC v2 {code, message, data} or XML-RPC fault {faultCode, faultString}.           */
static int s_fault_from_map(xoc_xapi_fault_t *f, const msgpack_object *m)
{
    const msgpack_object *msg = s_map_get(m, "message");
    const msgpack_object *data = s_map_get(m, "data");
    const msgpack_object *fc = s_map_get(m, "faultCode");
    const msgpack_object *fs = s_map_get(m, "faultString");
    int rc = 0;
    if (fc || fs) {
        f->code = strdup("XMLRPC_FAULT");
        if (fc)
            rc = s_fault_add(f, fc);
        if (fs && rc == 0)
            rc = s_fault_add(f, fs);
        return rc ? rc : f->code ? 0 : XOC_ENOMEM;
    }
    if (data && data->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < data->via.array.size && rc == 0; i++)
            rc = s_fault_add(f, &data->via.array.ptr[i]);
    else if (data && data->type != MSGPACK_OBJECT_NIL)
        rc = s_fault_add(f, data);
    bool named = msg && msg->type == MSGPACK_OBJECT_STR && msg->via.str.size > 0;
    f->code = named ? s_strof(msg) : strdup("UNKNOWN_ERROR");
    return rc ? rc : f->code ? 0 : XOC_ENOMEM;
}

static int s_fault_build(xoc_xapi_sink_t *s, xoc_xapi_fault_t *f)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    s_bld *e = &s->errb;
    int rc = XOC_EPROTO;
    if (msgpack_unpack_next(&u, e->sb->data + e->base, e->sb->size - e->base, NULL) ==
        MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *o = &u.data;
        if (o->type == MSGPACK_OBJECT_ARRAY)
            rc = s_fault_from_array(f, o->via.array.ptr, o->via.array.size);
        else if (o->type == MSGPACK_OBJECT_MAP)
            rc = s_fault_from_map(f, o);
        else
            rc = s_fault_from_array(f, o, 1);
    }
    msgpack_unpacked_destroy(&u);
    if (rc)
        xoc_xapi_fault_clear(f);
    return rc ? rc : XOC_EXAPI;
}

void xoc_xapi_fault_clear(xoc_xapi_fault_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nparams; i++)
        free(f->params[i]);
    free(f->params);
    free(f->code);
    memset(f, 0, sizeof *f);
}

static int s_outcome(xoc_xapi_sink_t *s, xoc_xapi_fault_t *fault)
{
    xoc_xapi_fault_t tmp = {0};
    xoc_xapi_fault_t *f = fault ? fault : &tmp;
    if (!s->done)
        return XOC_ETRUNCATED;
    if (s->have_error) {
        int rc = s_fault_build(s, f);
        xoc_xapi_fault_clear(&tmp);
        return rc;
    }
    if (s->env == XOC_XAPI_ENV_XML && s->enveloped && strcmp(s->status, "Success") != 0)
        return XOC_EPROTO;
    if (s->null_result)
        return XOC_ETYPE;
    return s->have_result ? 0 : XOC_EPROTO;
}

int xoc_xapi_sink_finish(xoc_xapi_sink_t *s, xoc_xapi_fault_t *fault)
{
    if (s->err)
        return s->err;
    int rc = s_outcome(s, fault);
    if (rc)
        xoc_xapi_sink_fail(s, rc);
    return rc;
}

int xoc_xapi_opts_check(const xoc_xapi_decode_opts_t *in, xoc_xapi_decode_opts_t *out)
{
    static const xoc_xapi_decode_opts_t zero = {0};
    *out = in ? *in : zero;
    if (out->max_value == 0)
        out->max_value = XOC_XAPI_MAX_VALUE_DEFAULT;
    if (out->max_value > UINT32_MAX)
        out->max_value = UINT32_MAX;
    if (out->max_depth <= 0)
        out->max_depth = XOC_XAPI_MAX_DEPTH_DEFAULT;
    if (out->max_depth > 1000)
        return XOC_EINVAL;
    if (out->mode != XOC_XAPI_PLAIN && out->mode != XOC_XAPI_RECORDS &&
        out->mode != XOC_XAPI_EVENTS)
        return XOC_EINVAL;
    if (out->mode != XOC_XAPI_PLAIN && !out->on_entry)
        return XOC_EINVAL;
    return 0;
}
