/*  xoc_api_query — the pure parsing of the HTTP side of xoc-api (no server state, fuzzed
    by fuzz_api_query): REST paths (/rest/v0/<collection>[/<id>[/actions/<action>]],
    /rest/v0/events[/<connection id>/subscriptions[/<collection>]]), query arguments
    (fields, filter, limit, ndjson, all), the collections'
    xo types, cookies and HTTP Basic credentials. Every input is untrusted: bounded sizes,
    XOC_EINVAL with a reason on anything malformed.                                       */
#ifndef XOC_API_QUERY_H
#define XOC_API_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define XOC_API_QUERY_FIELDS_MAX 64  /* names in fields= */
#define XOC_API_QUERY_NAME_MAX 64    /* bytes of one field name */

typedef enum {
    XOC_API_ROUTE_NONE,        /* not a REST path */
    XOC_API_ROUTE_ROOT,        /* /rest/v0 : the collections */
    XOC_API_ROUTE_COLLECTION,  /* /rest/v0/vms */
    XOC_API_ROUTE_OBJECT,      /* /rest/v0/vms/<id> */
    XOC_API_ROUTE_ACTION,      /* /rest/v0/vms/<id>/actions/<action> */
    XOC_API_ROUTE_EVENTS,      /* /rest/v0/events */
    XOC_API_ROUTE_SUBSCRIPTIONS, /* /rest/v0/events/<id>/subscriptions: id = connection id */
    XOC_API_ROUTE_SUBSCRIPTION,  /* /rest/v0/events/<id>/subscriptions/<collection>: in action */
} xoc_api_route_kind_t;

typedef struct {
    xoc_api_route_kind_t kind;
    char collection[32];
    const char *type;          /* the xo type of the collection ("VM"), NULL if unknown */
    char id[128];
    char action[32];
} xoc_api_route_t;

typedef struct {
    char fields[XOC_API_QUERY_FIELDS_MAX][XOC_API_QUERY_NAME_MAX + 1];
    size_t nfields;
    bool all_fields;           /* fields=* */
    char *filter;              /* filter= as given (owned), NULL if absent */
    long long limit;           /* -1: none */
    bool ndjson;
    bool all;                  /* all=true: the event stream's firehose (enter/exit) */
} xoc_api_query_t;

/*  Parses a path (already percent-decoded). Not under /rest/v0: kind NONE and 0.
    Returns 0, or XOC_EINVAL for a malformed REST path (too long parts, extra segments). */
int xoc_api_route_parse(const char *path, xoc_api_route_t *route);

/*  Parses query arguments, each "name=value" (len bytes, not NUL-terminated). Unknown
    names are ignored. Returns 0 or XOC_EINVAL (why in err). Clear q after, even on error. */
int xoc_api_query_parse(xoc_api_query_t *q, const char *const *args, const size_t *lens,
                        size_t n, char *err, size_t errlen);
void xoc_api_query_clear(xoc_api_query_t *q);

/*  The xo type of a REST collection ("vms" -> "VM"), NULL if unknown; and the i-th
    collection name (NULL past the end).                                                 */
const char *xoc_api_query_type(const char *collection);
const char *xoc_api_query_collection(size_t i);

/*  The value of cookie `name` in a Cookie header (copied into out, NUL-terminated).
    Returns true if found and it fits.                                                   */
bool xoc_api_query_cookie(const char *header, const char *name, char *out, size_t size);

/*  Splits "Basic <base64(user:password)>" into user and password. Returns 0 or
    XOC_EINVAL.                                                                          */
int xoc_api_query_basic(const char *header, char *user, size_t user_size, char *password,
                        size_t password_size);

#endif
