/*  xoc_api_rpc — JSON-RPC 2.0 decoding, params schema, encoding. See xoc_api_rpc.h.      */
#include "xoc_api_rpc.h"

#include <string.h>

#include "xoc_err.h"

/* ---- encoding ------------------------------------------------------------------------------ */

static char *s_dump(json_t *doc)
{
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

static json_t *s_envelope(const json_t *id)
{
    json_t *doc = json_object();
    if (!doc)
        return NULL;
    json_object_set_new(doc, "jsonrpc", json_string("2.0"));
    json_object_set_new(doc, "id", id ? json_deep_copy(id) : json_null());
    return doc;
}

char *xoc_api_rpc_result(const json_t *id, json_t *result)
{
    json_t *doc = s_envelope(id);
    if (!doc || !result) {
        json_decref(doc);
        json_decref(result);
        return NULL;
    }
    json_object_set_new(doc, "result", result);
    return s_dump(doc);
}

char *xoc_api_rpc_error(const json_t *id, json_t *error_object)
{
    json_t *doc = s_envelope(id);
    if (!doc || !error_object) {
        json_decref(doc);
        json_decref(error_object);
        return NULL;
    }
    json_object_set_new(doc, "error", error_object);
    return s_dump(doc);
}

char *xoc_api_rpc_notification(const char *method, json_t *params)
{
    json_t *doc = json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method", method, "params",
                            params ? params : json_object());
    return s_dump(doc);
}

/* xo-server's messages for the xoc codes that reach clients (xo-api.md §2) */
static const char *s_xo_message(int code)
{
    switch (code) {
    case XOC_ENOTIMPL: return "not implemented";
    case XOC_ENOENT: return "no such object";
    case XOC_EPERM: return "not enough permissions";
    case XOC_EAUTH: return "invalid credentials";
    case XOC_EINVAL:
    case XOC_EMISSING:
    case XOC_ETYPE: return "invalid parameters";
    case XOC_EEXIST: return "object already exists";
    case XOC_EUNREACHABLE: return "server unreachable";
    case XOC_ESTATE: return "incorrect state";
    case XOC_ENOSERVICE:
    case XOC_EBUSY:
    case XOC_EWORKERLOST: return "service unavailable";
    case XOC_ENOMETHOD: return "method not found";
    default: return xoc_strerror(code);
    }
}

json_t *xoc_api_rpc_error_raw(int rpc_code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i,s:s}", "code", rpc_code, "message", message ? message : "");
    if (err && data)
        json_object_set_new(err, "data", data);
    else
        json_decref(data);
    return err;
}

json_t *xoc_api_rpc_error_object(int xoc_code, const char *message, json_t *data)
{
    return xoc_api_rpc_error_raw(xoc_err_jsonrpc(xoc_code),
                                 message ? message : s_xo_message(xoc_code), data);
}

/* ---- decoding ------------------------------------------------------------------------------ */

void xoc_api_req_clear(xoc_api_req_t *req)
{
    if (req->params_owned)
        json_decref(req->params);
    json_decref(req->doc);
    memset(req, 0, sizeof *req);
}

/* an invalid-request reply; the id is echoed when it is usable */
static int s_invalid(xoc_api_req_t *req, const json_t *id, const char *why, char **error_doc)
{
    if (id && !json_is_integer(id) && !json_is_string(id))
        id = NULL;
    *error_doc = xoc_api_rpc_error(
        id, xoc_api_rpc_error_raw(XOC_API_RPC_INVALID_REQUEST, "invalid request",
                                  json_string(why)));
    xoc_api_req_clear(req);
    return -1;
}

int xoc_api_rpc_decode(const char *data, size_t len, xoc_api_req_t *req, char **error_doc)
{
    memset(req, 0, sizeof *req);
    *error_doc = NULL;
    json_error_t jerr;
    req->doc = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!req->doc) {
        *error_doc = xoc_api_rpc_error(
            NULL, xoc_api_rpc_error_raw(XOC_API_RPC_PARSE_ERROR, "invalid JSON",
                                        json_string(jerr.text)));
        return -1;
    }
    if (json_is_array(req->doc))
        return s_invalid(req, NULL, "batches are not supported", error_doc);
    if (!json_is_object(req->doc))
        return s_invalid(req, NULL, "a request is an object", error_doc);
    json_t *id = json_object_get(req->doc, "id");
    json_t *version = json_object_get(req->doc, "jsonrpc");
    if (!json_is_string(version) || strcmp(json_string_value(version), "2.0") != 0)
        return s_invalid(req, id, "jsonrpc must be \"2.0\"", error_doc);
    if (id && !json_is_integer(id) && !json_is_string(id) && !json_is_null(id))
        return s_invalid(req, NULL, "id must be an integer or a string", error_doc);
    json_t *method = json_object_get(req->doc, "method");
    if (!json_is_string(method) || json_string_length(method) == 0)
        return s_invalid(req, id, "method must be a non-empty string", error_doc);
    json_t *params = json_object_get(req->doc, "params");
    if (params && !json_is_object(params))
        return s_invalid(req, id, "params must be an object (named parameters)", error_doc);
    req->method = json_string_value(method);
    req->id = id;
    req->notification = id == NULL;
    req->params = params;
    if (!params) {
        req->params = json_object();
        req->params_owned = true;
    }
    return 0;
}

