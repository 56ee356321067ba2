/*  The XAPI client against the simulator (tools/xapi-sim, a real process on loopback):
    HOST_IS_SLAVE redirection, login, system.listMethods, get_all_records streamed,
    event.inject + event.from with a token, Async calls, XAPI failures, over JSON-RPC,
    XML-RPC and AUTO; the same records give the same msgpack bytes over both transports.
    Usage: test_xapi_sim <path of xapi-sim>                                                   */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xoc_err.h"
#include "xoc_xapi.h"

static const char *s_sim_path;
static pid_t s_pid;
static char s_master[128], s_slave[128];

/*  Reads the simulator's stdout until "xapi-sim: ready" (10 s deadline); keeps the URLs
    of the master and (if any) of a slave.                                                    */
static int s_read_ready(int fd, char *master, char *slave)
{
    char buf[4096];
    size_t len = 0;
    for (int waited = 0; waited < 10000;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) <= 0) {
            waited += 100;
            continue;
        }
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, "xapi-sim: ready"))
            break;
    }
    const char *m = strstr(buf, "master=1 url=");
    const char *s = strstr(buf, "master=0 url=");
    if (!m || sscanf(m + 13, "%127s", master) != 1)
        return -1;
    if (slave && (!s || sscanf(s + 13, "%127s", slave) != 1))
        return -1;
    return 0;
}

/*  Starts the simulator with argv (NULL-terminated, argv[0] ignored); 0 when ready.        */
static int s_spawn(char *const argv[], pid_t *pid, char *master, char *slave)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    *pid = fork();
    if (*pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execv(s_sim_path, argv);
        _exit(127);
    }
    close(fds[1]);
    int rc = *pid > 0 ? s_read_ready(fds[0], master, slave) : -1;
    close(fds[0]); /* the simulator prints nothing more on stdout */
    return rc;
}

static void s_stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

static int s_sim_up(void **state)
{
    char *argv[] = {"xapi-sim", "--vms", "40", "--hosts", "2", "--log-level", "warn", NULL};
    return s_spawn(argv, &s_pid, s_master, s_slave);
}

static int s_sim_down(void **state)
{
    s_stop(s_pid);
    return 0;
}

typedef struct {
    int n;
    int bad;
    char first_ref[128];
    msgpack_sbuffer first; /* msgpack of the first record/event */
} s_acc;

/*  Each record must be a map with uuid, name_label, power_state.                           */
static int s_on_vm(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    s_acc *a = arg;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int found = 0;
    if (msgpack_unpack_next(&u, mp, mp_len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        u.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            const msgpack_object *k = &u.data.via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR &&
                ((k->via.str.size == 4 && !memcmp(k->via.str.ptr, "uuid", 4)) ||
                 (k->via.str.size == 10 && !memcmp(k->via.str.ptr, "name_label", 10)) ||
                 (k->via.str.size == 11 && !memcmp(k->via.str.ptr, "power_state", 11))))
                found++;
        }
    msgpack_unpacked_destroy(&u);
    if (found != 3 || !key || strncmp(key, "OpaqueRef:", 10) != 0)
        a->bad++;
    if (a->n++ == 0) {
        snprintf(a->first_ref, sizeof a->first_ref, "%.*s", (int)key_len, key);
        msgpack_sbuffer_write(&a->first, mp, mp_len);
    }
    return 0;
}

static int s_on_pool(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    snprintf(arg, 128, "%.*s", (int)key_len, key);
    return 0;
}

static int s_on_event(const char *key, size_t key_len, const void *mp, size_t mp_len, void *arg)
{
    ((s_acc *)arg)->n++;
    return key ? -1 : 0;
}

/*  Logs in through the slave, follows HOST_IS_SLAVE to the master.                        */
static xoc_xapi_t *s_connect(xoc_xapi_transport_t t)
{
    xoc_xapi_t *x = xoc_xapi_new(s_slave);
    assert_non_null(x);
    xoc_xapi_set_transport(x, t);
    xoc_xapi_set_flags(x, XOC_XAPI_INT_AS_STRING);
    assert_int_equal(xoc_xapi_login(x, "root", "wrong"), XOC_EXAPI);
    const char *code = xoc_xapi_fault(x)->code;
    if (strcmp(code, "HOST_IS_SLAVE") == 0) { /* a slave answers before checking passwords */
        assert_int_equal(xoc_xapi_follow_master(x), 0);
        assert_string_equal(xoc_xapi_url(x), s_master);
        assert_int_equal(xoc_xapi_login(x, "root", "wrong"), XOC_EXAPI);
    }
    assert_string_equal(xoc_xapi_fault(x)->code, "SESSION_AUTHENTICATION_FAILED");
    assert_int_equal(xoc_xapi_login(x, "root", "password"), 0);
    assert_non_null(xoc_xapi_session(x));
    return x;
}

static void s_list_methods(xoc_xapi_t *x)
{
    msgpack_sbuffer res;
    msgpack_sbuffer_init(&res);
    assert_int_equal(xoc_xapi_call(x, "system.listMethods", NULL, 0, &res), 0);
    assert_non_null(memmem(res.data, res.size, "VM.get_all_records", 18));
    msgpack_sbuffer_destroy(&res);
}

