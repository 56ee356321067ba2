#include "xoc_collector.h"

#include <stdlib.h>
#include <string.h>

#include "xoc_client.h"
#include "xoc_err.h"
#include "xoc_log.h"
#include "xoc_msg.h"
#include "xoc_node.h"
#include "xoc_collector_pool.h"

const xoc_cfg_key_t xoc_collector_cfg_keys[] = {
    {"collector.config_retry_ms", XOC_CFG_INT, "1000", 50, 600000,
     "how often to ask the cache for the servers until it answers"},
    {"collector.backoff_min_ms", XOC_CFG_INT, "500", 10, 600000,
     "first reconnection delay after a failed connection (then doubling)"},
    {"collector.backoff_max_ms", XOC_CFG_INT, "60000", 10, 3600000,
     "longest reconnection delay"},
    {"collector.gateway_lanes", XOC_CFG_INT, "4", 1, 64,
     "XAPI calls of other services (xapi.<pool>) carried out at once per pool, each lane with "
     "its own XAPI session: a long call (a VM shutdown) holds one lane, not the pool"},
    XOC_CFG_END};

typedef struct {
    xoc_node_t node;
    xoc_client_t *client;
    xoc_collector_metrics_t metrics; /* families; each pool updates its own series */
    zsock_t *sub;
    zhashx_t *pools;        /* server id -> xoc_collector_pool_t */
    bool listing;           /* a config.list is in flight */
    bool relist;            /* a change arrived meanwhile: list again */
    int64_t listed_at;      /* when the servers were last asked for */
    int64_t retry_at;
    int retry_ms;
    int backoff_min_ms, backoff_max_ms;
    int gateway_lanes;
} s_collector_t;

/* ---- servers ---------------------------------------------------------------------------- */

static bool s_field(const msgpack_object *map, const char *key, char *buf, size_t size)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != n ||
            memcmp(k->via.str.ptr, key, n) != 0)
            continue;
        if (v->type == MSGPACK_OBJECT_STR && v->via.str.size < size) {
            memcpy(buf, v->via.str.ptr, v->via.str.size);
            buf[v->via.str.size] = '\0';
            return true;
        }
        if (v->type == MSGPACK_OBJECT_BOOLEAN) {
            snprintf(buf, size, "%s", v->via.boolean ? "true" : "false");
            return true;
        }
    }
    return false;
}

/* a "servers" record -> connection parameters; false when disabled or unusable */
static bool s_parse_server(const s_collector_t *self, const char *id, size_t id_len,
                           const msgpack_object *rec, xoc_collector_server_t *out)
{
    memset(out, 0, sizeof *out);
    out->backoff_min_ms = self->backoff_min_ms;
    out->backoff_max_ms = self->backoff_max_ms;
    out->gateway_lanes = self->gateway_lanes;
    char host[400] = "", flag[8] = "";
    if (rec->type != MSGPACK_OBJECT_MAP || id_len >= sizeof out->id ||
        !s_field(rec, "host", host, sizeof host) || !*host)
        return false;
    memcpy(out->id, id, id_len);
    if (s_field(rec, "enabled", flag, sizeof flag) && strcmp(flag, "false") == 0)
        return false;
    if (strstr(host, "://"))
        snprintf(out->url, sizeof out->url, "%s", host);
    else /* xo-server's default: a bare host is HTTPS */
        snprintf(out->url, sizeof out->url, "https://%s", host);
    s_field(rec, "username", out->username, sizeof out->username);
    s_field(rec, "password", out->password, sizeof out->password);
    out->allow_unauthorized =
        s_field(rec, "allowUnauthorized", flag, sizeof flag) && strcmp(flag, "true") == 0;
    out->read_only = s_field(rec, "readOnly", flag, sizeof flag) && strcmp(flag, "true") == 0;
    s_field(rec, "httpProxy", out->http_proxy, sizeof out->http_proxy);
    return true;
}

