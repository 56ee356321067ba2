/*  sim_ctl — the sim.* control methods (loopback callers only, no session): dump, stats,
    faults (drop connections, stall, expire sessions, events lost, move master), objects, churn. */
#include "sim_call.h"

/* ------------------------------------------------------------------------------------------ */
/*  sim.* control methods (loopback only, no session)                                        */

static json_t *s_opt(sim_call_t *c, const char *key)
{
    json_t *a = json_array_get(c->params, 0);
    if (json_is_object(a))
        return json_object_get(a, key);
    return a;
}

static int s_sim_dump(sim_call_t *c)
{
    sim_store_t *st = c->pool->store;
    sim_wr_map_begin(c->w);
    for (int i = 0; i < sim_schema_count(); i++) {
        const sim_class_t *cls = sim_schema_class(i);
        sim_wr_key(c->w, cls->name, strlen(cls->name));
        sim_wr_map_begin(c->w);
        for (size_t k = 0; k < sim_store_count(st, i); k++) {
            sim_obj_t *o = sim_store_at(st, i, k);
            sim_wr_key(c->w, o->ref, strlen(o->ref));
            sim_store_write(c->pool->store, c->w, o);
        }
        sim_wr_map_end(c->w);
    }
    sim_wr_map_end(c->w);
    return 0;
}

static int s_sim_stats(sim_call_t *c)
{
    sim_store_t *st = c->pool->store;
    size_t total = 0;
    sim_wr_map_begin(c->w);
    for (int i = 0; i < sim_schema_count(); i++) {
        const sim_class_t *cls = sim_schema_class(i);
        sim_wr_key(c->w, cls->name, strlen(cls->name));
        sim_wr_i4(c->w, (int64_t)sim_store_count(st, i));
        total += sim_store_count(st, i);
    }
    sim_wr_key(c->w, "objects", 7);
    sim_wr_i4(c->w, (int64_t)total);
    sim_wr_key(c->w, "generation", 10);
    sim_wr_i4(c->w, (int64_t)sim_store_gen(st));
    sim_wr_key(c->w, "sessions", 8);
    sim_wr_i4(c->w, (int64_t)zhashx_size(c->pool->sessions));
    sim_wr_key(c->w, "churn_seq", 9);
    sim_wr_i4(c->w, (int64_t)c->pool->churn_seq);
    sim_wr_key(c->w, "record_cache_bytes", 18);
    sim_wr_int(c->w, (int64_t)sim_store_ser_bytes(st));
    sim_wr_map_end(c->w);
    return 0;
}

static void s_drop(sim_call_t *c)
{
    c->pool->drop_epoch++;
    sim_store_wake(c->pool->store);
    sim_drop_connections(c->pool->sim, c->conn_fd);
}

