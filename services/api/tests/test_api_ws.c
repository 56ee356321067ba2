/*  Tests of xoc_api_ws's push turns (xoc_api_ws_push / xoc_api_ws_mark, the "drained"
    event that api.push_adaptive waits for), against the real lws server thread with
    libwebsockets clients on loopback: the event comes once every connection that got the
    pushes had its write turn, the clients have the messages by then, and a client that
    does not read never holds it back.                                                      */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libwebsockets.h>
#include <string.h>
#include <unistd.h>

#include "xoc_api_ws.h"

#define S_CLIENTS 4
#define S_BIG (1024 * 1024)

typedef struct {
    struct lws *wsi;
    bool established, closed;
    size_t messages, bytes;
} s_client_t;

static struct {
    xoc_api_ws_t *ws;
    struct lws_context *cctx;
    s_client_t clients[S_CLIENTS];
    uint64_t conns[S_CLIENTS];
} s;

static int s_client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    s_client_t *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED: c->established = true; return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        c->bytes += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
            c->messages++;
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            c->closed = true;
        return 0;
    default: return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_client_protocols[] = {
    {"test-ws", s_client_cb, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* services the clients and reads the server's next event of that kind within ms;
   returns its id (or -1) */
static long long s_event(const char *kind, int ms)
{
    int64_t end = zclock_mono() + ms;
    zsock_t *ev = xoc_api_ws_events(s.ws);
    while (zclock_mono() < end) {
        lws_service(s.cctx, -1);
        if (!(zsock_events(ev) & ZMQ_POLLIN)) {
            usleep(500);
            continue;
        }
        zmsg_t *m = zmsg_recv(ev);
        char *k = zmsg_popstr(m), *id = zmsg_popstr(m);
        long long v = k && strcmp(k, kind) == 0 && id ? strtoll(id, NULL, 10) : -2;
        zstr_free(&k);
        zstr_free(&id);
        zmsg_destroy(&m);
        if (v >= 0)
            return v;
    }
    return -1;
}

/* services the clients until cond holds, within ms */
#define S_UNTIL(cond, ms)                                                                          \
    do {                                                                                           \
        int64_t end_ = zclock_mono() + (ms);                                                       \
        while (!(cond) && zclock_mono() < end_) {                                                  \
            lws_service(s.cctx, -1);                                                               \
            usleep(200);                                                                           \
        }                                                                                          \
        assert_true(cond);                                                                         \
    } while (0)

static void s_connect(int i)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s.cctx;
    ci.address = "127.0.0.1";
    ci.port = xoc_api_ws_port(s.ws);
    ci.path = "/api/";
    ci.host = ci.address;
    ci.origin = ci.address;
    ci.local_protocol_name = "test-ws";
    ci.userdata = &s.clients[i];
    ci.pwsi = &s.clients[i].wsi;
    assert_non_null(lws_client_connect_via_info(&ci));
    long long id = s_event("open", 5000); /* one at a time: ids in client order */
    assert_true(id > 0);
    s.conns[i] = (uint64_t)id;
    S_UNTIL(s.clients[i].established, 5000);
}

static int s_setup(void **state)
{
    (void)state;
    memset(&s, 0, sizeof s);
    xoc_api_ws_opts_t o = {.host = "127.0.0.1",
                           .max_frame = 1 << 20,
                           .send_queue_max = 256u << 20,
                           .handshake_timeout_s = 10,
                           .ping_s = 300,
                           .idle_timeout_s = 600,
                           .http_body_max = 1 << 20,
                           .http_header_max = 8192,
                           .http_timeout_s = 30};
    s.ws = xoc_api_ws_new(&o);
    assert_non_null(s.ws);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_client_protocols;
    info.gid = -1;
    info.uid = -1;
    s.cctx = lws_create_context(&info);
    assert_non_null(s.cctx);
    for (int i = 0; i < S_CLIENTS; i++)
        s_connect(i);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    lws_context_destroy(s.cctx);
    xoc_api_ws_destroy(&s.ws);
    return 0;
}

static xoc_api_buf_t *s_text(size_t len)
{
    xoc_api_buf_t *b = xoc_api_buf_new(len);
    assert_non_null(b);
    for (size_t i = 0; i < len; i++)
        xoc_api_buf_putc(b, (char)('a' + i % 26));
    return b;
}

/* pushes, then a mark: "drained" with the mark's seq, and every client has the pushes */
static void test_drained_after_turns(void **state)
{
    (void)state;
    xoc_api_buf_t *a = s_text(3000), *b = s_text(200000);
    assert_int_equal(xoc_api_ws_push(s.ws, s.conns, S_CLIENTS, a), 0);
    assert_int_equal(xoc_api_ws_push(s.ws, s.conns, S_CLIENTS, b), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 7), 0);
    assert_int_equal(s_event("drained", 5000), 7);
    for (int i = 0; i < S_CLIENTS; i++) {
        S_UNTIL(s.clients[i].messages == 2, 5000);
        assert_int_equal(s.clients[i].bytes, 203000);
    }
    /* nothing pushed since: a mark is drained at once */
    assert_int_equal(xoc_api_ws_mark(s.ws, 8), 0);
    assert_int_equal(s_event("drained", 5000), 8);
    /* a mark given up (a later one before its event): only the later one is told */
    assert_int_equal(xoc_api_ws_push(s.ws, s.conns, S_CLIENTS, a), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 9), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 10), 0);
    long long seq = s_event("drained", 5000);
    assert_true(seq == 9 || seq == 10);
    if (seq == 9)
        assert_int_equal(s_event("drained", 5000), 10);
    xoc_api_buf_unref(&a);
    xoc_api_buf_unref(&b);
}

