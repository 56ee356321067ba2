/*  xoc-bus on real processes over loopback (ephemeral ports): pub/sub with prefix filtering,
    round robin across workers, kill -9 of a worker, missing service, deadlines, a restarted
    bus, malformed frames, CurveZMQ.                                                       */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <signal.h>
#include <string.h>

#include <jansson.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

#define HB "100" /* heartbeat of every process in these tests, ms (liveness 3) */

typedef struct {
    xoc_proc_t *bus;
    char endpoint[800];
    xoc_bus_opts_t opts;
    xoc_proc_t *workers[3];
} s_env_t;

static xoc_proc_t *s_start_bus(const char *listen, char *endpoint, size_t size,
                               char *const *extra)
{
    return xoc_test_start_bus(listen, HB, extra, endpoint, size);
}

static xoc_proc_t *s_start_echo(const char *endpoint, char *const *extra)
{
    char *argv[16] = {(char *)xoc_test_bin("tests/integration/xoc-echo"), "--bus.endpoint",
                      (char *)endpoint, "--bus.heartbeat_ms", HB, "--log.level", "warn"};
    int n = 7;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return xoc_proc_start(argv, "xoc-echo: ready", 5000);
}

static int s_setup(void **state)
{
    s_env_t *env = calloc(1, sizeof *env);
    env->bus = s_start_bus(NULL, env->endpoint, sizeof env->endpoint, NULL);
    assert_non_null(env->bus);
    assert_int_equal(xoc_bus_endpoints_parse(env->endpoint, &env->opts), 0);
    env->opts.heartbeat_ms = 100;
    env->opts.liveness = 3;
    *state = env;
    return 0;
}

static int s_teardown(void **state)
{
    s_env_t *env = *state;
    bool clean = true;
    for (int i = 0; i < 3; i++)
        if (env->workers[i])
            clean &= xoc_proc_stop_clean(&env->workers[i]);
    clean &= xoc_proc_stop_clean(&env->bus);
    free(env);
    assert_true(clean); /* every service stops cleanly on SIGTERM */
    return 0;
}

/* one echo.ping; returns the status and copies the answering instance */
static int s_ping(xoc_client_t *c, int timeout_ms, uint64_t delay_ms, char *instance,
                  size_t size)
{
    xoc_msg_echo_t e = {.text = XOC_STR("hello"), .delay_ms = delay_ms};
    xoc_reply_t r;
    int rc = xoc_client_call_msg(c, "echo", "echo.ping", XOC_MSG_ECHO, &e, timeout_ms, &r);
    if (rc == 0) {
        xoc_msg_t m;
        assert_int_equal(xoc_reply_decode(&r, XOC_MSG_ECHO, &m), 0);
        assert_true(xoc_str_eq(m.echo.text, "hello"));
        if (instance)
            xoc_str_copy(m.echo.instance, instance, size);
    }
    xoc_reply_clear(&r);
    return rc;
}

/* waits until `n` distinct workers have answered */
static void s_wait_workers(xoc_client_t *c, int n)
{
    char seen[4][128] = {{0}};
    int count = 0;
    long long end = xoc_test_now_ms() + 10000;
    while (count < n && xoc_test_now_ms() < end) {
        char inst[128];
        if (s_ping(c, 1000, 0, inst, sizeof inst) != 0)
            continue;
        bool known = false;
        for (int i = 0; i < count; i++)
            known |= strcmp(seen[i], inst) == 0;
        if (!known && count < 4)
            snprintf(seen[count++], sizeof seen[0], "%s", inst);
    }
    assert_int_equal(count, n);
}

