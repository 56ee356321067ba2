/*  sim_store — the objects of one pool: compact records (sim_rec) indexed by ref and uuid,
    kept in one list ordered by the generation of their last change, so event.from walks only
    the changes after its token. Deleted objects stay as tombstones (bounded); a token older
    than the oldest dropped tombstone gets EVENTS_LOST.
    Not thread-safe by itself: callers hold sim_store_lock(). Changes wake sim_store_wait().   */
#ifndef SIM_STORE_H
#define SIM_STORE_H

#include "sim_schema.h"
#include "sim_ser.h"
#include "sim_wr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sim_store_t sim_store_t;

#define SIM_STORE_SER_MAX ((size_t)96 << 20)

typedef struct sim_obj_t sim_obj_t;
struct sim_obj_t {
    sim_obj_t *prev, *next; /* change list, ascending gen_mod */
    sim_obj_t *tnext;       /* tombstone FIFO */
    uint8_t *rec;
    sim_ser_t *ser[2]; /* the record as served in each sim_wr_mode_t, or NULL (sim_ser) */
    uint32_t len;
    uint32_t idx; /* position in its class array */
    uint64_t gen_add, gen_mod;
    int16_t cls;
    bool deleted;
    char ref[64];
    char uuid[40];
};

sim_store_t *sim_store_new(void);
void sim_store_destroy(sim_store_t **self_p);

void sim_store_lock(sim_store_t *self);
void sim_store_unlock(sim_store_t *self);
/*  Waits (lock held) until a change or until deadline_ms (CLOCK_MONOTONIC ms); returns false
    on timeout.                                                                               */
bool sim_store_wait(sim_store_t *self, int64_t deadline_ms);
/*  Wakes every waiter without a change (fault injection).                                    */
void sim_store_wake(sim_store_t *self);

/*  Adds an object of class cls from rec (a uuid is made if rec has none; the ref is made
    unless ref is given). Returns the new object.                                             */
sim_obj_t *sim_store_add(sim_store_t *self, int cls, json_t *rec, const char *ref);
sim_obj_t *sim_store_get(sim_store_t *self, const char *ref);
sim_obj_t *sim_store_by_uuid(sim_store_t *self, const char *uuid);
/*  Decoded record (new reference).                                                           */
json_t *sim_store_json(const sim_obj_t *obj);
/*  Replaces the record and marks it changed.                                                 */
void sim_store_update(sim_store_t *self, sim_obj_t *obj, const json_t *rec);
/*  Replaces one field (schema index idx) and marks the object changed; false when idx is
    out of range.                                                                             */
bool sim_store_set_field(sim_store_t *self, sim_obj_t *obj, int idx, const json_t *v);
/*  Marks the object changed without changing it (event.inject).                              */
void sim_store_touch(sim_store_t *self, sim_obj_t *obj);
void sim_store_remove(sim_store_t *self, sim_obj_t *obj);

/*  Writes obj's record through w: from its serialized form for w's mode, made on first use
    and kept until the record changes (a one-field change patches it), while the forms of
    this store hold less than sim_store_set_ser_max bytes; otherwise directly (sim_rec).     */
void sim_store_write(sim_store_t *self, sim_wr_t *w, sim_obj_t *obj);
/*  Bytes of serialized forms kept at most (default SIM_STORE_SER_MAX; 0: none kept).         */
void sim_store_set_ser_max(sim_store_t *self, size_t bytes);
/*  Bytes of serialized forms kept now.                                                       */
size_t sim_store_ser_bytes(sim_store_t *self);

size_t sim_store_count(sim_store_t *self, int cls);
sim_obj_t *sim_store_at(sim_store_t *self, int cls, size_t i);

uint64_t sim_store_gen(sim_store_t *self);
/*  Generation below which events are lost.                                                   */
uint64_t sim_store_lost_gen(sim_store_t *self);
/*  Makes every existing token too old (sim.events_lost).                                     */
void sim_store_lose_events(sim_store_t *self);
/*  Newest change (tail of the change list); walk with ->prev.                                */
sim_obj_t *sim_store_last(sim_store_t *self);

/*  Makes a random lower-case uuid v4 into out (37 bytes).                                    */
void sim_uuid(char out[40]);
/*  Milliseconds of CLOCK_MONOTONIC.                                                          */
int64_t sim_now_ms(void);

#endif
