/*  sim_api — serves XAPI calls on a pool: sessions, the generic class methods, events,
    VM lifecycle, tasks and Async calls, and the sim.* control namespace.                     */
#include "sim_patch.h"
#include "sim_pool.h"
#include "sim_rec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "xoc_log.h"

typedef int (*s_fn_t)(sim_call_t *c);

typedef struct {
    const char *name;
    int nmin;         /* parameter count, session included */
    int nmax;
    s_fn_t fn;
    bool no_session;
    bool async;       /* has an Async. variant */
} s_method_t;

/* ------------------------------------------------------------------------------------------ */
/*  Errors and parameters                                                                     */

static int s_err(sim_call_t *c, const char *code, ...)
{
    json_decref(c->err);
    c->err = json_array();
    json_array_append_new(c->err, json_string(code));
    va_list ap;
    va_start(ap, code);
    for (const char *p; (p = va_arg(ap, const char *));)
        json_array_append_new(c->err, json_string(p));
    va_end(ap);
    return -1;
}

static const char *s_pstr(sim_call_t *c, size_t i)
{
    return json_string_value(json_array_get(c->params, i));
}

/*  Ints arrive as decimal strings (XML-RPC) or numbers (JSON-RPC).                           */
static bool s_pint(sim_call_t *c, size_t i, int64_t *out)
{
    json_t *v = json_array_get(c->params, i);
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        *out = (int64_t)json_real_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    char *end;
    if (!s || !*s)
        return false;
    *out = strtoll(s, &end, 10);
    return *end == '\0';
}

static double s_pfloat(sim_call_t *c, size_t i, double def)
{
    json_t *v = json_array_get(c->params, i);
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    return s && *s ? strtod(s, NULL) : def;
}

/*  The object named by param i, of class cls (NULL: any class); HANDLE_INVALID otherwise.  */
static sim_obj_t *s_pobj(sim_call_t *c, size_t i, const sim_class_t *cls)
{
    const char *ref = s_pstr(c, i);
    sim_obj_t *o = sim_store_get(c->pool->store, ref);
    if (o && (!cls || o->cls == cls->id))
        return o;
    s_err(c, "HANDLE_INVALID", cls ? cls->name : "Object", ref ? ref : "", NULL);
    return NULL;
}

static const sim_class_t *s_cls(const char *name)
{
    return sim_schema_find(name);
}

static int s_cls_id(const char *name)
{
    const sim_class_t *c = sim_schema_find(name);
    return c ? c->id : -1;
}

/* ------------------------------------------------------------------------------------------ */
/*  Record helpers (lock held)                                                                */

static void s_set_add(json_t *rec, const char *field, const char *ref)
{
    json_t *a = json_object_get(rec, field);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(rec, field, a);
    }
    json_array_append_new(a, json_string(ref));
}

static void s_set_del(json_t *rec, const char *field, const char *ref)
{
    json_t *a = json_object_get(rec, field);
    for (size_t i = json_array_size(a); i-- > 0;)
        if (!strcmp(json_string_value(json_array_get(a, i)) ?: "", ref))
            json_array_remove(a, i);
}

/*  Adds or removes ref in the set field of the object named by owner.                       */
static void s_link(sim_pool_t *p, const char *owner, const char *field, const char *ref, bool add)
{
    sim_obj_t *o = sim_store_get(p->store, owner);
    if (!o)
        return;
    json_t *r = sim_store_json(o);
    if (add)
        s_set_add(r, field, ref);
    else
        s_set_del(r, field, ref);
    sim_store_update(p->store, o, r);
    json_decref(r);
}

static const char *s_jstr(json_t *rec, const char *field)
{
    return json_string_value(json_object_get(rec, field)) ?: "";
}

/* ------------------------------------------------------------------------------------------ */
/*  Sessions                                                                                  */

static const sim_session_t *s_session(sim_call_t *c)
{
    const char *ref = s_pstr(c, 0);
    const sim_session_t *s = ref ? zhashx_lookup(c->pool->sessions, ref) : NULL;
    if (!s)
        s_err(c, "SESSION_INVALID", ref ? ref : "", NULL);
    return s;
}

static bool s_auth(const sim_config_t *cfg, const char *user, const char *pw)
{
    for (int i = 0; i < cfg->nusers; i++)
        if (!strcmp(cfg->users[i], user) && !strcmp(cfg->passwords[i], pw))
            return true;
    return false;
}

int sim_api_auth(sim_pool_t *p, const char *session, const char *user, const char *pw)
{
    if (session && zhashx_lookup(p->sessions, session))
        return 0;
    return user && pw && s_auth(p->cfg, user, pw) ? 0 : -1;
}

static int s_login(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    const char *user = s_pstr(c, 0), *pw = s_pstr(c, 1);
    if (c->host && c->host->index != p->master)
        return s_err(c, "HOST_IS_SLAVE", p->hosts[p->master].ip, NULL);
    if (!user || !pw || !s_auth(p->cfg, user, pw))
        return s_err(c, "SESSION_AUTHENTICATION_FAILED", user ? user : "",
                     "Authentication failure", NULL);
    sim_session_t *s = calloc(1, sizeof *s);
    char u[40];
    sim_uuid(u);
    snprintf(s->ref, sizeof s->ref, "OpaqueRef:%s", u);
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(s->host_ref, sizeof s->host_ref, "%s", p->hosts[p->master].ref);
    zhashx_insert(p->sessions, s->ref, s);
    sim_wr_str(c->w, s->ref);
    return 0;
}