/*  A load in the way of xo-server: pool, token from event.inject, records, event.from.   */
static void s_load_and_follow(xoc_xapi_t *x, s_acc *vms)
{
    char pool[128] = "";
    assert_int_equal(xoc_xapi_get_all_records(x, "pool", s_on_pool, pool), 0);
    assert_true(strncmp(pool, "OpaqueRef:", 10) == 0);
    msgpack_sbuffer res;
    msgpack_sbuffer_init(&res);
    assert_int_equal(xoc_xapi_callf(x, "event.inject", &res, "ss", "pool", pool), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, res.data, res.size, NULL), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(u.data.type, MSGPACK_OBJECT_STR);
    char *token = u.data.via.str.size ? strndup(u.data.via.str.ptr, u.data.via.str.size) : strdup("");
    msgpack_unpacked_destroy(&u);
    assert_int_equal(xoc_xapi_get_all_records(x, "VM", s_on_vm, vms), 0);
    assert_true(vms->n >= 40);
    assert_int_equal(vms->bad, 0);
    const char *classes[] = {"VM", "pool"};
    s_acc ev = {0};
    char *next = NULL;
    msgpack_sbuffer counts;
    msgpack_sbuffer_init(&counts);
    assert_int_equal(xoc_xapi_event_from(x, classes, 2, token, 5.0, s_on_event, &ev, &next,
                                         &counts), 0);
    assert_true(ev.n >= 1); /* at least the injected pool mod */
    assert_non_null(next);
    assert_string_not_equal(next, token);
    assert_true(counts.size > 0);
    free(next);
    free(token);
    msgpack_sbuffer_destroy(&counts);
    msgpack_sbuffer_destroy(&res);
}

static void s_async_and_failure(xoc_xapi_t *x, const char *vm)
{
    msgpack_sbuffer p;
    msgpack_sbuffer_init(&p);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "OpaqueRef:00000000-0000-0000-0000-000000000000", 46);
    assert_int_equal(xoc_xapi_call(x, "VM.get_record", p.data, p.size, NULL), XOC_EXAPI);
    assert_string_equal(xoc_xapi_fault(x)->code, "HANDLE_INVALID");
    if (!vm) {
        msgpack_sbuffer_destroy(&p);
        return;
    }
    p.size = 0; /* Async.VM.clone(vm, name) -> task ref (changes the pool: done last) */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, vm, strlen(vm));
    msgpack_pack_str_with_body(&pk, "xoc-clone", 9);
    char *task = NULL;
    assert_int_equal(xoc_xapi_call_async(x, "VM.clone", p.data, p.size, &task), 0);
    assert_true(strncmp(task, "OpaqueRef:", 10) == 0);
    free(task);
    msgpack_sbuffer_destroy(&p);
}

static void test_transports(void **state)
{
    xoc_xapi_transport_t ts[] = {XOC_XAPI_JSONRPC, XOC_XAPI_XMLRPC, XOC_XAPI_AUTO};
    s_acc vms[3];
    for (int i = 0; i < 3; i++) {
        memset(&vms[i], 0, sizeof vms[i]);
        msgpack_sbuffer_init(&vms[i].first);
        xoc_xapi_t *x = s_connect(ts[i]);
        s_list_methods(x);
        s_load_and_follow(x, &vms[i]);
        s_async_and_failure(x, i == 2 ? vms[i].first_ref : NULL);
        assert_int_equal(xoc_xapi_logout(x), 0);
        xoc_xapi_destroy(&x);
    }
    /* with XOC_XAPI_INT_AS_STRING both transports give the same bytes for a record */
    assert_string_equal(vms[0].first_ref, vms[1].first_ref);
    assert_int_equal(vms[0].first.size, vms[1].first.size);
    assert_memory_equal(vms[0].first.data, vms[1].first.data, vms[0].first.size);
    for (int i = 0; i < 3; i++)
        msgpack_sbuffer_destroy(&vms[i].first);
}

/*  HTTPS with a self-signed certificate: refused while verifying, accepted without.        */
static void test_https_self_signed(void **state)
{
    char dir[] = "/tmp/xoc-xapi-tls-XXXXXX", cmd[1024], cert[256], key[256];
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 2 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        rmdir(dir);
        skip(); /* no openssl command here */
    }
    char *argv[] = {"xapi-sim", "--vms", "5", "--hosts", "1", "--tls-cert", cert,
                    "--tls-key", key, "--log-level", "error", NULL};
    pid_t pid = 0;
    char url[128] = "";
    int up = s_spawn(argv, &pid, url, NULL);
    if (up == 0) {
        assert_int_equal(strncmp(url, "https://", 8), 0);
        xoc_xapi_t *x = xoc_xapi_new(url);
        assert_non_null(x);
        assert_int_equal(xoc_xapi_login(x, "root", "password"), XOC_ETLS);
        xoc_xapi_set_tls_verify(x, false);
        assert_int_equal(xoc_xapi_login(x, "root", "password"), 0);
        s_acc vms = {0};
        msgpack_sbuffer_init(&vms.first);
        assert_int_equal(xoc_xapi_get_all_records(x, "VM", s_on_vm, &vms), 0);
        assert_true(vms.n >= 5);
        msgpack_sbuffer_destroy(&vms.first);
        xoc_xapi_destroy(&x);
    }
    s_stop(pid);
    unlink(cert);
    unlink(key);
    rmdir(dir);
    assert_int_equal(up, 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <xapi-sim>\n", argv[0]);
        return 2;
    }
    s_sim_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transports),
        cmocka_unit_test(test_https_self_signed),
    };
    return cmocka_run_group_tests(tests, s_sim_up, s_sim_down);
}
