/*  sim_api — serves XAPI calls on a pool: sessions, the generic class methods, events,
    VM lifecycle, tasks and Async calls, and the sim.* control namespace.                     */
#include "sim_call.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "xoc_log.h"

/* ------------------------------------------------------------------------------------------ */
/*  Errors and parameters                                                                     */

int sim_call_err(sim_call_t *c, const char *code, ...)
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

const char *sim_call_str(sim_call_t *c, size_t i)
{
    return json_string_value(json_array_get(c->params, i));
}

/*  Ints arrive as decimal strings (XML-RPC) or numbers (JSON-RPC).                           */
bool sim_call_int(sim_call_t *c, size_t i, int64_t *out)
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

double sim_call_float(sim_call_t *c, size_t i, double def)
{
    json_t *v = json_array_get(c->params, i);
    if (json_is_number(v))
        return json_number_value(v);
    const char *s = json_string_value(v);
    return s && *s ? strtod(s, NULL) : def;
}

/*  The object named by param i, of class cls (NULL: any class); HANDLE_INVALID otherwise.  */
sim_obj_t *sim_call_obj(sim_call_t *c, size_t i, const sim_class_t *cls)
{
    const char *ref = sim_call_str(c, i);
    sim_obj_t *o = sim_store_get(c->pool->store, ref);
    if (o && (!cls || o->cls == cls->id))
        return o;
    sim_call_err(c, "HANDLE_INVALID", cls ? cls->name : "Object", ref ? ref : "", NULL);
    return NULL;
}

const sim_class_t *sim_call_cls(const char *name)
{
    return sim_schema_find(name);
}

int sim_call_cls_id(const char *name)
{
    const sim_class_t *c = sim_schema_find(name);
    return c ? c->id : -1;
}

/* ------------------------------------------------------------------------------------------ */
/*  Record helpers (lock held)                                                                */

void sim_call_set_add(json_t *rec, const char *field, const char *ref)
{
    json_t *a = json_object_get(rec, field);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(rec, field, a);
    }
    json_array_append_new(a, json_string(ref));
}

void sim_call_set_del(json_t *rec, const char *field, const char *ref)
{
    json_t *a = json_object_get(rec, field);
    for (size_t i = json_array_size(a); i-- > 0;)
        if (!strcmp(json_string_value(json_array_get(a, i)) ?: "", ref))
            json_array_remove(a, i);
}

/*  Adds or removes ref in the set field of the object named by owner.                       */
void sim_call_link(sim_pool_t *p, const char *owner, const char *field, const char *ref, bool add)
{
    sim_obj_t *o = sim_store_get(p->store, owner);
    if (!o)
        return;
    json_t *r = sim_store_json(o);
    if (add)
        sim_call_set_add(r, field, ref);
    else
        sim_call_set_del(r, field, ref);
    sim_store_update(p->store, o, r);
    json_decref(r);
}

const char *sim_call_jstr(json_t *rec, const char *field)
{
    return json_string_value(json_object_get(rec, field)) ?: "";
}

bool sim_call_rpu(sim_pool_t *p)
{
    sim_obj_t *po = sim_store_get(p->store, p->ref);
    json_t *pr = po ? sim_store_json(po) : NULL;
    bool rpu = json_object_get(json_object_get(pr, "other_config"),
                               "rolling_upgrade_in_progress") != NULL;
    json_decref(pr);
    return rpu;
}

