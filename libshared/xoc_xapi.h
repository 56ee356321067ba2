/*  xoc_xapi — XAPI client: XML-RPC and JSON-RPC over libcurl, answers decoded as streams.

    One xoc_xapi_t = one libcurl easy handle (keep-alive) = one blocking caller thread. Only
    xoc_xapi_cancel() may be called from another thread.

    Values are produced as msgpack (msgpack-c), exactly as the host sends them:
        XML-RPC <string>/bare <value>  -> str     XML-RPC <i4>/<int>/<i8>, JSON integer -> int
        <double>, JSON real            -> float64 <boolean>, JSON true/false          -> bool
        <dateTime.iso8601>             -> str     (text kept, e.g. "20240102T03:04:05Z")
        <array>, JSON array            -> array   <struct>, JSON object               -> map
        <nil/>, JSON null              -> nil     <base64>                           -> str (text kept)
    XAPI's 64-bit ints arrive as decimal strings in XML-RPC and as numbers in JSON-RPC; without
    the schema a decimal string cannot be told from a name, so they are kept as sent. With the
    flag XOC_XAPI_INT_AS_STRING, typed integers (JSON numbers, <i4>) become decimal strings too,
    so both transports give the same bytes (the collector's choice). Integers that do not fit in
    64 bits (int64 or uint64) are XOC_ETYPE. Maps and arrays use the smallest msgpack header.

    Parameters are given as one msgpack array (any msgpack_packer output), or through the
    picture helper xoc_xapi_callf(). Encoding: str -> <string>/JSON string, int -> decimal
    <string> in XML-RPC (what XAPI expects for its 64-bit ints) and a JSON integer, float ->
    <double>/JSON number, bool, array, map (str or int keys). nil, bin and ext are XOC_EINVAL.

    Errors (every function returns 0, a negative xoc code of xoc_err.h, or a positive errno):
        XOC_EXAPI        the host answered with a XAPI failure: xoc_xapi_fault() has the code
                         ("SESSION_INVALID", "HOST_IS_SLAVE", ...) and its parameters
        XOC_EUNREACHABLE connection refused, name not resolved, connect timeout
        XOC_ETLS         TLS handshake or certificate verification failed
        XOC_ETIMEOUT     the per-call timeout expired
        XOC_ECANCELED    xoc_xapi_cancel() was called
        XOC_EHTTP        HTTP status other than 200 (xoc_xapi_http_status())
        XOC_EPROTO       malformed body (not XML/JSON, not an XML-RPC/JSON-RPC answer,
                         invalid UTF-8, DTD, unknown element)
        XOC_ETRUNCATED   the body ended before the answer was complete
        XOC_ETYPE        a value of the wrong type (e.g. <boolean>2</boolean>, a number that
                         does not fit, a streamed result that is not a map)
        XOC_ETOOBIG      a value/record/result larger than max_value, or nested deeper than
                         max_depth
        XOC_EIO          the connection failed before any answer
        XOC_EINVAL       bad arguments (params not a msgpack array, invalid UTF-8 in a string)
        XOC_ESTATE       a call that needs a session while there is none
        XOC_ENOMEM       out of memory
    A callback (on_entry) may also stop a call with its own code.
    xoc_xapi_detail() gives a one-line human explanation of the last error.                  */
#ifndef XOC_XAPI_H
#define XOC_XAPI_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct xoc_xapi_t xoc_xapi_t;

/*  Transports. AUTO (default) tries JSON-RPC (POST /jsonrpc) and falls back to XML-RPC
    (POST /) for good when the host answers with a content type that is not application/json. */
typedef enum {
    XOC_XAPI_AUTO = 0,
    XOC_XAPI_JSONRPC = 1,
    XOC_XAPI_XMLRPC = 2,
} xoc_xapi_transport_t;

/*  How the result is delivered.
    PLAIN:   the whole result as one msgpack value.
    RECORDS: the result must be a map (get_all_records): on_entry(key=ref, record) per member;
             nothing is stored for the result itself.
    EVENTS:  the result must be a map (event.from): on_entry(NULL, event) per element of its
             `events` array; the other members (token, valid_ref_counts) are returned as a map. */
