/*  sim_call — what the handler modules of the simulator share (internal to tools/xapi-sim):
    the method descriptor each module lists its methods with, and the helpers that read call
    parameters and report errors the way a host does.                                          */
#ifndef SIM_CALL_H
#define SIM_CALL_H

#include "sim_pool.h"
#include "sim_rec.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "xoc_log.h"

typedef int (*sim_fn_t)(sim_call_t *c);

/*  One XAPI method: its name, its parameter count (session included) and its handler.       */
typedef struct {
    const char *name;
    int nmin;
    int nmax;
    sim_fn_t fn;
    bool no_session;
    bool async; /* has an Async. variant */
} sim_method_t;

/*  The method tables of the modules (sim_api.c, sim_events.c, sim_vm.c, sim_patch.c,
    sim_ctl.c, sim_dev.c). */
extern const sim_method_t sim_api_methods[], sim_events_methods[], sim_vm_methods[],
    sim_patch_methods[], sim_ctl_methods[], sim_dev_methods[];
/*  sim_ops.c: host.reboot, host.restart_agent, VM.revert.                                    */
extern const sim_method_t sim_ops_methods[];
extern const size_t sim_ops_nmethods;
extern const size_t sim_api_nmethods, sim_events_nmethods, sim_vm_nmethods, sim_patch_nmethods,
    sim_ctl_nmethods, sim_dev_nmethods;

/*  Sets c->err to [code, args...] (NULL-terminated strings); returns -1.                    */
int sim_call_err(sim_call_t *c, const char *code, ...);
/*  Parameter i as a string, or NULL.                                                         */
const char *sim_call_str(sim_call_t *c, size_t i);
/*  Parameter i as an int (a number, or a decimal string as XML-RPC sends ints).              */
bool sim_call_int(sim_call_t *c, size_t i, int64_t *out);
double sim_call_float(sim_call_t *c, size_t i, double def);
/*  The object named by parameter i, of class cls (NULL: any); HANDLE_INVALID otherwise.      */
sim_obj_t *sim_call_obj(sim_call_t *c, size_t i, const sim_class_t *cls);
const sim_class_t *sim_call_cls(const char *name);
int sim_call_cls_id(const char *name);
/*  Record helpers (lock held).                                                               */
void sim_call_set_add(json_t *rec, const char *field, const char *ref);
void sim_call_set_del(json_t *rec, const char *field, const char *ref);
/*  Adds or removes ref in the set field of the object named by owner.                       */
void sim_call_link(sim_pool_t *p, const char *owner, const char *field, const char *ref, bool add);
const char *sim_call_jstr(json_t *rec, const char *field);
/*  A rolling pool upgrade is in progress (the pool's other_config has the key
    "rolling_upgrade_in_progress", as XAPI marks it): VM operations an older host would not
    know (snapshot, checkpoint, revert) answer NOT_SUPPORTED_DURING_UPGRADE [].              */
bool sim_call_rpu(sim_pool_t *p);
/*  Writes the void result "".                                                                */
int sim_call_void(sim_call_t *c);
/*  <class>.destroy: removes the object named by parameter 1.                                 */
int sim_call_destroy(sim_call_t *c);

#endif