static int s_logout(sim_call_t *c)
{
    const char *ref = s_pstr(c, 0);
    if (ref)
        zhashx_delete(c->pool->sessions, ref);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_this_host(sim_call_t *c)
{
    sim_wr_str(c->w, c->session->host_ref);
    return 0;
}

static int s_this_user(sim_call_t *c)
{
    sim_wr_str(c->w, SIM_NULL_REF);
    return 0;
}

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
        const sim_class_t *cls = s_cls(name);
        if (s && !strcmp(s, "*")) {
            sub->all = true;
        } else if (cls && slash) {
            json_array_append_new(sub->refs, json_string(slash + 1));
        } else if (cls) {
            sub->cls[cls->id] = true;
        } else if (!s || strcasecmp(name, "session") != 0) {
            json_decref(sub->refs);
            return s_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", s ? s : "", NULL);
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

static void s_write_event(sim_call_t *c, const sim_obj_t *o, uint64_t token, bool legacy)
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
        sim_rec_write(w, cls, o->rec, o->len);
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
    const char *tok = s_pstr(c, 2);
    uint64_t token;
    s_sub_t sub;
    if (s_token_parse(tok, &token) != 0)
        return s_err(c, "EVENT_FROM_TOKEN_PARSE_FAILURE", tok ? tok : "", NULL);
    if (!json_is_array(classes))
        return s_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", "", NULL);
    if (s_sub_parse(c, classes, &sub) != 0)
        return -1;
    double timeout = s_pfloat(c, 3, 0.0);
    int64_t deadline = sim_now_ms() + (int64_t)(fmax(0.0, fmin(timeout, 86400.0)) * 1000.0);
    uint64_t epoch = p->drop_epoch;
    sim_obj_t **evs = NULL;
    size_t n = 0;
    for (;;) {
        if (token && token < sim_store_lost_gen(p->store)) {
            json_decref(sub.refs);
            return s_err(c, "EVENTS_LOST", NULL);
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
        return s_err(c, "EVENT_SUBSCRIPTION_PARSE_FAILURE", "", NULL);
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
        return s_err(c, "SESSION_NOT_REGISTERED", ref, NULL);
    int64_t deadline = sim_now_ms() + 60000;
    uint64_t epoch = p->drop_epoch;
    for (;;) {
        sim_session_t *s = zhashx_lookup(p->sessions, ref);
        if (!s)
            return s_err(c, "SESSION_INVALID", ref, NULL);
        if (!s->registered)
            return s_err(c, "SESSION_NOT_REGISTERED", ref, NULL);
        if (s->next_token < sim_store_lost_gen(p->store))
            return s_err(c, "EVENTS_LOST", NULL);
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
    const char *cname = s_pstr(c, 1), *ref = s_pstr(c, 2);
    const sim_class_t *cls = s_cls(cname ? cname : "");
    sim_obj_t *o = sim_store_get(c->pool->store, ref);
    if (!cls || !o || o->cls != cls->id)
        return s_err(c, "HANDLE_INVALID", cname ? cname : "", ref ? ref : "", NULL);
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
/*  Tasks                                                                                     */

sim_obj_t *sim_api_task_new(sim_pool_t *p, const char *label, const char *desc)
{
    char now[32];
    sim_gen_now(now);
    json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s}", "name_label", label,
                          "name_description", desc, "created", now, "status", "pending",
                          "allowed_operations", "cancel", "resident_on",
                          p->hosts[p->master].ref);
    sim_obj_t *o = sim_store_add(p->store, s_cls_id("task"), t, NULL);
    json_decref(t);
    return o;
}

/*  Ends a task with a result fragment (success) or an error array (failure).                */
void sim_api_task_end(sim_pool_t *p, sim_obj_t *task, const char *result, json_t *err)
{
    json_t *t = sim_store_json(task);
    char now[32];
    sim_gen_now(now);
    json_object_set_new(t, "finished", json_string(now));
    json_object_set_new(t, "progress", json_real(1.0));
    json_object_set_new(t, "allowed_operations", json_array());
    if (err) {
        json_object_set_new(t, "status", json_string("failure"));
        json_object_set(t, "error_info", err);
    } else {
        json_object_set_new(t, "status", json_string("success"));
        json_object_set_new(t, "result", json_string(result ? result : ""));
    }
    sim_store_update(p->store, task, t);
    json_decref(t);
}

static int s_task_create(sim_call_t *c)
{
    const char *label = s_pstr(c, 1), *desc = s_pstr(c, 2);
    sim_obj_t *o = sim_api_task_new(c->pool, label ? label : "", desc ? desc : "");
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_task_cancel(sim_call_t *c)
{
    sim_obj_t *o = s_pobj(c, 1, s_cls("task"));
    if (!o)
        return -1;
    json_t *t = sim_store_json(o);
    if (!strcmp(s_jstr(t, "status"), "pending")) {
        char now[32];
        sim_gen_now(now);
        json_object_set_new(t, "status", json_string("cancelled"));
        json_object_set_new(t, "finished", json_string(now));
        sim_store_update(c->pool->store, o, t);
        void *it = zlistx_first(c->pool->jobs);
        for (; it; it = zlistx_next(c->pool->jobs)) {
            sim_job_t *j = it;
            if (!strcmp(j->task, o->ref))
                j->steps_left = -1; /* dropped at the next tick */
        }
    }
    json_decref(t);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_destroy_generic(sim_call_t *c)
{
    sim_obj_t *o = s_pobj(c, 1, NULL);
    if (!o)
        return -1;
    sim_store_remove(c->pool->store, o);
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  VM lifecycle                                                                              */

enum { PS_HALTED = 1, PS_RUNNING = 2, PS_PAUSED = 4, PS_SUSPENDED = 8 };

static int s_ps(const char *s)
{
    return !strcmp(s, "Halted") ? PS_HALTED : !strcmp(s, "Running") ? PS_RUNNING
           : !strcmp(s, "Paused") ? PS_PAUSED : !strcmp(s, "Suspended") ? PS_SUSPENDED : 0;
}

typedef struct {
    const char *method;
    int from;           /* allowed power states */
    const char *expect; /* expected state in VM_BAD_POWER_STATE */
    const char *to;
    int host_param;     /* index of a host param (start_on, resume_on), 0 if none */
} s_power_t;

static const s_power_t s_power[] = {
    {"VM.start", PS_HALTED, "halted", "Running", 0},
    {"VM.start_on", PS_HALTED, "halted", "Running", 2},
    {"VM.clean_shutdown", PS_RUNNING, "running", "Halted", 0},
    {"VM.hard_shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "running", "Halted", 0},
    {"VM.shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "running", "Halted", 0},
    {"VM.clean_reboot", PS_RUNNING, "running", "Running", 0},
    {"VM.hard_reboot", PS_RUNNING | PS_PAUSED, "running", "Running", 0},
    {"VM.suspend", PS_RUNNING, "running", "Suspended", 0},
    {"VM.resume", PS_SUSPENDED, "suspended", "Running", 0},
    {"VM.resume_on", PS_SUSPENDED, "suspended", "Running", 2},
    {"VM.pause", PS_RUNNING, "running", "Paused", 0},
    {"VM.unpause", PS_PAUSED, "paused", "Running", 0},
};

static void s_lower(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        dst[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
    dst[i] = '\0';
}

/*  Console objects exist while the VM runs, as on a host.                                   */
static void s_vm_consoles(sim_pool_t *p, sim_obj_t *vmo, json_t *vm, bool running)
{
    json_t *cons = json_object_get(vm, "consoles");
    if (running && json_array_size(cons) == 0) {
        char loc[200];
        json_t *cr = json_pack("{s:s, s:s}", "protocol", "rfb", "VM", vmo->ref);
        sim_obj_t *co = sim_store_add(p->store, s_cls_id("console"), cr, NULL);
        sim_gen_console_location(p, s_jstr(vm, "resident_on"), co->uuid, loc, sizeof loc);
        json_object_set_new(cr, "location", json_string(loc));
        sim_store_update(p->store, co, cr);
        json_decref(cr);
        s_set_add(vm, "consoles", co->ref);
    } else if (!running) {
        size_t i;
        json_t *e;
        json_array_foreach(cons, i, e)
        {
            sim_obj_t *co = sim_store_get(p->store, json_string_value(e));
            if (co)
                sim_store_remove(p->store, co);
        }
        json_array_clear(cons);
    }
}

static void s_vm_metrics(sim_pool_t *p, json_t *vm, const char *state)
{
    sim_obj_t *m = sim_store_get(p->store, s_jstr(vm, "metrics"));
    if (!m)
        return;
    json_t *r = sim_store_json(m);
    char now[32];
    sim_gen_now(now);
    bool up = !strcmp(state, "Running") || !strcmp(state, "Paused");
    json_object_set_new(r, "state", up ? json_pack("[s]", "running") : json_array());
    if (up)
        json_object_set_new(r, "start_time", json_string(now));
    json_object_set_new(r, "last_updated", json_string(now));
    json_t *target = json_object_get(vm, "memory_target");
    json_object_set_new(r, "memory_actual", json_integer(up ? json_integer_value(target) : 0));
    sim_store_update(p->store, m, r);
    json_decref(r);
}

/*  Moves the VM to state `to` on host (or off any host).                                    */
static void s_vm_set_state(sim_pool_t *p, sim_obj_t *vmo, json_t *vm, const char *to,
                           const char *host)
{
    const char *old_host = s_jstr(vm, "resident_on");
    bool up = !strcmp(to, "Running") || !strcmp(to, "Paused");
    if (strcmp(old_host, SIM_NULL_REF) && (!up || strcmp(old_host, host)))
        s_link(p, old_host, "resident_VMs", vmo->ref, false);
    if (up && strcmp(old_host, host))
        s_link(p, host, "resident_VMs", vmo->ref, true);
    json_object_set_new(vm, "resident_on", json_string(up ? host : SIM_NULL_REF));
    if (up && (!strcmp(json_string_value(json_object_get(vm, "power_state")), "Halted") ||
               !strcmp(json_string_value(json_object_get(vm, "power_state")), "Suspended")))
        json_object_set_new(vm, "domid", json_integer(1 + (int64_t)(sim_gen_rand(p) % 4000)));
    if (!up)
        json_object_set_new(vm, "domid", json_integer(-1));
    json_object_set_new(vm, "power_state", json_string(to));
    s_vm_consoles(p, vmo, vm, up);
    s_vm_metrics(p, vm, to);
    sim_gen_vm_ops(vm);
}

static int s_vm_power(sim_call_t *c, const s_power_t *op)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = s_pobj(c, 1, s_cls("VM"));
    sim_obj_t *host = NULL;
    if (!vmo)
        return -1;
    if (op->host_param && !(host = s_pobj(c, (size_t)op->host_param, s_cls("host"))))
        return -1;
    json_t *vm = sim_store_json(vmo);
    int rc = -1;
    const char *ps = s_jstr(vm, "power_state");
    if (json_is_true(json_object_get(vm, "is_a_template"))) {
        s_err(c, "VM_IS_TEMPLATE", vmo->ref, NULL);
        goto cleanup_vm;
    }
    if (json_is_true(json_object_get(vm, "is_control_domain"))) {
        s_err(c, "OPERATION_NOT_ALLOWED", "This operation is not allowed on dom0", NULL);
        goto cleanup_vm;
    }
    if (!(s_ps(ps) & op->from)) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        s_err(c, "VM_BAD_POWER_STATE", vmo->ref, op->expect, actual, NULL);
        goto cleanup_vm;
    }
    const char *target = host ? host->ref : s_jstr(vm, "resident_on");
    if (!strcmp(target, SIM_NULL_REF)) {
        sim_obj_t *h = sim_store_at(p->store, s_cls_id("host"),
                                    sim_gen_rand(p) % sim_store_count(p->store, s_cls_id("host")));
        target = h->ref;
    }
    char tgt[64];
    snprintf(tgt, sizeof tgt, "%s", target);
    s_vm_set_state(p, vmo, vm, op->to, tgt);
    sim_store_update(p->store, vmo, vm);
    sim_wr_str(c->w, "");
    rc = 0;
cleanup_vm:
    json_decref(vm);
    return rc;
}

static int s_vm_power_call(sim_call_t *c)
{
    for (size_t i = 0; i < sizeof s_power / sizeof s_power[0]; i++)
        if (!strcmp(c->method, s_power[i].method))
            return s_vm_power(c, &s_power[i]);
    return s_err(c, "MESSAGE_METHOD_UNKNOWN", c->method, NULL);
}

/*  Copies the object named by ref with fields overridden by `over`; returns the new ref.     */
static sim_obj_t *s_dup(sim_pool_t *p, const char *ref, json_t *over)
{
    sim_obj_t *o = sim_store_get(p->store, ref);
    if (!o)
        return NULL;
    json_t *r = sim_store_json(o);
    json_object_del(r, "uuid");
    json_object_update(r, over);
    sim_obj_t *n = sim_store_add(p->store, o->cls, r, NULL);
    json_decref(r);
    return n;
}

/*  Clones the VBDs (and their VDIs) of src onto the new VM.                                  */
static void s_clone_vbds(sim_pool_t *p, json_t *src, sim_obj_t *nvm, json_t *nrec,
                         const char *sr, bool snapshot)
{
    json_t *vbds = json_object_get(src, "VBDs");
    json_t *newvbds = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(vbds, i, e)
    {
        sim_obj_t *vbd = sim_store_get(p->store, json_string_value(e));
        json_t *vr = vbd ? sim_store_json(vbd) : NULL;
        const char *vdi_ref = vr ? s_jstr(vr, "VDI") : SIM_NULL_REF;
        char nvdi[64] = SIM_NULL_REF;
        sim_obj_t *vdi = sim_store_get(p->store, vdi_ref);
        if (vdi) {
            json_t *ov = json_pack("{s:[], s:b, s:s}", "VBDs", "is_a_snapshot", snapshot,
                                   "snapshot_of", snapshot ? vdi_ref : SIM_NULL_REF);
            if (sr)
                json_object_set_new(ov, "SR", json_string(sr));
            sim_obj_t *nv = s_dup(p, vdi_ref, ov);
            json_decref(ov);
            json_t *nvr = sim_store_json(nv);
            snprintf(nvdi, sizeof nvdi, "%s", nv->ref);
            s_link(p, s_jstr(nvr, "SR"), "VDIs", nv->ref, true);
            json_decref(nvr);
        }
        if (vr) {
            json_t *ov = json_pack("{s:s, s:s, s:b}", "VM", nvm->ref, "VDI", nvdi,
                                   "currently_attached", 0);
            sim_obj_t *nb = s_dup(p, vbd->ref, ov);
            json_decref(ov);
            json_array_append_new(newvbds, json_string(nb->ref));
            if (strcmp(nvdi, SIM_NULL_REF))
                s_link(p, nvdi, "VBDs", nb->ref, true);
        }
        json_decref(vr);
    }
    json_object_set_new(nrec, "VBDs", newvbds);
}

static void s_clone_vifs(sim_pool_t *p, json_t *src, sim_obj_t *nvm, json_t *nrec)
{
    json_t *vifs = json_object_get(src, "VIFs");
    json_t *nv = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(vifs, i, e)
    {
        uint64_t r = sim_gen_rand(p);
        char mac[24];
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", 0x02 | (unsigned)(r & 0xfc),
                 (unsigned)(r >> 8) & 0xff, (unsigned)(r >> 16) & 0xff,
                 (unsigned)(r >> 24) & 0xff, (unsigned)(r >> 32) & 0xff,
                 (unsigned)(r >> 40) & 0xff);
        json_t *ov = json_pack("{s:s, s:s, s:b}", "VM", nvm->ref, "MAC", mac,
                               "currently_attached", 0);
        sim_obj_t *o = s_dup(p, json_string_value(e), ov);
        json_decref(ov);
        if (!o)
            continue;
        json_array_append_new(nv, json_string(o->ref));
        json_t *vr = sim_store_json(o);
        s_link(p, s_jstr(vr, "network"), "VIFs", o->ref, true);
        json_decref(vr);
    }
    json_object_set_new(nrec, "VIFs", nv);
}

typedef enum { S_CLONE, S_COPY, S_SNAPSHOT } s_clone_kind_t;

static int s_vm_clone_kind(sim_call_t *c, s_clone_kind_t kind)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = s_pobj(c, 1, s_cls("VM"));
    const char *name = s_pstr(c, 2);
    const char *sr = NULL;
    if (!vmo)
        return -1;
    if (kind == S_COPY && !(sr = s_pstr(c, 3)))
        return s_err(c, "HANDLE_INVALID", "SR", "", NULL);
    if (kind == S_COPY && strcmp(sr, "") && strcmp(sr, SIM_NULL_REF) && !s_pobj(c, 3, s_cls("SR")))
        return -1;
    if (sr && (!strcmp(sr, "") || !strcmp(sr, SIM_NULL_REF)))
        sr = NULL;
    json_t *vm = sim_store_json(vmo);
    const char *ps = s_jstr(vm, "power_state");
    if (kind != S_SNAPSHOT && strcmp(ps, "Halted") && strcmp(ps, "Suspended") &&
        !json_is_true(json_object_get(vm, "is_a_template"))) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return s_err(c, "VM_BAD_POWER_STATE", vmo->ref, "halted", actual, NULL);
    }
    char now[32];
    sim_gen_now(now);
    json_t *n = json_deep_copy(vm);
    json_object_del(n, "uuid");
    json_object_set_new(n, "name_label", json_string(name ? name : ""));
    json_object_set_new(n, "power_state", json_string(kind == S_SNAPSHOT ? ps : "Halted"));
    json_object_set_new(n, "resident_on", json_string(SIM_NULL_REF));
    json_object_set_new(n, "domid", json_integer(-1));
    json_object_set_new(n, "snapshots", json_array());
    json_object_set_new(n, "consoles", json_array());
    json_object_set_new(n, "current_operations", json_object());
    json_object_set_new(n, "is_a_snapshot", json_boolean(kind == S_SNAPSHOT));
    json_object_set_new(n, "snapshot_of", json_string(kind == S_SNAPSHOT ? vmo->ref : SIM_NULL_REF));
    json_object_set_new(n, "snapshot_time", json_string(kind == S_SNAPSHOT ? now : SIM_NULL_DATE));
    json_object_set_new(n, "parent", json_string(kind == S_SNAPSHOT ? SIM_NULL_REF : vmo->ref));
    json_t *none = json_object();
    sim_obj_t *mo = s_dup(p, s_jstr(vm, "metrics"), none);
    json_decref(none);
    json_object_set_new(n, "metrics", json_string(mo ? mo->ref : SIM_NULL_REF));
    json_object_set_new(n, "guest_metrics", json_string(SIM_NULL_REF));
    json_object_set_new(n, "VBDs", json_array());
    json_object_set_new(n, "VIFs", json_array());
    sim_gen_vm_ops(n);
    if (kind == S_SNAPSHOT)
        json_object_set_new(n, "allowed_operations", json_pack("[s,s,s,s]", "clone", "copy",
                                                               "destroy", "export"));
    sim_obj_t *no = sim_store_add(p->store, vmo->cls, n, NULL);
    s_clone_vbds(p, vm, no, n, sr, kind == S_SNAPSHOT);
    s_clone_vifs(p, vm, no, n);
    sim_store_update(p->store, no, n);
    if (kind == S_SNAPSHOT) {
        s_set_add(vm, "snapshots", no->ref);
        sim_store_update(p->store, vmo, vm);
    }
    json_decref(n);
    json_decref(vm);
    sim_wr_str(c->w, no->ref);
    return 0;
}

static int s_vm_clone(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_CLONE);
}

static int s_vm_copy(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_COPY);
}

static int s_vm_snapshot(sim_call_t *c)
{
    return s_vm_clone_kind(c, S_SNAPSHOT);
}

/*  Removes the objects named in a set field of rec, unlinking them from their other owner.   */
static void s_remove_refs(sim_pool_t *p, json_t *rec, const char *field, const char *back_field,
                          const char *back_set)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(rec, field), i, e)
    {
        sim_obj_t *o = sim_store_get(p->store, json_string_value(e));
        if (!o)
            continue;
        if (back_field) {
            json_t *r = sim_store_json(o);
            s_link(p, s_jstr(r, back_field), back_set, o->ref, false);
            json_decref(r);
        }
        sim_store_remove(p->store, o);
    }
}