typedef enum {
    XOC_XAPI_PLAIN = 0,
    XOC_XAPI_RECORDS = 1,
    XOC_XAPI_EVENTS = 2,
} xoc_xapi_mode_t;

#define XOC_XAPI_INT_AS_STRING 0x1u /* typed integers (JSON numbers, <i4>) as decimal str */

#define XOC_XAPI_MAX_VALUE_DEFAULT (64u << 20) /* bytes of one msgpack value/record/result */
#define XOC_XAPI_MAX_DEPTH_DEFAULT 32          /* nesting of arrays/maps inside a result */

/*  Called for each streamed entry. key/key_len: the member name (RECORDS) or NULL/0 (EVENTS);
    mp/mp_len: the msgpack encoding of the record or event, valid during the call only.
    Return 0 to go on; any other value stops the call, which then returns that value (use a
    negative xoc code or a positive errno). Entries delivered before an error are not undone. */
typedef int(xoc_xapi_entry_fn)(const char *key, size_t key_len, const void *mp, size_t mp_len,
                               void *arg);

/*  A XAPI failure: ErrorDescription = [code, params...], or a JSON-RPC error.              */
typedef struct {
    char *code;     /* e.g. "SESSION_INVALID"; NULL when there is no failure */
    char **params;  /* nparams strings (numbers and booleans are written in decimal/"true") */
    size_t nparams;
} xoc_xapi_fault_t;

/*  Frees what a fault holds and zeroes it. NULL-safe.                                        */
void xoc_xapi_fault_clear(xoc_xapi_fault_t *fault);

/*  Options of a decode. Zeroed options = PLAIN, host's ints, default limits.               */
typedef struct {
    xoc_xapi_mode_t mode;
    unsigned flags;           /* XOC_XAPI_INT_AS_STRING */
    size_t max_value;         /* 0 = XOC_XAPI_MAX_VALUE_DEFAULT */
    int max_depth;            /* 0 = XOC_XAPI_MAX_DEPTH_DEFAULT */
    xoc_xapi_entry_fn *on_entry; /* required for RECORDS and EVENTS */
    void *arg;
} xoc_xapi_decode_opts_t;

/*  Decodes a complete XML-RPC / JSON-RPC response body held in memory, exactly as the client
    does with a body that arrives in pieces (it is fed to the streaming parser in chunks).
    result (may be NULL): the msgpack result (PLAIN) or the rest map (EVENTS) is appended; on
    error it is left as it was. fault (may be NULL): filled on XOC_EXAPI, to be cleared by the
    caller. Returns 0, XOC_EXAPI, XOC_EPROTO, XOC_ETRUNCATED, XOC_ETYPE, XOC_ETOOBIG,
    XOC_EINVAL (opts), XOC_ENOMEM, or what on_entry returned.                               */
int xoc_xapi_decode_xmlrpc(const void *buf, size_t len, const xoc_xapi_decode_opts_t *opts,
                           msgpack_sbuffer *result, xoc_xapi_fault_t *fault);
int xoc_xapi_decode_jsonrpc(const void *buf, size_t len, const xoc_xapi_decode_opts_t *opts,
                            msgpack_sbuffer *result, xoc_xapi_fault_t *fault);

/*  Writes the request body for method(params) into out (appended). params: a msgpack array
    (NULL/0 = no parameters). id: the JSON-RPC id. Returns 0, XOC_EINVAL, XOC_ENOMEM.        */
int xoc_xapi_encode_xmlrpc(const char *method, const void *params, size_t params_len,
                           msgpack_sbuffer *out);
int xoc_xapi_encode_jsonrpc(const char *method, const void *params, size_t params_len,
                            uint64_t id, msgpack_sbuffer *out);

/*  ---- client ---------------------------------------------------------------------------- */

