/*  xoc_api_objects — objects from the replica: xo.getAllObjects (xo-api.md §1.5) and the
    `all` notifications (§1.4, §10). Objects are written as JSON straight from the
    replica's msgpack bytes into one buffer (no Jansson tree per object).

    Pushes: the replica reports each change of a batch, then the end of the batch; the
    batch becomes at most two notifications, `enter` (complete objects) then `exit`
    (id: 0), built once and queued by reference on every signed-in connection.
    ACLs: every object change also feeds the ACL index (xoc_api_acl_object, from the
    same unpacked map). Super-admin sessions get the shared buffers (s_push); the others
    get, per user, what xoc_api_access_flush computes at the end of the batch (the
    changes of what they may view, and what entered or left their view), and
    xo.getAllObjects returns to a non-admin only what he may view.                       */
#include <string.h>

#include "xoc_api_cm.h"
#include "xoc_api_int.h"
#include "xoc_err.h"
#include "xoc_json.h"
#include "xoc_log.h"

/* ---- filters ------------------------------------------------------------------------------------ */

static bool s_partial(const json_t *want, const json_t *have);

static bool s_partial_array(const json_t *want, const json_t *have)
{
    if (!json_is_array(have))
        return false;
    size_t i, j;
    json_t *w, *h;
    json_array_foreach(want, i, w)
    {
        bool found = false;
        json_array_foreach(have, j, h) if ((found = s_partial(w, h))) break;
        if (!found)
            return false;
    }
    return true;
}

/* lodash isMatch: objects partially, arrays by inclusion, numbers by value */
static bool s_partial(const json_t *want, const json_t *have)
{
    if (json_is_object(want)) {
        if (!json_is_object(have))
            return false;
        const char *k;
        json_t *w;
        json_object_foreach((json_t *)want, k, w) if (!s_partial(w, json_object_get(have, k)))
            return false;
        return true;
    }
    if (json_is_array(want))
        return s_partial_array(want, have);
    if (json_is_number(want))
        return json_is_number(have) && json_number_value(want) == json_number_value(have);
    return have && json_equal(want, have);
}

bool xoc_api_json_match(const json_t *pattern, const json_t *value)
{
    return s_partial(pattern, value);
}

static const msgpack_object *s_field(const msgpack_object *map, const char *name)
{
    size_t n = strlen(name);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, name, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static bool s_match_unpacked(const xoc_replica_obj_t *obj, const msgpack_object *map,
                             const json_t *filter)
{
    const char *k;
    json_t *want;
    json_object_foreach((json_t *)filter, k, want)
    {
        if (strcmp(k, "type") == 0 && json_is_string(want)) { /* the common case, no decoding */
            if (strcmp(obj->type, json_string_value(want)) != 0)
                return false;
            continue;
        }
        const msgpack_object *f = map->type == MSGPACK_OBJECT_MAP ? s_field(map, k) : NULL;
        json_t *have = f ? xoc_json_from_object(f) : NULL;
        bool ok = f && s_partial(want, have);
        json_decref(have);
        if (!ok)
            return false;
    }
    return true;
}

bool xoc_api_objects_match(const xoc_replica_obj_t *obj, const json_t *filter)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool ok = msgpack_unpack_next(&up, (const char *)obj->data, obj->size, NULL) ==
                  MSGPACK_UNPACK_SUCCESS &&
              s_match_unpacked(obj, &up.data, filter);
    msgpack_unpacked_destroy(&up);
    return ok;
}

/* ---- writing objects ------------------------------------------------------------------------------ */

/* appends "id":<object> (with a leading comma unless first) */
static int s_write_obj(xoc_api_buf_t *out, const xoc_replica_obj_t *obj, bool first,
                       msgpack_unpacked *up)
{
    if (msgpack_unpack_next(up, (const char *)obj->data, obj->size, NULL) !=
        MSGPACK_UNPACK_SUCCESS)
        return 0; /* the replica only holds checked objects: skip rather than fail */
    int rc = first ? 0 : xoc_api_buf_putc(out, ',');
    if (rc == 0)
        rc = xoc_api_buf_json_str(out, obj->id, strlen(obj->id));
    if (rc == 0)
        rc = xoc_api_buf_putc(out, ':');
    if (rc == 0)
        rc = xoc_api_buf_json_mp(out, &up->data);
    return rc;
}

/* appends "id":<cached JSON> (s_cache keeps it with the replica's entry: no lookup);
   falls back on writing from msgpack */
