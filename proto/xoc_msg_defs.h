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
    F(S, U64, capacity, OPT, "requests the worker accepts at once (0 = default 64)")           \
    F(S, U64, heartbeat_ms, OPT, "the worker's heartbeat interval (0 = the broker's)")

#define XOC_MSG_HB_FIELDS(F, S)                                                                    \
    F(S, STR, service, OPT, "service of a worker heartbeat; empty for client heartbeats")          \
    F(S, STR, instance, OPT, "worker instance name")                                               \
    F(S, U64, capacity, OPT, "worker capacity (lets the broker re-register after a restart)")  \
    F(S, U64, heartbeat_ms, OPT, "the sender's heartbeat interval (0 = the broker's)")

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

/* ---- cache: change sets from the collector (cache.apply) -------------------------------- */

/*  changes: msgpack array of changes, each an array:
      ["enter", id, type, object]   the object (a map) is created or replaced whole
      ["exit", id, type]            the object is removed                                   */
#define XOC_MSG_CHANGESET_FIELDS(F, S)                                                          \
    F(S, STR, pool, REQ, "pool id (uuid) the changes belong to")                               \
    F(S, U64, epoch, REQ, "connection epoch: grows with every new pool connection")            \
    F(S, U64, seq, REQ, "sequence number in the epoch, from 1, no gaps")                       \
    F(S, STR, kind, REQ, "delta | image | image_end | drop (README §8)")                       \
    F(S, MP, changes, OPT, "array of [op, id, type, object?]")

#define XOC_MSG_ACK_FIELDS(F, S)                                                                \
    F(S, STR, pool, REQ, "pool of the change set")                                             \
    F(S, U64, epoch, REQ, "epoch of the change set")                                           \
    F(S, U64, seq, REQ, "sequence of the change set")                                          \
    F(S, U64, rev, REQ, "global revision after this change set")                               \
    F(S, U64, applied, OPT, "object changes committed by it")                                  \
    F(S, BOOL, duplicate, OPT, "already applied before: nothing changed")

/* ---- cache: objects ------------------------------------------------------------------- */

#define XOC_MSG_OBJ_FIELDS(F, S)                                                                \
    F(S, U64, rev, REQ, "global revision of this change (gap-free across obj.*)")              \
    F(S, STR, op, REQ, "enter | exit")                                                         \
    F(S, STR, id, REQ, "object id")                                                            \
    F(S, STR, type, REQ, "xo type (VM, host, SR, ...)")                                        \
    F(S, STR, pool, OPT, "pool id")                                                            \
    F(S, MP, object, OPT, "the whole object (a map); absent on exit")                          \
    F(S, BOOL, last, OPT, "last change of its commit (a client batch ends here)")

#define XOC_MSG_GET_FIELDS(F, S) F(S, STR, id, REQ, "object id")

#define XOC_MSG_QUERY_FIELDS(F, S)                                                              \
    F(S, STR, type, OPT, "only objects of this type")                                          \
    F(S, STR, pool, OPT, "only objects of this pool")                                          \
    F(S, MP, filter, OPT, "map of field -> value: only objects whose fields equal these")      \
    F(S, U64, limit, OPT, "at most this many objects (0: no limit)")

/*  items: msgpack array of [id, type, pool, object]                                         */
#define XOC_MSG_OBJECTS_FIELDS(F, S)                                                            \
    F(S, U64, rev, REQ, "revision the objects are consistent with")                            \
    F(S, U64, count, OPT, "number of items")                                                   \
    F(S, MP, items, OPT, "array of [id, type, pool, object]")                                  \
    F(S, BOOL, done, OPT, "snapshot: no more chunks")

#define XOC_MSG_SNAP_FIELDS(F, S)                                                               \
    F(S, U64, snapshot, OPT, "snapshot id (reply to cache.snapshot; then in each request)")    \
    F(S, U64, rev, OPT, "revision of the snapshot")                                            \
    F(S, U64, count, OPT, "objects in the snapshot")                                           \
    F(S, U64, max_bytes, OPT, "size of the next chunk (0: 1 MiB)")

/*  items: msgpack array of [rev, op, id, type, pool, object?]                              */
#define XOC_MSG_JOURNAL_FIELDS(F, S)                                                            \
    F(S, U64, since, REQ, "first revision asked for (request), or returned (reply)")           \
    F(S, U64, limit, OPT, "at most this many changes (0: 10000)")                              \
    F(S, U64, rev, OPT, "reply: current revision")                                             \
    F(S, MP, items, OPT, "reply: array of [rev, op, id, type, pool, object?]")                 \
    F(S, BOOL, more, OPT, "reply: more changes follow")

