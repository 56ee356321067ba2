/*  xoc_err — the one enum of xoc error codes, and the table that maps each to its bus name,
    its JSON-RPC code (xo-server codes, reference/xo-api.md §2) and its message.

    Functions that can fail return an int: 0 on success, a negative xoc code (XOC_E*), or a
    positive errno. xoc_strerror() covers both, as LMDB's mdb_strerror does.              */
#ifndef XOC_ERR_H
#define XOC_ERR_H

/*  X(ENUM, value, wire name, JSON-RPC code, message)                                         */
#define XOC_ERR_TABLE(X)                                                                         \
    X(XOC_OK,              0,   "ok",                 0,      "success")                          \
    X(XOC_EINTERNAL,      -1,   "internal",           -32000, "internal error")                   \
    X(XOC_EPROTO,         -2,   "protocol",           -32600, "malformed message")                \
    X(XOC_EVERSION,       -3,   "version",            -32600, "unsupported protocol version")     \
    X(XOC_EMISSING,       -4,   "missing-field",      10,     "missing required field")           \
    X(XOC_ETYPE,          -5,   "wrong-type",         10,     "field has the wrong type")         \
    X(XOC_ETOOBIG,        -6,   "too-big",            -32600, "message exceeds the size limit")   \
    X(XOC_ENOSERVICE,     -7,   "no-service",         28,     "no worker for this service")       \
    X(XOC_ETIMEOUT,       -8,   "timeout",            -32000, "deadline expired")                 \
    X(XOC_EBUSY,          -9,   "busy",               28,     "service overloaded")               \
    X(XOC_ENOMETHOD,      -10,  "no-method",          -32601, "method not found")                 \
    X(XOC_EINVAL,         -11,  "invalid-params",     10,     "invalid parameters")               \
    X(XOC_ENOENT,         -12,  "no-such-object",     1,      "no such object")                   \
    X(XOC_EPERM,          -13,  "unauthorized",       2,      "not enough permissions")           \
    X(XOC_EAUTH,          -14,  "invalid-credentials", 3,     "invalid credentials")              \
    X(XOC_EEXIST,         -15,  "already-exists",     16,     "object already exists")            \
    X(XOC_EUNREACHABLE,   -16,  "server-unreachable", 9,      "server unreachable")               \
    X(XOC_EXAPI,          -17,  "xapi",               -32000, "XAPI error")                       \
    X(XOC_EWORKERLOST,    -18,  "worker-lost",        28,     "worker died during the request")   \
    X(XOC_ECANCELED,      -19,  "canceled",           -32000, "operation canceled")               \
    X(XOC_ENOTIMPL,       -20,  "not-implemented",    0,      "not implemented")                  \
    X(XOC_ESTATE,         -21,  "incorrect-state",    25,     "incorrect state")                  \
    X(XOC_ENOMEM,         -22,  "no-memory",          -32000, "out of memory")                    \
    X(XOC_EIO,            -23,  "io",                 -32000, "input/output error")               \
    X(XOC_EHTTP,          -24,  "http-status",        -32000, "unexpected HTTP status")           \
    X(XOC_ETRUNCATED,     -25,  "truncated",          -32000, "truncated answer")                 \
    X(XOC_ETLS,           -26,  "tls",                -32000, "TLS handshake or certificate error")

typedef enum {
#define XOC_ERR_ENUM(e, v, name, rpc, msg) e = v,
    XOC_ERR_TABLE(XOC_ERR_ENUM)
#undef XOC_ERR_ENUM
} xoc_err_t;

/*  Message of an xoc code (negative) or of an errno (positive). Never NULL.                  */
const char *xoc_strerror(int err);

/*  Wire name of an xoc code ("timeout", "no-service", ...); "internal" for unknown codes.     */
const char *xoc_err_name(int err);

/*  xoc code of a wire name; XOC_EINTERNAL when the name is unknown.                          */
int xoc_err_from_name(const char *name);

/*  The JSON-RPC error code that xo-server clients expect for this xoc code.                  */
int xoc_err_jsonrpc(int err);

#endif
