/*  xoc_api_sub — the pure side of the event stream's subscriptions (xo-server's REST
    model, xo-api.md §9.3; the stream itself is xoc_api_sse.c): which collections may be
    subscribed, the POST body {collection, fields}, the `fields` pick, and the text of an
    add / update / remove event. No server state: fuzzed by fuzz_api_query.

    Wire facts (xo-server, @xen-orchestra/rest-api, events controller / service /
    listener classes):
      - a collection is an xo object type: gpuGroup host message network PBD PCI PGPU PIF
        pool SR VBD VDI VDI-snapshot VDI-unmanaged vgpu vgpuType VIF VM VM-controller
        VM-snapshot VM-template VTPM SM, plus `alarm` (the messages that are alarms; the
        `message` collection then excludes them) and `task`;
      - `fields` is "*" (the default: whole objects) or an array of names picked as
        lodash pick does (a name that is a key of the object, else a dotted path);
      - an event is `event: <add|update|remove>\ndata: {"$subscription": <collection>,
        ...the (picked) object}\n\n`; remove carries the object as it was last seen.  */
#ifndef XOC_API_SUB_H
#define XOC_API_SUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "xoc_api_buf.h"

#define XOC_API_SUB_NAME_MAX 32 /* bytes of a collection name, NUL included */

typedef enum { XOC_API_SUB_ADD, XOC_API_SUB_UPDATE, XOC_API_SUB_REMOVE } xoc_api_sub_event_t;

/*  Is name a collection xo-server's event stream accepts?                               */
bool xoc_api_sub_collection(const char *name);

/*  Does an object of xo type `type` belong to the collection (alarm: a message named
    ALARM — only asked for messages)?                                                    */
bool xoc_api_sub_belongs(const char *collection, const char *type, bool alarm);

/*  Parses a subscription request body (len bytes, untrusted). Returns 0 with the
    collection copied into collection (XOC_API_SUB_NAME_MAX bytes) and *fields a new
    reference to the array of names, or NULL for "*" / absent; XOC_EINVAL when the body is
    not JSON (HTTP 400); XOC_ETYPE when it is JSON but not a valid request (HTTP 422: no
    or unknown collection, fields neither "*" nor an array of strings). err says why.    */
int xoc_api_sub_parse(const char *body, size_t len, char *collection, json_t **fields, char *err,
                      size_t errlen);

/*  The picked object (new reference; NULL on allocation failure): lodash pick of fields
    (an array of strings) from obj.                                                       */
json_t *xoc_api_sub_pick(const json_t *obj, const json_t *fields);

/*  Appends `event: <kind>\ndata: {"$subscription":"<collection>",<members of
    object>}\n\n` to out; object is the text of a JSON object (len bytes). Returns 0 or
    XOC_ENOMEM.                                                                           */
int xoc_api_sub_write(xoc_api_buf_t *out, xoc_api_sub_event_t kind, const char *collection,
                      const char *object, size_t len);

/*  "add", "update", "remove".                                                            */
const char *xoc_api_sub_event_name(xoc_api_sub_event_t kind);

#endif
