/*  xoc_xapi — the XAPI client: one libcurl easy handle driven by a private multi handle, so
    that xoc_xapi_cancel() can wake a blocked call at once (curl_multi_wakeup); the answer is
    fed to the streaming parser from curl's write callback as it arrives.                    */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_xapi_int.h"

#define S_FALLBACK 100000 /* private: AUTO must retry with XML-RPC */
#define S_SNIPPET 200     /* bytes of a non-200 body kept for the detail line */

struct xoc_xapi_t {
    CURL *easy;
    CURLM *multi;
    struct curl_slist *hdr_json, *hdr_xml;
    char *url;     /* scheme://host[:port] */
    char *session;
    xoc_xapi_transport_t transport;
    bool fell_back; /* AUTO switched to XML-RPC for good */
    bool verify;
    char *proxy; /* xo-server's httpProxy: http://[user:password@]host:port, NULL: none */
    long connect_ms, call_ms;
    xoc_xapi_decode_opts_t limits; /* flags, max_value, max_depth */
    atomic_bool canceled;
    uint64_t next_id;
    xoc_xapi_fault_t fault;
    char detail[256];
    int http_status;
    xoc_xapi_observe_fn *observe; /* after each call (metrics) */
    void *observe_arg;
    /* per call */
    xoc_xapi_parser_t *parser;
    bool checked;   /* status and content type looked at */
    bool bad_status;
    bool fallback;
    size_t got;     /* body bytes received */
    char snippet[S_SNIPPET + 1];
    char errbuf[CURL_ERROR_SIZE];
};

/*  ---- URL ------------------------------------------------------------------------------- */

/*  "scheme://host[:port]" of url (http or https), in *out.                                */
static int s_base_url(const char *url, const char *new_host, char **out)
{
    CURLU *u = curl_url();
    if (!u)
        return XOC_ENOMEM;
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = XOC_EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto free_url;
    if (new_host && curl_url_set(u, CURLUPART_HOST, new_host, 0) != CURLUE_OK)
        goto free_url;
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_PORT, &port, 0);
    if (!scheme || !host || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
        goto free_parts;
    rc = asprintf(out, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "") < 0
             ? XOC_ENOMEM
             : 0;
free_parts:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
free_url:
    curl_url_cleanup(u);
    return rc;
}

int xoc_xapi_set_url(xoc_xapi_t *x, const char *url)
{
    char *base;
    int rc = url ? s_base_url(url, NULL, &base) : XOC_EINVAL;
    if (rc)
        return rc;
    free(x->url);
    x->url = base;
    return 0;
}

const char *xoc_xapi_url(const xoc_xapi_t *x)
{
    return x->url;
}

/*  ---- lifecycle --------------------------------------------------------------------------- */

static int s_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    xoc_xapi_t *x = ud;
    return atomic_load(&x->canceled) ? 1 : 0;
}

static size_t s_on_body(char *ptr, size_t size, size_t nmemb, void *ud);

static struct curl_slist *s_headers(const char *type)
{
    char ct[64], ac[64];
    snprintf(ct, sizeof ct, "Content-Type: %s", type);
    snprintf(ac, sizeof ac, "Accept: %s", type);
    struct curl_slist *h = curl_slist_append(NULL, ct);
    struct curl_slist *h2 = h ? curl_slist_append(h, ac) : NULL;
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    if (!h3)
        curl_slist_free_all(h);
    return h3;
}

static void s_easy_setup(xoc_xapi_t *x)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "xoc-xapi/0.1");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, s_xferinfo);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
}

xoc_xapi_t *xoc_xapi_new(const char *url)
{
    xoc_xapi_global_init();
    xoc_xapi_t *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    atomic_init(&x->canceled, false);
    x->verify = true;
    x->connect_ms = 10000;
    x->call_ms = 120000;
    x->easy = curl_easy_init();
    x->multi = curl_multi_init();
    x->hdr_json = s_headers("application/json");
    x->hdr_xml = s_headers("text/xml");
    if (!x->easy || !x->multi || !x->hdr_json || !x->hdr_xml || !url ||
        xoc_xapi_set_url(x, url) != 0) {
        xoc_xapi_destroy(&x);
        return NULL;
    }
    s_easy_setup(x);
    return x;
}