static int s_vm_destroy(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *vmo = s_pobj(c, 1, s_cls("VM"));
    if (!vmo)
        return -1;
    json_t *vm = sim_store_json(vmo);
    const char *ps = s_jstr(vm, "power_state");
    if (strcmp(ps, "Halted") && strcmp(ps, "Suspended")) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return s_err(c, "VM_BAD_POWER_STATE", vmo->ref, "halted", actual, NULL);
    }
    s_remove_refs(p, vm, "VBDs", "VDI", "VBDs");
    s_remove_refs(p, vm, "VIFs", "network", "VIFs");
    s_remove_refs(p, vm, "consoles", NULL, NULL);
    const char *owned[] = {"metrics", "guest_metrics"};
    for (int i = 0; i < 2; i++) {
        sim_obj_t *o = sim_store_get(p->store, s_jstr(vm, owned[i]));
        if (o)
            sim_store_remove(p->store, o);
    }
    const char *of = s_jstr(vm, "snapshot_of");
    if (strcmp(of, SIM_NULL_REF))
        s_link(p, of, "snapshots", vmo->ref, false);
    sim_store_remove(p->store, vmo);
    json_decref(vm);
    sim_wr_str(c->w, "");
    return 0;
}

/*  VM.pool_migrate(vm, host, options): a running or paused VM moves to another host.        */
static int s_vm_pool_migrate(sim_call_t *c)
{
    sim_obj_t *vmo = s_pobj(c, 1, s_cls("VM"));
    sim_obj_t *host = vmo ? s_pobj(c, 2, s_cls("host")) : NULL;
    if (!host)
        return -1;
    json_t *vm = sim_store_json(vmo);
    const char *ps = s_jstr(vm, "power_state");
    if (strcmp(ps, "Running") && strcmp(ps, "Paused")) {
        char actual[16];
        s_lower(actual, sizeof actual, ps);
        json_decref(vm);
        return s_err(c, "VM_BAD_POWER_STATE", vmo->ref, "running", actual, NULL);
    }
    char to[16];
    snprintf(to, sizeof to, "%s", ps);
    s_vm_set_state(c->pool, vmo, vm, to, host->ref);
    sim_store_update(c->pool->store, vmo, vm);
    json_decref(vm);
    sim_wr_str(c->w, "");
    return 0;
}

