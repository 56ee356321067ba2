/*  xoc_api_sub — subscriptions of the event stream, the pure parts. See xoc_api_sub.h.  */
#include "xoc_api_sub.h"

#include <stdio.h>
#include <string.h>

#include "xoc_err.h"

#define S_FIELDS_MAX 256 /* names in one subscription's fields */
#define S_PATH_MAX 16    /* segments of a dotted path */

/* xo-server's XoListenerType: the types of XapiXoRecord, alarm and task */
static const char *s_collections[] = {
    "gpuGroup", "host",     "message", "network", "PBD",           "PCI",          "PGPU",
    "PIF",      "pool",     "SR",      "VBD",     "VDI",           "VDI-snapshot", "VDI-unmanaged",
    "vgpu",     "vgpuType", "VIF",     "VM",      "VM-controller", "VM-snapshot",  "VM-template",
    "VTPM",     "SM",       "alarm",   "task",
};

bool xoc_api_sub_collection(const char *name)
{
    for (size_t i = 0; i < sizeof s_collections / sizeof s_collections[0]; i++)
        if (strcmp(s_collections[i], name) == 0)
            return true;
    return false;
}

bool xoc_api_sub_belongs(const char *collection, const char *type, bool alarm)
{
    if (strcmp(collection, "alarm") == 0)
        return strcmp(type, "message") == 0 && alarm;
    if (strcmp(collection, "message") == 0)
        return strcmp(type, "message") == 0 && !alarm;
    return strcmp(collection, type) == 0;
}

static int s_fail(char *err, size_t errlen, int rc, const char *why)
{
    if (errlen)
        snprintf(err, errlen, "%s", why);
    return rc;
}

int xoc_api_sub_parse(const char *body, size_t len, char *collection, json_t **fields, char *err,
                      size_t errlen)
{
    *fields = NULL;
    collection[0] = '\0';
    json_error_t jerr;
    /* an empty body is xo-server's {} (no collection): invalid parameters, not malformed */
    json_t *doc = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
    if (!doc) {
        if (errlen)
            snprintf(err, errlen, "malformed JSON body: %s", jerr.text);
        return XOC_EINVAL;
    }
    int rc = 0;
    json_t *c = json_object_get(doc, "collection");
    json_t *f = json_object_get(doc, "fields");
    if (!json_is_object(doc))
        rc = s_fail(err, errlen, XOC_ETYPE, "the body must be an object");
    else if (!json_is_string(c))
        rc = s_fail(err, errlen, XOC_ETYPE, "collection: a string is required");
    else if (json_string_length(c) >= XOC_API_SUB_NAME_MAX ||
             !xoc_api_sub_collection(json_string_value(c)))
        rc = s_fail(err, errlen, XOC_ETYPE, "collection: not a collection of the event stream");
    else if (f && json_is_string(f) && strcmp(json_string_value(f), "*") == 0)
        f = NULL;
    else if (f && (!json_is_array(f) || json_array_size(f) > S_FIELDS_MAX))
        rc = s_fail(err, errlen, XOC_ETYPE, "fields: \"*\" or an array of strings");
    for (size_t i = 0; rc == 0 && f && i < json_array_size(f); i++) {
        const json_t *name = json_array_get(f, i);
        if (!json_is_string(name) ||
            memchr(json_string_value(name), '\0', json_string_length(name)))
            rc = s_fail(err, errlen, XOC_ETYPE, "fields: \"*\" or an array of strings");
    }
    if (rc == 0) {
        snprintf(collection, XOC_API_SUB_NAME_MAX, "%s", json_string_value(c));
        *fields = json_incref(f);
    }
    json_decref(doc);
    return rc;
}

/* a dotted path: sets result[a][b]... = obj[a][b]... when every step exists */
static int s_pick_path(json_t *result, const json_t *obj, const char *path)
{
    char copy[512];
    if (strlen(path) >= sizeof copy)
        return 0;
    snprintf(copy, sizeof copy, "%s", path);
    const char *seg[S_PATH_MAX];
    size_t n = 0;
    for (char *save = NULL, *s = strtok_r(copy, ".", &save); s; s = strtok_r(NULL, ".", &save))
        if (n == S_PATH_MAX)
            return 0;
        else
            seg[n++] = s;
    const json_t *v = obj;
    for (size_t i = 0; i < n && v; i++)
        v = json_is_object(v) ? json_object_get(v, seg[i]) : NULL;
    if (n == 0 || !v)
        return 0;
    json_t *at = result;
    for (size_t i = 0; i + 1 < n; i++) {
        json_t *next = json_object_get(at, seg[i]);
        if (!json_is_object(next)) {
            next = json_object();
            if (!next || json_object_set_new(at, seg[i], next) != 0)
                return XOC_ENOMEM;
        }
        at = next;
    }
    return json_object_set(at, seg[n - 1], (json_t *)v) == 0 ? 0 : XOC_ENOMEM;
}

json_t *xoc_api_sub_pick(const json_t *obj, const json_t *fields)
{
    json_t *result = json_object();
    size_t i;
    json_t *name;
    json_array_foreach(fields, i, name)
    {
        const char *key = json_string_value(name);
        json_t *v = key ? json_object_get(obj, key) : NULL;
        int rc = v                         ? json_object_set(result, key, v)
                 : key && strchr(key, '.') ? s_pick_path(result, obj, key)
                                           : 0;
        if (rc != 0 || !result) {
            json_decref(result);
            return NULL;
        }
    }
    return result;
}

const char *xoc_api_sub_event_name(xoc_api_sub_event_t kind)
{
    return kind == XOC_API_SUB_ADD ? "add" : kind == XOC_API_SUB_UPDATE ? "update" : "remove";
}

int xoc_api_sub_write(xoc_api_buf_t *out, xoc_api_sub_event_t kind, const char *collection,
                      const char *object, size_t len)
{
    /* the object's members after "$subscription": its text without the opening brace */
    size_t skip = 0;
    while (skip < len && object[skip] != '{')
        skip++;
    const char *members = skip < len ? object + skip + 1 : "}";
    size_t mlen = skip < len ? len - skip - 1 : 1;
    size_t i = 0;
    while (i < mlen &&
           (members[i] == ' ' || members[i] == '\n' || members[i] == '\t' || members[i] == '\r'))
        i++;
    bool empty = i < mlen && members[i] == '}';
    int rc = xoc_api_buf_puts(out, "event: ");
    rc = rc ? rc : xoc_api_buf_puts(out, xoc_api_sub_event_name(kind));
    rc = rc ? rc : xoc_api_buf_puts(out, "\ndata: {\"$subscription\":");
    rc = rc ? rc : xoc_api_buf_json_str(out, collection, strlen(collection));
    rc = rc ? rc : empty ? 0 : xoc_api_buf_putc(out, ',');
    rc = rc ? rc : xoc_api_buf_put(out, members, mlen);
    rc = rc ? rc : xoc_api_buf_puts(out, "\n\n");
    return rc ? XOC_ENOMEM : 0;
}
