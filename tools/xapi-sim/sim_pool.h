/*  sim_pool — what the simulator's modules share about one pool and its hosts (internal to
    tools/xapi-sim: sim.c owns the structs, sim_api.c serves calls on them, sim_gen.c fills
    them, sim_http.c serves them over HTTP).                                                   */
#ifndef SIM_POOL_H
#define SIM_POOL_H

#include "sim.h"
#include "sim_store.h"
#include "sim_wr.h"

#include <czmq.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct sim_pool_t sim_pool_t;

/*  What one churn change does (sim_gen_churn picks one by the pool's weights).               */
enum {
    SIM_CHURN_VM_METRICS,     /* VM_metrics: last_updated, VCPUs_utilisation, other_config */
    SIM_CHURN_HOST_METRICS,   /* host_metrics: memory_free, last_updated, other_config */
    SIM_CHURN_MESSAGE,        /* a new message (the oldest beyond 500 removed) */
    SIM_CHURN_TASK,           /* a task created, advanced, finished or destroyed */
    SIM_CHURN_POWER,          /* a VM Running <-> Paused */
    SIM_CHURN_VM_MEMORY,      /* VM_metrics.memory_actual of a running VM */
    SIM_CHURN_VM_DESCRIPTION, /* VM.name_description */
    SIM_CHURN_VM_TAGS,        /* VM.tags */
    SIM_CHURN_KINDS
};

typedef struct {
    sim_pool_t *pool;
    int index;
    char ip[24]; /* each host has its own loopback address: 127.0.0.<n> */
    int port;
    char ref[64];
    struct MHD_Daemon *mhd;
    _Atomic int64_t down_until_ms; /* sim.host_down: connections closed unanswered until then */
} sim_host_t;

typedef struct {
    char ref[64];
    char user[64];
    char host_ref[64];
    json_t *registered;  /* legacy event.register: subscribed classes, or NULL */
    uint64_t next_token; /* legacy event.next: generation already returned */
} sim_session_t;

typedef struct {
    char task[64];
    char method[96]; /* the synchronous method ("VM.start") */
    json_t *params;
    int steps_left;
} sim_job_t;

struct sim_pool_t {
    sim_t *sim;
    const sim_config_t *cfg;
    int index;
    char name[64];
    char ref[64];       /* the pool object */
    sim_store_t *store; /* its lock guards everything below too */
    sim_host_t *hosts;
    int nhosts;
    int master;
    zhashx_t *sessions; /* ref -> sim_session_t */
    zlistx_t *jobs;     /* sim_job_t, Async calls in progress */
    double churn_rate;
    double churn_credit;
    uint64_t churn_seq;
    int churn_mix[SIM_CHURN_KINDS]; /* weights */
    uint64_t rng;
    _Atomic int64_t stall_until_ms; /* read by HTTP threads without the lock */
    uint64_t drop_epoch;
    _Atomic bool stop;
    pthread_t ticker;
    bool ticker_started;
    void *gen_ctx; /* sim_gen's state */
    char pw_user[64], pw_new[64]; /* sim.set_password: this user's password changed */
};

/*  A call being served.                                                                      */
typedef struct {
    sim_pool_t *pool;
    sim_host_t *host; /* host that received the call (NULL for internal calls) */
    bool loopback;    /* caller is on 127.0.0.0/8 or ::1 (sim.* allowed) */
    int conn_fd;      /* the caller's socket (not dropped by sim.drop_connections) */
    const char *method;
    json_t *params; /* array */
    sim_wr_t *w;
    bool bare;   /* XML-RPC: no Status/Value wrapper (system.listMethods) */
    json_t *err; /* set on failure: ["CODE", params...] */
    const sim_session_t *session;
} sim_call_t;

/*  Serves one call (takes the pool lock). Returns 0 with the value written, or -1 with
    call->err set.                                                                           */
int sim_api_call(sim_call_t *call);
/*  Ticker work, lock held: advances Async tasks by one step.                                 */
void sim_api_tick_jobs(sim_pool_t *pool);

/*  For HTTP handlers (lock held): a valid session, or user/password (HTTP Basic).          */
int sim_api_auth(sim_pool_t *pool, const char *session, const char *user, const char *pw);
/*  Task objects (lock held). end: result fragment on success, or err (failure).             */
sim_obj_t *sim_api_task_new(sim_pool_t *pool, const char *label, const char *desc);
void sim_api_task_end(sim_pool_t *pool, sim_obj_t *task, const char *result, json_t *err);

/*  Generator (sim_gen.c), lock held.                                                         */
void sim_gen_pool(sim_pool_t *pool);
/*  Adds one VM (halted unless running) with its disk, VIF, metrics; returns the VM.          */
sim_obj_t *sim_gen_vm(sim_pool_t *pool, const char *name, bool running);
void sim_gen_free(sim_pool_t *pool);
/*  The console URL of a VM on host_ref: <scheme>://<host ip>:<port>/console?uuid=<uuid>.     */
void sim_gen_console_location(sim_pool_t *pool, const char *host_ref, const char *uuid, char *out,
                              size_t n);
/*  Rewrites every console location once the ports are known.                                */
void sim_gen_fix_consoles(sim_pool_t *pool);
/*  Applies n random changes (churn), each of a kind drawn with the pool's churn_mix weights. */
void sim_gen_churn(sim_pool_t *pool, int n);
/*  Parses a churn mix: a preset ("default": metrics, messages, tasks and power states like a
    live pool; "visible": changes every xo object shows) or "kind:weight,..." with kinds
    vm_metrics, host_metrics, message, task, power, vm_memory, vm_description, vm_tags and
    weights 0..1000000 (at least one > 0). Returns 0, or -1 with mix unchanged.               */
int sim_gen_mix_parse(const char *text, int mix[SIM_CHURN_KINDS]);
/*  Sets the VM's allowed_operations from its power state.                                    */
void sim_gen_vm_ops(json_t *vm);
/*  Current UTC time in XAPI datetime form.                                                   */
void sim_gen_now(char out[32]);
uint64_t sim_gen_rand(sim_pool_t *pool);

/*  sim.c: connection control used by sim.* methods.                                          */
void sim_drop_connections(sim_t *sim, int except_fd);
sim_pool_t *sim_pool_at(sim_t *sim, int i);
struct sim_console_t *sim_console(sim_t *sim);
int sim_pool_count(sim_t *sim);

#endif