/*  New client for url, e.g. "https://10.0.0.1" or "http://127.0.0.1:8080" (path ignored;
    requests go to /jsonrpc and /). Defaults: AUTO transport, TLS verification on, connect
    timeout 10 s, call timeout 120 s, default limits. Returns NULL on bad URL or no memory.  */
xoc_xapi_t *xoc_xapi_new(const char *url);

/*  Frees everything and sets *p to NULL (does not log out: call xoc_xapi_logout first).
    NULL-safe. No other thread may call xoc_xapi_cancel() during or after it.                */
void xoc_xapi_destroy(xoc_xapi_t **p);

/*  Re-points the client at another host (e.g. the master), keeping the session.
    Returns 0, XOC_EINVAL (not an http/https URL), XOC_ENOMEM.                               */
int xoc_xapi_set_url(xoc_xapi_t *x, const char *url);

/*  Current base URL ("scheme://host[:port]"). Never NULL.                                   */
const char *xoc_xapi_url(const xoc_xapi_t *x);

void xoc_xapi_set_transport(xoc_xapi_t *x, xoc_xapi_transport_t t);

/*  The transport in use: after an AUTO fallback, XOC_XAPI_XMLRPC.                           */
xoc_xapi_transport_t xoc_xapi_transport(const xoc_xapi_t *x);

/*  verify=false accepts self-signed certificates (and any host name), as hosts often have. */
void xoc_xapi_set_tls_verify(xoc_xapi_t *x, bool verify);

/*  Every call through this HTTP proxy (xo-server's httpProxy, "http://[user:pw@]host:port";
    HTTPS through it with CONNECT); NULL or "": straight to the host, whatever the
    environment says. 0 or XOC_ENOMEM.                                                      */
int xoc_xapi_set_proxy(xoc_xapi_t *x, const char *proxy);

/*  Timeouts in milliseconds (0 = keep). call_ms bounds a whole call (connect included).     */
void xoc_xapi_set_timeouts(xoc_xapi_t *x, long connect_ms, long call_ms);

/*  Limits of every answer (0 = default); flags: XOC_XAPI_INT_AS_STRING or 0.                */
void xoc_xapi_set_limits(xoc_xapi_t *x, size_t max_value, int max_depth);
void xoc_xapi_set_flags(xoc_xapi_t *x, unsigned flags);

/*  Stops the call in progress at once (and every later call) with XOC_ECANCELED. Safe from
    any thread, async-signal-unsafe. xoc_xapi_uncancel() re-arms the client.                */
void xoc_xapi_cancel(xoc_xapi_t *x);
void xoc_xapi_uncancel(xoc_xapi_t *x);

/*  session.login_with_password(user, password) — 2 params, like the npm client; the session
    ref is kept and prepended to every later call. On HOST_IS_SLAVE the error is XOC_EXAPI and
    xoc_xapi_follow_master() re-points the client. Errors: those of xoc_xapi_call().         */
int xoc_xapi_login(xoc_xapi_t *x, const char *user, const char *password);

/*  session.logout(session); the session is forgotten whatever the answer. 0 without session. */
int xoc_xapi_logout(xoc_xapi_t *x);

/*  The session ref, or NULL. set_session adopts an existing session (NULL forgets it).     */
const char *xoc_xapi_session(const xoc_xapi_t *x);
int xoc_xapi_set_session(xoc_xapi_t *x, const char *session);

/*  Calls method(params) and appends the whole result, as msgpack, to result (may be NULL;
    left as it was on error). The session is prepended except for
    session.login_with_password, session.slave_local_login_with_password and system.*.
    In AUTO, the first call probes JSON-RPC and may be sent again over XML-RPC.
    Errors: see the top of this file (XOC_ETOOBIG past max_value: stream big answers).      */
int xoc_xapi_call(xoc_xapi_t *x, const char *method, const void *params, size_t params_len,
                  msgpack_sbuffer *result);

/*  Same, streamed (mode RECORDS or EVENTS, see xoc_xapi_mode_t): on_entry per entry; for
    EVENTS the rest map (token, valid_ref_counts) is appended to rest (may be NULL).
    timeout_ms: this call's timeout (0 = the client's).                                      */