/* ---- cache: configuration databases (servers, users, groups, acls, tokens, plugins) ------ */

#define XOC_MSG_CFG_FIELDS(F, S)                                                                \
    F(S, STR, db, REQ, "servers | users | groups | acls | tokens | plugins")                   \
    F(S, STR, key, OPT, "record key (id)")                                                     \
    F(S, MP, value, OPT, "record (a map); absent when deleted or not found")                   \
    F(S, U64, rev, OPT, "configuration revision after the change (replies and events)")        \
    F(S, STR, op, OPT, "event: set | delete")                                                  \
    F(S, BOOL, reveal, OPT, "request: include secret fields in clear (collector only)")        \
    F(S, BOOL, create, OPT, "config.set: only when the key is absent (else already-exists)")   \
    F(S, MP, items, OPT, "config.list reply: map of key -> record")                           \
    F(S, MP, expect, OPT, "config.set/delete: the record as read (nil: absent); else state")

/* ---- collector ------------------------------------------------------------------------ */

#define XOC_MSG_SERVER_STATUS_FIELDS(F, S)                                                      \
    F(S, STR, id, REQ, "server (configuration) id")                                            \
    F(S, STR, status, REQ, "connected | connecting | disconnected")                            \
    F(S, STR, error, OPT, "last error")                                                        \
    F(S, STR, pool, OPT, "pool id once connected")                                             \
    F(S, STR, master, OPT, "URL of the pool master in use")                                    \
    F(S, U64, epoch, OPT, "connection epoch")                                                  \
    F(S, U64, objects, OPT, "objects loaded from this pool")

#define XOC_MSG_XAPI_CALL_FIELDS(F, S)                                                          \
    F(S, STR, pool, REQ, "pool id or server id to call")                                       \
    F(S, STR, method, REQ, "XAPI method, e.g. VM.start (session added by the collector)")     \
    F(S, MP, params, OPT, "array of parameters after the session")                             \
    F(S, BOOL, async, OPT, "call Async.<method>: the result is the task ref")                  \
    F(S, MP, result, OPT, "reply: the XAPI result")                                            \
    F(S, STR, task, OPT, "reply of an async call: the task ref")

/*  M(ENUM suffix, name (C struct xoc_msg_<name>_t, wire "t" value), fields macro, description) */
#define XOC_MSG_LIST(M)                                                                         \
    M(REQ, req, XOC_MSG_REQ_FIELDS, "request header: client to broker, broker to worker")    \
    M(REP, rep, XOC_MSG_REP_FIELDS, "reply header: worker to broker, broker to client")      \
    M(READY, ready, XOC_MSG_READY_FIELDS, "worker registers for a service")                  \
    M(HB, hb, XOC_MSG_HB_FIELDS, "heartbeat, both directions")                               \
    M(BYE, bye, XOC_MSG_BYE_FIELDS, "peer leaves, or broker drops a peer")                   \
    M(SYS, sys, XOC_MSG_SYS_FIELDS, "service life events on sys.<service>.<state>")          \
    M(ECHO, echo, XOC_MSG_ECHO_FIELDS, "body of echo.* requests and replies")                \
    M(ERROR, error, XOC_MSG_ERROR_FIELDS, "body of an error reply with details")              \
    M(CHANGESET, changeset, XOC_MSG_CHANGESET_FIELDS, "cache.apply: one ordered change set")  \
    M(ACK, ack, XOC_MSG_ACK_FIELDS, "cache.apply reply: the change set is committed")         \
    M(OBJ, obj, XOC_MSG_OBJ_FIELDS, "obj.<type>.<pool> event; cache.get reply")               \
    M(GET, get, XOC_MSG_GET_FIELDS, "cache.get request")                                      \
    M(QUERY, query, XOC_MSG_QUERY_FIELDS, "cache.query request")                              \
    M(OBJECTS, objects, XOC_MSG_OBJECTS_FIELDS, "cache.query and cache.snapshot_next reply")  \
    M(SNAP, snap, XOC_MSG_SNAP_FIELDS, "cache.snapshot / snapshot_next / snapshot_close")     \
    M(JOURNAL, journal, XOC_MSG_JOURNAL_FIELDS, "cache.changes request and reply")            \
    M(CFG, cfg, XOC_MSG_CFG_FIELDS, "config.* requests, replies and config.<db> events")      \
    M(SERVER_STATUS, server_status, XOC_MSG_SERVER_STATUS_FIELDS,                             \
      "server.<id> event and collector.status items")                                        \
    M(XAPI_CALL, xapi_call, XOC_MSG_XAPI_CALL_FIELDS, "xapi.call request and reply")

#endif
