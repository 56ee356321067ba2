/*  Fuzz target: the HTTP-side parsing of xoc-api (xoc_api_query): the input's first line
    is a path, the following lines query arguments "name=value"; the whole input is also
    read as a Cookie header and as an Authorization header.                              */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_query.h"

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
    free(text);
    return 0;
}
