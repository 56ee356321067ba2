/* Fuzz target: the bus message decoder. Any frame must decode or fail with a named error;
   a message that decodes must re-encode and decode to the same type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"
#include "xoc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xoc_msg_t m;
    int rc = xoc_msg_decode(&m, data, size);
    if (rc != 0) {
        if (m.type != XOC_MSG_NONE || m.why[0] == '\0')
            abort();
        return 0;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    if (xoc_msg_encode(m.type, &m.req, &sb) != 0)
        abort();
    xoc_msg_t again;
    if (xoc_msg_decode(&again, sb.data, sb.size) != 0 || again.type != m.type)
        abort();
    msgpack_sbuffer_destroy(&sb);
    return 0;
}
