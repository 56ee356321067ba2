/*  xoc_api_methods — the method table: every JSON-RPC method described once in data
    (name, description, permission, params schema, handler, target service), sorted by
    name; dispatch and introspection (system.listMethods, system.getMethodsInfo,
    system.getMethodInfo, system.methodSignature) are derived from it (xo-api.md §4).
    To add a method: one entry here (keep the order: a unit test checks it) and its
    handler.                                                                              */
#include <stdlib.h>
#include <string.h>

#include "xoc_api_int.h"
#include "xoc_err.h"

#define S_STR XOC_API_T_STRING
#define S_NUM XOC_API_T_NUMBER
#define S_BOOL XOC_API_T_BOOLEAN
#define S_OBJ XOC_API_T_OBJECT
#define S_ARR XOC_API_T_ARRAY
#define S_END {NULL, 0, false, false, NULL}

static int s_list_methods(xoc_api_call_t *call);
static int s_methods_info(xoc_api_call_t *call);
static int s_method_info(xoc_api_call_t *call);
static int s_method_signature(xoc_api_call_t *call);
static int s_version(xoc_api_call_t *call);
static int s_server_version(xoc_api_call_t *call);

static const xoc_api_param_t p_none[] = {S_END};
static const xoc_api_param_t p_sign_in[] = {
    {"email", S_STR, true, false, "login name"},
    {"username", S_STR, true, false, "login name (alias of email)"},
    {"password", S_STR, true, true, NULL},
    {"otp", S_STR, true, false, "TOTP code (not supported yet)"},
    {"token", S_STR, true, false, "authentication token (token.create)"},
    S_END};
static const xoc_api_param_t p_sign_in_pw[] = {
    {"email", S_STR, false, false, NULL}, {"password", S_STR, false, true, NULL}, S_END};