static int s_copy_obj(xoc_api_buf_t *out, const xoc_replica_obj_t *obj, bool first,
                      msgpack_unpacked *up)
{
    const xoc_api_json_t *j = obj->user;
    if (!j)
        return s_write_obj(out, obj, first, up);
    int rc = first ? 0 : xoc_api_buf_putc(out, ',');
    if (rc == 0)
        rc = xoc_api_buf_json_str(out, obj->id, strlen(obj->id));
    if (rc == 0)
        rc = xoc_api_buf_putc(out, ':');
    if (rc == 0)
        rc = xoc_api_buf_put(out, j->text, j->len);
    return rc;
}

typedef struct {
    xoc_api_server_t *srv;
    xoc_api_acl_user_t *view;     /* non-admin caller: only what he may view */
    xoc_api_buf_t *out;
    const json_t *filter;
    xoc_api_cm_t *cm;             /* a string filter (complex-matcher), or NULL */
    msgpack_zone *zone;           /* for unpacking objects to match cm */
    size_t seen;
    int64_t deadline_us;          /* a string filter's work is bounded in time */
    size_t limit, count;
    msgpack_unpacked up;
    int rc;
} s_all_t;

static bool s_match_cm(s_all_t *a, const xoc_replica_obj_t *obj)
{
    msgpack_object o;
    size_t off = 0;
    msgpack_zone_clear(a->zone);
    return msgpack_unpack((const char *)obj->data, obj->size, &off, a->zone, &o) ==
               MSGPACK_UNPACK_SUCCESS &&
           xoc_api_cm_match_mp(a->cm, &o);
}

static int s_each(const xoc_replica_obj_t *obj, void *arg)
{
    s_all_t *a = arg;
    if (a->limit && a->count >= a->limit)
        return 1;
    if (a->view && !xoc_api_acl_user_sees(a->srv->acl, a->view, obj->id))
        return 0;
    if (a->filter && !xoc_api_objects_match(obj, a->filter))
        return 0;
    if (a->cm && (a->seen++ & 255) == 0 && zclock_usecs() > a->deadline_us) {
        a->rc = XOC_ETIMEOUT;
        return 1;
    }
    if (a->cm && !s_match_cm(a, obj))
        return 0;
    a->rc = s_copy_obj(a->out, obj, a->count == 0, &a->up);
    a->count++;
    return a->rc;
}

/* the time a string filter may take over the whole replica (the worst filter the parser's
   limits allow takes about a second over 40 000 objects; the loop must stay responsive) */
#define S_CM_BUDGET_MS 5000

/* the data of an invalid string filter: one error in the schema checker's form (§2) */
static json_t *s_cm_error(const char *message)
{
    return json_pack("{s:[{s:s,s:s,s:s,s:{},s:s}]}", "errors", "instancePath", "/filter",
                     "schemaPath", "#/properties/filter", "keyword", "complex-matcher",
                     "params", "message", message);
}

/* The complete answer to a super-admin without filter nor limit (the usual xo-lib call,
   the biggest) is kept and sent again while the replica is unchanged: only the call's
   id is patched in. The id has a fixed slot, padded with spaces (JSON whitespace), so the
   bytes after it never move. The buffer is reused (no fresh pages) once no connection
   holds it any more; a call arriving while it is still being sent gets a copy. */
#define S_ID_SLOT 40
static const char s_head[] = "{\"jsonrpc\":\"2.0\",\"id\":";
#define S_HEAD_LEN (sizeof s_head - 1)

