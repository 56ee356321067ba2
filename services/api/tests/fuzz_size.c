/*  Fuzz target: the memory size parser of vm.set (xoc_api_size_parse), on any string.    */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "xoc_api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_stringn_nocheck((const char *)data, size);
    int64_t n = 0;
    if (v && xoc_api_size_parse(v, &n) && n < 0)
        __builtin_trap(); /* a size is never negative */
    json_decref(v);
    return 0;
}
