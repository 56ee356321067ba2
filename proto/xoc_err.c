#include "xoc_err.h"

#include <string.h>

typedef struct {
    int code;
    const char *name;
    int jsonrpc;
    const char *message;
} s_entry_t;

static const s_entry_t s_table[] = {
#define XOC_ERR_ROW(e, v, name, rpc, msg) {v, name, rpc, msg},
    XOC_ERR_TABLE(XOC_ERR_ROW)
#undef XOC_ERR_ROW
};

#define S_COUNT (sizeof s_table / sizeof s_table[0])

static const s_entry_t *s_find(int err)
{
    if (err > 0 || -err >= (int)S_COUNT)
        return NULL;
    return &s_table[-err]; /* the table is dense: row i holds code -i */
}

const char *xoc_strerror(int err)
{
    if (err > 0)
        return strerror(err);
    const s_entry_t *e = s_find(err);
    return e ? e->message : "unknown error";
}

const char *xoc_err_name(int err)
{
    const s_entry_t *e = s_find(err);
    return e ? e->name : "internal";
}

int xoc_err_from_name(const char *name)
{
    for (size_t i = 0; name && i < S_COUNT; i++)
        if (strcmp(s_table[i].name, name) == 0)
            return s_table[i].code;
    return XOC_EINTERNAL;
}

int xoc_err_jsonrpc(int err)
{
    const s_entry_t *e = s_find(err);
    return e ? e->jsonrpc : -32000;
}
