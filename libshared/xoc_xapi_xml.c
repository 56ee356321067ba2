/*  xoc_xapi_xml — XML-RPC response parser: libxml2's push SAX parser fed piece by piece,
    every element checked against the XML-RPC grammar, values passed to the sink.
    No DTD (a DOCTYPE is refused), no network, CDATA as text, text bounded by max_value.      */
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_xapi_int.h"

typedef enum {
    T_NONE, T_RESPONSE, T_PARAMS, T_PARAM, T_FAULT, T_VALUE, T_STRUCT, T_MEMBER, T_NAME,
    T_ARRAY, T_DATA, T_STRING, T_INT, T_DOUBLE, T_BOOL, T_DATETIME, T_BASE64, T_NIL,
} s_tag;

typedef struct {
    xoc_xapi_sink_t *sink;
    xmlParserCtxtPtr ctxt;
    s_tag *tags;     /* open elements */
    uint8_t *flag;   /* per open element: children seen (see s_allowed) */
    int ntags, cap;
    char *text;      /* text of the innermost scalar, <name> or bare <value> */
    size_t tlen, tcap;
    bool collect;
    bool finished;   /* </methodResponse> seen */
    bool xml_error;  /* libxml2 reported an error */
    size_t idle;     /* bytes fed since the last callback (a token libxml2 still buffers) */
    struct {
        const xmlChar *name; /* interned by the parser's dictionary: compared by address */
        s_tag tag;
    } seen[24];
    int nseen;
} s_xml;

static const struct {
    const char *name;
    s_tag tag;
} s_names[] = {
    {"methodResponse", T_RESPONSE}, {"params", T_PARAMS}, {"param", T_PARAM},
    {"fault", T_FAULT}, {"value", T_VALUE}, {"struct", T_STRUCT}, {"member", T_MEMBER},
    {"name", T_NAME}, {"array", T_ARRAY}, {"data", T_DATA}, {"string", T_STRING},
    {"int", T_INT}, {"i4", T_INT}, {"i8", T_INT}, {"double", T_DOUBLE},
    {"boolean", T_BOOL}, {"dateTime.iso8601", T_DATETIME}, {"base64", T_BASE64},
    {"nil", T_NIL},
};

static s_tag s_tag_lookup(const xmlChar *name)
{
    for (size_t i = 0; i < sizeof s_names / sizeof s_names[0]; i++)
        if (strcmp((const char *)name, s_names[i].name) == 0)
            return s_names[i].tag;
    return T_NONE;
}

/*  Element names come from the parser's dictionary, one address per name: remember them. */
static s_tag s_tag_of(s_xml *x, const xmlChar *name)
{
    for (int i = 0; i < x->nseen; i++)
        if (x->seen[i].name == name)
            return x->seen[i].tag;
    s_tag tag = s_tag_lookup(name);
    if (tag != T_NONE && x->nseen < (int)(sizeof x->seen / sizeof x->seen[0])) {
        x->seen[x->nseen].name = name;
        x->seen[x->nseen].tag = tag;
        x->nseen++;
    }
    return tag;
}

static bool s_is_scalar(s_tag t)
{
    return t >= T_STRING;
}

static void s_fail(s_xml *x, int err)
{
    xoc_xapi_sink_fail(x->sink, err);
    xmlStopParser(x->ctxt);
}

/*  May tag open inside the innermost element? Counts children in the parent's flag:
    methodResponse, param, fault, value, name-less member: at most one child of each kind.  */
