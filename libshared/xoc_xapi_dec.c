/*  xoc_xapi_dec — one streaming response parser (XML-RPC or JSON-RPC) over a sink, and the
    public decoders of a body held in memory (fed in chunks, exactly like a network body).   */
#include <curl/curl.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdlib.h>

#include "xoc_err.h"
#include "xoc_xapi_int.h"

#define S_CHUNK 65536

struct xoc_xapi_parser_t {
    xoc_xapi_sink_t *sink;
    bool json;
    void *h;
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    xmlInitParser();
}

void xoc_xapi_global_init(void)
{
    pthread_once(&s_once, s_global_init);
}

xoc_xapi_parser_t *xoc_xapi_parser_new(xoc_xapi_transport_t t, const xoc_xapi_decode_opts_t *opts,
                                       msgpack_sbuffer *result)
{
    xoc_xapi_parser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->json = t == XOC_XAPI_JSONRPC;
    p->sink = xoc_xapi_sink_new(p->json ? XOC_XAPI_ENV_JSON : XOC_XAPI_ENV_XML, opts, result);
    if (p->sink)
        p->h = p->json ? xoc_xapi_json_new(p->sink) : xoc_xapi_xml_new(p->sink);
    if (!p->h)
        xoc_xapi_parser_destroy(&p);
    return p;
}

void xoc_xapi_parser_destroy(xoc_xapi_parser_t **pp)
{
    if (!pp || !*pp)
        return;
    xoc_xapi_parser_t *p = *pp;
    if (p->json)
        xoc_xapi_json_destroy(p->h);
    else
        xoc_xapi_xml_destroy(p->h);
    xoc_xapi_sink_destroy(&p->sink);
    free(p);
    *pp = NULL;
}

int xoc_xapi_parser_feed(xoc_xapi_parser_t *p, const void *buf, size_t len)
{
    if (len == 0)
        return xoc_xapi_sink_error(p->sink);
    return p->json ? xoc_xapi_json_feed(p->h, buf, len, false)
                   : xoc_xapi_xml_feed(p->h, buf, len, false);
}

int xoc_xapi_parser_finish(xoc_xapi_parser_t *p, xoc_xapi_fault_t *fault)
{
    int rc = p->json ? xoc_xapi_json_feed(p->h, NULL, 0, true)
                     : xoc_xapi_xml_feed(p->h, NULL, 0, true);
    return rc ? rc : xoc_xapi_sink_finish(p->sink, fault);
}

static int s_decode(xoc_xapi_transport_t t, const void *buf, size_t len,
                    const xoc_xapi_decode_opts_t *opts, msgpack_sbuffer *result,
                    xoc_xapi_fault_t *fault)
{
    xoc_xapi_decode_opts_t o;
    int rc = xoc_xapi_opts_check(opts, &o);
    if (rc)
        return rc;
    if (fault)
        xoc_xapi_fault_clear(fault);
    xoc_xapi_parser_t *p = xoc_xapi_parser_new(t, &o, result);
    if (!p)
        return XOC_ENOMEM;
    const char *b = buf;
    for (size_t off = 0; off < len && rc == 0; off += S_CHUNK)
        rc = xoc_xapi_parser_feed(p, b + off, len - off < S_CHUNK ? len - off : S_CHUNK);
    if (rc == 0)
        rc = xoc_xapi_parser_finish(p, fault);
    xoc_xapi_parser_destroy(&p);
    return rc;
}

int xoc_xapi_decode_xmlrpc(const void *buf, size_t len, const xoc_xapi_decode_opts_t *opts,
                           msgpack_sbuffer *result, xoc_xapi_fault_t *fault)
{
    return s_decode(XOC_XAPI_XMLRPC, buf, len, opts, result, fault);
}

int xoc_xapi_decode_jsonrpc(const void *buf, size_t len, const xoc_xapi_decode_opts_t *opts,
                            msgpack_sbuffer *result, xoc_xapi_fault_t *fault)
{
    return s_decode(XOC_XAPI_JSONRPC, buf, len, opts, result, fault);
}
