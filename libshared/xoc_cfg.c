#include "xoc_cfg.h"

#include <assert.h>
#include <ctype.h>
#include <czmq.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xoc_err.h"

#define S_MAX_KEYS 256
#define S_MAX_ARGS 64

struct _xoc_cfg_t {
    const xoc_cfg_key_t *keys[S_MAX_KEYS];
    char *values[S_MAX_KEYS];
    int count;
    char *args[S_MAX_ARGS];
    int argc;
};

static int s_find(const xoc_cfg_t *self, const char *name, size_t len)
{
    for (int i = 0; i < self->count; i++)
        if (strlen(self->keys[i]->name) == len && strncmp(self->keys[i]->name, name, len) == 0)
            return i;
    return -1;
}

static int s_check(const xoc_cfg_key_t *key, const char *value, char *err, size_t errlen)
{
    if (key->kind == XOC_CFG_INT) {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < key->min || v > key->max) {
            snprintf(err, errlen, "%s: '%s' is not an integer in [%lld, %lld]", key->name, value,
                     (long long)key->min, (long long)key->max);
            return XOC_EINVAL;
        }
    } else if (key->kind == XOC_CFG_BOOL) {
        if (strcmp(value, "true") && strcmp(value, "false") && strcmp(value, "1") &&
            strcmp(value, "0")) {
            snprintf(err, errlen, "%s: '%s' is not true/false", key->name, value);
            return XOC_EINVAL;
        }
    }
    return 0;
}

static int s_assign(xoc_cfg_t *self, int i, const char *value, char *err, size_t errlen)
{
    int rc = s_check(self->keys[i], value, err, errlen);
    if (rc)
        return rc;
    char *copy = strdup(value);
    if (!copy)
        return XOC_ENOMEM;
    free(self->values[i]);
    self->values[i] = copy;
    return 0;
}

static int s_load_file(xoc_cfg_t *self, const char *path, char *err, size_t errlen)
{
    zconfig_t *root = zconfig_load(path);
    if (!root) {
        snprintf(err, errlen, "cannot read config file %s", path);
        return XOC_EIO;
    }
    int rc = 0;
    for (int i = 0; i < self->count && rc == 0; i++) {
        char zpath[256];
        snprintf(zpath, sizeof zpath, "%s", self->keys[i]->name);
        for (char *p = zpath; *p; p++)
            if (*p == '.')
                *p = '/';
        zconfig_t *item = zconfig_locate(root, zpath);
        if (item && zconfig_value(item) && *zconfig_value(item))
            rc = s_assign(self, i, zconfig_value(item), err, errlen);
    }
    zconfig_destroy(&root);
    return rc;
}