/* ---- params schema --------------------------------------------------------------------------- */

static const struct {
    unsigned bit;
    const char *name;
} s_types[] = {
    {XOC_API_T_STRING, "string"}, {XOC_API_T_INTEGER, "integer"}, {XOC_API_T_NUMBER, "number"},
    {XOC_API_T_BOOLEAN, "boolean"}, {XOC_API_T_OBJECT, "object"},  {XOC_API_T_ARRAY, "array"},
    {XOC_API_T_NULL, "null"},
};
#define S_NTYPES (sizeof s_types / sizeof s_types[0])

static unsigned s_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return XOC_API_T_STRING;
    case JSON_INTEGER: return XOC_API_T_INTEGER | XOC_API_T_NUMBER;
    case JSON_REAL: return XOC_API_T_NUMBER;
    case JSON_TRUE:
    case JSON_FALSE: return XOC_API_T_BOOLEAN;
    case JSON_OBJECT: return XOC_API_T_OBJECT;
    case JSON_ARRAY: return XOC_API_T_ARRAY;
    default: return XOC_API_T_NULL;
    }
}

static json_t *s_types_json(unsigned mask)
{
    json_t *list = json_array();
    for (size_t i = 0; i < S_NTYPES; i++)
        if ((mask & s_types[i].bit) && !(s_types[i].bit == XOC_API_T_INTEGER &&
                                         (mask & XOC_API_T_NUMBER)))
            json_array_append_new(list, json_string(s_types[i].name));
    if (json_array_size(list) == 1) {
        json_t *one = json_incref(json_array_get(list, 0));
        json_decref(list);
        return one;
    }
    return list;
}

/* an Ajv error object (xo-api.md §2): instancePath, schemaPath, keyword, params, message */
static void s_add_error(json_t *errors, const char *name, const char *keyword, json_t *params,
                        const char *message)
{
    char path[256], schema_path[300];
    snprintf(path, sizeof path, "%s%s", name ? "/" : "", name ? name : "");
    if (name)
        snprintf(schema_path, sizeof schema_path, "#/properties/%s/%s", name, keyword);
    else
        snprintf(schema_path, sizeof schema_path, "#/%s", keyword);
    json_array_append_new(errors, json_pack("{s:s,s:s,s:s,s:o,s:s}", "instancePath", path,
                                            "schemaPath", schema_path, "keyword", keyword,
                                            "params", params ? params : json_object(),
                                            "message", message));
}

static const xoc_api_param_t *s_find(const xoc_api_schema_t *schema, const char *name)
{
    for (const xoc_api_param_t *p = schema->list; p && p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void s_check_one(const xoc_api_param_t *p, const json_t *v, json_t *errors)
{
    if (!(s_type_of(v) & p->types)) {
        char msg[160];
        json_t *t = s_types_json(p->types);
        char *tt = json_dumps(t, JSON_ENCODE_ANY);
        snprintf(msg, sizeof msg, "must be %s", tt ? tt : "?");
        free(tt);
        s_add_error(errors, p->name, "type", json_pack("{s:o}", "type", t), msg);
        return;
    }
    if (json_is_string(v) && json_string_length(v) == 0 && !p->empty_ok)
        s_add_error(errors, p->name, "minLength", json_pack("{s:i}", "limit", 1),
                    "must NOT have fewer than 1 characters");
}

int xoc_api_rpc_check(const xoc_api_schema_t *schema, const json_t *params, json_t **errors)
{
    *errors = NULL;
    if (!schema || !schema->list)
        return 0;
    json_t *list = json_array();
    if (!list)
        return XOC_ENOMEM;
    for (const xoc_api_param_t *p = schema->list; p->name; p++) {
        const json_t *v = json_object_get(params, p->name);
        if (v)
            s_check_one(p, v, list);
        else if (!p->optional) {
            char msg[160];
            snprintf(msg, sizeof msg, "must have required property '%.100s'", p->name);
            s_add_error(list, NULL, "required", json_pack("{s:s}", "missingProperty", p->name),
                        msg);
        }
    }
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        if (!schema->extra && !s_find(schema, key))
            s_add_error(list, NULL, "additionalProperties",
                        json_pack("{s:s}", "additionalProperty", key),
                        "must NOT have additional properties");
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return 0;
    }
    *errors = list;
    return XOC_EINVAL;
}

json_t *xoc_api_rpc_schema_json(const xoc_api_schema_t *schema)
{
    json_t *out = json_object();
    if (!schema || !schema->list)
        return out;
    for (const xoc_api_param_t *p = schema->list; p->name; p++) {
        json_t *one = json_pack("{s:o}", "type", s_types_json(p->types));
        if (p->optional)
            json_object_set_new(one, "optional", json_true());
        if (p->description)
            json_object_set_new(one, "description", json_string(p->description));
        json_object_set_new(out, p->name, one);
    }
    if (schema->extra)
        json_object_set_new(out, "*", json_object());
    return out;
}
