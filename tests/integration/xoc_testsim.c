#include "xoc_testsim.h"

#include <curl/curl.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>

static size_t s_write(void *p, size_t size, size_t n, void *arg)
{
    msgpack_sbuffer_write(arg, p, size * n);
    return size * n;
}

json_t *xoc_test_sim_call(const char *url, const char *method, json_t *params)
{
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "%s/jsonrpc", url);
    json_t *req = json_pack("{s:s,s:s,s:o,s:i}", "jsonrpc", "2.0", "method", method, "params",
                            params ? params : json_array(), "id", 1);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, endpoint);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(body);
    json_t *result = NULL;
    if (rc == CURLE_OK) {
        json_t *rep = json_loadb(out.data, out.size, 0, NULL);
        result = json_incref(json_object_get(rep, "result"));
        json_decref(rep);
    }
    msgpack_sbuffer_destroy(&out);
    return result;
}
