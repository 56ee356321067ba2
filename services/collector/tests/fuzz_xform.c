/*  fuzz_xform: arbitrary records through the transform.
    Input: a sequence of frames [class byte][ref byte][len: 2 bytes big-endian][len bytes].
    Class byte: low 5 bits pick a class (a few unknown ones too), bit 7 = delete instead of
    put. Ref byte: one of 256 refs, so that records link to each other ("OpaqueRef:fz-<n>").
    Every few frames and at the end: flush (each emitted object must be a well-formed map),
    then emit_all, destroy.                                                                  */
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xoc_log.h"
#include "xoc_xform.h"

static const char *s_classes[] = {
    "pool",       "host",       "host_metrics", "VM",        "VM_metrics",  "VM_guest_metrics",
    "SR",         "SM",         "PBD",          "PIF",       "PIF_metrics", "VDI",
    "VBD",        "VIF",        "network",      "message",   "task",        "host_patch",
    "pool_patch", "PCI",        "PGPU",         "VGPU",      "GPU_group",   "VGPU_type",
    "VTPM",       "PUSB",       "VUSB",         "USB_group", "Bond",        "Certificate",
    "console",    "pool_update"};

static int s_emit(void *arg, bool enter, const char *id, const char *type, const void *obj,
                  size_t len)
{
    if (!id || !type)
        abort();
    if (!enter)
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, obj, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len ||
        u.data.type != MSGPACK_OBJECT_MAP)
        abort();
    msgpack_unpacked_destroy(&u);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    if (!init) {
        xoc_log_init("fuzz_xform", XOC_LOG_ERROR);
        xoc_log_set_level(getenv("FUZZ_LOG") ? XOC_LOG_DEBUG : (xoc_log_level_t)-1);
        init = 1;
    }
    xoc_xform_t *xf = xoc_xform_new();
    if (!xf)
        return 0;
    size_t pos = 0;
    int frames = 0;
    while (pos + 4 <= size) {
        uint8_t cb = data[pos], rb = data[pos + 1];
        size_t len = ((size_t)data[pos + 2] << 8) | data[pos + 3];
        pos += 4;
        if (len > size - pos)
            len = size - pos;
        char ref[32];
        snprintf(ref, sizeof(ref), "OpaqueRef:fz-%u", rb);
        const char *cls = s_classes[(cb & 0x1f) % (sizeof(s_classes) / sizeof(*s_classes))];
        if (cb & 0x80)
            xoc_xform_del(xf, cls, ref);
        else
            xoc_xform_put(xf, cls, ref, data + pos, len);
        pos += len;
        if (++frames % 7 == 0)
            xoc_xform_flush(xf, s_emit, NULL);
    }
    xoc_xform_flush(xf, s_emit, NULL);
    xoc_xform_emit_all(xf, s_emit, NULL);
    (void)xoc_xform_pool_id(xf);
    (void)xoc_xform_count(xf);
    xoc_xform_destroy(&xf);
    return 0;
}