static void test_pubsub_prefix_filtering(void **state)
{
    s_env_t *env = *state;
    zsock_t *sub = xoc_bus_connect(ZMQ_SUB, env->opts.sub, NULL);
    zsock_t *pub = xoc_bus_connect(ZMQ_PUB, env->opts.pub, NULL);
    zsock_set_subscribe(sub, "obj.VM.");
    zsock_set_rcvtimeo(sub, 50);
    /* subscriptions travel to the publisher through the proxy: publish until one arrives */
    xoc_msg_bye_t probe = {.reason = XOC_STR("probe")};
    bool joined = false;
    for (long long end = xoc_test_now_ms() + 5000; !joined && xoc_test_now_ms() < end;) {
        xoc_bus_publish(pub, "obj.VM.sync", XOC_MSG_BYE, &probe);
        zmsg_t *m = zmsg_recv(sub);
        joined = m != NULL;
        zmsg_destroy(&m);
    }
    assert_true(joined);
    zsock_set_rcvtimeo(sub, 200);
    while (true) { /* drain the probes */
        zmsg_t *m = zmsg_recv(sub);
        if (!m)
            break;
        zmsg_destroy(&m);
    }
    const char *topics[] = {"obj.VM.p1", "obj.host.p1", "obj.VM.p2", "obj.VMX", "sys.bus.x"};
    for (int i = 0; i < 5; i++) {
        xoc_msg_bye_t b = {.reason = xoc_str(topics[i])};
        assert_int_equal(xoc_bus_publish(pub, topics[i], XOC_MSG_BYE, &b), 0);
    }
    const char *expect[] = {"obj.VM.p1", "obj.VM.p2"};
    for (int i = 0; i < 2; i++) {
        zmsg_t *m = zmsg_recv(sub);
        assert_non_null(m);
        char *topic = zmsg_popstr(m);
        assert_string_equal(topic, expect[i]);
        zframe_t *body = zmsg_pop(m);
        xoc_msg_t msg;
        assert_int_equal(xoc_msg_decode_as(&msg, XOC_MSG_BYE, zframe_data(body),
                                           zframe_size(body)), 0);
        assert_true(xoc_str_eq(msg.bye.reason, expect[i]));
        zframe_destroy(&body);
        zstr_free(&topic);
        zmsg_destroy(&m);
    }
    zmsg_t *extra = zmsg_recv(sub);
    assert_null(extra); /* nothing that does not match the prefix */
    zsock_destroy(&sub);
    zsock_destroy(&pub);
}

static void test_two_workers_share_then_kill9(void **state)
{
    s_env_t *env = *state;
    env->workers[0] = s_start_echo(env->endpoint, NULL);
    env->workers[1] = s_start_echo(env->endpoint, NULL);
    assert_non_null(env->workers[0]);
    assert_non_null(env->workers[1]);
    xoc_client_t *c = xoc_client_new(&env->opts);
    s_wait_workers(c, 2);

    /* idle workers take turns: 100 calls split evenly */
    char first[128] = "", inst[128];
    int a = 0, b = 0;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(s_ping(c, 2000, 0, inst, sizeof inst), 0);
        if (!first[0])
            snprintf(first, sizeof first, "%s", inst);
        strcmp(inst, first) == 0 ? a++ : b++;
    }
    assert_int_equal(a + b, 100);
    assert_in_range(a, 40, 60);

    /* kill -9 one: within the heartbeat window every call lands on the survivor */
    char victim[32];
    snprintf(victim, sizeof victim, ":%d:", (int)env->workers[0]->pid);
    xoc_proc_kill(env->workers[0], SIGKILL);
    xoc_proc_wait(env->workers[0], 2000);
    long long killed = xoc_test_now_ms(), settled = 0;
    int streak = 0;
    while (streak < 20 && xoc_test_now_ms() - killed < 5000) {
        int rc = s_ping(c, 150, 0, inst, sizeof inst);
        if (rc == 0 && !strstr(inst, victim)) {
            if (streak++ == 0)
                settled = xoc_test_now_ms();
        } else
            streak = 0;
    }
    assert_int_equal(streak, 20);
    long long window = 100 * 3 + 100; /* liveness x heartbeat, plus one beat */
    print_message("traffic moved to the survivor %lld ms after kill -9 (window %lld ms)\n",
                  settled - killed, window);
    assert_true(settled - killed <= window + 400);
    xoc_client_destroy(&c);
}

/* one request of test_queued_requests_keep_their_bodies and its expected answer */
typedef struct {
    char text[16];
    int *answered, *wrong;
} s_queued_t;

static void s_on_queued(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_queued_t *q = arg;
    xoc_msg_t m;
    (*q->answered)++;
    if (reply->status != 0 || xoc_reply_decode(reply, XOC_MSG_ECHO, &m) != 0 ||
        !xoc_str_eq(m.echo.text, q->text))
        (*q->wrong)++;
}

