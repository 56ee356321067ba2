/*  Fuzz target: the JSON-RPC request decoder and the params schema check of xoc-api.     */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "xoc_api_rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const xoc_api_param_t s_params[] = {
    {"id", XOC_API_T_STRING, false, false, NULL},
    {"n", XOC_API_T_NUMBER | XOC_API_T_NULL, true, false, NULL},
    {"o", XOC_API_T_OBJECT, true, false, NULL},
    {NULL, 0, false, false, NULL}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xoc_api_req_t req;
    char *error_doc = NULL;
    if (xoc_api_rpc_decode((const char *)data, size, &req, &error_doc) != 0) {
        free(error_doc);
        return 0;
    }
    xoc_api_schema_t schema = {s_params, false};
    json_t *errors = NULL;
    xoc_api_rpc_check(&schema, req.params, &errors);
    json_decref(errors);
    free(xoc_api_rpc_result(req.id, json_incref(req.params)));
    xoc_api_req_clear(&req);
    return 0;
}
