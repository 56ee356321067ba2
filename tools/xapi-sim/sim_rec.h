/*  sim_rec — a record stored compactly: its field values in schema order, each a tagged
    value (strings and datetimes length-prefixed, ints as zig-zag varints, sets and maps
    counted and sized, so that a walk to a field jumps over them). No field names are stored. A record is written straight to XML-RPC or JSON
    without building a tree, and decoded to Jansson only when a handler changes it.          */
#ifndef SIM_REC_H
#define SIM_REC_H

#include "sim_schema.h"
#include "sim_wr.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/*  Encodes obj (missing fields take their defaults); returns a malloc'd buffer.              */
uint8_t *sim_rec_encode(const sim_class_t *c, const json_t *obj, size_t *len);
/*  Decodes a whole record to a new Jansson object.                                           */
json_t *sim_rec_decode(const sim_class_t *c, const uint8_t *p, size_t len);
/*  Decodes one field (new reference), or NULL when idx is out of range.                      */
json_t *sim_rec_field(const sim_class_t *c, const uint8_t *p, size_t len, int idx);
/*  Decodes the fields idx[0..n) (ascending) in one pass into out[] (new references; NULL for
    an index out of range or not ascending).                                                 */
void sim_rec_fields(const sim_class_t *c, const uint8_t *p, size_t len, const int *idx, int n,
                    json_t **out);
/*  The record with field idx replaced by v (encoded as json_t would be by sim_rec_encode): a
    new malloc'd buffer, without decoding the other fields; NULL when idx is out of range.  */
uint8_t *sim_rec_set_field(const sim_class_t *c, const uint8_t *p, size_t len, int idx,
                           const json_t *v, size_t *out_len);
/*  The same, also giving where field idx starts in the new record (*at).                    */
uint8_t *sim_rec_set_field_at(const sim_class_t *c, const uint8_t *p, size_t len, int idx,
                              const json_t *v, size_t *out_len, size_t *at);
/*  The string value (string, enum, ref or datetime) of field idx, in place (*n bytes, not
    terminated), or NULL when it is not a string.                                           */
const char *sim_rec_str(const sim_class_t *c, const uint8_t *p, size_t len, int idx, size_t *n);
/*  Writes the record as a struct of every field.                                             */
void sim_rec_write(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len);
/*  The same, noting where each member starts: off[i] = w->buf->len before field i's key
    (JSON: its comma included), off[nfields] = before the closing "}" / "</struct>".  */
void sim_rec_write_at(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len,
                      uint32_t *off);
/*  Writes field idx as a member (key and value) of the record's map, as sim_rec_write does
    (the writer placed inside the map: sim_wr_enter_map).                                  */
void sim_rec_write_member(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len, int idx);
/*  The same when field idx is known to start at offset at of the record.                    */
void sim_rec_write_member_at(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len,
                             int idx, size_t at);
/*  Writes one field's value.                                                                 */
void sim_rec_write_field(sim_wr_t *w, const sim_class_t *c, const uint8_t *p, size_t len, int idx);

/*  Writes a decoded record field by field in schema order, datetimes typed.                  */
void sim_rec_write_json(sim_wr_t *w, const sim_class_t *c, const json_t *rec);
/*  Coerces the top-level fields of rec to their schema types (ints and floats that came as
    strings, "true"/"false"), in place; unknown fields are removed.                          */
void sim_rec_coerce(const sim_class_t *c, json_t *rec);

#endif
