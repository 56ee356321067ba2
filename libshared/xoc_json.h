/*  xoc_json — JSON views of bus data (Jansson): a msgpack document as JSON, and a decoded
    proto message as a JSON object (its "t", "v" and every field; MP fields as nested JSON,
    BIN fields as base64). Used by xoc-events and by the frontends.                       */
#ifndef XOC_JSON_H
#define XOC_JSON_H

#include <jansson.h>
#include <msgpack.h>

#include "xoc_msg.h"

/*  msgpack object -> new JSON value (map keys that are not strings are stringified,
    bin becomes base64 text). NULL on allocation failure.                                   */
json_t *xoc_json_from_object(const msgpack_object *obj);

/*  msgpack document -> new JSON value; NULL when the bytes are not one well-formed value.  */
json_t *xoc_json_from_mp(const void *data, size_t size);

/*  Decoded message -> new JSON object.                                                     */
json_t *xoc_json_from_msg(const xoc_msg_t *msg);

/*  JSON value -> msgpack, appended to sbuf (integers stay integers, reals become float64).
    Returns 0 or XOC_ENOMEM.                                                                */
int xoc_json_to_mp(const json_t *json, msgpack_sbuffer *sbuf);

/*  Bytes as base64 (standard alphabet, padded), in a new JSON string.                      */
json_t *xoc_json_base64(const void *data, size_t size);

#endif