static const xoc_api_param_t p_sign_in_tok[] = {{"token", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_method[] = {{"method", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_all_objects[] = {
    {"filter", S_OBJ | S_STR, true, true, "partial match on fields (object)"},
    {"limit", S_NUM, true, false, "at most this many objects"},
    {"ndjson", S_BOOL, true, false, "answer {$getFrom: URL}: one GET streams NDJSON"},
    S_END};
static const xoc_api_param_t p_token_create[] = {
    {"description", S_STR, true, true, NULL},
    {"expiresIn", S_NUM, true, false, "validity in ms"},
    {"client", S_OBJ, true, false, NULL},
    S_END};
static const xoc_api_param_t p_token_delete[] = {
    {"tokens", S_ARR, true, false, "tokens to delete"}, S_END};
static const xoc_api_param_t p_id[] = {{"id", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_user_create[] = {
    {"email", S_STR, false, false, NULL},
    {"password", S_STR, false, false, NULL},
    {"permission", S_STR, true, false, "none | read | write | admin"},
    S_END};
static const xoc_api_param_t p_user_set[] = {
    {"id", S_STR, false, false, NULL},
    {"email", S_STR, true, false, NULL},
    {"password", S_STR, true, false, NULL},
    {"permission", S_STR, true, false, NULL},
    {"preferences", S_OBJ, true, false, NULL},
    S_END};

#define S_PUBLIC XOC_API_PERM_PUBLIC
#define S_USER XOC_API_PERM_SIGNED_IN
#define S_ADMIN XOC_API_PERM_ADMIN

/* sorted by name (strcmp) */
static const xoc_api_method_t s_methods[] = {
    {"session.getUser", "the signed-in user", S_PUBLIC, {p_none, false}, xoc_api_m_get_user,
     NULL},
    {"session.signIn", "signs in with {email|username, password} or {token}", S_PUBLIC,
     {p_sign_in, false}, xoc_api_m_sign_in, NULL},
    {"session.signInWithPassword", "deprecated: session.signIn", S_PUBLIC,
     {p_sign_in_pw, false}, xoc_api_m_sign_in, NULL},
    {"session.signInWithToken", "deprecated: session.signIn", S_PUBLIC, {p_sign_in_tok, false},
     xoc_api_m_sign_in, NULL},
    {"session.signOut", "signs out (the connection stays open)", S_USER, {p_none, false},
     xoc_api_m_sign_out, NULL},
    {"system.getMethodInfo", "the description of one method", S_PUBLIC, {p_method, false},
     s_method_info, NULL},
    {"system.getMethodsInfo", "the description of every method", S_PUBLIC, {p_none, false},
     s_methods_info, NULL},
    {"system.getServerVersion", "version of the server", S_PUBLIC, {p_none, false},
     s_server_version, NULL},
    {"system.getVersion", "version of the API", S_PUBLIC, {p_none, false}, s_version, NULL},
    {"system.listMethods", "names of every method", S_PUBLIC, {p_none, false}, s_list_methods,
     NULL},
    {"system.methodSignature", "[{name, description, params, permission}] of one method",
     S_PUBLIC, {p_method, false}, s_method_signature, NULL},
    {"token.create", "creates an authentication token for the caller", S_USER,
     {p_token_create, false}, xoc_api_m_token_create, "cache"},
    {"token.delete", "deletes tokens", S_ADMIN, {p_token_delete, false}, xoc_api_m_token_delete,
     "cache"},
    {"user.create", "creates a user; returns its id", S_ADMIN, {p_user_create, false},
     xoc_api_m_user_create, "cache"},
    {"user.delete", "deletes a user (and closes its connections)", S_ADMIN, {p_id, false},
     xoc_api_m_user_delete, "cache"},
    {"user.getAll", "every user (public properties)", S_ADMIN, {p_none, false},
     xoc_api_m_user_get_all, "cache"},
    {"user.set", "changes a user (non-admins: their own preferences only)", S_USER,
     {p_user_set, false}, xoc_api_m_user_set, "cache"},
    {"xo.getAllObjects", "every object, or those matching filter, up to limit", S_USER,
     {p_all_objects, false}, xoc_api_m_get_all_objects, NULL},
};
#define S_COUNT (sizeof s_methods / sizeof s_methods[0])

const xoc_api_method_t *xoc_api_methods(size_t *count)
{
    *count = S_COUNT;
    return s_methods;
}

static int s_cmp(const void *key, const void *entry)
{
    return strcmp(key, ((const xoc_api_method_t *)entry)->name);
}

const xoc_api_method_t *xoc_api_method_find(const char *name)
{
    return bsearch(name, s_methods, S_COUNT, sizeof s_methods[0], s_cmp);
}

/* ---- introspection --------------------------------------------------------------------------------- */

/* {description, params, permission?} as xo-server shows it (§4.2) */
static json_t *s_info(const xoc_api_method_t *m)
{
    json_t *info = json_pack("{s:s,s:o}", "description", m->description, "params",
                             xoc_api_rpc_schema_json(&m->params));
    if (m->permission == XOC_API_PERM_PUBLIC)
        json_object_set_new(info, "permission", json_null());
    else if (m->permission == XOC_API_PERM_ADMIN)
        json_object_set_new(info, "permission", json_string("admin"));
    return info;
}

static int s_list_methods(xoc_api_call_t *call)
{
    json_t *names = json_array();
    for (size_t i = 0; i < S_COUNT; i++)
        json_array_append_new(names, json_string(s_methods[i].name));
    xoc_api_call_done(call, names);
    return 0;
}

static int s_methods_info(xoc_api_call_t *call)
{
    json_t *all = json_object();
    for (size_t i = 0; i < S_COUNT; i++)
        json_object_set_new(all, s_methods[i].name, s_info(&s_methods[i]));
    xoc_api_call_done(call, all);
    return 0;
}

static const xoc_api_method_t *s_param_method(xoc_api_call_t *call)
{
    return xoc_api_method_find(json_string_value(json_object_get(call->params, "method")));
}

static int s_method_info(xoc_api_call_t *call)
{
    const xoc_api_method_t *m = s_param_method(call);
    if (!m)
        return XOC_ENOENT;
    xoc_api_call_done(call, s_info(m));
    return 0;
}

static int s_method_signature(xoc_api_call_t *call)
{
    const xoc_api_method_t *m = s_param_method(call);
    if (!m)
        return XOC_ENOENT;
    json_t *info = s_info(m);
    json_object_set_new(info, "name", json_string(m->name));
    xoc_api_call_done(call, json_pack("[o]", info));
    return 0;
}

static int s_version(xoc_api_call_t *call)
{
    xoc_api_call_done(call, json_string("0.1"));
    return 0;
}

static int s_server_version(xoc_api_call_t *call)
{
    xoc_api_call_done(call, json_string("xoc 0.1.0"));
    return 0;
}
