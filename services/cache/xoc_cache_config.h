/*  xoc_cache_config — the configuration databases (servers, users, groups, acls, tokens,
    plugins) of xoc-cache: records are msgpack maps, each change gets the next
    configuration revision and an event for config.<db>.

    Secret fields (top-level `password` in servers; `password` and `secret` in plugins) are
    sealed at rest with libsodium's crypto_secretbox_easy (a random nonce per value) under
    the key of the key file (created with mode 0600 when missing), stored as a msgpack ext
    value. Replies and events show them as "* obfuscated *"; only `reveal` gives the clear
    value. A set whose secret field is "* obfuscated *" keeps the stored secret (a client
    writing back a record it read).                                                        */
#ifndef XOC_CACHE_CONFIG_H
#define XOC_CACHE_CONFIG_H

#include "xoc_cache_store.h"

#define XOC_CACHE_OBFUSCATED "* obfuscated *"

typedef struct _xoc_cache_config_t xoc_cache_config_t;

/*  Loads or creates the key file. NULL on failure with *err set.                           */
xoc_cache_config_t *xoc_cache_config_new(xoc_cache_store_t *store, const char *key_path,
                                         int *err);
void xoc_cache_config_destroy(xoc_cache_config_t **self_p);

/*  Each encodes its cfg reply into `reply`; set and delete also encode the event for
    config.<db> into `event`. Errors: XOC_EINVAL (bad db, key or value; why says which),
    XOC_ENOENT (no such record), XOC_EEXIST (set with `create` of a key already there),
    XOC_ETOOBIG (list), an LMDB code.                                                      */
int xoc_cache_config_set(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                         msgpack_sbuffer *reply, msgpack_sbuffer *event, char *why, size_t ws);
int xoc_cache_config_get(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                         msgpack_sbuffer *reply, char *why, size_t ws);
int xoc_cache_config_delete(xoc_cache_config_t *self, const xoc_msg_cfg_t *req,
                            msgpack_sbuffer *reply, msgpack_sbuffer *event, char *why,
                            size_t ws);
int xoc_cache_config_list(xoc_cache_config_t *self, const xoc_msg_cfg_t *req, size_t max_bytes,
                          msgpack_sbuffer *reply, char *why, size_t ws);

#endif
