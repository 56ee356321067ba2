/*  Fuzz target: the XML-RPC response decoder (libxml2 push SAX -> msgpack).                 */
#include <stdint.h>

#include "xoc_xapi.h"

typedef int(fuzz_xapi_decode_fn)(const void *, size_t, const xoc_xapi_decode_opts_t *,
                                 msgpack_sbuffer *, xoc_xapi_fault_t *);
void fuzz_xapi_decode(fuzz_xapi_decode_fn *decode, const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_xapi_decode(xoc_xapi_decode_xmlrpc, data, size);
    return 0;
}
