/*  sim_ser — one record serialized once in one transport's form (JSON or XML-RPC), with the
    offset of every member, so that event.from and get_all_records copy it instead of writing
    it field by field, and a change of one field re-writes only that member. The bytes are
    those sim_rec_write gives for the same record (tests/test_ser.c compares them).
    Owned by sim_store (one per object and mode, filled when first served, dropped or patched
    on every change).                                                                         */
#ifndef SIM_SER_H
#define SIM_SER_H

#include "sim_schema.h"
#include "sim_wr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sim_ser_t sim_ser_t;

/*  Serializes the compact record rec (sim_rec) of class c in mode; NULL when the record
    nests too deeply to be reused (the caller then writes it directly).                      */
sim_ser_t *sim_ser_new(sim_wr_mode_t mode, const sim_class_t *c, const uint8_t *rec, size_t len);
/*  Re-writes member idx (starting at offset at of the changed record rec) in place, the
    member's text made in scratch; returns the form (moved if it had to grow), or NULL (s
    freed) when it can no longer be reused.                                                  */
sim_ser_t *sim_ser_patch(sim_ser_t *s, const sim_class_t *c, const uint8_t *rec, size_t len,
                         int idx, size_t at, sim_buf_t *scratch);
/*  Writes the record through w; false (nothing written) when w is too deep for these bytes
    to be the same as a direct write.                                                          */
bool sim_ser_write(sim_wr_t *w, const sim_ser_t *s);
/*  Bytes held (header, offsets and text with its room to grow).                             */
size_t sim_ser_size(const sim_ser_t *s);
void sim_ser_free(sim_ser_t *s);

#endif
