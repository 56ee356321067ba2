#include "xoc_testproc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_PROCS 64
static pid_t s_pids[S_MAX_PROCS];
static bool s_atexit_set;

long long xoc_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_kill_all(void)
{
    for (int i = 0; i < S_MAX_PROCS; i++)
        if (s_pids[i] > 0) {
            kill(s_pids[i], SIGKILL);
            waitpid(s_pids[i], NULL, 0);
            s_pids[i] = 0;
        }
}

static void s_track(pid_t pid, bool add)
{
    for (int i = 0; i < S_MAX_PROCS; i++)
        if (add ? s_pids[i] == 0 : s_pids[i] == pid) {
            s_pids[i] = add ? pid : 0;
            return;
        }
}

const char *xoc_test_bin(const char *rel)
{
    static char path[8][1024];
    static int next;
    const char *dir = getenv("XOC_BUILD_DIR");
    char *p = path[next++ % 8];
    snprintf(p, 1024, "%s/%s", dir ? dir : ".", rel);
    return p;
}

xoc_proc_t *xoc_proc_start(char *const argv[], const char *ready_prefix, int timeout_ms)
{
    if (!s_atexit_set) {
        atexit(s_kill_all);
        s_atexit_set = true;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(fds[1], STDOUT_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    s_track(pid, true);
    xoc_proc_t *p = calloc(1, sizeof *p);
    p->pid = pid;
    p->out_fd = fds[0];
    if (ready_prefix) {
        long long end = xoc_test_now_ms() + timeout_ms;
        bool ready = false;
        while (!ready && xoc_test_now_ms() < end) {
            if (!xoc_proc_read_line(p, p->line, sizeof p->line,
                                    (int)(end - xoc_test_now_ms())))
                break;
            ready = strncmp(p->line, ready_prefix, strlen(ready_prefix)) == 0;
        }
        if (!ready) {
            fprintf(stderr, "%s: no '%s' line within %d ms\n", argv[0], ready_prefix, timeout_ms);
            xoc_proc_stop(&p);
        }
    }
    return p;
}

bool xoc_proc_read_line(xoc_proc_t *p, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    long long end = xoc_test_now_ms() + timeout_ms;
    while (n + 1 < size) {
        struct pollfd pfd = {p->out_fd, POLLIN, 0};
        long long left = end - xoc_test_now_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            return false;
        char c;
        if (read(p->out_fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        buf[n++] = c;
    }
    buf[n] = '\0';
    return true;
}

void xoc_proc_kill(xoc_proc_t *p, int sig)
{
    if (p && p->pid > 0)
        kill(p->pid, sig);
}

int xoc_proc_wait(xoc_proc_t *p, int timeout_ms)
{
    long long end = xoc_test_now_ms() + timeout_ms;
    while (p->pid > 0) {
        int status;
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) {
            s_track(p->pid, false);
            p->pid = 0;
            return status;
        }
        if (xoc_test_now_ms() >= end)
            return -1;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL); /* reaping: there is no fd to poll for a child's exit */
    }
    return -1;
}

bool xoc_proc_stop_clean(xoc_proc_t **p_p)
{
    xoc_proc_t *p = *p_p;
    if (!p)
        return false;
    int status = 0; /* already reaped (the test killed it on purpose): nothing to judge */
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        status = xoc_proc_wait(p, 10000);
        if (status < 0) {
            fprintf(stderr, "pid %d did not stop within 10 s of SIGTERM: killed\n", (int)p->pid);
            kill(p->pid, SIGKILL);
            xoc_proc_wait(p, 5000);
        }
    }
    close(p->out_fd);
    free(p);
    *p_p = NULL;
    if (status >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "process stopped with %s %d\n", WIFEXITED(status) ? "status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

void xoc_proc_stop(xoc_proc_t **p_p)
{
    xoc_proc_stop_clean(p_p);
}

#define S_BUS_READY "xoc-bus: ready bus="

/* a free TCP port on 127.0.0.1 BELOW the kernel's ephemeral range: a port the kernel never
   hands to someone else's outgoing connection, so a process killed with -9 can be
   restarted on the same port (a port from the ephemeral range can be taken meanwhile) */
static int s_free_port(void)
{
    int low = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    if (low <= 12000)
        return 0;
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)xoc_test_now_ms();
    for (int attempt = 0; attempt < 200; attempt++) {
        int port = 10000 + (int)(rand_r(&seed) % (unsigned)(low - 10000));
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return port;
    }
    return 0;
}

xoc_proc_t *xoc_test_start_bus(const char *listen, const char *heartbeat_ms,
                               char *const *extra, char *endpoint, size_t size)
{
    char ports[256] = "tcp://127.0.0.1:*";
    int p1 = listen ? 0 : s_free_port(), p2 = p1 ? s_free_port() : 0,
        p3 = p2 ? s_free_port() : 0;
    if (p3 && p1 != p2 && p2 != p3 && p1 != p3)
        snprintf(ports, sizeof ports, "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d,tcp://127.0.0.1:%d",
                 p1, p2, p3);
    char *argv[32] = {(char *)xoc_test_bin("services/bus/xoc-bus"), "--bus.listen",
                      (char *)(listen ? listen : ports), "--log.level", "warn"};
    int n = 5;
    if (heartbeat_ms) {
        argv[n++] = "--bus.heartbeat_ms";
        argv[n++] = (char *)heartbeat_ms;
    }
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    xoc_proc_t *p = xoc_proc_start(argv, S_BUS_READY, 5000);
    if (p && endpoint)
        snprintf(endpoint, size, "%s", p->line + strlen(S_BUS_READY));
    return p;
}

double xoc_proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