static int s_allowed(s_xml *x, s_tag tag)
{
    s_tag parent = x->ntags ? x->tags[x->ntags - 1] : T_NONE;
    uint8_t *pf = x->ntags ? &x->flag[x->ntags - 1] : NULL;
    switch (tag) {
    case T_RESPONSE:
        return parent == T_NONE && !x->finished ? 0 : XOC_EPROTO;
    case T_PARAMS:
    case T_FAULT:
        if (parent != T_RESPONSE || (*pf)++)
            return XOC_EPROTO;
        if (tag == T_FAULT)
            xoc_xapi_sink_set_env(x->sink, XOC_XAPI_ENV_FAULT);
        return 0;
    case T_PARAM:
        return parent == T_PARAMS && !(*pf)++ ? 0 : XOC_EPROTO;
    case T_VALUE:
        if (parent == T_PARAM || parent == T_FAULT)
            return !(*pf)++ ? 0 : XOC_EPROTO;
        if (parent == T_MEMBER)
            return *pf == 1 && (*pf = 2) ? 0 : XOC_EPROTO;
        return parent == T_DATA ? 0 : XOC_EPROTO;
    case T_MEMBER:
        return parent == T_STRUCT ? 0 : XOC_EPROTO;
    case T_NAME:
        return parent == T_MEMBER && !(*pf)++ ? 0 : XOC_EPROTO;
    case T_DATA:
        return parent == T_ARRAY && !(*pf)++ ? 0 : XOC_EPROTO;
    case T_STRUCT:
    case T_ARRAY:
    default:
        if (tag == T_NONE)
            return XOC_EPROTO;
        return parent == T_VALUE && !(*pf)++ ? 0 : XOC_EPROTO;
    }
}

static int s_push(s_xml *x, s_tag tag)
{
    if (x->ntags == x->cap)
        return XOC_ETOOBIG; /* deeper than max_depth allows */
    x->tags[x->ntags] = tag;
    x->flag[x->ntags] = 0;
    x->ntags++;
    return 0;
}

static void s_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                    const xmlChar *uri, int nns, const xmlChar **ns, int nattr, int ndef,
                    const xmlChar **attr)
{
    s_xml *x = ctx;
    x->idle = 0;
    if (xoc_xapi_sink_error(x->sink))
        return;
    s_tag tag = s_tag_of(x, localname);
    int rc = s_allowed(x, tag);
    if (rc == 0)
        rc = s_push(x, tag);
    if (rc == 0 && (tag == T_STRUCT || tag == T_ARRAY))
        rc = xoc_xapi_sink_begin(x->sink, tag == T_STRUCT);
    if (rc) {
        s_fail(x, rc);
        return;
    }
    x->collect = tag == T_VALUE || tag == T_NAME || s_is_scalar(tag);
    x->tlen = 0;
}

static int s_scalar(s_xml *x, s_tag tag)
{
    static const int kinds[] = {
        [T_STRING] = XOC_XAPI_V_STR, [T_INT] = XOC_XAPI_V_INT, [T_DOUBLE] = XOC_XAPI_V_DOUBLE,
        [T_BOOL] = XOC_XAPI_V_BOOL, [T_DATETIME] = XOC_XAPI_V_STR, [T_BASE64] = XOC_XAPI_V_STR,
        [T_NIL] = XOC_XAPI_V_NIL, [T_VALUE] = XOC_XAPI_V_STR,
    };
    return xoc_xapi_sink_scalar(x->sink, kinds[tag], x->text ? x->text : "", x->tlen);
}

static int s_close(s_xml *x, s_tag tag, uint8_t flag)
{
    switch (tag) {
    case T_VALUE:
        return flag ? 0 : s_scalar(x, T_VALUE); /* no type element: a string */
    case T_STRUCT:
    case T_ARRAY:
        return xoc_xapi_sink_end(x->sink);
    case T_NAME:
        return xoc_xapi_sink_key(x->sink, x->text ? x->text : "", x->tlen);
    case T_MEMBER:
        return flag == 2 ? 0 : XOC_EPROTO;
    case T_PARAM:
    case T_FAULT:
    case T_PARAMS:
        return flag ? 0 : XOC_EPROTO;
    case T_RESPONSE:
        x->finished = true;
        return flag ? 0 : XOC_EPROTO;
    default:
        return s_is_scalar(tag) ? s_scalar(x, tag) : 0;
    }
}

static void s_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    s_xml *x = ctx;
    x->idle = 0;
    if (xoc_xapi_sink_error(x->sink) || x->ntags == 0)
        return;
    x->ntags--;
    int rc = s_close(x, x->tags[x->ntags], x->flag[x->ntags]);
    x->collect = false;
    if (rc)
        s_fail(x, rc);
}

