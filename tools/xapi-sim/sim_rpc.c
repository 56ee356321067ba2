#include "sim_rpc.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 64

static int s_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static const xmlNode *s_first_elem(const xmlNode *n)
{
    for (const xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static const xmlNode *s_next_elem(const xmlNode *n)
{
    for (n = n->next; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static json_t *s_text(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    json_t *s = json_string(t ? (const char *)t : "");
    xmlFree(t);
    return s ? s : json_string("");
}

static json_t *s_value(const xmlNode *v, int depth);

static json_t *s_array(const xmlNode *a, int depth)
{
    const xmlNode *data = s_first_elem(a);
    if (!s_is(data, "data"))
        return NULL;
    json_t *arr = json_array();
    for (const xmlNode *c = s_first_elem(data); c; c = s_next_elem(c)) {
        json_t *e = s_is(c, "value") ? s_value(c, depth + 1) : NULL;
        if (!e) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, e);
    }
    return arr;
}

static json_t *s_struct(const xmlNode *st, int depth)
{
    json_t *obj = json_object();
    for (const xmlNode *m = s_first_elem(st); m; m = s_next_elem(m)) {
        const xmlNode *name = s_first_elem(m);
        const xmlNode *val = name ? s_next_elem(name) : NULL;
        json_t *v = s_is(m, "member") && s_is(name, "name") && s_is(val, "value")
                        ? s_value(val, depth + 1)
                        : NULL;
        if (!v) {
            json_decref(obj);
            return NULL;
        }
        xmlChar *k = xmlNodeGetContent(name);
        json_object_set_new(obj, k ? (const char *)k : "", v);
        xmlFree(k);
    }
    return obj;
}

static json_t *s_scalar(const xmlNode *t)
{
    const char *n = (const char *)t->name;
    if (!strcmp(n, "string") || !strcmp(n, "dateTime.iso8601") || !strcmp(n, "base64"))
        return s_text(t);
    xmlChar *txt = xmlNodeGetContent(t);
    const char *s = txt ? (const char *)txt : "";
    json_t *r = NULL;
    char *end = NULL;
    if (!strcmp(n, "i4") || !strcmp(n, "int") || !strcmp(n, "i8")) {
        long long v = strtoll(s, &end, 10);
        if (end != s && *end == '\0')
            r = json_integer(v);
    } else if (!strcmp(n, "double")) {
        double d = strtod(s, &end);
        if (end != s && *end == '\0')
            r = json_real(d);
    } else if (!strcmp(n, "boolean")) {
        if (!strcmp(s, "1") || !strcmp(s, "0"))
            r = json_boolean(s[0] == '1');
    } else if (!strcmp(n, "nil")) {
        r = json_null();
    }
    xmlFree(txt);
    return r;
}

static json_t *s_value(const xmlNode *v, int depth)
{
    if (depth > S_MAX_DEPTH)
        return NULL;
    const xmlNode *t = s_first_elem(v);
    if (!t)
        return s_text(v); /* <value>text</value> is a string */
    if (s_is(t, "array"))
        return s_array(t, depth);
    if (s_is(t, "struct"))
        return s_struct(t, depth);
    return s_scalar(t);
}

static int s_fail(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -1;
}

static int s_params(const xmlNode *call, sim_rpc_req_t *req, const char **why)
{
    const xmlNode *name = s_first_elem(call);
    if (!s_is(name, "methodName"))
        return s_fail(why, "missing methodName");
    xmlChar *m = xmlNodeGetContent(name);
    req->method = strdup(m ? (const char *)m : "");
    xmlFree(m);
    req->params = json_array();
    const xmlNode *params = s_next_elem(name);
    if (!params)
        return 0;
    if (!s_is(params, "params"))
        return s_fail(why, "expected params");
    for (const xmlNode *p = s_first_elem(params); p; p = s_next_elem(p)) {
        const xmlNode *v = s_first_elem(p);
        json_t *val = s_is(p, "param") && s_is(v, "value") ? s_value(v, 0) : NULL;
        if (!val)
            return s_fail(why, "malformed param");
        json_array_append_new(req->params, val);
    }
    return 0;
}

int sim_rpc_decode_xml(const char *buf, size_t len, sim_rpc_req_t *req, const char **why)
{
    memset(req, 0, sizeof *req);
    req->mode = SIM_WR_XML;
    if (len > (size_t)0x7fffffff)
        return s_fail(why, "request too large");
    xmlDoc *doc = xmlReadMemory(buf, (int)len, "request.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc)
        return s_fail(why, "malformed XML");
    int rc = -1;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!s_is(root, "methodCall")) {
        s_fail(why, "expected methodCall");
        goto cleanup_doc;
    }
    rc = s_params(root, req, why);
cleanup_doc:
    xmlFreeDoc(doc);
    if (rc != 0)
        sim_rpc_req_clear(req);
    return rc;
}

int sim_rpc_decode_json(const char *buf, size_t len, sim_rpc_req_t *req, const char **why)
{
    memset(req, 0, sizeof *req);
    req->mode = SIM_WR_JSON;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, 0, &jerr);
    if (!root)
        return s_fail(why, "malformed JSON");
    int rc = -1;
    json_t *method = json_object_get(root, "method");
    json_t *params = json_object_get(root, "params");
    json_t *ver = json_object_get(root, "jsonrpc");
    if (!json_is_object(root) || !json_is_string(method)) {
        s_fail(why, "missing method");
        goto cleanup_root;
    }
    req->version = json_is_string(ver) && !strcmp(json_string_value(ver), "2.0") ? 2 : 1;
    req->method = strdup(json_string_value(method));
    req->id = json_incref(json_object_get(root, "id"));
    if (!req->id)
        req->id = json_null();
    if (json_is_array(params))
        req->params = json_incref(params);
    else if (json_is_object(params))
        req->params = json_pack("[O]", params);
    else
        req->params = json_array();
    rc = 0;
cleanup_root:
    json_decref(root);
    if (rc != 0)
        sim_rpc_req_clear(req);
    return rc;
}

json_t *sim_rpc_xml_value(const char *buf, size_t len)
{
    if (len > (size_t)0x7fffffff)
        return NULL;
    xmlDoc *doc =
        xmlReadMemory(buf, (int)len, "ova.xml", NULL,
                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_HUGE);
    if (!doc)
        return NULL;
    const xmlNode *root = xmlDocGetRootElement(doc);
    json_t *v = s_is(root, "value") ? s_value(root, 0) : NULL;
    xmlFreeDoc(doc);
    return v;
}

void sim_rpc_req_clear(sim_rpc_req_t *req)
{
    free(req->method);
    json_decref(req->params);
    json_decref(req->id);
    req->method = NULL;
    req->params = NULL;
    req->id = NULL;
}

static void s_json_id(const sim_rpc_req_t *req, sim_buf_t *out)
{
    char *id = req->id ? json_dumps(req->id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    sim_buf_adds(out, id ? id : "null");
    free(id);
}

#define S_XML_HEAD "<?xml version=\"1.0\"?><methodResponse><params><param>"
#define S_XML_TAIL "</param></params></methodResponse>"

void sim_rpc_begin(const sim_rpc_req_t *req, sim_buf_t *out, sim_wr_t *w, int bare)
{
    sim_wr_init(w, req->mode, out);
    if (req->mode == SIM_WR_XML) {
        sim_buf_adds(out, S_XML_HEAD);
        if (!bare)
            sim_buf_adds(out, "<value><struct><member><name>Status</name><value>Success</value>"
                              "</member><member><name>Value</name>");
        return;
    }
    sim_buf_adds(out, req->version == 2 ? "{\"jsonrpc\":\"2.0\",\"result\":" : "{\"result\":");
}

void sim_rpc_end(const sim_rpc_req_t *req, sim_buf_t *out, int bare)
{
    if (req->mode == SIM_WR_XML) {
        if (!bare)
            sim_buf_adds(out, "</member></struct></value>");
        sim_buf_adds(out, S_XML_TAIL);
        return;
    }
    sim_buf_adds(out, req->version == 2 ? ",\"id\":" : ",\"error\":null,\"id\":");
    s_json_id(req, out);
    sim_buf_addc(out, '}');
}

void sim_rpc_error(const sim_rpc_req_t *req, sim_buf_t *out, const json_t *err)
{
    sim_wr_t w;
    sim_buf_reset(out);
    sim_wr_init(&w, req->mode, out);
    if (req->mode == SIM_WR_XML) {
        sim_buf_adds(out, S_XML_HEAD "<value><struct><member><name>Status</name><value>Failure"
                                     "</value></member><member><name>ErrorDescription</name>");
        sim_wr_json(&w, err);
        sim_buf_adds(out, "</member></struct></value>" S_XML_TAIL);
        return;
    }
    if (req->version == 2) {
        sim_buf_adds(out, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,\"message\":");
        json_t *code = json_array_get(err, 0);
        if (code)
            sim_wr_json(&w, code);
        else
            sim_wr_str(&w, "");
        sim_buf_adds(out, ",\"data\":");
        sim_wr_init(&w, req->mode, out);
        sim_wr_arr_begin(&w);
        for (size_t i = 1; i < json_array_size(err); i++)
            sim_wr_json(&w, json_array_get(err, i));
        sim_wr_arr_end(&w);
        sim_buf_adds(out, "},\"id\":");
    } else {
        sim_buf_adds(out, "{\"result\":null,\"error\":");
        sim_wr_json(&w, err);
        sim_buf_adds(out, ",\"id\":");
    }
    s_json_id(req, out);
    sim_buf_addc(out, '}');
}
