/*  Test support: start real processes on loopback, wait for their "ready" line, signal and
    reap them. Every process started is killed at exit (and dies with the test: PDEATHSIG),
    so no test leaves a stray process.                                                    */
#ifndef XOC_TESTPROC_H
#define XOC_TESTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    pid_t pid;
    int out_fd;         /* the process's stdout */
    char line[1024];    /* the ready line */
} xoc_proc_t;

/*  Path of a built program: $XOC_BUILD_DIR/<rel>.                                          */
const char *xoc_test_bin(const char *rel);

/*  Starts argv (NULL-terminated; argv[0] is the path) and waits up to timeout_ms for a line
    on stdout starting with `ready_prefix` (NULL: do not wait). Returns NULL on failure.  */
xoc_proc_t *xoc_proc_start(char *const argv[], const char *ready_prefix, int timeout_ms);

/*  Reads the next stdout line (up to timeout_ms). Returns false on timeout/EOF.            */
bool xoc_proc_read_line(xoc_proc_t *p, char *buf, size_t size, int timeout_ms);

/*  Sends a signal.                                                                         */
void xoc_proc_kill(xoc_proc_t *p, int sig);

/*  Waits for the exit up to timeout_ms; returns the exit status (as waitpid's), or -1.     */
int xoc_proc_wait(xoc_proc_t *p, int timeout_ms);

/*  SIGTERM, wait, SIGKILL if needed, free.                                                 */
void xoc_proc_stop(xoc_proc_t **p_p);

/*  The same; returns true when the process stopped cleanly on SIGTERM (exit status 0: under
    the sanitizers, that also means no leak was reported).                                  */
bool xoc_proc_stop_clean(xoc_proc_t **p_p);

/*  Starts xoc-bus listening on `listen` (NULL: three free ports on 127.0.0.1) with the given
    heartbeat interval (NULL: default) and extra flags (NULL-terminated, may be NULL), and
    copies the endpoint to give as bus.endpoint (the PUB,SUB,REQ form) into endpoint.      */
xoc_proc_t *xoc_test_start_bus(const char *listen, const char *heartbeat_ms,
                               char *const *extra, char *endpoint, size_t size);

/*  CPU time (user + system, all threads) a process has used so far, in seconds (0 when
    /proc cannot tell).                                                                    */
double xoc_proc_cpu_s(pid_t pid);

/*  Monotonic milliseconds.                                                                 */
long long xoc_test_now_ms(void);

#endif
