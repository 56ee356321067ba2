/*  xoc_api_buf — a growable byte buffer shared by reference (one `all` notification is
    queued on every connection without a copy), and a JSON writer that turns msgpack
    values straight into JSON text in it: xo.getAllObjects and the pushes serialize the
    replica's compact objects without building a Jansson tree per object.

    The buffer is immutable once shared: build it, then xoc_api_buf_ref() per reader.
    Reference counting is atomic (the WebSocket thread drops the last reference).        */
#ifndef XOC_API_BUF_H
#define XOC_API_BUF_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _xoc_api_buf_t xoc_api_buf_t;

xoc_api_buf_t *xoc_api_buf_new(size_t capacity);
/*  A buffer holding a copy of text (len bytes); NULL on allocation failure.               */
xoc_api_buf_t *xoc_api_buf_from(const char *text, size_t len);
xoc_api_buf_t *xoc_api_buf_ref(xoc_api_buf_t *self);
/*  Drops one reference (frees on the last) and nulls the pointer; NULL-safe.             */
void xoc_api_buf_unref(xoc_api_buf_t **self_p);

const char *xoc_api_buf_data(const xoc_api_buf_t *self);
size_t xoc_api_buf_len(const xoc_api_buf_t *self);
/*  Forgets the content (keeps the memory).                                                */
void xoc_api_buf_reset(xoc_api_buf_t *self);
/*  Shortens to len bytes (len <= current length).                                         */
void xoc_api_buf_truncate(xoc_api_buf_t *self, size_t len);

/*  Appends; each returns 0 or XOC_ENOMEM (the buffer then holds a truncated text).       */
int xoc_api_buf_put(xoc_api_buf_t *self, const void *data, size_t len);
int xoc_api_buf_puts(xoc_api_buf_t *self, const char *text);
int xoc_api_buf_putc(xoc_api_buf_t *self, char c);
/*  A JSON string literal (quotes and escapes); invalid UTF-8 becomes U+FFFD.              */
int xoc_api_buf_json_str(xoc_api_buf_t *self, const char *s, size_t len);
/*  A msgpack value as JSON, as xoc_json_from_object renders it (non-string keys
    stringified, bin as base64, NaN/Inf and ext as null).                                   */
int xoc_api_buf_json_mp(xoc_api_buf_t *self, const msgpack_object *obj);

/*  True while another holder (a connection's send queue) has a reference: the buffer
    must not change then. A buffer whose last other holder let go may be reused
    (reset, truncated, patched) by its owner; the atomic count orders the accesses.    */
bool xoc_api_buf_shared(const xoc_api_buf_t *self);
/*  Overwrites len bytes at off (off + len <= length) of a buffer that is not shared:
    0, XOC_EBUSY if shared, XOC_EINVAL out of range.                                     */
int xoc_api_buf_patch(xoc_api_buf_t *self, size_t off, const void *data, size_t len);

#endif