/*  host.evacuate(host): its running VMs move to the other hosts (HOST_NOT_ENOUGH_FREE_MEMORY
    in a one-host pool).                                                                     */
static int s_host_evacuate(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *h = s_pobj(c, 1, s_cls("host"));
    if (!h)
        return -1;
    if (p->nhosts < 2)
        return s_err(c, "HOST_NOT_ENOUGH_FREE_MEMORY", "0", "0", NULL);
    json_t *hr = sim_store_json(h);
    json_t *vms = json_deep_copy(json_object_get(hr, "resident_VMs"));
    json_decref(hr);
    int next = 0;
    size_t i;
    json_t *e;
    json_array_foreach(vms, i, e)
    {
        sim_obj_t *vmo = sim_store_get(p->store, json_string_value(e));
        json_t *vm = vmo ? sim_store_json(vmo) : NULL;
        if (vm && !json_is_true(json_object_get(vm, "is_control_domain"))) {
            if (!strcmp(p->hosts[next % p->nhosts].ref, h->ref))
                next++;
            char to[16];
            snprintf(to, sizeof to, "%s", s_jstr(vm, "power_state"));
            s_vm_set_state(p, vmo, vm, to, p->hosts[next++ % p->nhosts].ref);
            sim_store_update(p->store, vmo, vm);
        }
        json_decref(vm);
    }
    json_decref(vms);
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Messages, plugins, pool                                                                  */

static int s_message_create(sim_call_t *c)
{
    int64_t prio = 3;
    s_pint(c, 2, &prio);
    char now[32];
    sim_gen_now(now);
    json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "name", s_pstr(c, 1) ?: "",
                          "priority", (json_int_t)prio, "cls", s_pstr(c, 3) ?: "VM", "obj_uuid",
                          s_pstr(c, 4) ?: "", "timestamp", now, "body", s_pstr(c, 5) ?: "");
    sim_obj_t *o = sim_store_add(c->pool->store, s_cls_id("message"), m, NULL);
    json_decref(m);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_message_get_since(sim_call_t *c)
{
    const char *since = s_pstr(c, 1);
    json_t *v = json_array_get(c->params, 1);
    const sim_class_t *cls = s_cls("message");
    sim_wr_map_begin(c->w);
    for (size_t i = 0; i < sim_store_count(c->pool->store, cls->id); i++) {
        sim_obj_t *o = sim_store_at(c->pool->store, cls->id, i);
        json_t *ts = sim_rec_field(cls, o->rec, o->len, sim_schema_field(cls, "timestamp"));
        bool newer = !since || !json_is_string(v) || strcmp(json_string_value(ts), since) > 0;
        json_decref(ts);
        if (!newer)
            continue;
        sim_wr_key(c->w, o->ref, strlen(o->ref));
        sim_rec_write(c->w, cls, o->rec, o->len);
    }
    sim_wr_map_end(c->w);
    return 0;
}

static int s_call_plugin(sim_call_t *c)
{
    sim_obj_t *h = s_pobj(c, 1, s_cls("host"));
    const char *plugin = s_pstr(c, 2), *fn = s_pstr(c, 3);
    if (!h)
        return -1;
    if (!plugin || strcmp(plugin, "updater.py"))
        return s_err(c, "XENAPI_MISSING_PLUGIN", plugin ? plugin : "", NULL);
    json_t *hr = sim_store_json(h);
    json_t *oc = json_object_get(hr, "other_config");
    bool updated = json_object_get(oc, "sim:yum-updated") != NULL;
    if (fn && !strcmp(fn, "update") && !updated) {
        json_object_set_new(oc, "sim:yum-updated", json_string("true"));
        sim_store_update(c->pool->store, h, hr);
    }
    json_decref(hr);
    if (fn && !strcmp(fn, "check_update") && updated) {
        sim_wr_str(c->w, "[]");
        return 0;
    }
    if (fn && !strcmp(fn, "check_update")) {
        sim_wr_str(c->w, "[{\"name\":\"xapi-core\",\"version\":\"1.249.38\",\"release\":"
                         "\"1.2.xcpng8.2\",\"description\":\"xapi toolstack\",\"changelog\":null,"
                         "\"url\":\"\",\"size\":4200000,\"license\":\"LGPL\"}]");
        return 0;
    }
    if (fn && (!strcmp(fn, "update") || !strcmp(fn, "query_installed"))) {
        sim_wr_str(c->w, "");
        return 0;
    }
    return s_err(c, "XENAPI_PLUGIN_FAILURE", "unknown command", fn ? fn : "", "", NULL);
}

/* ------------------------------------------------------------------------------------------ */
/*  pool_patch, pool_update, VDI.create                                                       */

static int s_void(sim_call_t *c)
{
    sim_wr_str(c->w, "");
    return 0;
}

static int s_host_patch(sim_call_t *c, sim_obj_t *patch, sim_obj_t *host)
{
    sim_pool_t *p = c->pool;
    json_t *pr = sim_store_json(patch);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(pr, "host_patches"), i, e)
    {
        sim_obj_t *hp = sim_store_get(p->store, json_string_value(e));
        json_t *hr = hp ? sim_store_json(hp) : NULL;
        bool same = hr && !strcmp(s_jstr(hr, "host"), host->ref);
        json_decref(hr);
        if (same) {
            json_decref(pr);
            return s_err(c, "PATCH_ALREADY_APPLIED", patch->uuid, NULL);
        }
    }
    char now[32];
    sim_gen_now(now);
    json_t *hp = json_pack("{s:O, s:O, s:s, s:b, s:s, s:O, s:s}", "name_label",
                           json_object_get(pr, "name_label"), "version",
                           json_object_get(pr, "version"), "host", host->ref, "applied", 1,
                           "timestamp_applied", now, "size", json_object_get(pr, "size"),
                           "pool_patch", patch->ref);
    sim_obj_t *o = sim_store_add(p->store, s_cls_id("host_patch"), hp, NULL);
    json_decref(hp);
    s_set_add(pr, "host_patches", o->ref);
    sim_store_update(p->store, patch, pr);
    json_decref(pr);
    s_link(p, host->ref, "patches", o->ref, true);
    return 0;
}

