/*  xoc_msg_defs.h — THE definition of every message on the xoc bus.

    Each message is defined once here; its C struct, encoder, decoder, validator, JSON
    rendering (xoc-events) and the field table of proto/README.md all come from these lines.
    Field types:
      STR     UTF-8 string        C: xoc_str_t  (ptr/len; on decode, points into the frame)
      BIN     raw bytes           C: xoc_bin_t  (ptr/len; on decode, points into the frame)
      U64     unsigned integer    C: uint64_t
      I64     signed integer      C: int64_t
      F64     float               C: double
      BOOL    boolean             C: bool
      MP      embedded msgpack    C: xoc_bin_t  (a complete msgpack document carried as bin:
                                  objects, lists, maps; decoded by whoever needs the tree)
    Each fields macro takes (F, S): F is applied as F(S, TYPE, name, REQ|OPT, doc), S being
    passed through (the codec uses it for the C struct type).
    Flags: REQ (required: absence is XOC_EMISSING naming the field) or OPT (absent = zero).

    To add a message: add one M(...) line to XOC_MSG_LIST and its fields macro; bump nothing
    (adding messages and optional fields is compatible). Changing a field's type or making an
    optional field required is a breaking change: bump XOC_PROTO_VERSION.                     */
#ifndef XOC_MSG_DEFS_H
#define XOC_MSG_DEFS_H

#define XOC_PROTO_VERSION 1

/* ---- broker protocol: header frame of every request/reply (see README §4) ---------------- */

#define XOC_MSG_REQ_FIELDS(F, S)                                                                   \
    F(S, U64, id, REQ, "request id, unique per client connection")                                 \
    F(S, STR, service, REQ, "service name, e.g. cache")                                            \
    F(S, STR, method, REQ, "method name, e.g. cache.get")                                          \
    F(S, U64, timeout_ms, REQ, "time left before the deadline, in milliseconds")                   \
    F(S, BIN, client, OPT, "client route, set by the broker when forwarding to a worker")          \
    F(S, STR, trace, OPT, "free-form trace id propagated across services")

#define XOC_MSG_REP_FIELDS(F, S)                                                                   \
    F(S, U64, id, REQ, "id of the request this answers")                                           \
    F(S, I64, status, REQ, "0 on success, else a negative xoc error code (README §6)")             \
    F(S, STR, reason, OPT, "human-readable error detail")                                          \
    F(S, BIN, client, OPT, "client route, copied by the worker from the request")

#define XOC_MSG_READY_FIELDS(F, S)                                                                 \
    F(S, STR, service, REQ, "service this worker serves")                                          \
    F(S, STR, instance, OPT, "worker instance name (host:pid)")                                    \
    F(S, U64, capacity, OPT, "requests the worker accepts at once (0 = default 64)")

#define XOC_MSG_HB_FIELDS(F, S)                                                                    \
    F(S, STR, service, OPT, "service of a worker heartbeat; empty for client heartbeats")          \
    F(S, STR, instance, OPT, "worker instance name")                                               \
    F(S, U64, capacity, OPT, "worker capacity (lets the broker re-register after a restart)")

#define XOC_MSG_BYE_FIELDS(F, S) F(S, STR, reason, OPT, "why the peer leaves or is dropped")

/* ---- events (frame 1 = topic, frame 2 = one of these) ---------------------------------- */

#define XOC_MSG_SYS_FIELDS(F, S)                                                                   \
    F(S, STR, service, REQ, "service name")                                                        \
    F(S, STR, instance, REQ, "instance name (host:pid)")                                           \
    F(S, STR, state, REQ, "start | heartbeat | stop | error")                                      \
    F(S, U64, pid, OPT, "process id")                                                              \
    F(S, U64, uptime_ms, OPT, "milliseconds since start")                                          \
    F(S, STR, detail, OPT, "error text or stop reason")                                            \
    F(S, MP, stats, OPT, "service counters: map of name to number")

/* ---- request bodies (frame 2 of a request or reply) ------------------------------------ */

#define XOC_MSG_ECHO_FIELDS(F, S)                                                                  \
    F(S, STR, text, OPT, "text echoed back")                                                       \
    F(S, BIN, data, OPT, "bytes echoed back")                                                      \
    F(S, U64, delay_ms, OPT, "the worker waits this long before replying (tests)")                 \
    F(S, STR, instance, OPT, "set in the reply: which worker answered")

#define XOC_MSG_ERROR_FIELDS(F, S)                                                                 \
    F(S, I64, code, REQ, "xoc error code")                                                         \
    F(S, STR, message, OPT, "human-readable message")                                              \
    F(S, STR, field, OPT, "offending field, when one is to blame")                                 \
    F(S, MP, data, OPT, "structured details")

/*  M(ENUM suffix, name (C struct xoc_msg_<name>_t, wire "t" value), fields macro, description) */
#define XOC_MSG_LIST(M)                                                                         \
    M(REQ, req, XOC_MSG_REQ_FIELDS, "request header: client to broker, broker to worker")    \
    M(REP, rep, XOC_MSG_REP_FIELDS, "reply header: worker to broker, broker to client")      \
    M(READY, ready, XOC_MSG_READY_FIELDS, "worker registers for a service")                  \
    M(HB, hb, XOC_MSG_HB_FIELDS, "heartbeat, both directions")                               \
    M(BYE, bye, XOC_MSG_BYE_FIELDS, "peer leaves, or broker drops a peer")                   \
    M(SYS, sys, XOC_MSG_SYS_FIELDS, "service life events on sys.<service>.<state>")          \
    M(ECHO, echo, XOC_MSG_ECHO_FIELDS, "body of echo.* requests and replies")                \
    M(ERROR, error, XOC_MSG_ERROR_FIELDS, "body of an error reply with details")

#endif