/* the pool's objects leave the cache: a server was removed or disabled */
static void s_drop(s_collector_t *self, const xoc_collector_status_t *st)
{
    if (!st->pool[0] || !st->epoch)
        return;
    static const uint8_t empty[] = {0x90};
    /* a new epoch: the drop needs no predecessor, whatever was still in flight */
    xoc_msg_changeset_t cs = {.pool = xoc_str(st->pool), .epoch = st->epoch + 1, .seq = 1,
                              .kind = XOC_STR("drop"), .changes = {empty, sizeof empty}};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_changeset_encode(&cs, &sb);
    /* fire and forget: if it is lost, the next image of that pool replaces its objects */
    xoc_client_send(self->client, "cache", "cache.apply", sb.data, sb.size, 30000, NULL, NULL);
    msgpack_sbuffer_destroy(&sb);
    xoc_info("pool=%s dropped from the cache", st->pool);
}

static void s_stop_pool(s_collector_t *self, const char *id, bool drop)
{
    xoc_collector_pool_t *pool = zhashx_lookup(self->pools, id);
    if (!pool)
        return;
    xoc_collector_status_t st;
    xoc_collector_pool_status(pool, &st);
    zhashx_delete(self->pools, id); /* the destructor stops the thread */
    if (drop)
        s_drop(self, &st);
}

static void s_reconcile(s_collector_t *self, const msgpack_object *items)
{
    zhashx_t *wanted = zhashx_new();
    zhashx_set_destructor(wanted, (zhashx_destructor_fn *)zstr_free);
    for (uint32_t i = 0; items->type == MSGPACK_OBJECT_MAP && i < items->via.map.size; i++) {
        const msgpack_object *k = &items->via.map.ptr[i].key;
        xoc_collector_server_t srv;
        if (k->type != MSGPACK_OBJECT_STR ||
            !s_parse_server(self, k->via.str.ptr, k->via.str.size, &items->via.map.ptr[i].val,
                            &srv))
            continue;
        zhashx_insert(wanted, srv.id, strdup("1"));
        xoc_collector_pool_t *pool = zhashx_lookup(self->pools, srv.id);
        if (pool && memcmp(xoc_collector_pool_server(pool), &srv, sizeof srv) == 0)
            continue; /* unchanged */
        if (pool)
            s_stop_pool(self, srv.id, false); /* changed: a new connection replaces it */
        xoc_info("server=%s connecting to %s", srv.id, srv.url);
        pool = xoc_collector_pool_new(&srv, &self->node.bus, &self->metrics);
        if (pool)
            zhashx_insert(self->pools, srv.id, pool);
    }
    zlistx_t *ids = zhashx_keys(self->pools);
    for (char *id = zlistx_first(ids); id; id = zlistx_next(ids))
        if (!zhashx_lookup(wanted, id)) {
            xoc_info("server=%s removed or disabled", id);
            s_stop_pool(self, id, true);
        }
    zlistx_destroy(&ids);
    zhashx_destroy(&wanted);
}

static void s_list(s_collector_t *self);