static int s_patch_apply(sim_call_t *c)
{
    sim_obj_t *patch = s_pobj(c, 1, s_cls("pool_patch"));
    sim_obj_t *host = patch ? s_pobj(c, 2, s_cls("host")) : NULL;
    if (!host || s_host_patch(c, patch, host) != 0)
        return -1;
    return s_void(c);
}

static int s_patch_pool_apply(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *patch = s_pobj(c, 1, s_cls("pool_patch"));
    if (!patch)
        return -1;
    for (int i = 0; i < p->nhosts; i++) {
        sim_obj_t *h = sim_store_get(p->store, p->hosts[i].ref);
        if (h && s_host_patch(c, patch, h) != 0) {
            json_decref(c->err);
            c->err = NULL;
        }
    }
    json_t *pr = sim_store_json(patch);
    json_object_set_new(pr, "pool_applied", json_true());
    sim_store_update(p->store, patch, pr);
    json_decref(pr);
    return s_void(c);
}

static int s_patch_check(sim_call_t *c)
{
    if (!s_pobj(c, 1, s_cls("pool_patch")) || (json_array_size(c->params) > 2 &&
                                                 !s_pobj(c, 2, s_cls("host"))))
        return -1;
    return s_void(c);
}

static int s_update_introduce(sim_call_t *c)
{
    sim_obj_t *vdi = s_pobj(c, 1, s_cls("VDI"));
    if (!vdi)
        return -1;
    json_t *v = sim_store_json(vdi);
    json_t *sm = json_object_get(v, "sm_config");
    const char *name = json_string_value(json_object_get(sm, "sim-update-name"));
    if (!name) {
        json_decref(v);
        return s_err(c, "INVALID_UPDATE", "no update metadata in the VDI", NULL);
    }
    json_t *u = json_pack("{s:s, s:O, s:O, s:O, s:I, s:s, s:[O], s:s}", "name_label", name,
                          "uuid", json_object_get(sm, "sim-update-uuid"), "name_description",
                          json_object_get(sm, "sim-update-description"), "version",
                          json_object_get(sm, "sim-update-version"), "installation_size",
                          (json_int_t)104857600, "key", name, "after_apply_guidance",
                          json_object_get(sm, "sim-update-guidance"), "vdi", vdi->ref);
    json_decref(v);
    if (sim_store_by_uuid(c->pool->store, json_string_value(json_object_get(u, "uuid")))) {
        json_decref(u);
        return s_err(c, "UPDATE_ALREADY_EXISTS", name, NULL);
    }
    sim_obj_t *o = sim_store_add(c->pool->store, s_cls_id("pool_update"), u, NULL);
    json_decref(u);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_update_host(sim_call_t *c, sim_obj_t *upd, sim_obj_t *host)
{
    json_t *u = sim_store_json(upd);
    json_t *hosts = json_object_get(u, "hosts");
    for (size_t i = 0; i < json_array_size(hosts); i++)
        if (!strcmp(json_string_value(json_array_get(hosts, i)), host->ref)) {
            json_decref(u);
            return s_err(c, "UPDATE_ALREADY_APPLIED", upd->uuid, NULL);
        }
    s_set_add(u, "hosts", host->ref);
    sim_store_update(c->pool->store, upd, u);
    json_decref(u);
    s_link(c->pool, host->ref, "updates", upd->ref, true);
    return 0;
}

static int s_update_apply(sim_call_t *c)
{
    sim_obj_t *u = s_pobj(c, 1, s_cls("pool_update"));
    sim_obj_t *h = u ? s_pobj(c, 2, s_cls("host")) : NULL;
    if (!h || s_update_host(c, u, h) != 0)
        return -1;
    return s_void(c);
}

static int s_update_pool_apply(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    sim_obj_t *u = s_pobj(c, 1, s_cls("pool_update"));
    if (!u)
        return -1;
    for (int i = 0; i < p->nhosts; i++) {
        sim_obj_t *h = sim_store_get(p->store, p->hosts[i].ref);
        if (h && s_update_host(c, u, h) != 0) {
            json_decref(c->err);
            c->err = NULL;
        }
    }
    return s_void(c);
}

static int s_update_precheck(sim_call_t *c)
{
    if (!s_pobj(c, 1, s_cls("pool_update")) || !s_pobj(c, 2, s_cls("host")))
        return -1;
    sim_wr_str(c->w, "ok");
    return 0;
}

static int s_update_check(sim_call_t *c)
{
    return s_pobj(c, 1, s_cls("pool_update")) ? s_void(c) : -1;
}

static int s_vdi_create(sim_call_t *c)
{
    const sim_class_t *cls = s_cls("VDI");
    json_t *rec = json_deep_copy(json_array_get(c->params, 1));
    if (!json_is_object(rec)) {
        json_decref(rec);
        return s_err(c, "FIELD_TYPE_ERROR", "args", NULL);
    }
    sim_rec_coerce(cls, rec);
    json_object_del(rec, "uuid");
    json_object_set_new(rec, "VBDs", json_array());
    sim_obj_t *sr = sim_store_get(c->pool->store, s_jstr(rec, "SR"));
    if (!sr || sr->cls != s_cls_id("SR")) {
        s_err(c, "HANDLE_INVALID", "SR", s_jstr(rec, "SR"), NULL);
        json_decref(rec);
        return -1;
    }
    char loc[40];
    sim_uuid(loc);
    json_object_set_new(rec, "location", json_string(loc));
    sim_obj_t *o = sim_store_add(c->pool->store, cls->id, rec, NULL);
    json_decref(rec);
    s_link(c->pool, sr->ref, "VDIs", o->ref, true);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_vdi_destroy(sim_call_t *c)
{
    sim_obj_t *o = s_pobj(c, 1, s_cls("VDI"));
    if (!o)
        return -1;
    json_t *r = sim_store_json(o);
    s_link(c->pool, s_jstr(r, "SR"), "VDIs", o->ref, false);
    json_decref(r);
    sim_store_remove(c->pool->store, o);
    return s_void(c);
}

static int s_host_time(sim_call_t *c)
{
    if (!s_pobj(c, 1, s_cls("host")))
        return -1;
    char now[32];
    sim_gen_now(now);
    sim_wr_date(c->w, now, strlen(now));
    return 0;
}

/*  host.disable / host.enable: the enabled flag and the operations a disabled host refuses. */
static int s_host_enable(sim_call_t *c)
{
    sim_obj_t *h = s_pobj(c, 1, s_cls("host"));
    if (!h)
        return -1;
    bool enable = !strcmp(c->method, "host.enable");
    json_t *r = sim_store_json(h);
    json_object_set_new(r, "enabled", json_boolean(enable));
    json_object_set_new(r, "allowed_operations",
                        enable ? json_pack("[s,s,s,s,s]", "vm_migrate", "provision", "vm_resume",
                                           "evacuate", "vm_start")
                               : json_pack("[s,s,s]", "evacuate", "reboot", "shutdown"));
    sim_store_update(c->pool->store, h, r);
    json_decref(r);
    return s_void(c);
}

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
            sim_rec_write(c->w, cls, o->rec, o->len);
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
        bool match = r && !strcmp(s_jstr(r, "name_label"), s);
        json_decref(r);
        if (match)
            return i;
    }
    return -1;
}