void xoc_xapi_destroy(xoc_xapi_t **p)
{
    if (!p || !*p)
        return;
    xoc_xapi_t *x = *p;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    if (x->multi)
        curl_multi_cleanup(x->multi);
    curl_slist_free_all(x->hdr_json);
    curl_slist_free_all(x->hdr_xml);
    xoc_xapi_fault_clear(&x->fault);
    free(x->url);
    free(x->session);
    free(x->proxy);
    free(x);
    *p = NULL;
}

void xoc_xapi_set_transport(xoc_xapi_t *x, xoc_xapi_transport_t t)
{
    x->transport = t;
    x->fell_back = false;
}

xoc_xapi_transport_t xoc_xapi_transport(const xoc_xapi_t *x)
{
    if (x->transport == XOC_XAPI_AUTO)
        return x->fell_back ? XOC_XAPI_XMLRPC : XOC_XAPI_AUTO;
    return x->transport;
}

void xoc_xapi_set_tls_verify(xoc_xapi_t *x, bool verify)
{
    x->verify = verify;
}

int xoc_xapi_set_proxy(xoc_xapi_t *x, const char *proxy)
{
    char *copy = proxy && *proxy ? strdup(proxy) : NULL;
    if (proxy && *proxy && !copy)
        return XOC_ENOMEM;
    free(x->proxy);
    x->proxy = copy;
    return 0;
}

void xoc_xapi_set_timeouts(xoc_xapi_t *x, long connect_ms, long call_ms)
{
    if (connect_ms > 0)
        x->connect_ms = connect_ms;
    if (call_ms > 0)
        x->call_ms = call_ms;
}

void xoc_xapi_set_limits(xoc_xapi_t *x, size_t max_value, int max_depth)
{
    x->limits.max_value = max_value;
    x->limits.max_depth = max_depth;
}

void xoc_xapi_set_flags(xoc_xapi_t *x, unsigned flags)
{
    x->limits.flags = flags;
}

void xoc_xapi_cancel(xoc_xapi_t *x)
{
    atomic_store(&x->canceled, true);
    curl_multi_wakeup(x->multi);
}

void xoc_xapi_uncancel(xoc_xapi_t *x)
{
    atomic_store(&x->canceled, false);
}

const xoc_xapi_fault_t *xoc_xapi_fault(const xoc_xapi_t *x)
{
    return &x->fault;
}

const char *xoc_xapi_detail(const xoc_xapi_t *x)
{
    return x->detail;
}

int xoc_xapi_http_status(const xoc_xapi_t *x)
{
    return x->http_status;
}

const char *xoc_xapi_session(const xoc_xapi_t *x)
{
    return x->session;
}

int xoc_xapi_set_session(xoc_xapi_t *x, const char *session)
{
    char *s = session ? strdup(session) : NULL;
    if (session && !s)
        return XOC_ENOMEM;
    free(x->session);
    x->session = s;
    return 0;
}

/*  ---- one HTTP exchange ------------------------------------------------------------------- */

static bool s_type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct && strncasecmp(ct, want, n) == 0 && (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/*  First bytes of the answer: status 200? In AUTO, a non-JSON answer means XML-RPC only.  */
static void s_check_answer(xoc_xapi_t *x, bool json_auto)
{
    long status = 0;
    char *ct = NULL;
    x->checked = true;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
    x->http_status = (int)status;
    if (status != 200)
        x->bad_status = true;
    else if (json_auto && !s_type_is(ct, "application/json"))
        x->fallback = true;
}

static size_t s_on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    xoc_xapi_t *x = ud;
    size_t n = size * nmemb;
    if (!x->checked)
        s_check_answer(x, x->transport == XOC_XAPI_AUTO && !x->fell_back);
    if (atomic_load(&x->canceled) || x->fallback)
        return 0;
    if (x->bad_status) {
        if (x->got < S_SNIPPET) {
            size_t keep = S_SNIPPET - x->got;
            memcpy(x->snippet + x->got, ptr, n < keep ? n : keep);
        }
        x->got += n;
        return x->got > 65536 ? 0 : n; /* read a short error page to keep the connection */
    }
    x->got += n;
    return xoc_xapi_parser_feed(x->parser, ptr, n) == 0 ? n : 0;
}