/* the call's id in the slot; false if it does not fit (then no reuse) */
static bool s_id_slot(const xoc_api_call_t *call, char slot[S_ID_SLOT])
{
    char *id = call->id ? json_dumps(call->id, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    size_t n = id ? strlen(id) : 0;
    bool ok = id && n <= S_ID_SLOT;
    if (ok) {
        memset(slot, ' ', S_ID_SLOT);
        memcpy(slot, id, n);
    }
    free(id);
    return ok;
}

/* 1: answered from the kept answer; 0: not possible, build it (into *out: the kept
   buffer, emptied, when it may be reused) */
static int s_reuse(xoc_api_call_t *call, const char slot[S_ID_SLOT], xoc_api_buf_t **out)
{
    xoc_api_server_t *srv = call->srv;
    xoc_api_buf_t *kept = srv->all_answer;
    size_t len = kept ? xoc_api_buf_len(kept) : 0;
    if (kept && srv->all_answer_gen == xoc_replica_gen(srv->replica) + 1 && len > 0 &&
        xoc_api_buf_data(kept)[len - 1] == '}') {
        int64_t t0 = zclock_usecs();
        len--; /* without its last '}': xoc_api_call_done_buf appends it */
        xoc_api_buf_t *buf = NULL;
        if (!xoc_api_buf_shared(kept)) { /* in place: nobody reads it any more */
            if (xoc_api_buf_patch(kept, S_HEAD_LEN, slot, S_ID_SLOT) == 0) {
                xoc_api_buf_truncate(kept, len);
                buf = xoc_api_buf_ref(kept);
            }
        } else if ((buf = xoc_api_buf_from(xoc_api_buf_data(kept), len)) != NULL &&
                   xoc_api_buf_patch(buf, S_HEAD_LEN, slot, S_ID_SLOT) != 0)
            xoc_api_buf_unref(&buf); /* still being sent: a copy */
        if (buf) {
            xoc_debug("getAllObjects objects=%zu bytes=%zu us=%lld conn=%llu reused=%s",
                      srv->all_answer_count, len + 1, (long long)(zclock_usecs() - t0),
                      (unsigned long long)call->conn, buf == kept ? "in-place" : "copy");
            xoc_api_call_done_buf(call, buf);
            xoc_api_buf_unref(&buf);
            return 1;
        }
    }
    srv->all_answer_gen = 0;
    if (kept && !xoc_api_buf_shared(kept)) {
        xoc_api_buf_reset(kept);
        *out = xoc_api_buf_ref(kept);
    } else
        xoc_api_buf_unref(&srv->all_answer);
    return 0;
}

int xoc_api_m_get_all_objects(xoc_api_call_t *call)
{
    xoc_api_server_t *srv = call->srv;
    if (json_is_true(json_object_get(call->params, "ndjson")))
        return xoc_api_rest_get_from(call);
    json_t *filter = json_object_get(call->params, "filter");
    json_t *limit = json_object_get(call->params, "limit");
    if (limit && json_number_value(limit) < 0)
        return XOC_EINVAL;
    bool deny = false;
    s_all_t a = {.srv = srv,
                 .view = xoc_api_access_view(call, &deny),
                 .filter = json_object_size(filter) ? filter : NULL,
                 .limit = limit ? (size_t)json_number_value(limit) : 0};
    if (deny) {
        xoc_api_call_done(call, json_object()); /* signed in, but followed by nobody */
        return 0;
    }
    if (json_is_string(filter)) { /* complex-matcher syntax, parsed once per call */
        a.filter = NULL;
        char err[256];
        a.cm = xoc_api_cm_parse(json_string_value(filter), json_string_length(filter), err,
                                sizeof err);
        if (!a.cm) {
            xoc_api_call_fail(call, XOC_EINVAL, NULL, s_cm_error(err));
            return 0;
        }
        if (xoc_api_cm_is_empty(a.cm))
            xoc_api_cm_destroy(&a.cm);
        else if (!(a.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE))) {
            xoc_api_cm_destroy(&a.cm);
            return XOC_ENOMEM;
        }
    }
    /* everything, for a super-admin: the kept answer, or build one to keep */
    char slot[S_ID_SLOT];
    bool whole = !a.view && !a.filter && !a.cm && !a.limit && s_id_slot(call, slot);
    if (whole && s_reuse(call, slot, &a.out))
        return 0;
    if (!a.out)
        a.out = xoc_api_buf_new(xoc_replica_bytes(srv->replica) * 3 / 2 + 4096);
    if (!a.out) {
        xoc_api_cm_destroy(&a.cm);
        if (a.zone)
            msgpack_zone_free(a.zone);
        return XOC_ENOMEM;
    }
    msgpack_unpacked_init(&a.up);
    int64_t t0 = zclock_usecs();
    a.deadline_us = t0 + S_CM_BUDGET_MS * 1000;
    int rc;
    if (whole) {
        rc = xoc_api_buf_put(a.out, s_head, S_HEAD_LEN);
        if (rc == 0)
            rc = xoc_api_buf_put(a.out, slot, S_ID_SLOT);
        if (rc == 0)
            rc = xoc_api_buf_puts(a.out, ",\"result\":");
    } else
        rc = xoc_api_call_result_open(call, a.out);
    if (rc == 0)
        rc = xoc_api_buf_putc(a.out, '{');
    if (rc == 0)
        xoc_replica_foreach(srv->replica, s_each, &a);
    rc = rc ? rc : a.rc ? a.rc : xoc_api_buf_putc(a.out, '}');
    msgpack_unpacked_destroy(&a.up);
    xoc_api_cm_destroy(&a.cm);
    if (a.zone)
        msgpack_zone_free(a.zone);
    if (rc == 0) {
        xoc_debug("getAllObjects objects=%zu bytes=%zu us=%lld conn=%llu", a.count,
                  xoc_api_buf_len(a.out) + 1, (long long)(zclock_usecs() - t0), /* + '}' */
                  (unsigned long long)call->conn);
        if (whole && srv->getall_keep && (srv->all_answer == a.out || !srv->all_answer)) {
            /* kept for the next calls at this generation (+ 1: 0 means none) */
            if (!srv->all_answer)
                srv->all_answer = xoc_api_buf_ref(a.out);
            srv->all_answer_gen = xoc_replica_gen(srv->replica) + 1;
            srv->all_answer_count = a.count;
        }
        xoc_api_call_done_buf(call, a.out);
    }
    xoc_api_buf_unref(&a.out);
    if (rc == XOC_ETIMEOUT) {
        xoc_api_call_fail(call, XOC_ETIMEOUT, "filter too expensive: over its time budget",
                          json_pack("{s:i}", "budget_ms", S_CM_BUDGET_MS));
        return 0;
    }
    return rc;
}