int sim_call_void(sim_call_t *c)
{
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Sessions                                                                                  */

static const sim_session_t *s_session(sim_call_t *c)
{
    const char *ref = sim_call_str(c, 0);
    const sim_session_t *s = ref ? zhashx_lookup(c->pool->sessions, ref) : NULL;
    if (!s)
        sim_call_err(c, "SESSION_INVALID", ref ? ref : "", NULL);
    return s;
}

static bool s_auth(const sim_pool_t *p, const char *user, const char *pw)
{
    const sim_config_t *cfg = p->cfg;
    if (p->pw_user[0] && !strcmp(p->pw_user, user)) /* changed by sim.set_password */
        return !strcmp(p->pw_new, pw);
    for (int i = 0; i < cfg->nusers; i++)
        if (!strcmp(cfg->users[i], user) && !strcmp(cfg->passwords[i], pw))
            return true;
    return false;
}

int sim_api_auth(sim_pool_t *p, const char *session, const char *user, const char *pw)
{
    if (session && zhashx_lookup(p->sessions, session))
        return 0;
    return user && pw && s_auth(p, user, pw) ? 0 : -1;
}

static int s_login(sim_call_t *c)
{
    sim_pool_t *p = c->pool;
    const char *user = sim_call_str(c, 0), *pw = sim_call_str(c, 1);
    if (c->host && c->host->index != p->master)
        return sim_call_err(c, "HOST_IS_SLAVE", p->hosts[p->master].ip, NULL);
    if (!user || !pw || !s_auth(p, user, pw))
        return sim_call_err(c, "SESSION_AUTHENTICATION_FAILED", user ? user : "",
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
    const char *ref = sim_call_str(c, 0);
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
/*  Tasks                                                                                     */

sim_obj_t *sim_api_task_new(sim_pool_t *p, const char *label, const char *desc)
{
    char now[32];
    sim_gen_now(now);
    json_t *t = json_pack("{s:s, s:s, s:s, s:s, s:[s], s:s}", "name_label", label,
                          "name_description", desc, "created", now, "status", "pending",
                          "allowed_operations", "cancel", "resident_on", p->hosts[p->master].ref);
    sim_obj_t *o = sim_store_add(p->store, sim_call_cls_id("task"), t, NULL);
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
    const char *label = sim_call_str(c, 1), *desc = sim_call_str(c, 2);
    sim_obj_t *o = sim_api_task_new(c->pool, label ? label : "", desc ? desc : "");
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_task_cancel(sim_call_t *c)
{
    sim_obj_t *o = sim_call_obj(c, 1, sim_call_cls("task"));
    if (!o)
        return -1;
    json_t *t = sim_store_json(o);
    if (!strcmp(sim_call_jstr(t, "status"), "pending")) {
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

int sim_call_destroy(sim_call_t *c)
{
    sim_obj_t *o = sim_call_obj(c, 1, NULL);
    if (!o)
        return -1;
    sim_store_remove(c->pool->store, o);
    sim_wr_str(c->w, "");
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/*  Messages, plugins, pool                                                                  */

static int s_message_create(sim_call_t *c)
{
    int64_t prio = 3;
    sim_call_int(c, 2, &prio);
    char now[32];
    sim_gen_now(now);
    json_t *m =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "name", sim_call_str(c, 1) ?: "", "priority",
                  (json_int_t)prio, "cls", sim_call_str(c, 3) ?: "VM", "obj_uuid",
                  sim_call_str(c, 4) ?: "", "timestamp", now, "body", sim_call_str(c, 5) ?: "");
    sim_obj_t *o = sim_store_add(c->pool->store, sim_call_cls_id("message"), m, NULL);
    json_decref(m);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_message_get_since(sim_call_t *c)
{
    const char *since = sim_call_str(c, 1);
    json_t *v = json_array_get(c->params, 1);
    const sim_class_t *cls = sim_call_cls("message");
    sim_wr_map_begin(c->w);
    for (size_t i = 0; i < sim_store_count(c->pool->store, cls->id); i++) {
        sim_obj_t *o = sim_store_at(c->pool->store, cls->id, i);
        json_t *ts = sim_rec_field(cls, o->rec, o->len, sim_schema_field(cls, "timestamp"));
        bool newer = !since || !json_is_string(v) || strcmp(json_string_value(ts), since) > 0;
        json_decref(ts);
        if (!newer)
            continue;
        sim_wr_key(c->w, o->ref, strlen(o->ref));
        sim_store_write(c->pool->store, c->w, o);
    }
    sim_wr_map_end(c->w);
    return 0;
}

static int s_call_plugin(sim_call_t *c)
{
    sim_obj_t *h = sim_call_obj(c, 1, sim_call_cls("host"));
    const char *plugin = sim_call_str(c, 2), *fn = sim_call_str(c, 3);
    if (!h)
        return -1;
    if (!plugin || strcmp(plugin, "updater.py"))
        return sim_call_err(c, "XENAPI_MISSING_PLUGIN", plugin ? plugin : "", NULL);
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
    return sim_call_err(c, "XENAPI_PLUGIN_FAILURE", "unknown command", fn ? fn : "", "", NULL);
}

static int s_host_time(sim_call_t *c)
{
    if (!sim_call_obj(c, 1, sim_call_cls("host")))
        return -1;
    char now[32];
    sim_gen_now(now);
    sim_wr_date(c->w, now, strlen(now));
    return 0;
}

/*  host.disable / host.enable: the enabled flag and the operations a disabled host refuses. */
static int s_host_enable(sim_call_t *c)
{
    sim_obj_t *h = sim_call_obj(c, 1, sim_call_cls("host"));
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
    return sim_call_void(c);
}

/* ------------------------------------------------------------------------------------------ */
/*  Method lookup over the modules' tables                                                    */

static const struct {
    const sim_method_t *v;
    const size_t *n;
} s_tables[] = {
    {sim_api_methods, &sim_api_nmethods}, {sim_events_methods, &sim_events_nmethods},
    {sim_vm_methods, &sim_vm_nmethods},   {sim_patch_methods, &sim_patch_nmethods},
    {sim_ctl_methods, &sim_ctl_nmethods}, {sim_dev_methods, &sim_dev_nmethods},
    {sim_ops_methods, &sim_ops_nmethods},
};

#define S_NTABLES (sizeof s_tables / sizeof s_tables[0])

static const sim_method_t *s_method_find(const char *name)
{
    for (size_t t = 0; t < S_NTABLES; t++)
        for (size_t i = 0; i < *s_tables[t].n; i++)
            if (!strcmp(s_tables[t].v[i].name, name))
                return &s_tables[t].v[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/*  Generic class methods                                                                     */

typedef enum {
    G_ALL_RECORDS,
    G_ALL,
    G_RECORD,
    G_BY_UUID,
    G_BY_NAME,
    G_WHERE,
    G_GET,
    G_SET,
    G_ADD_TO,
    G_REMOVE_FROM,
    G_ADD,
    G_REMOVE,
    G_CREATE,
    G_DESTROY,
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
    static const struct {
        const char *name;
        s_gen_op_t op;
        int n;
    } fixed[] = {
        {"get_all_records", G_ALL_RECORDS, 1},
        {"get_all", G_ALL, 1},
        {"get_record", G_RECORD, 2},
        {"get_by_uuid", G_BY_UUID, 2},
        {"get_by_name_label", G_BY_NAME, 2},
        {"get_all_records_where", G_WHERE, 2},
        {"create", G_CREATE, 2},
        {"destroy", G_DESTROY, 2},
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
            bool eq =
                v && (json_is_string(v) ? !strcmp(json_string_value(v), wv) : s && !strcmp(s, wv));
            free(s);
            json_decref(v);
            if (!eq)
                continue;
        }
        sim_wr_key(c->w, o->ref, strlen(o->ref));
        sim_store_write(c->pool->store, c->w, o);
    }
    sim_wr_map_end(c->w);
}

/*  get_all_records_where: `true` or `field "name"="value"` (one condition).                 */
static int s_where(sim_call_t *c, const sim_class_t *cls)
{
    const char *expr = sim_call_str(c, 1);
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
            return sim_call_err(c, "FIELD_TYPE_ERROR", "key", NULL);
        }
        if (json_object_get(cur, k)) {
            const char *old = json_string_value(json_object_get(cur, k));
            sim_call_err(c, "MAP_DUPLICATE_KEY", f->name, k, old ? old : "", NULL);
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
    sim_obj_t *o = sim_call_obj(c, 1, g->cls);
    if (!o)
        return -1;
    if (g->op == G_RECORD) {
        sim_store_write(c->pool->store, c->w, o);
        return 0;
    }
    if (g->op == G_GET) {
        sim_rec_write_field(c->w, g->cls, o->rec, o->len, g->field);
        return 0;
    }
    return s_generic_set(c, g, o);
}

/*  Sets that name an object from its other side: creating or destroying a VBD updates its
    VM's VBDs and its VDI's VBDs, and so on.                                                  */
static const struct {
    const char *cls, *field, *owner_set;
} s_backrefs[] = {
    {"VBD", "VM", "VBDs"},
    {"VBD", "VDI", "VBDs"},
    {"VIF", "VM", "VIFs"},
    {"VIF", "network", "VIFs"},
    {"VDI", "SR", "VDIs"},
    {"PBD", "host", "PBDs"},
    {"PBD", "SR", "PBDs"},
    {"PIF", "host", "PIFs"},
    {"PIF", "network", "PIFs"},
    {"console", "VM", "consoles"},
    {"host_patch", "host", "patches"},
};

static void s_backlink(sim_pool_t *p, const sim_class_t *cls, json_t *rec, const char *ref,
                       bool add)
{
    for (size_t i = 0; i < sizeof s_backrefs / sizeof s_backrefs[0]; i++)
        if (!strcmp(s_backrefs[i].cls, cls->name))
            sim_call_link(p, sim_call_jstr(rec, s_backrefs[i].field), s_backrefs[i].owner_set, ref,
                          add);
}

/*  <class>.create(record) for any class: fields coerced to their types, the rest default.   */
static int s_generic_create(sim_call_t *c, const sim_class_t *cls)
{
    json_t *rec = json_deep_copy(json_array_get(c->params, 1));
    if (!json_is_object(rec)) {
        json_decref(rec);
        return sim_call_err(c, "FIELD_TYPE_ERROR", "args", NULL);
    }
    sim_rec_coerce(cls, rec);
    json_object_del(rec, "uuid");
    if (!strcmp(cls->name, "VIF") && !*sim_call_jstr(rec, "MAC")) { /* XAPI picks one */
        char mac[24];
        snprintf(mac, sizeof mac, "02:%02x:%02x:%02x:%02x:%02x",
                 (unsigned)sim_gen_rand(c->pool) & 0xff, (unsigned)sim_gen_rand(c->pool) & 0xff,
                 (unsigned)sim_gen_rand(c->pool) & 0xff, (unsigned)sim_gen_rand(c->pool) & 0xff,
                 (unsigned)sim_gen_rand(c->pool) & 0xff);
        json_object_set_new(rec, "MAC", json_string(mac));
        json_object_set_new(rec, "MAC_autogenerated", json_true());
    }
    sim_obj_t *o = sim_store_add(c->pool->store, cls->id, rec, NULL);
    s_backlink(c->pool, cls, rec, o->ref, true);
    json_decref(rec);
    sim_wr_str(c->w, o->ref);
    return 0;
}

static int s_generic_destroy(sim_call_t *c, const sim_class_t *cls)
{
    sim_obj_t *o = sim_call_obj(c, 1, cls);
    if (!o)
        return -1;
    json_t *rec = sim_store_json(o);
    s_backlink(c->pool, cls, rec, o->ref, false);
    json_decref(rec);
    sim_store_remove(c->pool->store, o);
    return sim_call_void(c);
}

static int s_generic_call(sim_call_t *c, const s_generic_t *g)
{
    sim_store_t *st = c->pool->store;
    const sim_class_t *cls = g->cls;
    const char *a = sim_call_str(c, 1);
    switch (g->op) {
    case G_ALL_RECORDS:
        s_write_records(c, cls, NULL, NULL);
        return 0;
    case G_CREATE:
        return s_generic_create(c, cls);
    case G_DESTROY:
        return s_generic_destroy(c, cls);
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
            return sim_call_err(c, "UUID_INVALID", cls->name, a ? a : "", NULL);
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
    static const char *fixed[] = {"get_all_records",       "get_all", "get_record", "get_by_uuid",
                                  "get_all_records_where", "create",  "destroy"};
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
            snprintf(name, sizeof name, "%s.%s_%s", cls->name, fd->type == 'M' ? "add_to" : "add",
                     fd->name);
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
    for (size_t t = 0; t < S_NTABLES; t++)
        for (size_t i = 0; i < *s_tables[t].n; i++) {
            const sim_method_t *m = &s_tables[t].v[i];
            if (!strncmp(m->name, "sim.", 4))
                continue;
            sim_wr_str(c->w, m->name);
            if (m->async) {
                snprintf(name, sizeof name, "Async.%s", m->name);
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

static int s_async(sim_call_t *c, const char *method)
{
    sim_pool_t *p = c->pool;
    char label[128];
    snprintf(label, sizeof label, "Async.%s", method);
    sim_obj_t *t = sim_api_task_new(p, label, "");
    sim_job_t *j = calloc(1, sizeof *j);
    snprintf(j->task, sizeof j->task, "%s", t->ref);
    snprintf(j->method, sizeof j->method, "%s", method);
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
    const sim_method_t *m = s_method_find(j->method);
    s_generic_t g;
    int rc = m ? m->fn(&c)
             : s_generic_parse(j->method, &g)
                 ? s_generic_call(&c, &g)
                 : sim_call_err(&c, "MESSAGE_METHOD_UNKNOWN", j->method, NULL);
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
    return sim_call_err(c, "MESSAGE_PARAMETER_COUNT_MISMATCH", c->method, e, r, NULL);
}

static int s_dispatch(sim_call_t *c)
{
    const char *name = c->method;
    bool async = !strncmp(name, "Async.", 6);
    if (async)
        name += 6;
    if (!async && !strcmp(name, "system.listMethods"))
        return s_list_methods(c);
    const sim_method_t *m = s_method_find(name);
    s_generic_t g;
    if (m && (!async || m->async)) {
        if (!strncmp(name, "sim.", 4) && !c->loopback)
            return sim_call_err(c, "PERMISSION_DENIED", name, "sim.* is served on loopback only",
                                NULL);
        if (s_count_check(c, m->nmin, m->nmax) != 0)
            return -1;
        if (!m->no_session && !(c->session = s_session(c)))
            return -1;
        return async ? s_async(c, m->name) : m->fn(c);
    }
    if (!m && s_generic_parse(name, &g)) {
        if (s_count_check(c, g.nparams, g.nparams) != 0 || !(c->session = s_session(c)))
            return -1;
        return async ? s_async(c, name) : s_generic_call(c, &g);
    }
    return sim_call_err(c, "MESSAGE_METHOD_UNKNOWN", c->method, NULL);
}

int sim_api_call(sim_call_t *c)
{
    sim_store_lock(c->pool->store);
    int rc = s_dispatch(c);
    sim_store_unlock(c->pool->store);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/*  Methods of this module                                                                     */

const sim_method_t sim_api_methods[] = {
    {"session.login_with_password", 2, 4, s_login, true, false},
    {"session.slave_local_login_with_password", 2, 2, s_login, true, false},
    {"session.logout", 1, 1, s_logout, true, false},
    {"session.local_logout", 1, 1, s_logout, true, false},
    {"session.get_this_host", 2, 2, s_this_host, false, false},
    {"session.get_this_user", 2, 2, s_this_user, false, false},
    {"task.create", 3, 3, s_task_create, false, false},
    {"task.cancel", 2, 2, s_task_cancel, false, true},
    {"task.destroy", 2, 2, sim_call_destroy, false, false},
    {"message.create", 6, 6, s_message_create, false, false},
    {"message.destroy", 2, 2, sim_call_destroy, false, false},
    {"message.get_since", 2, 2, s_message_get_since, false, false},
    {"host.call_plugin", 5, 5, s_call_plugin, false, true},
    {"host.get_servertime", 2, 2, s_host_time, false, false},
    {"host.get_server_localtime", 2, 2, s_host_time, false, false},
    {"host.disable", 2, 2, s_host_enable, false, true},
    {"host.enable", 2, 2, s_host_enable, false, true},
};

const size_t sim_api_nmethods = sizeof sim_api_methods / sizeof sim_api_methods[0];
