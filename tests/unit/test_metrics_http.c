/*  The /metrics endpoint (xoc_metrics_http) on loopback: GET /metrics answers the registry's
    exposition (several chunks for a big one, keep-alive), anything else is 404, bad listen
    addresses are refused, and bad clients are cut off: a huge request header is refused, a
    client that never finishes its request is disconnected, and the server goes on serving. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_metrics.h"
#include "xoc_metrics_http.h"

typedef struct {
    char *data;
    size_t len;
} s_body_t;

static size_t s_on_body(char *ptr, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    b->data = realloc(b->data, b->len + size * n + 1);
    memcpy(b->data + b->len, ptr, size * n);
    b->len += size * n;
    b->data[b->len] = '\0';
    return size * n;
}

/* one request on handle c (NULL: a new one); status, body (free it) */
static long s_get(CURL *c, const char *url, const char *method, const char *header, char **body)
{
    CURL *own = c ? NULL : curl_easy_init();
    CURL *h = c ? c : own;
    s_body_t b = {NULL, 0};
    struct curl_slist *hdr = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdr);
    if (own)
        curl_easy_cleanup(own);
    if (body)
        *body = b.data;
    else
        free(b.data);
    return status;
}

static xoc_metrics_t *s_registry(int series)
{
    xoc_metrics_t *reg = xoc_metrics_new();
    xoc_metrics_family_t *f = xoc_metrics_family(reg, XOC_METRICS_COUNTER, "xoc_test_total",
                                                 "a test counter", "name", NULL, 0);
    char name[96];
    for (int i = 0; i < series; i++) {
        snprintf(name, sizeof name, "series-%06d-with-a-rather-long-label-value-\"quoted\"", i);
        xoc_metrics_add(xoc_metrics_with(f, name), i);
    }
    return reg;
}

static void test_serves(void **state)
{
    xoc_metrics_t *reg = s_registry(800); /* about 70 KB: several chunks */
    int rc = -1;
    xoc_metrics_http_t *http = xoc_metrics_http_new(reg, "127.0.0.1:0", &rc);
    assert_non_null(http);
    assert_int_equal(rc, 0);
    const char *url = xoc_metrics_http_url(http);
    assert_int_equal(strncmp(url, "http://127.0.0.1:", 17), 0);
    assert_non_null(strstr(url, "/metrics"));
    assert_int_equal(strncmp(xoc_metrics_http_address(http), "127.0.0.1:", 10), 0);

    CURL *c = curl_easy_init();
    char *body = NULL;
    assert_int_equal(s_get(c, url, "GET", NULL, &body), 200);
    char *ctype = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
    assert_string_equal(ctype, "text/plain; version=0.0.4; charset=utf-8");
    size_t len = 0;
    char *expect = xoc_metrics_render(reg, &len);
    assert_true(len > 64 * 1024);
    assert_string_equal(body, expect);
    free(body);
    /* keep-alive: the same connection serves the next request */
    assert_int_equal(s_get(c, url, "GET", NULL, &body), 200);
    long connects = -1;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0);
    assert_string_equal(body, expect);
    free(body);
    free(expect);
    curl_easy_cleanup(c);
    xoc_metrics_http_destroy(&http);
    assert_null(http);
    xoc_metrics_destroy(&reg);
}

static void test_not_found(void **state)
{
    xoc_metrics_t *reg = s_registry(3);
    int rc;
    xoc_metrics_http_t *http = xoc_metrics_http_new(reg, "127.0.0.1:0", &rc);
    assert_non_null(http);
    char base[128], url[160];
    snprintf(base, sizeof base, "http://%s", xoc_metrics_http_address(http));
    static const char *const paths[] = {"/",     "/metric",     "/metrics/", "/metricsx",
                                        "/api/", "/../metrics", "/%6detrics"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(url, sizeof url, "%s%s", base, paths[i]);
        char *body = NULL;
        long status = s_get(NULL, url, "GET", NULL, &body);
        if (strcmp(paths[i], "/../metrics") == 0 || strcmp(paths[i], "/%6detrics") == 0)
            assert_true(status == 404 || status == 200); /* lws normalizes these URLs */
        else {
            assert_int_equal(status, 404);
            assert_true(!body || !strstr(body, "xoc_test_total"));
        }
        free(body);
    }
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        assert_int_equal(s_get(NULL, xoc_metrics_http_url(http), methods[i], NULL, NULL), 404);
    assert_int_equal(s_get(NULL, xoc_metrics_http_url(http), "GET", NULL, NULL), 200);
    xoc_metrics_http_destroy(&http);
    xoc_metrics_destroy(&reg);
}

