/*  sim_rrd — /rrd_updates of a host: an <xport> (or json=true) of plausible stats for the
    host (cpus, memory, loadavg, pif) and the VMs resident on it (cpus, memory, vif, vbd),
    rows newest first, deterministic in (uuid, time).                                         */
#ifndef SIM_RRD_H
#define SIM_RRD_H

#include "sim_pool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  Takes the pool lock. start: unix seconds; step: 5, 60, 3600 or 86400.                    */
char *sim_rrd_updates(sim_pool_t *pool, const sim_host_t *host, int64_t start, int step,
                      const char *cf, bool with_host, const char *vm_uuid, bool json, size_t *len);

#endif
