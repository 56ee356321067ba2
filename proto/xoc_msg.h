/*  xoc_msg — codec of the bus messages defined in xoc_msg_defs.h.

    Every message is a msgpack map {"v": XOC_PROTO_VERSION, "t": <name>, <fields>...}.
    Encoding writes required fields always and optional fields when they are not zero/empty.
    Decoding validates the whole frame (sizes, nesting, UTF-8, version, type, required fields,
    field types), ignores unknown fields, and fills a struct whose strings and byte fields
    point INTO the decoded frame: keep the frame alive while you use the message.          */
#ifndef XOC_MSG_H
#define XOC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "xoc_msg_defs.h"

#define XOC_MSG_MAX_SIZE (64u * 1024u * 1024u) /* largest frame a decoder accepts */
#define XOC_MSG_MAX_DEPTH 32                   /* deepest nesting accepted in MP fields */

typedef struct {
    const char *ptr;
    uint32_t len;
} xoc_str_t;

typedef struct {
    const uint8_t *ptr;
    uint32_t len;
} xoc_bin_t;

/*  A string literal or a C string as xoc_str_t (NULL gives the empty/absent string).        */
#define XOC_STR(lit) ((xoc_str_t){(lit), (uint32_t)(sizeof(lit) - 1)})
xoc_str_t xoc_str(const char *cstr);
bool xoc_str_eq(xoc_str_t s, const char *cstr);
/*  Copies into buf (always NUL-terminated, truncated to size-1); returns buf.              */
char *xoc_str_copy(xoc_str_t s, char *buf, size_t size);
/*  strndup of the string; NULL on allocation failure.                                      */
char *xoc_str_dup(xoc_str_t s);

typedef enum {
    XOC_FT_STR,
    XOC_FT_BIN,
    XOC_FT_U64,
    XOC_FT_I64,
    XOC_FT_F64,
    XOC_FT_BOOL,
    XOC_FT_MP,
} xoc_field_type_t;

#define XOC_CT_STR xoc_str_t
#define XOC_CT_BIN xoc_bin_t
#define XOC_CT_U64 uint64_t
#define XOC_CT_I64 int64_t
#define XOC_CT_F64 double
#define XOC_CT_BOOL bool
#define XOC_CT_MP xoc_bin_t

/*  One C struct per message: xoc_msg_<name>_t with one member per field.                   */
#define XOC_MSG_DECL_FIELD(S, type, name, req, doc) XOC_CT_##type name;
#define XOC_MSG_DECL_STRUCT(E, name, FIELDS, doc)                                               \
    typedef struct {                                                                             \
        FIELDS(XOC_MSG_DECL_FIELD, _)                                                               \
    } xoc_msg_##name##_t;
XOC_MSG_LIST(XOC_MSG_DECL_STRUCT)
#undef XOC_MSG_DECL_STRUCT
#undef XOC_MSG_DECL_FIELD

typedef enum {
    XOC_MSG_NONE = 0,
#define XOC_MSG_DECL_ENUM(E, name, FIELDS, doc) XOC_MSG_##E,
    XOC_MSG_LIST(XOC_MSG_DECL_ENUM)
#undef XOC_MSG_DECL_ENUM
        XOC_MSG_COUNT
} xoc_msg_type_t;

/*  A decoded message of any type.                                                          */
typedef struct {
    xoc_msg_type_t type;
    union {
#define XOC_MSG_DECL_MEMBER(E, name, FIELDS, doc) xoc_msg_##name##_t name;
        XOC_MSG_LIST(XOC_MSG_DECL_MEMBER)
#undef XOC_MSG_DECL_MEMBER
    };
    char why[128];   /* after a failed decode: what was wrong, naming the field */
} xoc_msg_t;

/*  Field descriptor, for introspection (xoc-events, the README table, tests).               */
typedef struct {
    const char *name;
    xoc_field_type_t type;
    size_t offset;
    bool required;
    const char *doc;
} xoc_msg_field_t;

/*  Decodes one frame. Returns 0, or:
      XOC_ETOOBIG   size over XOC_MSG_MAX_SIZE
      XOC_EPROTO    not msgpack, not a map, trailing bytes, bad nesting/UTF-8, unknown "t"
      XOC_EVERSION  "v" is not XOC_PROTO_VERSION
      XOC_EMISSING  a required field (or "v"/"t") is absent
      XOC_ETYPE     a field has the wrong msgpack type
    On error msg->why says what and where; msg->type is then XOC_MSG_NONE.                */
int xoc_msg_decode(xoc_msg_t *msg, const void *data, size_t size);

/*  Decodes and requires a given type (XOC_EPROTO if the frame holds another type).         */
int xoc_msg_decode_as(xoc_msg_t *msg, xoc_msg_type_t type, const void *data, size_t size);

/*  Appends the encoding of *body (a xoc_msg_<name>_t of the given type) to sbuf.
    Returns 0, XOC_EINVAL for an unknown type, XOC_ENOMEM.                                  */
int xoc_msg_encode(xoc_msg_type_t type, const void *body, msgpack_sbuffer *sbuf);

/*  Introspection.                                                                          */
const char *xoc_msg_type_name(xoc_msg_type_t type);     /* "req", ...; NULL if unknown */
xoc_msg_type_t xoc_msg_type_from_name(const char *name); /* XOC_MSG_NONE if unknown */
const char *xoc_msg_type_doc(xoc_msg_type_t type);
const xoc_msg_field_t *xoc_msg_fields(xoc_msg_type_t type, size_t *count);

/*  Checks that data is exactly one well-formed msgpack value whose declared lengths fit in
    the buffer and whose nesting is at most max_depth. Returns 0 or XOC_EPROTO.             */
int xoc_mp_check(const void *data, size_t size, int max_depth);
/*  As xoc_mp_check for the first value of data only: its size in *used (what follows it is
    not looked at). Returns 0 or XOC_EPROTO.                                                 */
int xoc_mp_size(const void *data, size_t size, int max_depth, size_t *used);
/*  Appends a msgpack str (the smallest header, as msgpack_pack_str encodes it, then the bytes)
    with one check of the buffer's room; grows it from `first_alloc` bytes when empty.
    0, XOC_ETOOBIG (over 4 GiB) or XOC_ENOMEM (the buffer is unchanged).                    */
int xoc_mp_put_str(msgpack_sbuffer *sb, const char *p, size_t n, size_t first_alloc);

/*  Typed helpers: xoc_msg_<name>_encode(const xoc_msg_<name>_t *, msgpack_sbuffer *).       */
#define XOC_MSG_DECL_ENCODE(E, name, FIELDS, doc)                                               \
    static inline int xoc_msg_##name##_encode(const xoc_msg_##name##_t *m, msgpack_sbuffer *b)  \
    {                                                                                            \
        return xoc_msg_encode(XOC_MSG_##E, m, b);                                                \
    }
XOC_MSG_LIST(XOC_MSG_DECL_ENCODE)
#undef XOC_MSG_DECL_ENCODE

#endif
