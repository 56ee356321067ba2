/*  xoc_cfg — configuration: every key has its default in code, next to where it is read.
    Sources, later ones win: defaults < file (--config PATH or $XOC_CONFIG, ZPL format as
    czmq's zconfig reads it: "bus\n    endpoint = tcp://..."; key a.b is path a/b) <
    environment ($XOC_BUS_ENDPOINT for bus.endpoint) < flags (--bus.endpoint VALUE or
    --bus.endpoint=VALUE). --help prints every key with its default and meaning.           */
#ifndef XOC_CFG_H
#define XOC_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum { XOC_CFG_STR, XOC_CFG_INT, XOC_CFG_BOOL } xoc_cfg_kind_t;

typedef struct {
    const char *name;    /* "bus.heartbeat_ms" */
    xoc_cfg_kind_t kind;
    const char *def;     /* default, as text */
    int64_t min, max;    /* bounds of an INT key */
    const char *help;
} xoc_cfg_key_t;

#define XOC_CFG_END {NULL, XOC_CFG_STR, NULL, 0, 0, NULL}

typedef struct _xoc_cfg_t xoc_cfg_t;

/*  Loads the keys of `tables` (a NULL-terminated list of XOC_CFG_END-terminated tables) from
    all sources. Returns NULL and writes a message naming the key or flag into err on a bad
    value, an unknown flag or an unreadable file. With --help, *help_shown is set and the
    returned config holds defaults.                                                        */
xoc_cfg_t *xoc_cfg_new(const char *program, const xoc_cfg_key_t *const *tables, int argc,
                       char **argv, bool *help_shown, char *err, size_t errlen);
void xoc_cfg_destroy(xoc_cfg_t **self_p);

/*  The value of a key; asserts that the key was declared (a programmer error otherwise).   */
const char *xoc_cfg_str(const xoc_cfg_t *self, const char *name);
int64_t xoc_cfg_int(const xoc_cfg_t *self, const char *name);
bool xoc_cfg_bool(const xoc_cfg_t *self, const char *name);

/*  True when the key was declared (a module that works with or without one).              */
bool xoc_cfg_has(const xoc_cfg_t *self, const char *name);

/*  Overrides a value (tests); returns 0 or XOC_EINVAL when the key is unknown or invalid.  */
int xoc_cfg_set(xoc_cfg_t *self, const char *name, const char *value);

/*  Positional arguments (after the flags, or after "--").                                 */
int xoc_cfg_argc(const xoc_cfg_t *self);
const char *xoc_cfg_arg(const xoc_cfg_t *self, int index);

/*  Prints the usage of every key.                                                         */
void xoc_cfg_usage(const char *program, const xoc_cfg_key_t *const *tables, FILE *out);

#endif