/*  Runs the transfer on the private multi handle; wakes up on xoc_xapi_cancel().           */
static CURLcode s_perform(xoc_xapi_t *x)
{
    CURLcode res = CURLE_OK;
    if (curl_multi_add_handle(x->multi, x->easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    for (;;) {
        int running = 0, queued;
        if (curl_multi_perform(x->multi, &running) != CURLM_OK) {
            res = CURLE_FAILED_INIT;
            break;
        }
        CURLMsg *m = curl_multi_info_read(x->multi, &queued);
        if (m && m->msg == CURLMSG_DONE) {
            res = m->data.result;
            break;
        }
        if (atomic_load(&x->canceled)) {
            res = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        curl_multi_poll(x->multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(x->multi, x->easy);
    return res;
}

static int s_curl_error(xoc_xapi_t *x, CURLcode res)
{
    curl_off_t pre = 0;
    switch (res) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return XOC_EUNREACHABLE;
    case CURLE_OPERATION_TIMEDOUT:
        curl_easy_getinfo(x->easy, CURLINFO_PRETRANSFER_TIME_T, &pre);
        return pre == 0 && x->got == 0 ? XOC_EUNREACHABLE : XOC_ETIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return XOC_ETLS;
    case CURLE_ABORTED_BY_CALLBACK:
        return XOC_ECANCELED;
    case CURLE_PARTIAL_FILE:
        return XOC_ETRUNCATED;
    case CURLE_OUT_OF_MEMORY:
        return XOC_ENOMEM;
    default:
        return x->got ? XOC_ETRUNCATED : XOC_EIO;
    }
}

/*  The outcome of a finished transfer, in order: canceled, parser error, fallback, curl
    error, HTTP status, then the decoded answer.                                           */
static int s_outcome(xoc_xapi_t *x, CURLcode res, bool json_auto)
{
    if (atomic_load(&x->canceled))
        return XOC_ECANCELED;
    int perr = xoc_xapi_parser_feed(x->parser, NULL, 0);
    if (perr)
        return perr;
    if (x->fallback)
        return S_FALLBACK;
    if (res == CURLE_OK && !x->checked)
        s_check_answer(x, json_auto);
    if (x->fallback)
        return S_FALLBACK;
    if (res != CURLE_OK && !(x->bad_status && res == CURLE_WRITE_ERROR))
        return s_curl_error(x, res);
    if (x->bad_status)
        return XOC_EHTTP;
    return xoc_xapi_parser_finish(x->parser, &x->fault);
}

static void s_set_detail(xoc_xapi_t *x, const char *method, int rc)
{
    if (rc == 0) {
        x->detail[0] = 0;
        return;
    }
    if (rc == XOC_EXAPI)
        snprintf(x->detail, sizeof x->detail, "%.60s: XAPI %.80s%s%.80s", method, x->fault.code,
                 x->fault.nparams ? " " : "", x->fault.nparams ? x->fault.params[0] : "");
    else if (rc == XOC_EHTTP)
        snprintf(x->detail, sizeof x->detail, "%.60s: HTTP %d %.120s", method, x->http_status,
                 x->snippet);
    else
        snprintf(x->detail, sizeof x->detail, "%.60s: %s%s%.150s", method, xoc_strerror(rc),
                 x->errbuf[0] ? ": " : "", x->errbuf);
    xoc_debug("xapi call failed url=%s %s", x->url, x->detail);
}

static void s_call_reset(xoc_xapi_t *x)
{
    xoc_xapi_fault_clear(&x->fault);
    x->checked = x->bad_status = x->fallback = false;
    x->got = 0;
    x->http_status = 0;
    memset(x->snippet, 0, sizeof x->snippet);
    x->errbuf[0] = 0;
}

static void s_easy_request(xoc_xapi_t *x, bool json, const msgpack_sbuffer *body, long tmo)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", x->url, json ? "/jsonrpc" : "/");
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, body->data);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->size);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, json ? x->hdr_json : x->hdr_xml);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, x->connect_ms);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, tmo > 0 ? tmo : x->call_ms);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, x->verify ? 1L : 0L);
    curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, x->verify ? 2L : 0L);
    /* the configured proxy or none ("": not the environment's either, as xo-server);
       HTTPS goes through it with CONNECT */
    curl_easy_setopt(x->easy, CURLOPT_PROXY, x->proxy ? x->proxy : "");
}

typedef struct {
    const char *method;
    const void *params;
    size_t params_len;
    xoc_xapi_decode_opts_t opts;
    msgpack_sbuffer *out;
    long timeout_ms;
} s_call_t;

