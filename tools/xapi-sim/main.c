/*  xapi-sim — a XAPI simulator: reads flags, builds the pools, serves until SIGINT/SIGTERM.  */
#include "sim.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_log.h"

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: xapi-sim [options]\n"
            "  --pools N          pools in this process, each on its own port (default 1)\n"
            "  --hosts N          hosts per pool (default: 1 per 200 VMs, 1..64); host n listens\n"
            "                     on 127.0.0.<n> at the pool's port\n"
            "  --vms N            VMs per pool (default 20)\n"
            "  --churn R          random changes per second per pool (default 0)\n"
            "  --churn-mix M      kinds of change: default (metrics, messages, tasks, power\n"
            "                     states), visible (VM fields every xo object shows), or\n"
            "                     kind:weight,... of vm_metrics host_metrics message task power\n"
            "                     vm_memory vm_description vm_tags\n"
            "  --port P           port of the first pool (default 0: a free port)\n"
            "  --user U           a user allowed to log in (repeatable; default root)\n"
            "  --password P       password of the last --user (default 'password')\n"
            "  --max-body BYTES   request body limit (default 67108864)\n"
            "  --disk-size BYTES  virtual size of generated disks (default 10 GiB)\n"
            "  --tls              serve HTTPS with a generated self-signed certificate\n"
            "  --tls-cert FILE    PEM certificate: serve HTTPS (needs --tls-key)\n"
            "  --tls-key FILE     PEM private key\n"
            "  --ports-file PATH  also write the listening hosts as JSON to PATH\n"
            "  --seed N           generator seed (default 42)\n"
            "  --vendor           also serve a vendor patch catalogue (updates.xml + patch zips)\n"
            "                     on a free port of 127.0.0.1\n"
            "  --patch-size BYTES size of the patch files in those zips (default 1048576)\n"
            "  --record-cache MB  serialized records kept per pool for reuse (default 96;\n"
            "                     0: every answer written field by field)\n"
            "  --log-level L      error|warn|info|debug|trace (default info)\n"
            "  --help             this text\n"
            "stdout: one line per host 'xapi-sim: pool=<p> host=<h> master=<0|1> url=<url>',\n"
            "then (with --vendor) 'xapi-sim: vendor url=<url>', then 'xapi-sim: ready'.\n");
}

enum {
    O_POOLS = 1,
    O_HOSTS,
    O_VMS,
    O_CHURN,
    O_PORT,
    O_USER,
    O_PASSWORD,
    O_MAXBODY,
    O_DISK,
    O_CERT,
    O_KEY,
    O_PORTSFILE,
    O_SEED,
    O_LOG,
    O_HELP,
    O_VENDOR,
    O_PATCHSIZE,
    O_TLS,
    O_CHURN_MIX,
    O_RECORD_CACHE
};

static const struct option s_opts[] = {
    {"pools", 1, NULL, O_POOLS},
    {"hosts", 1, NULL, O_HOSTS},
    {"vms", 1, NULL, O_VMS},
    {"churn", 1, NULL, O_CHURN},
    {"churn-mix", 1, NULL, O_CHURN_MIX},
    {"port", 1, NULL, O_PORT},
    {"user", 1, NULL, O_USER},
    {"password", 1, NULL, O_PASSWORD},
    {"max-body", 1, NULL, O_MAXBODY},
    {"disk-size", 1, NULL, O_DISK},
    {"tls-cert", 1, NULL, O_CERT},
    {"tls-key", 1, NULL, O_KEY},
    {"ports-file", 1, NULL, O_PORTSFILE},
    {"seed", 1, NULL, O_SEED},
    {"vendor", 0, NULL, O_VENDOR},
    {"patch-size", 1, NULL, O_PATCHSIZE},
    {"tls", 0, NULL, O_TLS},
    {"log-level", 1, NULL, O_LOG},
    {"help", 0, NULL, O_HELP},
    {"record-cache", 1, NULL, O_RECORD_CACHE},
    {NULL, 0, NULL, 0},
};

static int s_user(sim_config_t *cfg, const char *name, const char *pw)
{
    if (name) {
        if (cfg->nusers >= SIM_MAX_USERS)
            return -1;
        snprintf(cfg->users[cfg->nusers], 64, "%s", name);
        snprintf(cfg->passwords[cfg->nusers], 64, "password");
        cfg->nusers++;
        return 0;
    }
    if (cfg->nusers == 0)
        s_user(cfg, "root", NULL);
    snprintf(cfg->passwords[cfg->nusers - 1], 64, "%s", pw);
    return 0;
}

static int s_parse(int argc, char **argv, sim_config_t *cfg)
{
    int c;
    while ((c = getopt_long(argc, argv, "", s_opts, NULL)) != -1) {
        switch (c) {
        case O_POOLS:
            cfg->pools = atoi(optarg);
            break;
        case O_HOSTS:
            cfg->hosts = atoi(optarg);
            break;
        case O_VMS:
            cfg->vms = atoi(optarg);
            break;
        case O_CHURN:
            cfg->churn = atof(optarg);
            break;
        case O_CHURN_MIX:
            if (!sim_churn_mix_valid(optarg))
                return -1;
            cfg->churn_mix = optarg;
            break;
        case O_PORT:
            cfg->port = atoi(optarg);
            break;
        case O_USER:
            if (s_user(cfg, optarg, NULL))
                return -1;
            break;
        case O_PASSWORD:
            s_user(cfg, NULL, optarg);
            break;
        case O_MAXBODY:
            cfg->max_body = strtoull(optarg, NULL, 10);
            break;
        case O_DISK:
            cfg->disk_size = strtoll(optarg, NULL, 10);
            break;
        case O_CERT:
            cfg->tls_cert = optarg;
            break;
        case O_KEY:
            cfg->tls_key = optarg;
            break;
        case O_PORTSFILE:
            cfg->ports_file = optarg;
            break;
        case O_SEED:
            cfg->seed = strtoull(optarg, NULL, 10);
            break;
        case O_VENDOR:
            cfg->vendor = true;
            break;
        case O_TLS:
            cfg->tls = true;
            break;
        case O_PATCHSIZE:
            cfg->patch_size = strtoull(optarg, NULL, 10);
            break;
        case O_RECORD_CACHE:
            cfg->record_cache = (size_t)strtoull(optarg, NULL, 10) << 20;
            break;
        case O_LOG:
            if (xoc_log_level_parse(optarg) < 0)
                return -1;
            xoc_log_set_level((xoc_log_level_t)xoc_log_level_parse(optarg));
            break;
        case O_HELP:
            s_usage(stdout);
            exit(0);
        default:
            return -1;
        }
    }
    if (optind < argc || cfg->vms < 0 || cfg->pools < 1 || cfg->churn < 0 || cfg->max_body == 0 ||
        (!cfg->tls_cert != !cfg->tls_key))
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    sim_config_t cfg;
    sim_config_defaults(&cfg);
    xoc_log_init("xapi-sim", XOC_LOG_INFO);
    if (s_parse(argc, argv, &cfg) != 0) {
        s_usage(stderr);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sim_t *sim = sim_new(&cfg);
    if (!sim || sim_start(sim, stdout) != 0) {
        sim_destroy(&sim);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    xoc_info("stopping signal=%d", sig);
    sim_destroy(&sim);
    return 0;
}