static void test_bad_listen(void **state)
{
    xoc_metrics_t *reg = s_registry(1);
    static const char *const bad[] = {
        "",    "localhost", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "127.0.0.1:-1",
        ":80", "[::1:0",    "[]:0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = 0;
        assert_null(xoc_metrics_http_new(reg, bad[i], &rc));
        assert_int_equal(rc, XOC_EINVAL);
    }
    int rc = 0;
    assert_null(xoc_metrics_http_new(reg, NULL, &rc));
    assert_int_equal(rc, XOC_EINVAL);
    /* a port in use */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    char listen_on[64];
    snprintf(listen_on, sizeof listen_on, "127.0.0.1:%d", ntohs(a.sin_port));
    assert_null(xoc_metrics_http_new(reg, listen_on, &rc));
    assert_int_equal(rc, XOC_EIO);
    close(fd);
    /* a name is resolved */
    xoc_metrics_http_t *named = xoc_metrics_http_new(reg, "localhost:0", &rc);
    assert_non_null(named);
    assert_int_equal(strncmp(xoc_metrics_http_address(named), "127.0.0.1:", 10) &&
                         strncmp(xoc_metrics_http_address(named), "[::1]:", 6),
                     0);
    assert_int_equal(s_get(NULL, xoc_metrics_http_url(named), "GET", NULL, NULL), 200);
    xoc_metrics_http_destroy(&named);
    /* an address that is not ours */
    assert_null(xoc_metrics_http_new(reg, "192.0.2.1:0", &rc));
    assert_int_equal(rc, XOC_EIO);
    xoc_metrics_destroy(&reg);
}

/* connects to host:port; returns the socket */
static int s_connect(const char *address)
{
    int port = atoi(strrchr(address, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* true when the server closes fd within ms (what it sends before is read and dropped) */
static bool s_closed_within(int fd, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return false;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            return true;
    }
}

static void test_bad_clients(void **state)
{
    xoc_metrics_t *reg = s_registry(3);
    int rc;
    xoc_metrics_http_t *http = xoc_metrics_http_new(reg, "127.0.0.1:0", &rc);
    assert_non_null(http);
    const char *url = xoc_metrics_http_url(http);
    /* a 64 KiB header: refused, never served */
    size_t n = 64 * 1024;
    char *big = malloc(n + 16);
    memcpy(big, "X-Big: ", 7);
    memset(big + 7, 'a', n);
    big[7 + n] = '\0';
    long status = s_get(NULL, url, "GET", big, NULL);
    assert_true(status == 0 || status >= 400);
    /* many headers adding up over the limit */
    CURL *c = curl_easy_init();
    struct curl_slist *many = NULL;
    char line[128];
    for (int i = 0; i < 100; i++) {
        snprintf(line, sizeof line, "X-H%d: %070d", i, i);
        many = curl_slist_append(many, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, many);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    s_body_t b = {NULL, 0};
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert_true(status == 0 || status >= 400);
    free(b.data);
    curl_slist_free_all(many);
    curl_easy_cleanup(c);
    free(big);
    /* garbage instead of HTTP: closed */
    int fd = s_connect(xoc_metrics_http_address(http));
    const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n";
    assert_true(send(fd, junk, sizeof junk - 1, 0) > 0);
    assert_true(s_closed_within(fd, 15000));
    close(fd);
    /* a request that never ends, and a client that says nothing: cut off by the timeout */
    int slow = s_connect(xoc_metrics_http_address(http));
    int mute = s_connect(xoc_metrics_http_address(http));
    const char partial[] = "GET /metrics HTTP/1.1\r\nHost: x\r\n";
    assert_true(send(slow, partial, sizeof partial - 1, 0) > 0);
    /* meanwhile, the server serves others */
    assert_int_equal(s_get(NULL, url, "GET", NULL, NULL), 200);
    assert_true(s_closed_within(slow, 15000));
    assert_true(s_closed_within(mute, 15000));
    close(slow);
    close(mute);
    assert_int_equal(s_get(NULL, url, "GET", NULL, NULL), 200);
    xoc_metrics_http_destroy(&http);
    xoc_metrics_destroy(&reg);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_bad_listen),
        cmocka_unit_test(test_bad_clients),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