static int s_exchange(xoc_xapi_t *x, const s_call_t *c, const char *session)
{
    bool json_auto = x->transport == XOC_XAPI_AUTO && !x->fell_back;
    bool json = x->transport == XOC_XAPI_JSONRPC || json_auto;
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    int rc = xoc_xapi_encode(json ? XOC_XAPI_JSONRPC : XOC_XAPI_XMLRPC, c->method, session,
                             c->params, c->params_len, x->next_id++, &body);
    if (rc)
        goto free_body;
    s_call_reset(x);
    x->parser = xoc_xapi_parser_new(json ? XOC_XAPI_JSONRPC : XOC_XAPI_XMLRPC, &c->opts, c->out);
    if (!x->parser) {
        rc = XOC_ENOMEM;
        goto free_body;
    }
    s_easy_request(x, json, &body, c->timeout_ms);
    CURLcode res = s_perform(x);
    rc = s_outcome(x, res, json_auto);
    xoc_xapi_parser_destroy(&x->parser);
free_body:
    msgpack_sbuffer_destroy(&body);
    return rc;
}

static bool s_needs_session(const char *method)
{
    return strcmp(method, "session.login_with_password") != 0 &&
           strcmp(method, "session.slave_local_login_with_password") != 0 &&
           strncmp(method, "system.", 7) != 0;
}

static double s_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void xoc_xapi_set_observer(xoc_xapi_t *x, xoc_xapi_observe_fn *fn, void *arg)
{
    x->observe = fn;
    x->observe_arg = arg;
}

static int s_call(xoc_xapi_t *x, const s_call_t *c)
{
    double started = x->observe ? s_mono_s() : 0;
    int rc;
    bool needs = c->method && s_needs_session(c->method);
    const char *session = needs ? x->session : NULL;
    if (!c->method)
        rc = XOC_EINVAL;
    else if (atomic_load(&x->canceled))
        rc = XOC_ECANCELED;
    else if (needs && !session)
        rc = XOC_ESTATE;
    else if ((rc = s_exchange(x, c, session)) == S_FALLBACK) {
        xoc_info("xapi url=%s answers no JSON-RPC: XML-RPC from now on", x->url);
        x->fell_back = true;
        rc = s_exchange(x, c, session);
    }
    if (rc == S_FALLBACK)
        rc = XOC_EPROTO;
    s_set_detail(x, c->method ? c->method : "?", rc);
    if (x->observe && c->method)
        x->observe(c->method, rc, s_mono_s() - started, x->observe_arg);
    return rc;
}

static int s_call_init(xoc_xapi_t *x, s_call_t *c, const char *method, xoc_xapi_mode_t mode,
                       xoc_xapi_entry_fn *fn, void *arg)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    xoc_xapi_decode_opts_t o = x->limits;
    o.mode = mode;
    o.on_entry = fn;
    o.arg = arg;
    return xoc_xapi_opts_check(&o, &c->opts);
}

/*  ---- calls --------------------------------------------------------------------------- */

int xoc_xapi_call(xoc_xapi_t *x, const char *method, const void *params, size_t params_len,
                  msgpack_sbuffer *result)
{
    s_call_t c;
    int rc = s_call_init(x, &c, method, XOC_XAPI_PLAIN, NULL, NULL);
    if (rc)
        return rc;
    c.params = params;
    c.params_len = params_len;
    c.out = result;
    return s_call(x, &c);
}

int xoc_xapi_call_stream(xoc_xapi_t *x, const char *method, const void *params,
                         size_t params_len, xoc_xapi_mode_t mode, xoc_xapi_entry_fn *on_entry,
                         void *arg, msgpack_sbuffer *rest, long timeout_ms)
{
    s_call_t c;
    int rc = s_call_init(x, &c, method, mode, on_entry, arg);
    if (rc)
        return rc;
    c.params = params;
    c.params_len = params_len;
    c.out = rest;
    c.timeout_ms = timeout_ms;
    return s_call(x, &c);
}

