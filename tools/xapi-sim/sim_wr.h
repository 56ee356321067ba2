/*  sim_wr — writes one XAPI value either as XML-RPC (<value>…</value>, compact, ints as
    decimal strings, datetimes as dateTime.iso8601) or as JSON (ints as numbers, datetimes as
    strings). Handlers write their result once through this interface, whatever the transport. */
#ifndef SIM_WR_H
#define SIM_WR_H

#include "sim_buf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { SIM_WR_XML = 0, SIM_WR_JSON = 1 } sim_wr_mode_t;

#define SIM_WR_DEPTH 64

typedef struct {
    sim_wr_mode_t mode;
    sim_buf_t *buf;
    int depth;
    bool first[SIM_WR_DEPTH];  /* JSON: no comma yet at this level */
    bool in_map[SIM_WR_DEPTH]; /* XML: a map member is open at this level */
    int max_depth;             /* deepest level reached (sim_ser: whether bytes can be reused) */
} sim_wr_t;

void sim_wr_init(sim_wr_t *w, sim_wr_mode_t mode, sim_buf_t *buf);
void sim_wr_str(sim_wr_t *w, const char *s);
void sim_wr_strn(sim_wr_t *w, const char *s, size_t n);
void sim_wr_int(sim_wr_t *w, int64_t v);
/*  An Int32 (valid_ref_counts): <i4> in XML-RPC, a number in JSON.                           */
void sim_wr_i4(sim_wr_t *w, int64_t v);
void sim_wr_float(sim_wr_t *w, double v);
void sim_wr_bool(sim_wr_t *w, bool v);
void sim_wr_date(sim_wr_t *w, const char *s, size_t n);
void sim_wr_arr_begin(sim_wr_t *w);
void sim_wr_arr_end(sim_wr_t *w);
void sim_wr_map_begin(sim_wr_t *w);
void sim_wr_key(sim_wr_t *w, const char *k, size_t n);
void sim_wr_map_end(sim_wr_t *w);
/*  Writes a Jansson value (no datetimes: strings stay strings).                              */
void sim_wr_json(sim_wr_t *w, const json_t *v);
/*  Writes one value as a fresh writer of the same mode wrote it (sim_wr_init, level 0: in
    XML-RPC with its <value>...</value>, in JSON bare): the separator or member end around it
    is this writer's, so the bytes are those the value itself would have given here.         */
void sim_wr_raw(sim_wr_t *w, const char *s, size_t n);
/*  Continues a fresh writer as if inside an open map at level 1 (first: no member written
    yet), to write one member alone as it appears in the whole map.                          */
void sim_wr_enter_map(sim_wr_t *w, bool first);

#endif
