/*  Test support: JSON-RPC calls to the simulator's control methods (sim.*: no session).  */
#ifndef XOC_TESTSIM_H
#define XOC_TESTSIM_H

#include <jansson.h>

/*  POSTs {method, params} to <url>/jsonrpc and returns the result (a new reference), or
    NULL on any failure. Takes the reference of params (NULL: no parameters).             */
json_t *xoc_test_sim_call(const char *url, const char *method, json_t *params);

#endif