/* the longest a window waits for the previous one's pushes to be handed to every
   connection (api.push_adaptive): a lost "drained" event only delays, never blocks */
#define S_PUSH_STALL_MS 100

/* ---- pushes ---------------------------------------------------------------------------------------- */

/* the object's JSON, cached (NULL on exit or failure) */
static const xoc_api_json_t *s_cache(xoc_api_server_t *srv, bool enter,
                                     const xoc_replica_obj_t *obj)
{
    if (!enter) {
        zhashx_delete(srv->json, obj->id);
        if (srv->acl)
            xoc_api_acl_object(srv->acl, obj->id, obj->type, obj->pool, NULL);
        return NULL;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    xoc_api_buf_reset(srv->scratch);
    xoc_api_json_t *j = NULL;
    bool ok = msgpack_unpack_next(&up, (const char *)obj->data, obj->size, NULL) ==
              MSGPACK_UNPACK_SUCCESS;
    if (srv->acl) /* the ACL index follows every object's links */
        xoc_api_acl_object(srv->acl, obj->id, obj->type, obj->pool, ok ? &up.data : NULL);
    if (ok && xoc_api_buf_json_mp(srv->scratch, &up.data) == 0) {
        size_t len = xoc_api_buf_len(srv->scratch);
        if ((j = malloc(sizeof *j + len)) != NULL) {
            j->len = len;
            memcpy(j->text, xoc_api_buf_data(srv->scratch), len);
            zhashx_update(srv->json, obj->id, j);
            xoc_replica_set_user(srv->replica, obj, j); /* for xo.getAllObjects's walk */
        }
    }
    if (!j) {
        zhashx_delete(srv->json, obj->id);
        xoc_replica_set_user(srv->replica, obj, NULL); /* it pointed to the text just freed */
    }
    msgpack_unpacked_destroy(&up);
    return j;
}

/* reads the coalescing keys and makes the window's map, once */
static zhashx_t *s_pending(xoc_api_server_t *srv)
{
    if (!srv->push_pending && (srv->push_pending = zhashx_new()) != NULL) {
        srv->push_coalesce_ms = srv->cfg ? xoc_cfg_int(srv->cfg, "api.push_coalesce_ms") : 0;
        srv->push_coalesce_max =
            (size_t)(srv->cfg ? xoc_cfg_int(srv->cfg, "api.push_coalesce_max_kib") : 4096) * 1024;
        srv->push_adaptive = srv->cfg && xoc_cfg_bool(srv->cfg, "api.push_adaptive");
    }
    return srv->push_pending;
}

void xoc_api_objects_change(xoc_replica_t *replica, bool enter, const xoc_replica_obj_t *obj,
                            void *arg)
{
    xoc_api_server_t *srv = arg;
    xoc_api_sse_before(srv, obj); /* the state before, for the event stream's subscriptions */
    const xoc_api_json_t *j = s_cache(srv, enter, obj);
    xoc_api_sse_change(srv, enter, obj);
    if (srv->signed_in == 0 || (enter && !j) || !s_pending(srv))
        return; /* nobody to tell: the initial snapshot only fills the cache */
    /* the last state of each id only: an object entered then removed in one window is sent
       as an exit, removed then entered again as an enter (with its JSON at the flush) */
    zhashx_update(srv->push_pending, obj->id, (void *)(intptr_t)(enter ? 1 : 2));
    srv->push_pending_bytes += strlen(obj->id) + 8 + (enter ? j->len : 0);
}

static xoc_api_buf_t *s_notification(const char *type, const xoc_api_buf_t *items)
{
    xoc_api_buf_t *doc = xoc_api_buf_new(xoc_api_buf_len(items) + 96);
    if (!doc)
        return NULL;
    xoc_api_buf_puts(doc, "{\"jsonrpc\":\"2.0\",\"method\":\"all\",\"params\":{\"type\":\"");
    xoc_api_buf_puts(doc, type);
    xoc_api_buf_puts(doc, "\",\"items\":{");
    xoc_api_buf_put(doc, xoc_api_buf_data(items), xoc_api_buf_len(items));
    if (xoc_api_buf_puts(doc, "}}}") != 0)
        xoc_api_buf_unref(&doc);
    return doc;
}

xoc_api_buf_t *xoc_api_objects_notification(xoc_api_server_t *srv, bool enter,
                                            const char *const *ids, size_t n)
{
    xoc_api_buf_t *items = xoc_api_buf_new(enter ? n * 1024 : n * 48);
    size_t written = 0;
    for (size_t i = 0; items && i < n; i++) {
        const xoc_api_json_t *j = enter ? zhashx_lookup(srv->json, ids[i]) : NULL;
        if (enter && !j)
            continue;
        if (written++)
            xoc_api_buf_putc(items, ',');
        xoc_api_buf_json_str(items, ids[i], strlen(ids[i]));
        xoc_api_buf_putc(items, ':');
        if (j)
            xoc_api_buf_put(items, j->text, j->len);
        else
            xoc_api_buf_putc(items, '0');
    }
    xoc_api_buf_t *doc = written ? s_notification(enter ? "enter" : "exit", items) : NULL;
    xoc_api_buf_unref(&items);
    return doc;
}

/* the window's items of one kind ("id":<JSON> or "id":0) into *buf; their count */
static size_t s_items(xoc_api_server_t *srv, bool enter, xoc_api_buf_t **buf)
{
    size_t n = 0;
    for (void *v = zhashx_first(srv->push_pending); v; v = zhashx_next(srv->push_pending)) {
        if ((intptr_t)v != (enter ? 1 : 2))
            continue;
        const char *id = zhashx_cursor(srv->push_pending);
        const xoc_api_json_t *j = enter ? zhashx_lookup(srv->json, id) : NULL;
        if (enter && !j)
            continue;
        if (n == 0) {
            if (!*buf && !(*buf = xoc_api_buf_new(64 * 1024)))
                return 0;
            xoc_api_buf_reset(*buf);
        } else
            xoc_api_buf_putc(*buf, ',');
        xoc_api_buf_json_str(*buf, id, strlen(id));
        xoc_api_buf_putc(*buf, ':');
        if (enter)
            xoc_api_buf_put(*buf, j->text, j->len);
        else
            xoc_api_buf_putc(*buf, '0');
        n++;
    }
    return n;
}

/* api.push_adaptive: after the pushes of a window, a mark: the next window waits for its
   "drained" event (xoc_api_objects_drained), so that under load the windows grow instead of
   the send queues */
static void s_mark(xoc_api_server_t *srv, uint64_t pushes_before)
{
    if (!srv->push_adaptive || srv->pushes == pushes_before || !srv->ws)
        return;
    if (xoc_api_ws_mark(srv->ws, ++srv->push_mark_seq) == 0)
        srv->push_inflight = true;
}

void xoc_api_objects_flush(xoc_api_server_t *srv)
{
    if (srv->push_armed) {
        zloop_timer_end(srv->node.loop, srv->push_timer);
        srv->push_armed = false;
    }
    srv->push_last_flush = zclock_mono();
    srv->push_windows++;
    srv->push_waiting = false;
    uint64_t pushes_before = srv->pushes;
    xoc_api_access_flush(srv); /* non-admin sessions */
    xoc_api_sse_batch(srv, srv->push_rev);
    if (!srv->push_pending || zhashx_size(srv->push_pending) == 0) {
        s_mark(srv, pushes_before);
        return;
    }
    size_t n_enter = s_items(srv, true, &srv->push_enter);
    xoc_api_buf_t *enter = n_enter ? s_notification("enter", srv->push_enter) : NULL;
    size_t n_exit = s_items(srv, false, &srv->push_exit);
    xoc_api_buf_t *exit = n_exit ? s_notification("exit", srv->push_exit) : NULL;
    /* super-admins get the shared notifications, the others theirs from
       xoc_api_access_flush (what they may view, and what entered or left their view) */
    size_t n = 0, cap = zhashx_size(srv->sessions) + 1;
    uint64_t *conns = (enter || exit) ? malloc(cap * sizeof *conns) : NULL;
    for (xoc_api_session_t *s = zhashx_first(srv->sessions); conns && s;
         s = zhashx_next(srv->sessions))
        if (s->user_id[0] && xoc_api_acl_user_admin(s->acl) && n < cap)
            conns[n++] = s->conn;
    if (n) {
        if (enter)
            xoc_api_ws_push(srv->ws, conns, n, enter);
        if (exit)
            xoc_api_ws_push(srv->ws, conns, n, exit);
        srv->pushes += n;
    }
    free(conns);
    s_mark(srv, pushes_before);
    xoc_trace("pushed window rev=%llu enter=%zu exit=%zu sessions=%zu",
              (unsigned long long)srv->push_rev, n_enter, n_exit, n);
    xoc_api_buf_unref(&enter);
    xoc_api_buf_unref(&exit);
    zhashx_purge(srv->push_pending);
    srv->push_pending_bytes = 0;
    if (srv->push_enter && xoc_api_buf_len(srv->push_enter) > 4 * 1024 * 1024)
        xoc_api_buf_unref(&srv->push_enter); /* give a big window's buffer back */
}

static int s_on_window(zloop_t *loop, int timer_id, void *arg)
{
    xoc_api_server_t *srv = arg;
    srv->push_armed = false; /* a one-shot timer: zloop has dropped it */
    xoc_api_objects_flush(srv);
    return 0;
}

/* the window waiting goes now, or the timer is armed for when it may go */
static void s_schedule(xoc_api_server_t *srv)
{
    /* the first batch after a quiet window goes at once; the next ones wait for the end of
       the window that follows the previous flush (at most one flush per window); with
       api.push_adaptive, also for the previous window's pushes to have had their turn on
       every connection (drained), at most S_PUSH_STALL_MS */
    int64_t window = srv->push_coalesce_ms;
    if (srv->push_inflight && window < S_PUSH_STALL_MS)
        window = S_PUSH_STALL_MS;
    int64_t wait = srv->push_last_flush + window - zclock_mono();
    if (window <= 0 || wait <= 0 || srv->push_pending_bytes >= srv->push_coalesce_max ||
        !srv->node.loop) {
        xoc_api_objects_flush(srv);
        return;
    }
    if (srv->push_armed)
        zloop_timer_end(srv->node.loop, srv->push_timer);
    srv->push_timer = zloop_timer(srv->node.loop, (size_t)wait, 1, s_on_window, srv);
    srv->push_armed = srv->push_timer >= 0;
    if (!srv->push_armed)
        xoc_api_objects_flush(srv);
}

void xoc_api_objects_batch(xoc_replica_t *replica, uint64_t rev, void *arg)
{
    xoc_api_server_t *srv = arg;
    srv->push_rev = rev;
    srv->push_batches++;
    s_pending(srv);
    srv->push_waiting = true;
    if (!srv->push_armed || srv->push_pending_bytes >= srv->push_coalesce_max)
        s_schedule(srv); /* else the timer flushes it */
}

void xoc_api_objects_drained(xoc_api_server_t *srv, uint64_t seq)
{
    if (seq != srv->push_mark_seq || !srv->push_inflight)
        return; /* an earlier mark, given up */
    srv->push_inflight = false;
    srv->push_drained++;
    if (srv->push_waiting)
        s_schedule(srv); /* now, or at the end of its window */
}

void xoc_api_objects_fini(xoc_api_server_t *srv)
{
    if (srv->push_armed && srv->node.loop)
        zloop_timer_end(srv->node.loop, srv->push_timer);
    srv->push_armed = false;
    zhashx_destroy(&srv->push_pending);
}
