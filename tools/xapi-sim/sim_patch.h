/*  sim_patch — patches and updates: the patch file format the simulator makes and reads
    (a text header "xapi-sim patch" with uuid, name-label, description, after-apply-guidance,
    then deterministic filler), the pool side of /pool_patch_upload and /import_raw_vdi, the
    pool_patch.* and pool_update.* methods, and the vendor catalogue stand-in (updates.xml in
    the Citrix format plus the patch zips it lists).                                          */
#ifndef SIM_PATCH_H
#define SIM_PATCH_H

#include "sim_pool.h"

#include <stddef.h>
#include <stdint.h>

/*  Header fields parsed from the start of a patch or update file (empty when absent).      */
typedef struct {
    char uuid[40];
    char name[64];
    char description[128];
    char guidance[32];
    char version[16];
} sim_patch_info_t;

/*  Parses the header of a patch file from its first bytes.                                   */
void sim_patch_parse(const char *data, size_t len, sim_patch_info_t *info);
/*  Creates the pool_patch of an uploaded .xsupdate (lock held); returns its ref.              */
sim_obj_t *sim_patch_uploaded(sim_pool_t *pool, const sim_patch_info_t *info, uint64_t size);
/*  Records the header of content uploaded into a VDI (lock held; HANDLE_INVALID if no VDI).  */
int sim_patch_vdi_uploaded(sim_pool_t *pool, const char *vdi, const sim_patch_info_t *info,
                           uint64_t size);

/*  The vendor stand-in's files: "/updates.xml" and "/patches/<name>.zip". Returns a malloc'd
    body or NULL.                                                                             */
char *sim_patch_vendor_file(const char *path, size_t *len, const char *base_url, size_t patch_size);

#endif
