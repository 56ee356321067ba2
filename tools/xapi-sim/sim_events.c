/*  sim_events — event.from (token, classes, blocking on the pool's condition variable,
    valid_ref_counts, EVENTS_LOST), event.inject, event.get_current_id, and the legacy
    event.register/next/unregister.                                                           */
#include "sim_call.h"

#include <inttypes.h>
#include <math.h>

/* ------------------------------------------------------------------------------------------ */
/*  Events                                                                                    */

typedef struct {
    bool all;
    bool cls[64];
    json_t *refs; /* specific "class/ref" subscriptions: array of ref strings */
} s_sub_t;

static int s_sub_parse(sim_call_t *c, json_t *classes, s_sub_t *sub)
{
    memset(sub, 0, sizeof *sub);
    sub->refs = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(classes, i, e)
    {
        const char *s = json_string_value(e);
        const char *slash = s ? strchr(s, '/') : NULL;
        char name[64];
        snprintf(name, sizeof name, "%.*s", slash ? (int)(slash - s) : 63, s ? s : "");
        const sim_class_t *cls = sim_call_cls(name);
        if (s && !strcmp(s, "*")) {
            sub->all = true;
        } else if (cls && slash) {
            json_array_append_new(sub->refs, json_string(slash + 1));
        } else if (cls) {
            sub->cls[cls->id] = true;
        } else if (!s || strcasecmp(name, "session") != 0) {
            json_decref(sub->refs);
            return sim_call_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", s ? s : "", NULL);
        }
    }
    return 0;
}

static bool s_sub_match(const s_sub_t *sub, const sim_obj_t *o)
{
    if (sub->all || sub->cls[o->cls])
        return true;
    size_t i;
    json_t *e;
    json_array_foreach(sub->refs, i, e) if (!strcmp(json_string_value(e), o->ref)) return true;
    return false;
}

static int s_token_parse(const char *tok, uint64_t *gen)
{
    *gen = 0;
    if (!tok)
        return -1;
    if (!*tok)
        return 0;
    char *end;
    *gen = strtoull(tok, &end, 10);
    return end != tok && (*end == '\0' || *end == ',') ? 0 : -1;
}

static void s_token_write(sim_call_t *c, uint64_t gen)
{
    char tok[64];
    snprintf(tok, sizeof tok, "%020" PRIu64 ",%020" PRIu64, gen, gen);
    sim_wr_str(c->w, tok);
}

/*  Collects the matching changes after token, oldest first.                                 */
static size_t s_collect(sim_pool_t *p, const s_sub_t *sub, uint64_t token, sim_obj_t ***out)
{
    size_t n = 0, cap = 0;
    sim_obj_t **v = NULL;
    for (sim_obj_t *o = sim_store_last(p->store); o && o->gen_mod > token; o = o->prev) {
        if ((o->deleted && o->gen_add > token) || !s_sub_match(sub, o))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
        }
        v[n++] = o;
    }
    for (size_t i = 0; i < n / 2; i++) {
        sim_obj_t *t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
    *out = v;
    return n;
}

static void s_write_event(sim_call_t *c, sim_obj_t *o, uint64_t token, bool legacy)
{
    const sim_class_t *cls = sim_schema_class(o->cls);
    sim_wr_t *w = c->w;
    char id[24];
    snprintf(id, sizeof id, "%" PRIu64, o->gen_mod);
    sim_wr_map_begin(w);
    sim_wr_key(w, "id", 2);
    sim_wr_str(w, id);
    sim_wr_key(w, "timestamp", 9);
    sim_wr_str(w, "0.0");
    sim_wr_key(w, "class", 5);
    sim_wr_str(w, cls->lname);
    sim_wr_key(w, "operation", 9);
    sim_wr_str(w, o->deleted ? "del" : o->gen_add > token ? "add" : "mod");
    sim_wr_key(w, "ref", 3);
    sim_wr_str(w, o->ref);
    if (legacy) {
        sim_wr_key(w, "obj_uuid", 8);
        sim_wr_str(w, o->uuid);
    }
    if (!o->deleted) {
        sim_wr_key(w, "snapshot", 8);
        sim_store_write(c->pool->store, w, o);
    }
    sim_wr_map_end(w);
}

static void s_write_counts(sim_call_t *c, const s_sub_t *sub)
{
    sim_wr_map_begin(c->w);
    for (int i = 0; i < sim_schema_count(); i++) {
        const sim_class_t *cls = sim_schema_class(i);
        if (!sub->all && !sub->cls[i])
            continue;
        sim_wr_key(c->w, cls->lname, strlen(cls->lname));
        sim_wr_i4(c->w, (int64_t)sim_store_count(c->pool->store, i));
    }
    sim_wr_map_end(c->w);
}