static void s_on_list(xoc_client_t *client, xoc_reply_t *reply, void *arg)
{
    s_collector_t *self = arg;
    self->listing = false;
    xoc_msg_t m;
    int rc = reply->status ? reply->status : xoc_reply_decode(reply, XOC_MSG_CFG, &m);
    if (rc) {
        xoc_debug("config.list servers: %s (%s), retrying", xoc_strerror(rc), reply->reason);
        self->retry_at = xoc_bus_now_ms() + self->retry_ms;
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (m.cfg.items.len == 0)
        s_reconcile(self, &(msgpack_object){.type = MSGPACK_OBJECT_MAP});
    else if (msgpack_unpack_next(&up, (const char *)m.cfg.items.ptr, m.cfg.items.len, NULL) ==
             MSGPACK_UNPACK_SUCCESS)
        s_reconcile(self, &up.data);
    msgpack_unpacked_destroy(&up);
    if (self->relist) {
        self->relist = false;
        s_list(self);
    }
}

static void s_list(s_collector_t *self)
{
    if (self->listing) {
        self->relist = true;
        return;
    }
    xoc_msg_cfg_t req = {.db = XOC_STR("servers"), .reveal = true};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    xoc_msg_cfg_encode(&req, &sb);
    self->retry_at = 0;
    self->listed_at = xoc_bus_now_ms();
    self->listing = xoc_client_send(self->client, "cache", "config.list", sb.data, sb.size,
                                    5000, s_on_list, self) == 0;
    if (!self->listing)
        self->retry_at = xoc_bus_now_ms() + self->retry_ms;
    msgpack_sbuffer_destroy(&sb);
}

/* ---- loop handlers ------------------------------------------------------------------------ */

static int s_on_sub(zloop_t *loop, zsock_t *sock, void *arg)
{
    s_collector_t *self = arg;
    zmsg_t *msg;
    bool changed = false;
    while ((msg = zmsg_recv_nowait(sock))) {
        changed = true; /* any change of the servers database: list it again */
        zmsg_destroy(&msg);
    }
    if (changed)
        s_list(self);
    return 0;
}

/* the servers are listed again every S_RELIST_MS: a config.servers event that never came
   (published before our subscription had reached the cache's publisher, at start under
   load) is repaired so, instead of leaving that server unconnected */
#define S_RELIST_MS 5000

static int s_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    s_collector_t *self = arg;
    int64_t now = xoc_bus_now_ms();
    if ((self->retry_at && now >= self->retry_at) ||
        (!self->listing && now - self->listed_at >= S_RELIST_MS))
        s_list(self);
    return 0;
}

static void s_status_item(msgpack_packer *pk, const char *id, const xoc_collector_status_t *st)
{
    msgpack_pack_str_with_body(pk, id, strlen(id));
    msgpack_pack_map(pk, 6);
#define S_KV_STR(k, v)                                                                          \
    msgpack_pack_str_with_body(pk, k, strlen(k));                                                \
    msgpack_pack_str_with_body(pk, v, strlen(v));
    S_KV_STR("status", st->status);
    S_KV_STR("error", st->error);
    S_KV_STR("pool", st->pool);
    S_KV_STR("master", st->master);
#undef S_KV_STR
    msgpack_pack_str_with_body(pk, "epoch", 5);
    msgpack_pack_uint64(pk, st->epoch);
    msgpack_pack_str_with_body(pk, "objects", 7);
    msgpack_pack_uint64(pk, st->objects);
}

static void s_handle(xoc_worker_t *worker, xoc_request_t *req, void *arg)
{
    s_collector_t *self = arg;
    if (strcmp(req->method, "collector.status") != 0) {
        xoc_worker_reply(worker, &req, XOC_ENOMETHOD, "unknown method", NULL, 0);
        return;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, (uint32_t)zhashx_size(self->pools));
    for (xoc_collector_pool_t *p = zhashx_first(self->pools); p; p = zhashx_next(self->pools)) {
        xoc_collector_status_t st;
        xoc_collector_pool_status(p, &st);
        s_status_item(&pk, xoc_collector_pool_server(p)->id, &st);
    }
    xoc_msg_cfg_t out = {.db = XOC_STR("servers"),
                         .items = {(const uint8_t *)sb.data, (uint32_t)sb.size}};
    xoc_worker_reply_msg(worker, &req, XOC_MSG_CFG, &out);
    msgpack_sbuffer_destroy(&sb);
}

static void s_stats(msgpack_packer *pk, void *arg)
{
    s_collector_t *self = arg;
    uint64_t connected = 0, objects = 0;
    for (xoc_collector_pool_t *p = zhashx_first(self->pools); p; p = zhashx_next(self->pools)) {
        xoc_collector_status_t st;
        xoc_collector_pool_status(p, &st);
        connected += strcmp(st.status, "connected") == 0;
        objects += st.objects;
    }
    msgpack_pack_map(pk, 3);
    msgpack_pack_str_with_body(pk, "servers", 7);
    msgpack_pack_uint64(pk, zhashx_size(self->pools));
    msgpack_pack_str_with_body(pk, "connected", 9);
    msgpack_pack_uint64(pk, connected);
    msgpack_pack_str_with_body(pk, "objects", 7);
    msgpack_pack_uint64(pk, objects);
}

