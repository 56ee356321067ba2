/*  Fuzz target: the HTTP-side parsing of xoc-api (xoc_api_query): the input's first line
    is a path, the following lines query arguments "name=value"; the whole input is also
    read as a Cookie header, as an Authorization header, and as the body of an event
    stream subscription (xoc_api_sub_parse; its fields picked from the body itself, and an
    event written of it).                                                                  */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_query.h"
#include "xoc_api_sub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    const char *nl = memchr(text, '\n', size);
    size_t plen = nl ? (size_t)(nl - text) : size;
    char *path = strndup(text, plen);
    xoc_api_route_t route;
    if (path)
        xoc_api_route_parse(path, &route);
    free(path);

    const char *args[64];
    size_t lens[64], n = 0;
    for (const char *p = nl ? nl + 1 : text + size; p < text + size && n < 64;) {
        const char *e = memchr(p, '\n', (size_t)(text + size - p));
        size_t len = e ? (size_t)(e - p) : (size_t)(text + size - p);
        args[n] = p;
        lens[n++] = len;
        p += len + 1;
    }
    xoc_api_query_t q;
    char err[128];
    xoc_api_query_parse(&q, args, lens, n, err, sizeof err);
    xoc_api_query_clear(&q);

    char out[128], user[64], password[64];
    xoc_api_query_cookie(text, "authenticationToken", out, sizeof out);
    xoc_api_query_cookie(text, "token", out, sizeof out);
    xoc_api_query_basic(text, user, sizeof user, password, sizeof password);

    char coll[XOC_API_SUB_NAME_MAX];
    json_t *fields = NULL;
    if (xoc_api_sub_parse((const char *)data, size, coll, &fields, err, sizeof err) == 0) {
        json_t *doc = json_loadb((const char *)data, size, 0, NULL);
        json_t *picked = fields && doc ? xoc_api_sub_pick(doc, fields) : NULL;
        char *picked_text = picked ? json_dumps(picked, JSON_COMPACT) : NULL;
        xoc_api_buf_t *buf = xoc_api_buf_new(64);
        if (buf && picked_text)
            xoc_api_sub_write(buf, XOC_API_SUB_UPDATE, coll, picked_text, strlen(picked_text));
        if (buf)
            xoc_api_sub_write(buf, XOC_API_SUB_ADD, coll, text, size);
        xoc_api_buf_unref(&buf);
        free(picked_text);
        json_decref(picked);
        json_decref(doc);
        json_decref(fields);
    }
    free(text);
    return 0;
}