static int s_event_from(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    json_t *classes = json_array_get(c->params, 1);
    const char *tok = sim_call_str(c, 2);
    uint64_t token;
    s_sub_t sub;
    if (s_token_parse(tok, &token) != 0)
        return sim_call_err(c, "EVENT_FROM_TOKEN_PARSE_FAILURE", tok ? tok : "", NULL);
    if (!json_is_array(classes))
        return sim_call_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", "", NULL);
    if (s_sub_parse(c, classes, &sub) != 0)
        return -1;
    double timeout = sim_call_float(c, 3, 0.0);
    int64_t deadline = sim_now_ms() + (int64_t)(fmax(0.0, fmin(timeout, 86400.0)) * 1000.0);
    uint64_t epoch = p->drop_epoch;
    sim_obj_t **evs = NULL;
    size_t n = 0;
    for (;;) {
        if (token && token < sim_store_lost_gen(p->store)) {
            json_decref(sub.refs);
            return sim_call_err(c, "EVENTS_LOST", NULL);
        }
        n = s_collect(p, &sub, token, &evs);
        if (n || sim_now_ms() >= deadline || p->stop || p->drop_epoch != epoch)
            break;
        free(evs);
        evs = NULL;
        sim_store_wait(p->store, deadline);
    }
    sim_wr_map_begin(c->w);
    sim_wr_key(c->w, "events", 6);
    sim_wr_arr_begin(c->w);
    for (size_t i = 0; i < n; i++)
        s_write_event(c, evs[i], token, false);
    sim_wr_arr_end(c->w);
    sim_wr_key(c->w, "valid_ref_counts", 16);
    s_write_counts(c, &sub);
    sim_wr_key(c->w, "token", 5);
    s_token_write(c, sim_store_gen(p->store));
    sim_wr_map_end(c->w);
    free(evs);
    json_decref(sub.refs);
    return 0;
}

/*  Legacy events: event.register(classes), event.next() blocks until a change (or 60 s),
    event.unregister(classes).                                                               */
static int s_event_register(sim_call_t *c)
{
    sim_session_t *s = (sim_session_t *)c->session;
    json_t *classes = json_array_get(c->params, 1);
    s_sub_t sub;
    if (!json_is_array(classes))
        return sim_call_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", "", NULL);
    if (s_sub_parse(c, classes, &sub) != 0)
        return -1;
    json_decref(sub.refs);
    if (!s->registered) {
        s->registered = json_array();
        s->next_token = sim_store_gen(c->pool->store);
    }
    json_array_extend(s->registered, classes);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_event_unregister(sim_call_t *c)
{
    sim_session_t *s = (sim_session_t *)c->session;
    json_decref(s->registered);
    s->registered = NULL;
    sim_wr_str(c->w, "");
    return 0;
}

static int s_event_next(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    char ref[64];
    snprintf(ref, sizeof ref, "%s", c->session->ref);
    if (!c->session->registered)
        return sim_call_err(c, "SESSION_NOT_REGISTERED", ref, NULL);
    int64_t deadline = sim_now_ms() + 60000;
    uint64_t epoch = p->drop_epoch;
    for (;;) {
        sim_session_t *s = zhashx_lookup(p->sessions, ref);
        if (!s)
            return sim_call_err(c, "SESSION_INVALID", ref, NULL);
        if (!s->registered)
            return sim_call_err(c, "SESSION_NOT_REGISTERED", ref, NULL);
        if (s->next_token < sim_store_lost_gen(p->store))
            return sim_call_err(c, "EVENTS_LOST", NULL);
        s_sub_t sub;
        if (s_sub_parse(c, s->registered, &sub) != 0)
            return -1;
        sim_obj_t **evs = NULL;
        size_t n = s_collect(p, &sub, s->next_token, &evs);
        json_decref(sub.refs);
        if (n || sim_now_ms() >= deadline || p->stop || p->drop_epoch != epoch) {
            sim_wr_arr_begin(c->w);
            for (size_t i = 0; i < n; i++)
                s_write_event(c, evs[i], s->next_token, true);
            sim_wr_arr_end(c->w);
            s->next_token = sim_store_gen(p->store);
            free(evs);
            return 0;
        }
        free(evs);
        sim_store_wait(p->store, deadline);
    }
}

static int s_event_inject(sim_call_t *c)
{
    const char *cname = sim_call_str(c, 1), *ref = sim_call_str(c, 2);
    const sim_class_t *cls = sim_call_cls(cname ? cname : "");
    sim_obj_t *o = sim_store_get(c->pool->store, ref);
    if (!cls || !o || o->cls != cls->id)
        return sim_call_err(c, "HANDLE_INVALID", cname ? cname : "", ref ? ref : "", NULL);
    uint64_t before = sim_store_gen(c->pool->store);
    sim_store_touch(c->pool->store, o);
    s_token_write(c, before);
    return 0;
}

static int s_event_current_id(sim_call_t *c)
{
    sim_wr_int(c->w, (int64_t)sim_store_gen(c->pool->store));
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Methods of this module                                                                     */

const sim_method_t sim_events_methods[] = {
    {"event.from", 4, 4, s_event_from, false, false},
    {"event.inject", 3, 3, s_event_inject, false, false},
    {"event.get_current_id", 1, 1, s_event_current_id, false, false},
    {"event.register", 2, 2, s_event_register, false, false},
    {"event.unregister", 2, 2, s_event_unregister, false, false},
    {"event.next", 1, 1, s_event_next, false, false},
};

const size_t sim_events_nmethods = sizeof sim_events_methods / sizeof sim_events_methods[0];