int xoc_xapi_call_stream(xoc_xapi_t *x, const char *method, const void *params,
                         size_t params_len, xoc_xapi_mode_t mode, xoc_xapi_entry_fn *on_entry,
                         void *arg, msgpack_sbuffer *rest, long timeout_ms);

/*  xoc_xapi_call with parameters given by a picture, one letter each:
        s const char *   i int64_t   d double   b int (bool)
        S const char *const *, size_t (an array of strings)
        m const void *, size_t (one msgpack value, e.g. a map)
    Returns XOC_EINVAL for an unknown letter.                                                 */
int xoc_xapi_callf(xoc_xapi_t *x, const char *method, msgpack_sbuffer *result,
                   const char *picture, ...);

/*  Async.<method>(params): *task_ref gets the task ref (free it). Errors: xoc_xapi_call's,
    XOC_ETYPE when the answer is not a string.                                               */
int xoc_xapi_call_async(xoc_xapi_t *x, const char *method, const void *params,
                        size_t params_len, char **task_ref);

/*  <class>.get_all_records(): on_entry(ref, record) per object, memory bounded by the
    largest record.                                                                           */
int xoc_xapi_get_all_records(xoc_xapi_t *x, const char *cls, xoc_xapi_entry_fn *on_entry,
                             void *arg);

/*  event.from(classes, token, timeout_s): on_event(NULL, event) per event; *new_token gets
    the next token (free it); valid_ref_counts (may be NULL) gets that map as msgpack. The HTTP
    timeout of this call is timeout_s + 6 s. Errors: xoc_xapi_call's; XOC_ETYPE/XOC_EPROTO
    when token is missing or not a string.                                                   */
int xoc_xapi_event_from(xoc_xapi_t *x, const char *const *classes, size_t nclasses,
                        const char *token, double timeout_s, xoc_xapi_entry_fn *on_event,
                        void *arg, char **new_token, msgpack_sbuffer *valid_ref_counts);

/*  Called after every call with its method, its result (0 or the error) and its duration
    in seconds (e.g. to count calls and measure latencies). fn NULL: none.                  */
typedef void(xoc_xapi_observe_fn)(const char *method, int rc, double seconds, void *arg);
void xoc_xapi_set_observer(xoc_xapi_t *x, xoc_xapi_observe_fn *fn, void *arg);

/*  The last XAPI failure (code NULL if the last call did not fail with XOC_EXAPI).          */
const xoc_xapi_fault_t *xoc_xapi_fault(const xoc_xapi_t *x);

/*  A line explaining the last error ("" after a success). Never NULL.                       */
const char *xoc_xapi_detail(const xoc_xapi_t *x);

/*  HTTP status of the last answer (0 when none).                                            */
int xoc_xapi_http_status(const xoc_xapi_t *x);

/*  If the last failure is HOST_IS_SLAVE [master], the master's address, else NULL.          */
const char *xoc_xapi_master_address(const xoc_xapi_t *x);

/*  Re-points the URL at the master named by the last HOST_IS_SLAVE failure, keeping scheme
    and port (IPv6 bracketed). Returns 0, XOC_ESTATE (last failure is not HOST_IS_SLAVE),
    XOC_EINVAL, XOC_ENOMEM.                                                                   */
int xoc_xapi_follow_master(xoc_xapi_t *x);

/*  Re-points the URL at another host (a pool member's address), keeping scheme and port as
    xo-server's client does (IPv6 bracketed). 0, XOC_EINVAL, XOC_ENOMEM.                     */
int xoc_xapi_set_host(xoc_xapi_t *x, const char *address);

/*  URL of an HTTP handler with the session: base + path + "?session_id=<ref>" then each
    "&key=value" of kv (n pairs, 2n strings, values URL-escaped), e.g.
    xoc_xapi_handler_url(x, "/export", (const char *[]){"uuid", u}, 1). Free it.
    NULL without session or memory.                                                           */
char *xoc_xapi_handler_url(const xoc_xapi_t *x, const char *path, const char *const *kv,
                           size_t n);

#endif
