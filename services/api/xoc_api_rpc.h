/*  xoc_api_rpc — JSON-RPC 2.0 as xo-server speaks it (reference/xo-api.md §1.2, §2, §4.1):
    request decoding and validation, the params schema of the method table, and the
    encoding of results, errors and notifications. Pure functions on Jansson values and
    bytes: no I/O, no state (unit-tested and fuzzed on their own).

        xoc_api_req_t req;
        json_t *err = NULL;
        if (xoc_api_rpc_decode(text, len, &req, &err) != 0) { send(err); ... }
        ...
        xoc_api_req_clear(&req);                                                           */
#ifndef XOC_API_RPC_H
#define XOC_API_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/*  JSON-RPC standard codes (xo-api.md §2).                                                */
#define XOC_API_RPC_PARSE_ERROR      (-32700)
#define XOC_API_RPC_INVALID_REQUEST  (-32600)
#define XOC_API_RPC_METHOD_NOT_FOUND (-32601)
#define XOC_API_RPC_GENERIC          (-32000)

/*  JSON types a parameter may have (a mask).                                              */
enum {
    XOC_API_T_STRING = 1 << 0,
    XOC_API_T_INTEGER = 1 << 1,
    XOC_API_T_NUMBER = 1 << 2,  /* integer or real */
    XOC_API_T_BOOLEAN = 1 << 3,
    XOC_API_T_OBJECT = 1 << 4,
    XOC_API_T_ARRAY = 1 << 5,
    XOC_API_T_NULL = 1 << 6,
    XOC_API_T_ANY = 0x7f,
};

/*  One named parameter of a method: the declarative schema of the method table.
    Strings must be non-empty unless `empty_ok` (the XO schema convention).              */
typedef struct {
    const char *name;
    unsigned types;     /* XOC_API_T_* mask */
    bool optional;
    bool empty_ok;
    const char *description;
} xoc_api_param_t;

/*  Params of a method: a table ended by {NULL}; `extra` allows additional properties
    (the XO wildcard '*'); a NULL table means "anything allowed".                        */
typedef struct {
    const xoc_api_param_t *list;
    bool extra;
} xoc_api_schema_t;

/*  A decoded request. `id` is NULL for a notification (no reply expected).               */
typedef struct {
    json_t *doc;         /* the whole document (owned) */
    const char *method;  /* points into doc */
    json_t *id;          /* borrowed from doc: integer, string or null; NULL when absent */
    bool notification;   /* no "id" member: nothing is answered */
    json_t *params;      /* borrowed from doc, or a new empty object when absent (owned) */
    bool params_owned;
} xoc_api_req_t;

/*  Decodes one frame. Returns 0, or -1 with *error_doc set to the complete error response
    to send (-32700 with id null for unparseable JSON, -32600 for anything structurally
    invalid: not an object, a batch, wrong "jsonrpc", missing/non-string method, id of a
    wrong type, params neither object nor absent), or NULL when nothing must be answered.  */
int xoc_api_rpc_decode(const char *data, size_t len, xoc_api_req_t *req, char **error_doc);
void xoc_api_req_clear(xoc_api_req_t *req);

/*  Checks params against a schema. Returns 0, or XOC_EINVAL with *errors set to a new
    array of Ajv-like error objects {instancePath, keyword, params, message}.             */
int xoc_api_rpc_check(const xoc_api_schema_t *schema, const json_t *params, json_t **errors);

/*  The schema as the XO model shows it in system.getMethodsInfo: {name: {type, optional?,
    description?}} (type a string or an array of strings). New reference.                 */
json_t *xoc_api_rpc_schema_json(const xoc_api_schema_t *schema);

/*  The error object {code, message, data?} of an xoc error code (xoc_err_jsonrpc), with
    xo-server's message for it unless `message` is given; steals data (may be NULL).     */
json_t *xoc_api_rpc_error_object(int xoc_code, const char *message, json_t *data);
/*  The same with a raw JSON-RPC code.                                                      */
json_t *xoc_api_rpc_error_raw(int rpc_code, const char *message, json_t *data);

/*  Complete documents as compact JSON text (malloc'd; NULL on allocation failure).
    Each steals its json_t arguments except id (borrowed; NULL = null).                    */
char *xoc_api_rpc_result(const json_t *id, json_t *result);
char *xoc_api_rpc_error(const json_t *id, json_t *error_object);
char *xoc_api_rpc_notification(const char *method, json_t *params);

#endif