static void s_chars(void *ctx, const xmlChar *ch, int len)
{
    s_xml *x = ctx;
    x->idle = 0;
    if (!x->collect || xoc_xapi_sink_error(x->sink))
        return;
    size_t n = (size_t)len;
    if (x->tlen + n > xoc_xapi_sink_max_value(x->sink)) {
        s_fail(x, XOC_ETOOBIG);
        return;
    }
    if (x->tlen + n + 1 > x->tcap) {
        size_t cap = x->tcap ? x->tcap : 256;
        while (cap < x->tlen + n + 1)
            cap *= 2;
        char *t = realloc(x->text, cap);
        if (!t) {
            s_fail(x, XOC_ENOMEM);
            return;
        }
        x->text = t;
        x->tcap = cap;
    }
    memcpy(x->text + x->tlen, ch, n);
    x->tlen += n;
}

static void s_dtd(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
    s_fail(ctx, XOC_EPROTO); /* XML-RPC has no DTD: refuse entities and their expansion */
}

static void s_serror(void *ctx, xmlErrorPtr err)
{
    s_xml *x = ctx;
    if (err && err->level >= XML_ERR_ERROR)
        x->xml_error = true;
}

void *xoc_xapi_xml_new(xoc_xapi_sink_t *sink)
{
    xoc_xapi_global_init();
    s_xml *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->sink = sink;
    x->cap = 3 * xoc_xapi_sink_max_depth(sink) + 12;
    x->tags = calloc((size_t)x->cap, sizeof *x->tags);
    x->flag = calloc((size_t)x->cap, sizeof *x->flag);
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = s_start;
    sax.endElementNs = s_end;
    sax.characters = s_chars;
    sax.cdataBlock = s_chars;
    sax.internalSubset = s_dtd;
    sax.serror = s_serror;
    if (x->tags && x->flag)
        x->ctxt = xmlCreatePushParserCtxt(&sax, x, NULL, 0, NULL);
    if (!x->ctxt) {
        xoc_xapi_xml_destroy(x);
        return NULL;
    }
    xmlCtxtUseOptions(x->ctxt, XML_PARSE_NONET | XML_PARSE_NOCDATA);
    return x;
}

void xoc_xapi_xml_destroy(void *h)
{
    s_xml *x = h;
    if (!x)
        return;
    if (x->ctxt)
        xmlFreeParserCtxt(x->ctxt);
    free(x->tags);
    free(x->flag);
    free(x->text);
    free(x);
}

static void s_quiet(void *ctx, const char *msg, ...)
{
}

/*  libxml2 prints some errors (encoding) through its per-thread generic handler: mute it
    for this call only, so a hostile body cannot flood stderr; errors still reach s_serror. */
static int s_parse_quietly(s_xml *x, const void *buf, size_t len, bool last)
{
    xmlGenericErrorFunc saved = xmlGenericError;
    void *saved_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(NULL, s_quiet);
    int rc = xmlParseChunk(x->ctxt, buf, (int)len, last);
    xmlSetGenericErrorFunc(saved_ctx, saved);
    return rc;
}

/*  An error seen only when the body ended (libxml2 waits for more input until then) means
    the body stopped early, unless the document was already complete.                     */
int xoc_xapi_xml_feed(void *h, const void *buf, size_t len, bool last)
{
    s_xml *x = h;
    int err = xoc_xapi_sink_error(x->sink);
    if (err)
        return err;
    x->idle += len;
    if (x->idle > xoc_xapi_sink_max_value(x->sink) + 65536)
        return xoc_xapi_sink_fail(x->sink, XOC_ETOOBIG);
    int rc = s_parse_quietly(x, buf, len, last);
    err = xoc_xapi_sink_error(x->sink);
    if (err == XOC_EPROTO && last && !x->finished) /* a tag cut in the middle, e.g. "<m" */
        return xoc_xapi_sink_replace(x->sink, XOC_ETRUNCATED);
    if (err)
        return err;
    if (rc != 0 || x->xml_error)
        return xoc_xapi_sink_fail(x->sink, last && !x->finished ? XOC_ETRUNCATED : XOC_EPROTO);
    if (last && !x->finished)
        return xoc_xapi_sink_fail(x->sink, XOC_ETRUNCATED);
    return 0;
}
