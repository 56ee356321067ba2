/* Fuzz target: the change-set decoder and validator of xoc-cache (what cache.apply runs
   before any LMDB transaction). Any frame is either refused with a named error or accepted
   with changes that are all well-formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_cache_cs.h"
#include "xoc_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xoc_msg_t m;
    xoc_cache_cs_t cs;
    char why[256] = "";
    int rc = xoc_cache_cs_decode(data, size, &m, &cs, why, sizeof why);
    if (rc != 0) {
        if (why[0] == '\0' || cs.changes != NULL)
            abort();
        return 0;
    }
    for (size_t i = 0; i < cs.count; i++) {
        const xoc_cache_change_t *c = &cs.changes[i];
        if (!xoc_cache_name_ok(c->id, XOC_CACHE_ID_MAX, false) ||
            !xoc_cache_name_ok(c->type, XOC_CACHE_TYPE_MAX, true))
            abort();
        if (c->op == XOC_CACHE_ENTER && (c->object.len == 0 ||
                                         xoc_mp_check(c->object.ptr, c->object.len, 40) != 0))
            abort();
        if (c->op != XOC_CACHE_ENTER && c->op != XOC_CACHE_EXIT)
            abort();
    }
    xoc_cache_cs_clear(&cs);
    return 0;
}
