/*  xoc_xapi_int — private parts of the XAPI client shared by its files:
    the sink (value events -> msgpack, envelope routing, streaming split) and the two
    streaming response parsers that feed it. Not for use outside libshared/xoc_xapi*.c.       */
#ifndef XOC_XAPI_INT_H
#define XOC_XAPI_INT_H

#include "xoc_xapi.h"

/*  Scalar kinds given to the sink, always as text (as it came on the wire).                 */
enum {
    XOC_XAPI_V_STR,
    XOC_XAPI_V_INT,    /* decimal text */
    XOC_XAPI_V_DOUBLE, /* text for strtod */
    XOC_XAPI_V_BOOL,   /* "0"/"1" (XML-RPC), "true"/"false" (JSON) */
    XOC_XAPI_V_NIL,
};

/*  Envelope kinds.                                                                           */
enum {
    XOC_XAPI_ENV_XML,   /* <value> of <param>: struct {Status, Value|ErrorDescription} or bare */
    XOC_XAPI_ENV_JSON,  /* {jsonrpc, id, result|error} */
    XOC_XAPI_ENV_FAULT, /* <value> of <fault>: {faultCode, faultString} */
};

typedef struct xoc_xapi_sink_t xoc_xapi_sink_t;

/*  The sink of one answer. result: where PLAIN results / the EVENTS rest go (NULL = own
    buffer). Returns NULL without memory; opts are validated by the caller.                  */
xoc_xapi_sink_t *xoc_xapi_sink_new(int env, const xoc_xapi_decode_opts_t *opts,
                                   msgpack_sbuffer *result);
void xoc_xapi_sink_destroy(xoc_xapi_sink_t **p);

/*  Value events. Each returns the sink's sticky error (0 while all is well).                */
int xoc_xapi_sink_begin(xoc_xapi_sink_t *s, bool is_map);
int xoc_xapi_sink_end(xoc_xapi_sink_t *s);
int xoc_xapi_sink_key(xoc_xapi_sink_t *s, const char *k, size_t n);
int xoc_xapi_sink_scalar(xoc_xapi_sink_t *s, int kind, const char *txt, size_t n);

/*  Records an error (the first one wins) and returns the sticky error.                      */
int xoc_xapi_sink_fail(xoc_xapi_sink_t *s, int err);
int xoc_xapi_sink_error(const xoc_xapi_sink_t *s);

/*  Replaces the recorded error (a parser that learns more at the end of the body).         */
int xoc_xapi_sink_replace(xoc_xapi_sink_t *s, int err);

/*  Switches the envelope (XML-RPC <fault>) before the first event.                           */
void xoc_xapi_sink_set_env(xoc_xapi_sink_t *s, int env);

/*  True once the top-level value is complete.                                                */
bool xoc_xapi_sink_done(const xoc_xapi_sink_t *s);

/*  Limits in force (normalised).                                                             */
size_t xoc_xapi_sink_max_value(const xoc_xapi_sink_t *s);
int xoc_xapi_sink_max_depth(const xoc_xapi_sink_t *s);

/*  After the parser finished: 0 (result kept), XOC_EXAPI (fault filled), or the error.
    On any error the result buffer is restored to its size at xoc_xapi_sink_new().          */
int xoc_xapi_sink_finish(xoc_xapi_sink_t *s, xoc_xapi_fault_t *fault);

/*  A streaming response parser: XML-RPC (libxml2 push SAX) or JSON-RPC (yajl).              */
typedef struct xoc_xapi_parser_t xoc_xapi_parser_t;

xoc_xapi_parser_t *xoc_xapi_parser_new(xoc_xapi_transport_t t, const xoc_xapi_decode_opts_t *opts,
                                       msgpack_sbuffer *result);
void xoc_xapi_parser_destroy(xoc_xapi_parser_t **p);

/*  Feeds a piece of the body. Returns 0 or the sticky error (XOC_EPROTO, XOC_ETOOBIG, ...). */
int xoc_xapi_parser_feed(xoc_xapi_parser_t *p, const void *buf, size_t len);

/*  End of body: 0, XOC_EXAPI (fault filled), XOC_ETRUNCATED, XOC_EPROTO, ...                */
int xoc_xapi_parser_finish(xoc_xapi_parser_t *p, xoc_xapi_fault_t *fault);

/*  XML-RPC and JSON-RPC halves of the parser, in xoc_xapi_xml.c and xoc_xapi_json.c.        */
void *xoc_xapi_xml_new(xoc_xapi_sink_t *s);
int xoc_xapi_xml_feed(void *h, const void *buf, size_t len, bool last);
void xoc_xapi_xml_destroy(void *h);
void *xoc_xapi_json_new(xoc_xapi_sink_t *s);
int xoc_xapi_json_feed(void *h, const void *buf, size_t len, bool last);
void xoc_xapi_json_destroy(void *h);

/*  The request body of method(session?, params...) (xoc_xapi_enc.c): session may be NULL.
    Returns 0, XOC_EINVAL, XOC_ENOMEM; out is unchanged on error.                           */
int xoc_xapi_encode(xoc_xapi_transport_t t, const char *method, const char *session,
                    const void *params, size_t params_len, uint64_t id, msgpack_sbuffer *out);

/*  A C copy of a msgpack str (msgpack-c leaves ptr NULL for ""). NULL without memory.      */
char *xoc_xapi_strdup_mp(const msgpack_object *o);

/*  Valid UTF-8: no overlong form, no surrogate, nothing above U+10FFFF; with xml, only XML 1.0
    characters (no NUL, no C0 control but tab, LF, CR).                                     */
bool xoc_xapi_utf8_ok(const char *s, size_t n, bool xml);

/*  Normalises decode options (defaults for zeroes); XOC_EINVAL when inconsistent.           */
int xoc_xapi_opts_check(const xoc_xapi_decode_opts_t *in, xoc_xapi_decode_opts_t *out);

/*  One-time global init of libcurl and libxml2 (thread-safe).                                */
void xoc_xapi_global_init(void);

#endif