static int s_sim_drop(sim_call_t *c)
{
    s_drop(c);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_stall(sim_call_t *c)
{
    json_t *ms = s_opt(c, "ms");
    c->pool->stall_until_ms = sim_now_ms() + (json_is_integer(ms) ? json_integer_value(ms) : 0);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_expire(sim_call_t *c)
{
    zhashx_purge(c->pool->sessions);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_lost(sim_call_t *c)
{
    sim_store_lose_events(c->pool->store);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_find_host(sim_pool_t *p, json_t *h)
{
    if (json_is_integer(h))
        return (int)json_integer_value(h);
    const char *s = json_string_value(h);
    for (int i = 0; s && i < p->nhosts; i++) {
        sim_obj_t *o = sim_store_get(p->store, p->hosts[i].ref);
        if (!strcmp(p->hosts[i].ref, s) || !strcmp(p->hosts[i].ip, s) || (o && !strcmp(o->uuid, s)))
            return i;
        json_t *r = o ? sim_store_json(o) : NULL;
        bool match = r && !strcmp(sim_call_jstr(r, "name_label"), s);
        json_decref(r);
        if (match)
            return i;
    }
    return -1;
}

/* sim.host_down {host, ms}: that host closes every new request unanswered for ms (0: up) */
static int s_sim_host_down(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    int h = s_find_host(p, s_opt(c, "host"));
    json_t *ms = json_object_get(json_array_get(c->params, 0), "ms");
    if (h < 0 || h >= p->nhosts)
        return sim_call_err(c, "HANDLE_INVALID", "host", "", NULL);
    atomic_store(&p->hosts[h].down_until_ms,
                 json_is_integer(ms) && json_integer_value(ms) > 0
                     ? sim_now_ms() + json_integer_value(ms)
                     : 0);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_move_master(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    int h = s_find_host(p, s_opt(c, "host"));
    if (h < 0 || h >= p->nhosts)
        return sim_call_err(c, "HANDLE_INVALID", "host", "", NULL);
    p->master = h;
    sim_obj_t *po = sim_store_get(p->store, p->ref);
    json_t *r = sim_store_json(po);
    json_object_set_new(r, "master", json_string(p->hosts[h].ref));
    sim_store_update(p->store, po, r);
    json_decref(r);
    xoc_info("master moved pool=%s host=%s", p->name, p->hosts[h].ip);
    sim_wr_str(c->w, p->hosts[h].ref);
    json_t *drop = s_opt(c, "drop");
    if (!json_is_false(drop))
        s_drop(c);
    return 0;
}

static int s_sim_add_vm(sim_call_t *c)
{
    json_t *name = s_opt(c, "name");
    json_t *running = json_is_object(json_array_get(c->params, 0))
                          ? json_object_get(json_array_get(c->params, 0), "running")
                          : NULL;
    sim_obj_t *o = sim_gen_vm(c->pool, json_is_string(name) ? json_string_value(name) : "sim-vm",
                              json_is_true(running));
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_sim_remove(sim_call_t *c)
{
    json_t *ref = s_opt(c, "ref");
    sim_obj_t *o = sim_store_get(c->pool->store, json_string_value(ref));
    if (!o)
        return sim_call_err(c, "HANDLE_INVALID", "Object", json_string_value(ref) ?: "", NULL);
    /* readd: true — the same object (ref, uuid, fields) is added again at once: the event
       stream carries its del then its add (a client must end up with the object) */
    bool readd = json_is_true(json_is_object(json_array_get(c->params, 0))
                                  ? json_object_get(json_array_get(c->params, 0), "readd")
                                  : NULL);
    json_t *rec = readd ? sim_store_json(o) : NULL;
    int cls = o->cls;
    char keep[64];
    snprintf(keep, sizeof keep, "%s", o->ref);
    sim_store_remove(c->pool->store, o);
    if (rec) {
        sim_store_add(c->pool->store, cls, rec, keep);
        json_decref(rec);
    }
    sim_wr_str(c->w, "");
    return 0;
}

/*  sim.set_password {user, password}: the user's password on this pool changes (as when
    root's password is changed on a host); open sessions stay valid, new logins need it.     */
static int s_sim_set_password(sim_call_t *c)
{
    json_t *a = json_array_get(c->params, 0);
    json_t *user = json_is_object(a) ? json_object_get(a, "user") : a;
    json_t *pw = json_is_object(a) ? json_object_get(a, "password") : json_array_get(c->params, 1);
    if (!json_is_string(user) || !json_is_string(pw) || json_string_length(user) >= 64 ||
        json_string_length(pw) >= 64)
        return sim_call_err(c, "FIELD_TYPE_ERROR", "user, password", NULL);
    snprintf(c->pool->pw_user, sizeof c->pool->pw_user, "%s", json_string_value(user));
    snprintf(c->pool->pw_new, sizeof c->pool->pw_new, "%s", json_string_value(pw));
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_churn(sim_call_t *c)
{
    json_t *a = json_array_get(c->params, 0);
    json_t *mix = json_is_object(a) ? json_object_get(a, "mix") : json_array_get(c->params, 1);
    if (mix && !json_is_null(mix) &&
        (!json_is_string(mix) || sim_gen_mix_parse(json_string_value(mix), c->pool->churn_mix)))
        return sim_call_err(c, "FIELD_TYPE_ERROR", "mix", NULL);
    json_t *r = s_opt(c, "rate");
    c->pool->churn_rate = json_is_number(r) ? json_number_value(r) : 0.0;
    c->pool->churn_credit = 0;
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Methods of this module                                                                     */

const sim_method_t sim_ctl_methods[] = {
    {"sim.dump", 0, 1, s_sim_dump, true, false},
    {"sim.stats", 0, 1, s_sim_stats, true, false},
    {"sim.drop_connections", 0, 1, s_sim_drop, true, false},
    {"sim.stall", 1, 1, s_sim_stall, true, false},
    {"sim.expire_sessions", 0, 1, s_sim_expire, true, false},
    {"sim.events_lost", 0, 1, s_sim_lost, true, false},
    {"sim.move_master", 1, 1, s_sim_move_master, true, false},
    {"sim.host_down", 1, 1, s_sim_host_down, true, false},
    {"sim.add_vm", 0, 1, s_sim_add_vm, true, false},
    {"sim.remove_object", 1, 1, s_sim_remove, true, false},
    {"sim.churn", 1, 2, s_sim_churn, true, false},
    {"sim.set_password", 1, 2, s_sim_set_password, true, false},
};

const size_t sim_ctl_nmethods = sizeof sim_ctl_methods / sizeof sim_ctl_methods[0];
