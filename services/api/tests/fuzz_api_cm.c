/*  Fuzz target: complex-matcher filters (xoc_api_cm). The input is the filter text, then
    optionally a NUL byte and a msgpack value to match; without one, a fixed VM-like object
    is matched. Parse, match, write back, and the written text must parse again.          */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_api_cm.h"
#include "xoc_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fixed(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
    msgpack_pack_str_with_body(&pk, "type", 4);
    msgpack_pack_str_with_body(&pk, "VM", 2);
    msgpack_pack_str_with_body(&pk, "name_label", 10);
    msgpack_pack_str_with_body(&pk, "Web 01\nline", 11);
    msgpack_pack_str_with_body(&pk, "CPUs", 4);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "number", 6);
    msgpack_pack_int(&pk, 2);
    msgpack_pack_str_with_body(&pk, "tags", 4);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_str_with_body(&pk, "ok", 2);
    msgpack_pack_true(&pk);
    msgpack_pack_str_with_body(&pk, "ratio", 5);
    msgpack_pack_double(&pk, 0.5);
    msgpack_pack_str_with_body(&pk, "n", 1);
    msgpack_pack_int(&pk, -7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t flen = nul ? (size_t)(nul - data) : size;
    char err[256];
    xoc_api_cm_t *cm = xoc_api_cm_parse((const char *)data, flen, err, sizeof err);
    if (!cm) {
        if (memchr(err, 0, sizeof err) == NULL)
            abort();
        return 0;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    const char *mp = (const char *)data + flen + 1;
    size_t mplen = nul ? size - flen - 1 : 0;
    if (!nul) {
        s_fixed(&sb);
        mp = sb.data;
        mplen = sb.size;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    /* checked first, as every object of the replica is (msgpack-c trusts declared sizes) */
    if (xoc_mp_check(mp, mplen, 32) == 0 &&
        msgpack_unpack_next(&up, mp, mplen, NULL) == MSGPACK_UNPACK_SUCCESS)
        (void)xoc_api_cm_match_mp(cm, &up.data);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    size_t n = xoc_api_cm_to_string(cm, NULL, 0);
    char *text = malloc(n + 1);
    if (text) {
        xoc_api_cm_to_string(cm, text, n + 1);
        xoc_api_cm_t *again = xoc_api_cm_parse(text, n, err, sizeof err);
        xoc_api_cm_destroy(&again);
        free(text);
    }
    xoc_api_cm_destroy(&cm);
    return 0;
}