/* client 0 stops reading: once it is behind, the pushes' turns are over without it */
static void test_slow_client_not_awaited(void **state)
{
    (void)state;
    s_client_t *slow = &s.clients[0];
    lws_rx_flow_control(slow->wsi, 0);
    lws_service(s.cctx, -1);
    xoc_api_buf_t *big = s_text(S_BIG), *small = s_text(100);
    /* fill its socket: big pushes to it alone until a mark is drained while it still has
       bytes waiting (its turn ended with lws holding the rest: behind) */
    size_t before = slow->bytes;
    for (int i = 0; i < 64; i++)
        assert_int_equal(xoc_api_ws_push(s.ws, s.conns, 1, big), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 20), 0);
    assert_int_equal(s_event("drained", 10000), 20);
    assert_true(slow->bytes - before < 64u * S_BIG);
    /* now a push to everyone: drained although the slow one does not read */
    size_t got[S_CLIENTS];
    for (int i = 0; i < S_CLIENTS; i++)
        got[i] = s.clients[i].messages;
    assert_int_equal(xoc_api_ws_push(s.ws, s.conns, S_CLIENTS, small), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 21), 0);
    assert_int_equal(s_event("drained", 5000), 21);
    for (int i = 1; i < S_CLIENTS; i++)
        S_UNTIL(s.clients[i].messages == got[i] + 1, 5000);
    /* it reads again: everything arrives, in order */
    lws_rx_flow_control(slow->wsi, 1);
    S_UNTIL(slow->bytes - before == 64u * S_BIG + 100, 20000);
    assert_false(slow->closed);
    xoc_api_buf_unref(&big);
    xoc_api_buf_unref(&small);
}

/* a connection that goes away while awaited does not hold the event back */
static void test_closed_not_awaited(void **state)
{
    (void)state;
    xoc_api_buf_t *a = s_text(1000);
    assert_int_equal(xoc_api_ws_close(s.ws, s.conns[1], 1000, "bye"), 0);
    assert_int_equal(xoc_api_ws_push(s.ws, s.conns, S_CLIENTS, a), 0);
    assert_int_equal(xoc_api_ws_mark(s.ws, 30), 0);
    assert_int_equal(s_event("drained", 5000), 30);
    xoc_api_buf_unref(&a);
}

int main(void)
{
    lws_set_log_level(LLL_ERR, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drained_after_turns, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_client_not_awaited, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_closed_not_awaited, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
