/*  Fuzz target: one of the simulator's request decoders (SIM_FUZZ_DECODE: sim_rpc_decode_xml
    for fuzz_sim_xmlrpc, sim_rpc_decode_json for fuzz_sim_jsonrpc), then the response
    envelopes written back for what was decoded (success with the params echoed, failure).  */
#include "sim_rpc.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sim_rpc_req_t req;
    const char *why = NULL;
    if (SIM_FUZZ_DECODE((const char *)data, size, &req, &why) != 0)
        return 0;
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 256);
    sim_rpc_begin(&req, &out, &w, 0);
    sim_wr_json(&w, req.params);
    sim_rpc_end(&req, &out, 0);
    json_t *err = json_pack("[s,s]", "MESSAGE_METHOD_UNKNOWN", req.method);
    sim_rpc_error(&req, &out, err);
    json_decref(err);
    sim_buf_free(&out);
    sim_rpc_req_clear(&req);
    return 0;
}
