/*  sim — the simulator: pools, hosts and their HTTP servers, the generator, churn and tasks.
    main() fills a sim_config_t from flags, calls sim_new() and sim_start(), waits for a
    signal and calls sim_destroy(). Tests do the same in-process.                             */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_USERS 16

typedef struct {
    int pools;         /* number of pools (default 1) */
    int hosts;         /* hosts per pool; 0 = proportionate to --vms */
    int vms;           /* VMs per pool */
    double churn;      /* changes per second per pool */
    const char *churn_mix; /* kinds of change (sim_gen_mix_parse); NULL = "default" */
    int port;          /* first pool's port; 0 = free port; next pools take free ports */
    size_t max_body;   /* request body limit in bytes */
    int64_t disk_size; /* virtual size of generated disks (bytes) */
    int nusers;
    char users[SIM_MAX_USERS][64];
    char passwords[SIM_MAX_USERS][64];
    const char *tls_cert; /* PEM files; both set = HTTPS */
    const char *tls_key;
    bool tls;               /* HTTPS with a generated self-signed certificate */
    const char *ports_file; /* JSON lines of the listening hosts */
    uint64_t seed;          /* generator seed */
    bool vendor;            /* serve the vendor catalogue stand-in */
    size_t patch_size;      /* size of the patch files it serves */
    size_t record_cache;    /* bytes of serialized records kept per pool (sim_store_write) */
} sim_config_t;

typedef struct sim_t sim_t;

void sim_config_defaults(sim_config_t *cfg);
/*  True when text is a churn mix that sim_new accepts (--churn-mix, sim.churn's mix).       */
bool sim_churn_mix_valid(const char *text);
/*  Builds every pool (objects generated) but listens nowhere yet.                           */
sim_t *sim_new(const sim_config_t *cfg);
/*  Starts the HTTP servers and threads, and prints one line per host to out, then
    "xapi-sim: ready". Returns 0 or -1.                                                       */
int sim_start(sim_t *self, FILE *out);
void sim_destroy(sim_t **self_p);

#endif
