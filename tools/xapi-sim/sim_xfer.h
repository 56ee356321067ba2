/*  sim_xfer — VM export and import on a pool (the pool side of the /export and /import HTTP
    handlers): builds the ova.xml of a VM and its disk list, and creates a VM from an
    uploaded ova.xml. Each takes the pool lock itself.                                        */
#ifndef SIM_XFER_H
#define SIM_XFER_H

#include "sim_pool.h"
#include "sim_xva.h"

/*  A writer for the XVA of the VM named by ref or uuid, or NULL with *err set
    (HANDLE_INVALID, VM_BAD_POWER_STATE for a running VM).                                   */
sim_xva_writer_t *sim_xfer_export(sim_pool_t *pool, const char *vm, const char *compression,
                                  bool metadata_only, json_t **err);
/*  Creates the VM (halted) with its VDIs in sr (ref; "" = the pool's default SR) from the
    ova.xml value; writes its ref into vm_ref. Returns 0 or -1 with *err.                    */
int sim_xfer_import(sim_pool_t *pool, const json_t *ova, const char *sr, char vm_ref[64],
                    json_t **err);

#endif
