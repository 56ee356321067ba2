/*  The collector learns its servers from the cache: a config.list at start, then the
    config.servers events. An event can be lost (at start under load, the cache publishes a
    change before the collector's subscription has reached it): the collector must still
    pick the server up, by listing the servers again now and then. Here its subscription
    never works at all (its SUB endpoint is a port where nothing listens), and a server
    added after its start must still show in collector.status.                           */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xoc_bus.h"
#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_msg.h"
#include "xoc_testproc.h"

/* a TCP port of 127.0.0.1 where nothing listens (bound, then closed) */
static int s_dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* the server ids collector.status lists, as a JSON object (new reference), or NULL */
static json_t *s_status(xoc_client_t *client)
{
    xoc_reply_t r;
    xoc_msg_t m;
    json_t *items = NULL;
    if (xoc_client_call(client, "collector", "collector.status", NULL, 0, 5000, &r) == 0 &&
        xoc_reply_decode(&r, XOC_MSG_CFG, &m) == 0)
        items = xoc_json_from_mp(m.cfg.items.ptr, m.cfg.items.len);
    xoc_reply_clear(&r);
    return items;
}

static void test_server_added_while_events_are_lost(void **state)
{
    char ep[800], dir[] = "/tmp/xoc-cfg-XXXXXX";
    xoc_proc_t *bus = xoc_test_start_bus(NULL, "100", NULL, ep, sizeof ep);
    assert_non_null(bus);
    assert_non_null(mkdtemp(dir));
    char *cache_argv[] = {(char *)xoc_test_bin("services/cache/xoc-cache"), "--bus.endpoint", ep,
                          "--cache.path", dir, "--log.level", "warn", NULL};
    xoc_proc_t *cache = xoc_proc_start(cache_argv, "xoc-cache: ready", 10000);
    assert_non_null(cache);
    /* the collector's events: from a port where nothing listens */
    xoc_bus_opts_t opts = {0};
    assert_int_equal(xoc_bus_endpoints_parse(ep, &opts), 0);
    char col_ep[800];
    snprintf(col_ep, sizeof col_ep, "%s,tcp://127.0.0.1:%d,%s", opts.pub, s_dead_port(),
             opts.req);
    char *col_argv[] = {(char *)xoc_test_bin("services/collector/xoc-collector"),
                        "--bus.endpoint", col_ep, "--bus.heartbeat_ms", "100", "--log.level",
                        "error", NULL};
    xoc_proc_t *col = xoc_proc_start(col_argv, "xoc-collector: ready", 10000);
    assert_non_null(col);

    opts.heartbeat_ms = 100;
    opts.liveness = 3;
    xoc_client_t *client = xoc_client_new(&opts);
    /* the collector has listed the servers (none yet) */
    json_t *items = NULL;
    for (long long end = xoc_test_now_ms() + 10000; !items && xoc_test_now_ms() < end;) {
        items = s_status(client);
        if (!items)
            zclock_sleep(50); /* polling the collector with a deadline */
    }
    assert_non_null(items);
    assert_int_equal(json_object_size(items), 0);
    json_decref(items);
    /* a server added now: its config.servers event never reaches the collector */
    json_t *rec = json_pack("{s:s,s:s,s:s}", "host", "http://127.0.0.1:9", "username", "root",
                            "password", "pw");
    msgpack_sbuffer val;
    msgpack_sbuffer_init(&val);
    xoc_json_to_mp(rec, &val);
    xoc_msg_cfg_t cfg = {.db = XOC_STR("servers"), .key = XOC_STR("late"),
                         .value = {(const uint8_t *)val.data, (uint32_t)val.size}};
    xoc_reply_t r;
    assert_int_equal(xoc_client_call_msg(client, "cache", "config.set", XOC_MSG_CFG, &cfg, 5000,
                                         &r), 0);
    xoc_reply_clear(&r);
    long long t0 = xoc_test_now_ms();
    bool seen = false;
    for (long long end = t0 + 20000; !seen && xoc_test_now_ms() < end;) {
        items = s_status(client);
        seen = json_object_get(items, "late") != NULL;
        json_decref(items);
        if (!seen)
            zclock_sleep(100); /* polling the collector with a deadline */
    }
    print_message("server picked up without its event: %s after %lld ms\n", seen ? "yes" : "NO",
                  xoc_test_now_ms() - t0);
    assert_true(seen);

    json_decref(rec);
    msgpack_sbuffer_destroy(&val);
    xoc_client_destroy(&client);
    bool clean = xoc_proc_stop_clean(&col);
    clean &= xoc_proc_stop_clean(&cache);
    clean &= xoc_proc_stop_clean(&bus);
    assert_true(clean);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_added_while_events_are_lost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