static int s_load_env(xoc_cfg_t *self, char *err, size_t errlen)
{
    for (int i = 0; i < self->count; i++) {
        char var[256] = "XOC_";
        size_t n = 4;
        for (const char *p = self->keys[i]->name; *p && n < sizeof var - 1; p++)
            var[n++] = (*p == '.' || *p == '-') ? '_' : (char)toupper((unsigned char)*p);
        var[n] = '\0';
        const char *v = getenv(var);
        if (v) {
            int rc = s_assign(self, i, v, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* returns the index of the first flag that is not a key, or an error */
static int s_load_flags(xoc_cfg_t *self, int argc, char **argv, char *err, size_t errlen)
{
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--") == 0) {
            for (a++; a < argc && self->argc < S_MAX_ARGS; a++)
                self->args[self->argc++] = argv[a];
            break;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (self->argc < S_MAX_ARGS)
                self->args[self->argc++] = argv[a];
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        if (strcmp(name, "help") == 0 || strcmp(name, "config") == 0 ||
            strncmp(name, "config=", 7) == 0) {
            if (strcmp(name, "config") == 0)
                a++;
            continue;
        }
        int i = s_find(self, name, eq ? (size_t)(eq - name) : strlen(name));
        if (i < 0) {
            snprintf(err, errlen, "unknown flag %s (see --help)", arg);
            return XOC_EINVAL;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && self->keys[i]->kind == XOC_CFG_BOOL)
            value = "true";
        else if (!value && a + 1 < argc)
            value = argv[++a];
        if (!value) {
            snprintf(err, errlen, "flag %s needs a value", arg);
            return XOC_EINVAL;
        }
        int rc = s_assign(self, i, value, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static const char *s_config_path(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--config") == 0 && a + 1 < argc)
            return argv[a + 1];
        if (strncmp(argv[a], "--config=", 9) == 0)
            return argv[a] + 9;
    }
    return getenv("XOC_CONFIG");
}

static bool s_wants_help(int argc, char **argv)
{
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0)
            return true;
    return false;
}

xoc_cfg_t *xoc_cfg_new(const char *program, const xoc_cfg_key_t *const *tables, int argc,
                       char **argv, bool *help_shown, char *err, size_t errlen)
{
    xoc_cfg_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (help_shown)
        *help_shown = false;
    for (int t = 0; tables[t]; t++)
        for (const xoc_cfg_key_t *k = tables[t]; k->name; k++) {
            assert(self->count < S_MAX_KEYS);
            assert(s_find(self, k->name, strlen(k->name)) < 0); /* declared twice */
            self->keys[self->count] = k;
            self->values[self->count++] = strdup(k->def ? k->def : "");
        }
    if (argv && s_wants_help(argc, argv)) {
        xoc_cfg_usage(program, tables, stdout);
        if (help_shown)
            *help_shown = true;
        return self;
    }
    const char *path = argv ? s_config_path(argc, argv) : getenv("XOC_CONFIG");
    int rc = path ? s_load_file(self, path, err, errlen) : 0;
    if (rc == 0)
        rc = s_load_env(self, err, errlen);
    if (rc == 0 && argv)
        rc = s_load_flags(self, argc, argv, err, errlen);
    if (rc)
        xoc_cfg_destroy(&self);
    return self;
}

void xoc_cfg_destroy(xoc_cfg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    xoc_cfg_t *self = *self_p;
    for (int i = 0; i < self->count; i++)
        free(self->values[i]);
    free(self);
    *self_p = NULL;
}

static const char *s_value(const xoc_cfg_t *self, const char *name)
{
    int i = s_find(self, name, strlen(name));
    assert(i >= 0 && "configuration key not declared");
    return i >= 0 ? self->values[i] : "";
}

const char *xoc_cfg_str(const xoc_cfg_t *self, const char *name)
{
    return s_value(self, name);
}

int64_t xoc_cfg_int(const xoc_cfg_t *self, const char *name)
{
    return strtoll(s_value(self, name), NULL, 10);
}

bool xoc_cfg_bool(const xoc_cfg_t *self, const char *name)
{
    const char *v = s_value(self, name);
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

bool xoc_cfg_has(const xoc_cfg_t *self, const char *name)
{
    return s_find(self, name, strlen(name)) >= 0;
}

int xoc_cfg_set(xoc_cfg_t *self, const char *name, const char *value)
{
    char err[256];
    int i = s_find(self, name, strlen(name));
    return i < 0 ? XOC_EINVAL : s_assign(self, i, value, err, sizeof err);
}

int xoc_cfg_argc(const xoc_cfg_t *self)
{
    return self->argc;
}

const char *xoc_cfg_arg(const xoc_cfg_t *self, int index)
{
    return index >= 0 && index < self->argc ? self->args[index] : NULL;
}

void xoc_cfg_usage(const char *program, const xoc_cfg_key_t *const *tables, FILE *out)
{
    fprintf(out, "usage: %s [--config FILE] [--KEY VALUE | --KEY=VALUE]...\n\n", program);
    fprintf(out, "Every KEY is also read from a config file (ZPL, key a.b at path a/b) and from "
                 "the environment\n(XOC_A_B); flags win over the environment, which wins over "
                 "the file.\n\nKeys:\n");
    for (int t = 0; tables[t]; t++)
        for (const xoc_cfg_key_t *k = tables[t]; k->name; k++) {
            fprintf(out, "  --%-28s %s\n", k->name, k->help);
            if (k->kind == XOC_CFG_INT)
                fprintf(out, "  %-30s (integer %lld..%lld, default %s)\n", "", (long long)k->min,
                        (long long)k->max, k->def);
            else
                fprintf(out, "  %-30s (default: %s)\n", "", k->def && *k->def ? k->def : "none");
        }
}
