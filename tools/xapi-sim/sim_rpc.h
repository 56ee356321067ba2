/*  sim_rpc — the request decoders (XML-RPC and JSON-RPC, from a byte buffer, fuzzed) and the
    response envelopes (Status/Value struct or bare value in XML-RPC; v1 or v2 in JSON-RPC).   */
#ifndef SIM_RPC_H
#define SIM_RPC_H

#include "sim_buf.h"
#include "sim_wr.h"

#include <jansson.h>
#include <stddef.h>

typedef struct {
    sim_wr_mode_t mode; /* SIM_WR_XML or SIM_WR_JSON */
    int version;        /* JSON-RPC: 1 or 2 */
    char *method;
    json_t *params; /* an array (JSON-RPC named params are wrapped in a 1-element array) */
    json_t *id;     /* JSON-RPC id (NULL for XML-RPC) */
} sim_rpc_req_t;

/*  Decodes an XML-RPC methodCall. Ints become JSON integers, <double> reals, strings,
    dateTime and base64 strings, <nil/> null. Returns 0, or -1 with *why set (static text).  */
int sim_rpc_decode_xml(const char *buf, size_t len, sim_rpc_req_t *req, const char **why);
/*  Decodes a JSON-RPC request (v1 without "jsonrpc", v2 with "jsonrpc":"2.0").                */
int sim_rpc_decode_json(const char *buf, size_t len, sim_rpc_req_t *req, const char **why);
void sim_rpc_req_clear(sim_rpc_req_t *req);
/*  Decodes a standalone XML-RPC <value> document (an XVA's ova.xml); NULL if malformed.     */
json_t *sim_rpc_xml_value(const char *buf, size_t len);

/*  Success envelope: call begin, write the value through w, call end. bare: XML-RPC value
    without the Status/Value struct (system.listMethods).                                     */
void sim_rpc_begin(const sim_rpc_req_t *req, sim_buf_t *out, sim_wr_t *w, int bare);
void sim_rpc_end(const sim_rpc_req_t *req, sim_buf_t *out, int bare);
/*  Failure envelope with err = ["CODE", "param", ...] (replaces what out holds).             */
void sim_rpc_error(const sim_rpc_req_t *req, sim_buf_t *out, const json_t *err);

#endif
