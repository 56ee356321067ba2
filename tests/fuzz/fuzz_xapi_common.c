/*  Shared body of the XAPI decoder fuzz targets: decodes the input in the three modes with
    small limits and checks that whatever comes out is exactly one well-formed msgpack value. */
#include <stdint.h>
#include <stdlib.h>

#include "xoc_err.h"
#include "xoc_xapi.h"

typedef int(fuzz_xapi_decode_fn)(const void *, size_t, const xoc_xapi_decode_opts_t *,
                                 msgpack_sbuffer *, xoc_xapi_fault_t *);
void fuzz_xapi_decode(fuzz_xapi_decode_fn *decode, const uint8_t *data, size_t size);

static void s_check_msgpack(const void *mp, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, mp, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
        abort();
    msgpack_unpacked_destroy(&u);
}

static int s_fuzz_entry(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    s_check_msgpack(mp, mp_len);
    return ++*(int *)arg > 1000 ? -1000 : 0;
}

void fuzz_xapi_decode(fuzz_xapi_decode_fn *decode, const uint8_t *data, size_t size)
{
    static const xoc_xapi_decode_opts_t modes[] = {
        {.mode = XOC_XAPI_PLAIN},
        {.mode = XOC_XAPI_RECORDS, .max_value = 4096, .max_depth = 6},
        {.mode = XOC_XAPI_EVENTS, .flags = XOC_XAPI_INT_AS_STRING, .max_depth = 8},
    };
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        int n = 0;
        xoc_xapi_decode_opts_t o = modes[m];
        o.on_entry = s_fuzz_entry;
        o.arg = &n;
        msgpack_sbuffer out;
        msgpack_sbuffer_init(&out);
        xoc_xapi_fault_t f = {0};
        int rc = decode(data, size, &o, &out, &f);
        if (rc == 0 && o.mode != XOC_XAPI_RECORDS)
            s_check_msgpack(out.data, out.size);
        if (rc != 0 && out.size != 0)
            abort(); /* an error leaves the result as it was */
        if ((rc == XOC_EXAPI) != (f.code != NULL))
            abort();
        xoc_xapi_fault_clear(&f);
        msgpack_sbuffer_destroy(&out);
    }
}
