/*  xoc_api_query — REST paths, query arguments, cookies, Basic credentials. See
    xoc_api_query.h.                                                                      */
#include "xoc_api_query.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xoc_err.h"

#define S_PREFIX "/rest/v0"

/* the collections of §9.3 that map onto xo objects of the replica */
static const struct {
    const char *collection;
    const char *type;
} s_collections[] = {
    {"vms", "VM"},           {"vm-templates", "VM-template"}, {"vm-snapshots", "VM-snapshot"},
    {"vm-controllers", "VM-controller"}, {"hosts", "host"},   {"pools", "pool"},
    {"srs", "SR"},           {"vdis", "VDI"},                 {"vdi-snapshots", "VDI-snapshot"},
    {"vbds", "VBD"},         {"vifs", "VIF"},                 {"networks", "network"},
    {"pifs", "PIF"},         {"pbds", "PBD"},                 {"pcis", "PCI"},
    {"pgpus", "PGPU"},       {"sms", "SM"},                   {"messages", "message"},
    {"alarms", "message"},   {"tasks", "task"},
};
#define S_NCOLL (sizeof s_collections / sizeof s_collections[0])

const char *xoc_api_query_type(const char *collection)
{
    for (size_t i = 0; i < S_NCOLL; i++)
        if (strcmp(s_collections[i].collection, collection) == 0)
            return s_collections[i].type;
    return NULL;
}

const char *xoc_api_query_collection(size_t i)
{
    return i < S_NCOLL ? s_collections[i].collection : NULL;
}

/* copies the segment [p, end) into out; false if empty, too long or holds a NUL */
static bool s_segment(const char *p, size_t len, char *out, size_t size)
{
    if (len == 0 || len >= size || memchr(p, '\0', len))
        return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* /rest/v0/events, /rest/v0/events/<id>/subscriptions[/<collection>] */
static int s_events(xoc_api_route_t *route, const char *const *seg, const size_t *len, size_t n)
{
    if (n == 1) {
        route->kind = XOC_API_ROUTE_EVENTS;
        return 0;
    }
    if (!s_segment(seg[1], len[1], route->id, sizeof route->id) || len[2] != 13 ||
        strncmp(seg[2], "subscriptions", 13) != 0)
        return XOC_EINVAL;
    route->kind = XOC_API_ROUTE_SUBSCRIPTIONS;
    if (n == 3)
        return 0;
    if (!s_segment(seg[3], len[3], route->action, sizeof route->action))
        return XOC_EINVAL;
    route->kind = XOC_API_ROUTE_SUBSCRIPTION;
    return 0;
}

int xoc_api_route_parse(const char *path, xoc_api_route_t *route)
{
    memset(route, 0, sizeof *route);
    size_t plen = strlen(S_PREFIX);
    if (strncmp(path, S_PREFIX, plen) != 0 || (path[plen] != '\0' && path[plen] != '/'))
        return 0;
    const char *p = path + plen;
    while (*p == '/')
        p++;
    if (*p == '\0') {
        route->kind = XOC_API_ROUTE_ROOT;
        return 0;
    }
    /* up to four segments: coll / id / "actions" / action (a trailing slash is allowed) */
    const char *seg[5];
    size_t len[5], n = 0;
    while (*p && n < 5) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        seg[n] = p;
        len[n++] = l;
        p += l;
        if (*p == '/')
            p++;
    }
    if (*p || n == 5)
        return XOC_EINVAL;
    if (!s_segment(seg[0], len[0], route->collection, sizeof route->collection))
        return XOC_EINVAL;
    if (strcmp(route->collection, "events") == 0 && n != 2)
        return s_events(route, seg, len, n);
    if (n == 3)
        return XOC_EINVAL;
    route->type = xoc_api_query_type(route->collection);
    route->kind = XOC_API_ROUTE_COLLECTION;
    if (n == 1)
        return 0;
    if (!s_segment(seg[1], len[1], route->id, sizeof route->id))
        return XOC_EINVAL;
    route->kind = XOC_API_ROUTE_OBJECT;
    if (n == 2)
        return 0;
    if (len[2] != 7 || strncmp(seg[2], "actions", 7) != 0 ||
        !s_segment(seg[3], len[3], route->action, sizeof route->action))
        return XOC_EINVAL;
    route->kind = XOC_API_ROUTE_ACTION;
    return 0;
}

/* ---- query arguments ----------------------------------------------------------------------- */

static int s_fail(char *err, size_t errlen, const char *why)
{
    if (errlen)
        snprintf(err, errlen, "%s", why);
    return XOC_EINVAL;
}