/*  Packs one picture letter's argument(s).                                                  */
static int s_pack_arg(msgpack_packer *pk, msgpack_sbuffer *sb, char letter, va_list *ap)
{
    switch (letter) {
    case 's': {
        const char *s = va_arg(*ap, const char *);
        if (!s)
            return XOC_EINVAL;
        return msgpack_pack_str_with_body(pk, s, strlen(s)) ? XOC_ENOMEM : 0;
    }
    case 'i':
        return msgpack_pack_int64(pk, va_arg(*ap, int64_t)) ? XOC_ENOMEM : 0;
    case 'd':
        return msgpack_pack_double(pk, va_arg(*ap, double)) ? XOC_ENOMEM : 0;
    case 'b':
        return (va_arg(*ap, int) ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ? XOC_ENOMEM
                                                                                   : 0;
    case 'S': {
        const char *const *v = va_arg(*ap, const char *const *);
        size_t n = va_arg(*ap, size_t);
        int rc = msgpack_pack_array(pk, n) ? XOC_ENOMEM : 0;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = v[i] ? (msgpack_pack_str_with_body(pk, v[i], strlen(v[i])) ? XOC_ENOMEM : 0)
                      : XOC_EINVAL;
        return rc;
    }
    case 'm': {
        const void *m = va_arg(*ap, const void *);
        size_t n = va_arg(*ap, size_t);
        return m && n && msgpack_sbuffer_write(sb, m, n) == 0 ? 0 : XOC_EINVAL;
    }
    default:
        return XOC_EINVAL;
    }
}

int xoc_xapi_callf(xoc_xapi_t *x, const char *method, msgpack_sbuffer *result,
                   const char *picture, ...)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = picture ? strlen(picture) : 0;
    int rc = msgpack_pack_array(&pk, n) ? XOC_ENOMEM : 0;
    va_list ap;
    va_start(ap, picture);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_pack_arg(&pk, &sb, picture[i], &ap);
    va_end(ap);
    if (rc == 0)
        rc = xoc_xapi_call(x, method, sb.data, sb.size, result);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/*  The result as a string (login, Async.*): *out gets a copy.                              */
static int s_string_result(const msgpack_sbuffer *sb, char **out)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = XOC_ETYPE;
    if (msgpack_unpack_next(&u, sb->data, sb->size, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_STR) {
        *out = xoc_xapi_strdup_mp(&u.data);
        rc = *out ? 0 : XOC_ENOMEM;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int xoc_xapi_login(xoc_xapi_t *x, const char *user, const char *password)
{
    if (!user || !password)
        return XOC_EINVAL;
    msgpack_sbuffer res;
    msgpack_sbuffer_init(&res);
    int rc = xoc_xapi_callf(x, "session.login_with_password", &res, "ss", user, password);
    char *session = NULL;
    if (rc == 0)
        rc = s_string_result(&res, &session);
    if (rc == 0) {
        free(x->session);
        x->session = session;
        xoc_debug("xapi logged in url=%s user=%s", x->url, user);
    }
    msgpack_sbuffer_destroy(&res);
    return rc;
}

int xoc_xapi_logout(xoc_xapi_t *x)
{
    if (!x->session)
        return 0;
    int rc = xoc_xapi_call(x, "session.logout", NULL, 0, NULL);
    free(x->session);
    x->session = NULL;
    return rc;
}

int xoc_xapi_call_async(xoc_xapi_t *x, const char *method, const void *params,
                        size_t params_len, char **task_ref)
{
    char name[256];
    if (!method || !task_ref || snprintf(name, sizeof name, "Async.%s", method) >= (int)sizeof name)
        return XOC_EINVAL;
    msgpack_sbuffer res;
    msgpack_sbuffer_init(&res);
    int rc = xoc_xapi_call(x, name, params, params_len, &res);
    if (rc == 0)
        rc = s_string_result(&res, task_ref);
    msgpack_sbuffer_destroy(&res);
    return rc;
}

int xoc_xapi_get_all_records(xoc_xapi_t *x, const char *cls, xoc_xapi_entry_fn *on_entry,
                             void *arg)
{
    char name[256];
    if (!cls || snprintf(name, sizeof name, "%s.get_all_records", cls) >= (int)sizeof name)
        return XOC_EINVAL;
    return xoc_xapi_call_stream(x, name, NULL, 0, XOC_XAPI_RECORDS, on_entry, arg, NULL, 0);
}

/*  Takes token and valid_ref_counts out of event.from's rest map.                          */
static int s_event_rest(const msgpack_sbuffer *rest, char **new_token, msgpack_sbuffer *counts)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = XOC_EPROTO;
    if (msgpack_unpack_next(&u, rest->data, rest->size, NULL) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_MAP)
        goto free_unpacked;
    const msgpack_object_map *m = &u.data.via.map;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        if (k->via.str.size == 5 && memcmp(k->via.str.ptr, "token", 5) == 0) {
            if (v->type != MSGPACK_OBJECT_STR) {
                rc = XOC_ETYPE;
                goto free_unpacked;
            }
            free(*new_token);
            *new_token = xoc_xapi_strdup_mp(v);
        } else if (counts && k->via.str.size == 16 &&
                   memcmp(k->via.str.ptr, "valid_ref_counts", 16) == 0) {
            msgpack_packer pk;
            msgpack_packer_init(&pk, counts, msgpack_sbuffer_write);
            msgpack_pack_object(&pk, *v);
        }
    }
    rc = *new_token ? 0 : XOC_EPROTO;
free_unpacked:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int xoc_xapi_event_from(xoc_xapi_t *x, const char *const *classes, size_t nclasses,
                        const char *token, double timeout_s, xoc_xapi_entry_fn *on_event,
                        void *arg, char **new_token, msgpack_sbuffer *valid_ref_counts)
{
    if (!token || !new_token || !on_event || (nclasses && !classes))
        return XOC_EINVAL;
    *new_token = NULL;
    msgpack_sbuffer params, rest;
    msgpack_sbuffer_init(&params);
    msgpack_sbuffer_init(&rest);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &params, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_array(&pk, nclasses);
    for (size_t i = 0; i < nclasses; i++)
        msgpack_pack_str_with_body(&pk, classes[i] ? classes[i] : "", classes[i] ? strlen(classes[i]) : 0);
    msgpack_pack_str_with_body(&pk, token, strlen(token));
    msgpack_pack_double(&pk, timeout_s);
    long tmo = (long)(timeout_s * 1000) + 6000;
    int rc = xoc_xapi_call_stream(x, "event.from", params.data, params.size, XOC_XAPI_EVENTS,
                                  on_event, arg, &rest, tmo);
    if (rc == 0)
        rc = s_event_rest(&rest, new_token, valid_ref_counts);
    if (rc) {
        free(*new_token);
        *new_token = NULL;
    }
    msgpack_sbuffer_destroy(&params);
    msgpack_sbuffer_destroy(&rest);
    return rc;
}

/*  ---- pool master, handler URLs ---------------------------------------------------------- */

const char *xoc_xapi_master_address(const xoc_xapi_t *x)
{
    if (!x->fault.code || strcmp(x->fault.code, "HOST_IS_SLAVE") != 0 || x->fault.nparams < 1)
        return NULL;
    return x->fault.params[0];
}

int xoc_xapi_set_host(xoc_xapi_t *x, const char *address)
{
    if (!address || !*address)
        return XOC_EINVAL;
    char host[300];
    bool v6 = strchr(address, ':') && address[0] != '[';
    if (snprintf(host, sizeof host, v6 ? "[%s]" : "%s", address) >= (int)sizeof host)
        return XOC_EINVAL;
    char *base;
    int rc = s_base_url(x->url, host, &base);
    if (rc)
        return rc;
    free(x->url);
    x->url = base;
    return 0;
}

int xoc_xapi_follow_master(xoc_xapi_t *x)
{
    const char *m = xoc_xapi_master_address(x);
    if (!m || !*m)
        return XOC_ESTATE;
    char from[512];
    snprintf(from, sizeof from, "%s", x->url);
    int rc = xoc_xapi_set_host(x, m);
    if (rc == 0)
        xoc_info("xapi following master from=%s to=%s", from, x->url);
    return rc;
}

static int s_append_param(char **url, CURL *e, const char *k, const char *v)
{
    char *ek = curl_easy_escape(e, k, 0), *ev = curl_easy_escape(e, v, 0);
    char *n = NULL;
    int rc = ek && ev && asprintf(&n, "%s%s%s=%s", *url, strchr(*url, '?') ? "&" : "?", ek, ev) >= 0
                 ? 0
                 : XOC_ENOMEM;
    curl_free(ek);
    curl_free(ev);
    if (rc == 0) {
        free(*url);
        *url = n;
    }
    return rc;
}

char *xoc_xapi_handler_url(const xoc_xapi_t *x, const char *path, const char *const *kv,
                           size_t n)
{
    char *url = NULL;
    if (!x->session || !path || (n && !kv))
        return NULL;
    if (asprintf(&url, "%s%s%s", x->url, path[0] == '/' ? "" : "/", path) < 0)
        return NULL;
    int rc = s_append_param(&url, x->easy, "session_id", x->session);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = kv[2 * i] && kv[2 * i + 1] ? s_append_param(&url, x->easy, kv[2 * i], kv[2 * i + 1])
                                        : XOC_EINVAL;
    if (rc) {
        free(url);
        url = NULL;
    }
    return url;
}