/* sends 100 echo.ping of 50 ms, each with its own text (prefix + index) */
static void s_send_batch(xoc_client_t *c, s_queued_t *q, const char *prefix, int *answered,
                         int *wrong)
{
    *answered = *wrong = 0;
    for (int i = 0; i < 100; i++) {
        q[i] = (s_queued_t){.answered = answered, .wrong = wrong};
        snprintf(q[i].text, sizeof q[i].text, "%s%d", prefix, i);
        xoc_msg_echo_t e = {.text = xoc_str(q[i].text), .delay_ms = 50};
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        assert_int_equal(xoc_msg_encode(XOC_MSG_ECHO, &e, &sb), 0);
        assert_int_equal(xoc_client_send(c, "echo", "echo.ping", sb.data, sb.size, 8000,
                                         s_on_queued, &q[i]),
                         0);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void s_wait_batch(xoc_client_t *c, const int *answered, const int *wrong)
{
    long long end = xoc_test_now_ms() + 8000;
    while (*answered < 100 && xoc_test_now_ms() < end)
        xoc_client_pump(c, 100);
    assert_int_equal(*answered, 100);
    assert_int_equal(*wrong, 0);
}

/* more requests than the worker's capacity (64): the broker queues the rest, each with its
   body, and forwards them as answers free room; requests sent before any worker registered
   wait in the queue (the bus's grace period) the same way */
static void test_queued_requests_keep_their_bodies(void **state)
{
    s_env_t *env = *state;
    assert_true(xoc_proc_stop_clean(&env->bus));
    char *grace[] = {"--bus.grace_ms", "10000", NULL};
    env->bus = s_start_bus(NULL, env->endpoint, sizeof env->endpoint, grace);
    assert_non_null(env->bus);
    assert_int_equal(xoc_bus_endpoints_parse(env->endpoint, &env->opts), 0);
    xoc_client_t *c = xoc_client_new(&env->opts);
    static s_queued_t q[100];
    int answered, wrong;
    s_send_batch(c, q, "early", &answered, &wrong); /* no worker yet: all wait in the bus */
    env->workers[0] = s_start_echo(env->endpoint, NULL);
    assert_non_null(env->workers[0]);
    s_wait_batch(c, &answered, &wrong);
    s_send_batch(c, q, "late", &answered, &wrong); /* 100 at once: 36 wait for room */
    s_wait_batch(c, &answered, &wrong);
    xoc_client_destroy(&c);
}

static void test_missing_service_fails_at_once(void **state)
{
    s_env_t *env = *state;
    xoc_client_t *c = xoc_client_new(&env->opts);
    /* past the start-up grace (heartbeat x liveness), an unknown service is an error at once */
    xoc_reply_t r;
    long long t0 = xoc_test_now_ms();
    int rc = xoc_client_call(c, "nosuch", "nosuch.x", NULL, 0, 10000, &r);
    long long first = xoc_test_now_ms() - t0;
    assert_int_equal(rc, XOC_ENOSERVICE);
    assert_non_null(strstr(r.reason, "nosuch"));
    xoc_reply_clear(&r);
    t0 = xoc_test_now_ms();
    rc = xoc_client_call(c, "nosuch", "nosuch.x", NULL, 0, 10000, &r);
    long long second = xoc_test_now_ms() - t0;
    assert_int_equal(rc, XOC_ENOSERVICE);
    xoc_reply_clear(&r);
    print_message("no-service after %lld ms (first, within start-up grace), %lld ms (then)\n",
                  first, second);
    assert_true(second < 1000); /* at once, far from the 10 s deadline */
    xoc_client_destroy(&c);
}

static void test_deadline_gives_timeout(void **state)
{
    s_env_t *env = *state;
    env->workers[0] = s_start_echo(env->endpoint, NULL);
    xoc_client_t *c = xoc_client_new(&env->opts);
    s_wait_workers(c, 1);
    long long t0 = xoc_test_now_ms();
    int rc = s_ping(c, 200, 3000, NULL, 0);
    long long took = xoc_test_now_ms() - t0;
    assert_int_equal(rc, XOC_ETIMEOUT);
    print_message("timeout error after %lld ms for a 200 ms deadline\n", took);
    assert_true(took >= 190 && took < 1500);
    /* the worker's late reply is dropped; the next call works */
    assert_int_equal(s_ping(c, 2000, 0, NULL, 0), 0);
    xoc_client_destroy(&c);
}

static void test_bus_restart_under_traffic(void **state)
{
    s_env_t *env = *state;
    env->workers[0] = s_start_echo(env->endpoint, NULL);
    xoc_client_t *c = xoc_client_new(&env->opts);
    s_wait_workers(c, 1);
    zsock_t *sub = xoc_bus_connect(ZMQ_SUB, env->opts.sub, NULL);
    zsock_set_subscribe(sub, "sys.echo.heartbeat");
    zsock_set_rcvtimeo(sub, 2000);
    zmsg_t *m = zmsg_recv(sub);
    assert_non_null(m);
    zmsg_destroy(&m);

    for (int i = 0; i < 20; i++)
        assert_int_equal(s_ping(c, 1000, 0, NULL, 0), 0);
    xoc_proc_kill(env->bus, SIGKILL);
    xoc_proc_wait(env->bus, 2000);
    xoc_proc_stop(&env->bus);
    /* calls while the bus is down fail with a timeout, never hang */
    assert_int_equal(s_ping(c, 100, 0, NULL, 0), XOC_ETIMEOUT);

    env->bus = s_start_bus(env->endpoint, NULL, 0, NULL); /* same ports */
    assert_non_null(env->bus);
    long long restarted = xoc_test_now_ms(), back = 0;
    int ok = 0;
    while (ok < 20 && xoc_test_now_ms() - restarted < 10000)
        if (s_ping(c, 300, 0, NULL, 0) == 0 && ok++ == 0)
            back = xoc_test_now_ms();
    assert_int_equal(ok, 20);
    print_message("requests flow again %lld ms after the bus restarted\n", back - restarted);
    /* and events too: subscriber and publisher reconnected by themselves */
    while ((m = zmsg_recv(sub)) != NULL) { /* skip anything queued before the restart */
        zmsg_destroy(&m);
        break;
    }
    m = zmsg_recv(sub);
    assert_non_null(m);
    zmsg_destroy(&m);
    zsock_destroy(&sub);
    xoc_client_destroy(&c);
}

static void test_malformed_frames_get_errors(void **state)
{
    s_env_t *env = *state;
    zsock_t *raw = xoc_bus_connect(ZMQ_DEALER, env->opts.req, NULL);
    zsock_set_rcvtimeo(raw, 2000);
    const char *garbage[] = {"\xc1", "not msgpack at all", "\x81\xa1v\x01"};
    for (int i = 0; i < 3; i++) {
        zstr_send(raw, garbage[i]);
        zmsg_t *m = zmsg_recv(raw);
        assert_non_null(m);
        zframe_t *f = zmsg_first(m);
        xoc_msg_t rep;
        assert_int_equal(xoc_msg_decode_as(&rep, XOC_MSG_REP, zframe_data(f), zframe_size(f)), 0);
        assert_true(rep.rep.status == XOC_EPROTO);
        zmsg_destroy(&m);
    }
    zsock_destroy(&raw);
    /* the bus is still serving */
    xoc_client_t *c = xoc_client_new(&env->opts);
    xoc_reply_t r;
    assert_int_equal(xoc_client_call(c, "nosuch", "x", NULL, 0, 3000, &r), XOC_ENOSERVICE);
    xoc_reply_clear(&r);
    xoc_client_destroy(&c);
}

static void test_curve_encryption(void **state)
{
    (void)state;
    char dir[] = "/tmp/xoc-curve-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char clients[256], server_cert[256], client_cert[256], stranger_cert[256];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    zsys_dir_create("%s", clients);
    snprintf(server_cert, sizeof server_cert, "%s/bus.cert", dir);
    snprintf(client_cert, sizeof client_cert, "%s/svc.cert", dir);
    snprintf(stranger_cert, sizeof stranger_cert, "%s/stranger.cert", dir);
    zcert_t *server = zcert_new(), *client = zcert_new(), *stranger = zcert_new();
    zcert_save(server, server_cert);
    zcert_save(client, client_cert);
    zcert_save(stranger, stranger_cert);
    char allowed[300];
    snprintf(allowed, sizeof allowed, "%s/svc.cert", clients);
    zcert_save_public(client, allowed);

    char endpoint[800];
    char *extra[] = {"--bus.curve.cert", server_cert, "--bus.curve.clients", clients, NULL};
    xoc_proc_t *bus = s_start_bus(NULL, endpoint, sizeof endpoint, extra);
    assert_non_null(bus);
    char *wextra[] = {"--bus.curve.server_public", (char *)zcert_public_txt(server),
                      "--bus.curve.cert", client_cert, NULL};
    xoc_proc_t *echo = s_start_echo(endpoint, wextra);
    assert_non_null(echo);

    xoc_bus_opts_t good = {0}, bad = {0}, plain = {0};
    xoc_bus_endpoints_parse(endpoint, &good);
    good.heartbeat_ms = 100;
    good.liveness = 3;
    bad = plain = good;
    snprintf(good.curve_server_public, sizeof good.curve_server_public, "%s",
             zcert_public_txt(server));
    good.curve_cert = client;
    snprintf(bad.curve_server_public, sizeof bad.curve_server_public, "%s",
             zcert_public_txt(server));
    bad.curve_cert = stranger;

    xoc_client_t *c = xoc_client_new(&good);
    s_wait_workers(c, 1);
    xoc_client_destroy(&c);
    /* a key the bus does not know, or no encryption at all: no answer */
    c = xoc_client_new(&bad);
    assert_int_equal(s_ping(c, 300, 0, NULL, 0), XOC_ETIMEOUT);
    xoc_client_destroy(&c);
    c = xoc_client_new(&plain);
    assert_int_equal(s_ping(c, 300, 0, NULL, 0), XOC_ETIMEOUT);
    xoc_client_destroy(&c);

    xoc_proc_stop(&echo);
    xoc_proc_stop(&bus);
    zcert_destroy(&server);
    zcert_destroy(&client);
    zcert_destroy(&stranger);
    zsys_dir_delete("%s", allowed);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* the ops tap: `xoc-events sys.` prints the heartbeats of running services as JSON lines */
static void test_events_tap_shows_heartbeats(void **state)
{
    s_env_t *env = *state;
    env->workers[0] = s_start_echo(env->endpoint, NULL);
    char *argv[] = {(char *)xoc_test_bin("tools/xoc-events/xoc-events"), "--bus.endpoint",
                    env->endpoint, "--count", "6", "--timeout", "20", "sys.", NULL};
    xoc_proc_t *tap = xoc_proc_start(argv, NULL, 0);
    assert_non_null(tap);
    bool bus_seen = false, echo_seen = false;
    for (int i = 0; i < 6; i++) {
        char line[4096];
        assert_true(xoc_proc_read_line(tap, line, sizeof line, 10000));
        json_error_t jerr;
        json_t *o = json_loads(line, 0, &jerr);
        assert_non_null(o);
        const char *topic = json_string_value(json_object_get(o, "topic"));
        assert_non_null(topic);
        assert_memory_equal(topic, "sys.", 4);
        assert_string_equal(json_string_value(json_object_get(o, "t")), "sys");
        const char *svc = json_string_value(json_object_get(o, "service"));
        const char *st = json_string_value(json_object_get(o, "state"));
        assert_non_null(svc);
        assert_non_null(st);
        if (strcmp(st, "heartbeat") == 0) {
            assert_true(json_is_object(json_object_get(o, "stats")));
            bus_seen |= strcmp(svc, "bus") == 0;
            echo_seen |= strcmp(svc, "echo") == 0;
        }
        json_decref(o);
    }
    assert_true(bus_seen && echo_seen);
    assert_int_equal(xoc_proc_wait(tap, 5000), 0); /* --count reached: exit 0 */
    xoc_proc_stop(&tap);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pubsub_prefix_filtering, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_two_workers_share_then_kill9, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_queued_requests_keep_their_bodies, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_service_fails_at_once, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_deadline_gives_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bus_restart_under_traffic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_frames_get_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_events_tap_shows_heartbeats, s_setup, s_teardown),
        cmocka_unit_test(test_curve_encryption),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