static void s_metrics_declare(s_collector_t *self)
{
    xoc_metrics_t *reg = self->node.metrics.reg;
    xoc_collector_metrics_t *m = &self->metrics;
#define S_FAMILY(kind, name, help, labels)                                                         \
    xoc_metrics_family(reg, XOC_METRICS_##kind, name, help, labels, NULL, 0)
    m->state = S_FAMILY(GAUGE, "xoc_collector_pool_state",
                        "connection state of each server (pool): 1 for the current one of "
                        "connected, connecting, disconnected",
                        "server,state");
    m->reconnects =
        S_FAMILY(COUNTER, "xoc_collector_reconnects_total",
                 "connections started again after the first (failures, reloads)", "server");
    m->events = S_FAMILY(COUNTER, "xoc_collector_events_total",
                         "XAPI events received from event.from", "server");
    m->sent = S_FAMILY(COUNTER, "xoc_collector_changesets_sent_total",
                       "change sets sent to the cache", "server");
    m->acked = S_FAMILY(COUNTER, "xoc_collector_changesets_acked_total",
                        "change sets acknowledged by the cache", "server");
    m->in_flight = S_FAMILY(GAUGE, "xoc_collector_changesets_in_flight",
                            "change sets sent and not acknowledged yet", "server");
    m->objects = S_FAMILY(GAUGE, "xoc_collector_objects", "xo objects of the pool", "server");
#undef S_FAMILY
    m->xapi_seconds = xoc_metrics_family(
        reg, XOC_METRICS_HISTOGRAM, "xoc_collector_xapi_call_seconds",
        "XAPI calls of the pool connections (not the gateway's) and their duration, by "
        "server and method (event.from waits up to 60 s by design)",
        "server,method", xoc_metrics_latency_buckets, xoc_metrics_latency_nbuckets);
}

static void s_pool_free(void **item)
{
    xoc_collector_pool_destroy((xoc_collector_pool_t **)item);
}

void xoc_collector_actor(zsock_t *pipe, void *cfg)
{
    s_collector_t self;
    memset(&self, 0, sizeof self);
    self.retry_ms = (int)xoc_cfg_int(cfg, "collector.config_retry_ms");
    self.backoff_min_ms = (int)xoc_cfg_int(cfg, "collector.backoff_min_ms");
    self.gateway_lanes = (int)xoc_cfg_int(cfg, "collector.gateway_lanes");
    self.backoff_max_ms = (int)xoc_cfg_int(cfg, "collector.backoff_max_ms");
    self.pools = zhashx_new();
    zhashx_set_destructor(self.pools, s_pool_free);
    if (xoc_node_init(&self.node, "collector", pipe, cfg) == 0 &&
        xoc_node_serve(&self.node, 16, s_handle, &self) == 0 &&
        (self.client = xoc_client_new(&self.node.bus)) &&
        (self.sub = xoc_bus_connect(ZMQ_SUB, self.node.bus.sub, &self.node.bus))) {
        s_metrics_declare(&self);
        zsock_set_subscribe(self.sub, "config.servers");
        xoc_client_attach(self.client, self.node.loop);
        zloop_reader(self.node.loop, self.sub, s_on_sub, &self);
        zloop_timer(self.node.loop, 100, 0, s_on_timer, &self);
        xoc_node_set_stats(&self.node, s_stats, &self);
        s_list(&self);
        xoc_node_run(&self.node);
    }
    zhashx_destroy(&self.pools); /* stops every connection */
    if (self.sub && self.node.loop)
        zloop_reader_end(self.node.loop, self.sub);
    zsock_destroy(&self.sub);
    xoc_client_destroy(&self.client);
    xoc_node_fini(&self.node);
}