static int s_fields(xoc_api_query_t *q, const char *v, size_t len, char *err, size_t errlen)
{
    q->nfields = 0;
    q->all_fields = false;
    if (len == 1 && v[0] == '*') {
        q->all_fields = true;
        return 0;
    }
    for (size_t i = 0; i <= len;) {
        size_t j = i;
        while (j < len && v[j] != ',')
            j++;
        size_t a = i, b = j; /* trimmed [a, b) */
        while (a < b && isspace((unsigned char)v[a]))
            a++;
        while (b > a && isspace((unsigned char)v[b - 1]))
            b--;
        if (a == b)
            return s_fail(err, errlen, "fields: empty field name");
        if (b - a > XOC_API_QUERY_NAME_MAX || memchr(v + a, '\0', b - a))
            return s_fail(err, errlen, "fields: field name too long");
        if (q->nfields == XOC_API_QUERY_FIELDS_MAX)
            return s_fail(err, errlen, "fields: too many fields");
        memcpy(q->fields[q->nfields], v + a, b - a);
        q->fields[q->nfields++][b - a] = '\0';
        i = j + 1;
    }
    return 0;
}

static int s_limit(xoc_api_query_t *q, const char *v, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > 10)
        return s_fail(err, errlen, "limit: not a number");
    long long n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)v[i]))
            return s_fail(err, errlen, "limit: not a non-negative integer");
        n = n * 10 + (v[i] - '0');
    }
    q->limit = n;
    return 0;
}

static int s_bool(bool *out, const char *v, size_t len)
{
    if (len == 0 || (len == 4 && strncmp(v, "true", 4) == 0) || (len == 1 && v[0] == '1'))
        *out = true;
    else if ((len == 5 && strncmp(v, "false", 5) == 0) || (len == 1 && v[0] == '0'))
        *out = false;
    else
        return XOC_EINVAL;
    return 0;
}

static bool s_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncmp(name, want, len) == 0;
}

int xoc_api_query_parse(xoc_api_query_t *q, const char *const *args, const size_t *lens,
                        size_t n, char *err, size_t errlen)
{
    memset(q, 0, sizeof *q);
    q->limit = -1;
    for (size_t i = 0; i < n; i++) {
        const char *a = args[i];
        const char *eq = memchr(a, '=', lens[i]);
        size_t nlen = eq ? (size_t)(eq - a) : lens[i];
        const char *v = eq ? eq + 1 : a + lens[i];
        size_t vlen = lens[i] - nlen - (eq ? 1 : 0);
        int rc = 0;
        if (s_is(a, nlen, "fields"))
            rc = s_fields(q, v, vlen, err, errlen);
        else if (s_is(a, nlen, "limit"))
            rc = s_limit(q, v, vlen, err, errlen);
        else if (s_is(a, nlen, "ndjson")) {
            if (s_bool(&q->ndjson, v, vlen) != 0)
                rc = s_fail(err, errlen, "ndjson: true or false");
        } else if (s_is(a, nlen, "all")) {
            if (s_bool(&q->all, v, vlen) != 0)
                rc = s_fail(err, errlen, "all: true or false");
        } else if (s_is(a, nlen, "filter")) {
            free(q->filter);
            q->filter = malloc(vlen + 1);
            if (!q->filter)
                return XOC_ENOMEM;
            memcpy(q->filter, v, vlen);
            q->filter[vlen] = '\0';
            if (memchr(v, '\0', vlen))
                rc = s_fail(err, errlen, "filter: NUL byte");
        }
        if (rc)
            return rc;
    }
    return 0;
}

void xoc_api_query_clear(xoc_api_query_t *q)
{
    free(q->filter);
    q->filter = NULL;
}

/* ---- cookies and credentials ----------------------------------------------------------------- */

bool xoc_api_query_cookie(const char *header, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *p = header; p && *p;) {
        while (*p == ' ' || *p == ';' || *p == '\t')
            p++;
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = len - nlen - 1;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen == 0 || vlen >= size)
                return false;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

int xoc_api_query_basic(const char *header, char *user, size_t user_size, char *password,
                        size_t password_size)
{
    if (strncasecmp(header, "Basic ", 6) != 0)
        return XOC_EINVAL;
    const char *b64 = header + 6;
    while (*b64 == ' ')
        b64++;
    unsigned char raw[1024];
    size_t len = 0;
    if (strlen(b64) > 4 * sizeof raw / 3 ||
        sodium_base642bin(raw, sizeof raw - 1, b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return XOC_EINVAL;
    unsigned char *colon = memchr(raw, ':', len);
    if (!colon || memchr(raw, '\0', len))
        return XOC_EINVAL;
    size_t ulen = (size_t)(colon - raw), plen = len - ulen - 1;
    if (ulen == 0 || ulen >= user_size || plen >= password_size) {
        sodium_memzero(raw, sizeof raw);
        return XOC_EINVAL;
    }
    memcpy(user, raw, ulen);
    user[ulen] = '\0';
    memcpy(password, colon + 1, plen);
    password[plen] = '\0';
    sodium_memzero(raw, sizeof raw);
    return 0;
}