static int s_sim_move_master(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    int h = s_find_host(p, s_opt(c, "host"));
    if (h < 0 || h >= p->nhosts)
        return s_err(c, "HANDLE_INVALID", "host", "", NULL);
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
        return s_err(c, "HANDLE_INVALID", "Object", json_string_value(ref) ?: "", NULL);
    sim_store_remove(c->pool->store, o);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_sim_churn(sim_call_t *c)
{
    json_t *r = s_opt(c, "rate");
    c->pool->churn_rate = json_is_number(r) ? json_number_value(r) : 0.0;
    c->pool->churn_credit = 0;
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Method table                                                                              */

static const s_method_t s_methods[] = {
    {"session.login_with_password", 2, 4, s_login, true, false},
    {"session.slave_local_login_with_password", 2, 2, s_login, true, false},
    {"session.logout", 1, 1, s_logout, true, false},
    {"session.local_logout", 1, 1, s_logout, true, false},
    {"session.get_this_host", 2, 2, s_this_host, false, false},
    {"session.get_this_user", 2, 2, s_this_user, false, false},
    {"event.from", 4, 4, s_event_from, false, false},
    {"event.inject", 3, 3, s_event_inject, false, false},
    {"event.get_current_id", 1, 1, s_event_current_id, false, false},
    {"event.register", 2, 2, s_event_register, false, false},
    {"event.unregister", 2, 2, s_event_unregister, false, false},
    {"event.next", 1, 1, s_event_next, false, false},
    {"task.create", 3, 3, s_task_create, false, false},
    {"task.cancel", 2, 2, s_task_cancel, false, true},
    {"task.destroy", 2, 2, s_destroy_generic, false, false},
    {"message.create", 6, 6, s_message_create, false, false},
    {"message.destroy", 2, 2, s_destroy_generic, false, false},
    {"message.get_since", 2, 2, s_message_get_since, false, false},
    {"VM.start", 4, 4, s_vm_power_call, false, true},
    {"VM.start_on", 5, 5, s_vm_power_call, false, true},
    {"VM.clean_shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.hard_shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.shutdown", 2, 2, s_vm_power_call, false, true},
    {"VM.clean_reboot", 2, 2, s_vm_power_call, false, true},
    {"VM.hard_reboot", 2, 2, s_vm_power_call, false, true},
    {"VM.suspend", 2, 2, s_vm_power_call, false, true},
    {"VM.resume", 4, 4, s_vm_power_call, false, true},
    {"VM.resume_on", 5, 5, s_vm_power_call, false, true},
    {"VM.pause", 2, 2, s_vm_power_call, false, true},
    {"VM.unpause", 2, 2, s_vm_power_call, false, true},
    {"VM.clone", 3, 3, s_vm_clone, false, true},
    {"VM.copy", 4, 4, s_vm_copy, false, true},
    {"VM.snapshot", 3, 4, s_vm_snapshot, false, true},
    {"VM.destroy", 2, 2, s_vm_destroy, false, true},
    {"VM.pool_migrate", 4, 4, s_vm_pool_migrate, false, true},
    {"host.evacuate", 2, 2, s_host_evacuate, false, true},
    {"host.call_plugin", 5, 5, s_call_plugin, false, true},
    {"host.get_servertime", 2, 2, s_host_time, false, false},
    {"host.get_server_localtime", 2, 2, s_host_time, false, false},
    {"host.disable", 2, 2, s_host_enable, false, true},
    {"host.enable", 2, 2, s_host_enable, false, true},
    {"pool_patch.apply", 3, 3, s_patch_apply, false, true},
    {"pool_patch.pool_apply", 2, 2, s_patch_pool_apply, false, true},
    {"pool_patch.precheck", 3, 3, s_patch_check, false, true},
    {"pool_patch.clean", 2, 2, s_patch_check, false, true},
    {"pool_patch.pool_clean", 2, 2, s_patch_check, false, true},
    {"pool_patch.destroy", 2, 2, s_destroy_generic, false, true},
    {"pool_update.introduce", 2, 2, s_update_introduce, false, true},
    {"pool_update.precheck", 3, 3, s_update_precheck, false, true},
    {"pool_update.apply", 3, 3, s_update_apply, false, true},
    {"pool_update.pool_apply", 2, 2, s_update_pool_apply, false, true},
    {"pool_update.pool_clean", 2, 2, s_update_check, false, true},
    {"pool_update.destroy", 2, 2, s_destroy_generic, false, true},
    {"VDI.create", 2, 2, s_vdi_create, false, true},
    {"VDI.destroy", 2, 2, s_vdi_destroy, false, true},
    {"sim.dump", 0, 1, s_sim_dump, true, false},
    {"sim.stats", 0, 1, s_sim_stats, true, false},
    {"sim.drop_connections", 0, 1, s_sim_drop, true, false},
    {"sim.stall", 1, 1, s_sim_stall, true, false},
    {"sim.expire_sessions", 0, 1, s_sim_expire, true, false},
    {"sim.events_lost", 0, 1, s_sim_lost, true, false},
    {"sim.move_master", 1, 1, s_sim_move_master, true, false},
    {"sim.add_vm", 0, 1, s_sim_add_vm, true, false},
    {"sim.remove_object", 1, 1, s_sim_remove, true, false},
    {"sim.churn", 1, 1, s_sim_churn, true, false},
};

#define S_NMETHODS (sizeof s_methods / sizeof s_methods[0])

static const s_method_t *s_method_find(const char *name)
{
    for (size_t i = 0; i < S_NMETHODS; i++)
        if (!strcmp(s_methods[i].name, name))
            return &s_methods[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/*  Generic class methods                                                                     */

typedef enum {
    G_ALL_RECORDS, G_ALL, G_RECORD, G_BY_UUID, G_BY_NAME, G_WHERE, G_GET, G_SET, G_ADD_TO,
    G_REMOVE_FROM, G_ADD, G_REMOVE,
} s_gen_op_t;

typedef struct {
    const sim_class_t *cls;
    s_gen_op_t op;
    int field;
    int nparams;
} s_generic_t;

static bool s_field_op(const sim_class_t *cls, const char *m, const char *prefix, char type,
                       int *field)
{
    size_t n = strlen(prefix);
    if (strncmp(m, prefix, n) != 0)
        return false;
    *field = sim_schema_field(cls, m + n);
    return *field >= 0 && (!type || cls->fields[*field].type == type);
}

static bool s_generic_parse(const char *method, s_generic_t *g)
{
    const char *dot = strchr(method, '.');
    if (!dot || dot - method >= 48)
        return false;
    char cname[64];
    snprintf(cname, sizeof cname, "%.*s", (int)(dot - method), method);
    g->cls = sim_schema_find(cname);
    if (!g->cls || strcmp(g->cls->name, cname) != 0)
        return false;
    const char *m = dot + 1;
    static const struct { const char *name; s_gen_op_t op; int n; } fixed[] = {
        {"get_all_records", G_ALL_RECORDS, 1}, {"get_all", G_ALL, 1},
        {"get_record", G_RECORD, 2}, {"get_by_uuid", G_BY_UUID, 2},
        {"get_by_name_label", G_BY_NAME, 2}, {"get_all_records_where", G_WHERE, 2},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(m, fixed[i].name)) {
            g->op = fixed[i].op;
            g->nparams = fixed[i].n;
            g->field = -1;
            return g->op != G_BY_NAME || sim_schema_field(g->cls, "name_label") >= 0;
        }
    if (s_field_op(g->cls, m, "get_", 0, &g->field))
        return g->op = G_GET, g->nparams = 2, true;
    if (s_field_op(g->cls, m, "set_", 0, &g->field) && strcmp(m, "set_uuid"))
        return g->op = G_SET, g->nparams = 3, true;
    if (s_field_op(g->cls, m, "add_to_", 'M', &g->field))
        return g->op = G_ADD_TO, g->nparams = 4, true;
    if (s_field_op(g->cls, m, "remove_from_", 'M', &g->field))
        return g->op = G_REMOVE_FROM, g->nparams = 3, true;
    if (s_field_op(g->cls, m, "add_", 'S', &g->field))
        return g->op = G_ADD, g->nparams = 3, true;
    if (s_field_op(g->cls, m, "remove_", 'S', &g->field))
        return g->op = G_REMOVE, g->nparams = 3, true;
    return false;
}

static void s_write_records(sim_call_t *c, const sim_class_t *cls, const char *wf, const char *wv)
{
    sim_store_t *st = c->pool->store;
    int fi = wf ? sim_schema_field(cls, wf) : -1;
    sim_wr_map_begin(c->w);
    for (size_t i = 0; i < sim_store_count(st, cls->id); i++) {
        sim_obj_t *o = sim_store_at(st, cls->id, i);
        if (wf) {
            json_t *v = fi >= 0 ? sim_rec_field(cls, o->rec, o->len, fi) : NULL;
            char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            bool eq = v && (json_is_string(v) ? !strcmp(json_string_value(v), wv)
                                              : s && !strcmp(s, wv));
            free(s);
            json_decref(v);
            if (!eq)
                continue;
        }
        sim_wr_key(c->w, o->ref, strlen(o->ref));
        sim_rec_write(c->w, cls, o->rec, o->len);
    }
    sim_wr_map_end(c->w);
}

/*  get_all_records_where: `true` or `field "name"="value"` (one condition).                 */
static int s_where(sim_call_t *c, const sim_class_t *cls)
{
    const char *expr = s_pstr(c, 1);
    char field[64], value[256];
    if (expr && sscanf(expr, " field \"%63[^\"]\" = \"%255[^\"]\"", field, value) == 2) {
        s_write_records(c, cls, field, value);
        return 0;
    }
    if (expr && sscanf(expr, " field \"%63[^\"]\" = \"\"", field) == 1) {
        s_write_records(c, cls, field, "");
        return 0;
    }
    s_write_records(c, cls, NULL, NULL);
    return 0;
}

/*  Coerces a parameter to the field's type (ints arrive as strings over XML-RPC).            */
static json_t *s_coerce(const sim_field_t *f, json_t *v)
{
    const char *s = json_string_value(v);
    if (f->type == 'i' && s)
        return json_integer(strtoll(s, NULL, 10));
    if (f->type == 'f' && s)
        return json_real(strtod(s, NULL));
    if (f->type == 'b' && s)
        return json_boolean(!strcmp(s, "true") || !strcmp(s, "1"));
    if ((f->type == 'i' || f->type == 'f') && json_is_number(v))
        return f->type == 'i' ? json_integer((json_int_t)json_number_value(v))
                              : json_real(json_number_value(v));
    return json_incref(v);
}

static int s_generic_set(sim_call_t *c, const s_generic_t *g, sim_obj_t *o)
{
    const sim_field_t *f = &g->cls->fields[g->field];
    json_t *r = sim_store_json(o);
    json_t *cur = json_object_get(r, f->name);
    json_t *a1 = json_array_get(c->params, 2), *a2 = json_array_get(c->params, 3);
    const char *k = json_string_value(a1);
    switch (g->op) {
    case G_SET:
        json_object_set_new(r, f->name, s_coerce(f, a1));
        break;
    case G_ADD_TO:
        if (!k) {
            json_decref(r);
            return s_err(c, "FIELD_TYPE_ERROR", "key", NULL);
        }
        if (json_object_get(cur, k)) {
            const char *old = json_string_value(json_object_get(cur, k));
            s_err(c, "MAP_DUPLICATE_KEY", f->name, k, old ? old : "", NULL);
            json_decref(r);
            return -1;
        }
        json_object_set(cur, k, a2 ? a2 : json_string(""));
        break;
    case G_REMOVE_FROM:
        if (k)
            json_object_del(cur, k);
        break;
    case G_ADD:
        if (a1)
            json_array_append(cur, a1);
        break;
    default:
        for (size_t i = json_array_size(cur); i-- > 0;)
            if (json_equal(json_array_get(cur, i), a1))
                json_array_remove(cur, i);
        break;
    }
    sim_store_update(c->pool->store, o, r);
    json_decref(r);
    sim_wr_str(c->w, "");
    return 0;
}

static int s_generic_obj(sim_call_t *c, const s_generic_t *g)
{
    sim_obj_t *o = s_pobj(c, 1, g->cls);
    if (!o)
        return -1;
    if (g->op == G_RECORD) {
        sim_rec_write(c->w, g->cls, o->rec, o->len);
        return 0;
    }
    if (g->op == G_GET) {
        sim_rec_write_field(c->w, g->cls, o->rec, o->len, g->field);
        return 0;
    }
    return s_generic_set(c, g, o);
}

static int s_generic_call(sim_call_t *c, const s_generic_t *g)
{
    sim_store_t *st = c->pool->store;
    const sim_class_t *cls = g->cls;
    const char *a = s_pstr(c, 1);
    switch (g->op) {
    case G_ALL_RECORDS:
        s_write_records(c, cls, NULL, NULL);
        return 0;
    case G_WHERE:
        return s_where(c, cls);
    case G_ALL:
        sim_wr_arr_begin(c->w);
        for (size_t i = 0; i < sim_store_count(st, cls->id); i++)
            sim_wr_str(c->w, sim_store_at(st, cls->id, i)->ref);
        sim_wr_arr_end(c->w);
        return 0;
    case G_BY_UUID: {
        sim_obj_t *o = sim_store_by_uuid(st, a);
        if (!o || o->cls != cls->id)
            return s_err(c, "UUID_INVALID", cls->name, a ? a : "", NULL);
        sim_wr_str(c->w, o->ref);
        return 0;
    }
    case G_BY_NAME: {
        int fi = sim_schema_field(cls, "name_label");
        sim_wr_arr_begin(c->w);
        for (size_t i = 0; i < sim_store_count(st, cls->id); i++) {
            sim_obj_t *o = sim_store_at(st, cls->id, i);
            json_t *v = sim_rec_field(cls, o->rec, o->len, fi);
            if (a && !strcmp(json_string_value(v), a))
                sim_wr_str(c->w, o->ref);
            json_decref(v);
        }
        sim_wr_arr_end(c->w);
        return 0;
    }
    default:
        return s_generic_obj(c, g);
    }
}

/* ------------------------------------------------------------------------------------------ */
/*  system.listMethods                                                                        */

static void s_list_field_methods(sim_wr_t *w, const sim_class_t *cls)
{
    char name[160];
    static const char *fixed[] = {"get_all_records", "get_all", "get_record", "get_by_uuid",
                                  "get_all_records_where"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        snprintf(name, sizeof name, "%s.%s", cls->name, fixed[i]);
        sim_wr_str(w, name);
    }
    for (int f = 0; f < cls->nfields; f++) {
        const sim_field_t *fd = &cls->fields[f];
        snprintf(name, sizeof name, "%s.get_%s", cls->name, fd->name);
        sim_wr_str(w, name);
        if (!strcmp(fd->name, "uuid"))
            continue;
        snprintf(name, sizeof name, "%s.set_%s", cls->name, fd->name);
        sim_wr_str(w, name);
        if (fd->type == 'M' || fd->type == 'S') {
            snprintf(name, sizeof name, "%s.%s_%s", cls->name,
                     fd->type == 'M' ? "add_to" : "add", fd->name);
            sim_wr_str(w, name);
            snprintf(name, sizeof name, "%s.%s_%s", cls->name,
                     fd->type == 'M' ? "remove_from" : "remove", fd->name);
            sim_wr_str(w, name);
        }
    }
}

static int s_list_methods(sim_call_t *c)
{
    char name[160];
    c->bare = true;
    sim_wr_arr_begin(c->w);
    sim_wr_str(c->w, "system.listMethods");
    for (size_t i = 0; i < S_NMETHODS; i++) {
        if (!strncmp(s_methods[i].name, "sim.", 4))
            continue;
        sim_wr_str(c->w, s_methods[i].name);
        if (s_methods[i].async) {
            snprintf(name, sizeof name, "Async.%s", s_methods[i].name);
            sim_wr_str(c->w, name);
        }
    }
    for (int i = 0; i < sim_schema_count(); i++)
        s_list_field_methods(c->w, sim_schema_class(i));
    sim_wr_arr_end(c->w);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Async calls                                                                               */

static int s_async(sim_call_t *c, const s_method_t *m)
{
    sim_pool_t *p = c->pool;
    char label[128];
    snprintf(label, sizeof label, "Async.%s", m->name);
    sim_obj_t *t = sim_api_task_new(p, label, "");
    sim_job_t *j = calloc(1, sizeof *j);
    snprintf(j->task, sizeof j->task, "%s", t->ref);
    snprintf(j->method, sizeof j->method, "%s", m->name);
    j->params = json_deep_copy(c->params);
    j->steps_left = 10;
    zlistx_add_end(p->jobs, j);
    sim_wr_str(c->w, t->ref);
    return 0;
}

static void s_job_run(sim_pool_t *p, sim_job_t *j, sim_obj_t *task)
{
    sim_buf_t out;
    sim_wr_t w;
    sim_buf_init(&out, 256);
    sim_wr_init(&w, SIM_WR_XML, &out);
    sim_call_t c = {.pool = p, .method = j->method, .params = j->params, .w = &w};
    const s_method_t *m = s_method_find(j->method);
    int rc = m ? m->fn(&c) : s_err(&c, "MESSAGE_METHOD_UNKNOWN", j->method, NULL);
    sim_buf_addc(&out, '\0');
    const char *result = strcmp(out.data, "<value></value>") ? out.data : "";
    sim_api_task_end(p, task, rc == 0 ? result : NULL, rc == 0 ? NULL : c.err);
    json_decref(c.err);
    sim_buf_free(&out);
}

void sim_api_tick_jobs(sim_pool_t *p)
{
    sim_job_t *j = zlistx_first(p->jobs);
    while (j) {
        sim_obj_t *task = sim_store_get(p->store, j->task);
        bool done = !task || j->steps_left < 0;
        if (!done && --j->steps_left > 0) {
            json_t *t = sim_store_json(task);
            json_object_set_new(t, "progress", json_real(1.0 - j->steps_left * 0.1));
            sim_store_update(p->store, task, t);
            json_decref(t);
        } else if (!done) {
            s_job_run(p, j, task);
            done = true;
        }
        if (done) {
            json_decref(j->params);
            zlistx_delete(p->jobs, zlistx_cursor(p->jobs));
            free(j);
            j = zlistx_first(p->jobs); /* restart: simple and the list is short */
            continue;
        }
        j = zlistx_next(p->jobs);
    }
}

/* ------------------------------------------------------------------------------------------ */
/*  Dispatch                                                                                  */

static int s_count_check(sim_call_t *c, int nmin, int nmax)
{
    int n = (int)json_array_size(c->params);
    if (n >= nmin && n <= nmax)
        return 0;
    char e[16], r[16];
    snprintf(e, sizeof e, "%d", nmax);
    snprintf(r, sizeof r, "%d", n);
    return s_err(c, "MESSAGE_PARAMETER_COUNT_MISMATCH", c->method, e, r, NULL);
}

static int s_dispatch(sim_call_t *c)
{
    const char *name = c->method;
    bool async = !strncmp(name, "Async.", 6);
    if (async)
        name += 6;
    if (!async && !strcmp(name, "system.listMethods"))
        return s_list_methods(c);
    const s_method_t *m = s_method_find(name);
    s_generic_t g;
    if (m && (!async || m->async)) {
        if (!strncmp(name, "sim.", 4) && !c->loopback)
            return s_err(c, "PERMISSION_DENIED", name, "sim.* is served on loopback only", NULL);
        if (s_count_check(c, m->nmin, m->nmax) != 0)
            return -1;
        if (!m->no_session && !(c->session = s_session(c)))
            return -1;
        return async ? s_async(c, m) : m->fn(c);
    }
    if (!async && s_generic_parse(name, &g)) {
        if (s_count_check(c, g.nparams, g.nparams) != 0 || !(c->session = s_session(c)))
            return -1;
        return s_generic_call(c, &g);
    }
    return s_err(c, "MESSAGE_METHOD_UNKNOWN", c->method, NULL);
}

int sim_api_call(sim_call_t *c)
{
    sim_store_lock(c->pool->store);
    int rc = s_dispatch(c);
    sim_store_unlock(c->pool->store);
    return rc;
}
