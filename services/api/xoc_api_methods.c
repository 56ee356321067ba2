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
    {"tokens", S_ARR, true, false, "tokens (or their listed ids) to delete"},
    {"pattern", S_OBJ, true, false, "partial match on the token records"},
    S_END};
static const xoc_api_param_t p_token_set[] = {
    {"id", S_STR, false, false, "the token, or its listed id"},
    {"description", S_STR, true, true, NULL},
    S_END};
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
static const xoc_api_param_t p_change_password[] = {
    {"oldPassword", S_STR, false, false, NULL}, {"newPassword", S_STR, false, false, NULL}, S_END};

/* actions (xoc_api_actions.c) and servers (xoc_api_servers.c) */
static const xoc_api_param_t p_vm_start[] = {
    {"id", S_STR, false, false, NULL},
    {"host", S_STR, true, false, "start on this host (operate on it)"},
    {"force", S_BOOL, true, false, NULL},
    {"bypassMacAddressesCheck", S_BOOL, true, false,
     "start even if a running VM has one of its MACs"},
    S_END};
static const xoc_api_param_t p_vm_stop[] = {
    {"id", S_STR, false, false, NULL},
    {"force", S_BOOL, true, false, "hard shutdown"},
    {"forceShutdownDelay", S_NUM, true, false, "accepted; a clean shutdown waits forever"},
    {"bypassBlockedOperation", S_BOOL, true, false, NULL},
    S_END};
static const xoc_api_param_t p_vm_restart[] = {
    {"id", S_STR, false, false, NULL},
    {"force", S_BOOL, true, false, "hard reboot"},
    {"bypassBlockedOperation", S_BOOL, true, false, NULL},
    S_END};
/* vm.set's params, also those of vm.setAndRestart */
#define S_VM_SET_PARAMS \
    {"id", S_STR, false, false, NULL}, \
    {"name_label", S_STR, true, true, NULL}, \
    {"name_description", S_STR, true, true, NULL}, \
    {"CPUs", XOC_API_T_INTEGER, true, false, "vCPUs (live when running)"}, \
    {"cpusMax", XOC_API_T_INTEGER, true, false, "VCPUs_max"}, \
    {"memory", XOC_API_T_INTEGER | S_STR, true, false, "dynamic max, bytes or \"2GiB\""}, \
    {"memoryMax", XOC_API_T_INTEGER | S_STR, true, false, "dynamic max"}, \
    {"memoryMin", XOC_API_T_INTEGER | S_STR, true, false, "dynamic min"}, \
    {"memoryStaticMax", XOC_API_T_INTEGER | S_STR, true, false, "static max (halted VM)"}, \
    {"auto_poweron", S_BOOL, true, false, NULL}, \
    {"high_availability", S_STR, true, true, "restart | best-effort | \"\""}, \
    {"PV_args", S_STR, true, true, NULL}, \
    {"startDelay", XOC_API_T_INTEGER, true, false, NULL}, \
    {"affinityHost", S_STR | XOC_API_T_NULL, true, false, "host id, or null"},
static const xoc_api_param_t p_vm_set[] = {S_VM_SET_PARAMS S_END};
static const xoc_api_param_t p_vm_set_restart[] = {
    S_VM_SET_PARAMS{"force", S_BOOL, true, false, "hard shutdown instead of a clean one"}, S_END};
static const xoc_api_param_t p_vm_snapshot[] = {
    {"id", S_STR, false, false, NULL},
    {"name", S_STR, true, false, NULL},
    {"description", S_STR, true, true, NULL},
    {"saveMemory", S_BOOL, true, false, "with the memory: a checkpoint of a running VM"},
    S_END};
static const xoc_api_param_t p_vm_revert[] = {{"snapshot", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_vm_boot_order[] = {
    {"vm", S_STR, false, false, NULL},
    {"order", S_STR, false, false, "boot devices in order: c (disk), d (CD), n (network)"},
    S_END};
static const xoc_api_param_t p_pool_default_sr[] = {{"sr", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_vm_insert_cd[] = {
    {"id", S_STR, false, false, NULL},
    {"cd_id", S_STR, false, false, "the ISO's VDI"},
    {"force", S_BOOL, true, false, "eject what the drive holds first"},
    S_END};
static const xoc_api_param_t p_vm_attach_disk[] = {
    {"vm", S_STR, false, false, NULL},
    {"vdi", S_STR, false, false, NULL},
    {"position", S_STR, true, false, "userdevice (default: the first free)"},
    {"mode", S_STR, true, false, "RO | RW (default RW)"},
    {"bootable", S_BOOL, true, false, NULL},
    S_END};
static const xoc_api_param_t p_vm_create_interface[] = {
    {"vm", S_STR, false, false, NULL},
    {"network", S_STR, false, false, NULL},
    {"position", S_STR, true, false, "device number (default: the first free)"},
    {"mac", S_STR, true, true, "default: chosen by XAPI"},
    {"allowedIpv4Addresses", S_ARR, true, false, "locks the VIF to these addresses"},
    {"allowedIpv6Addresses", S_ARR, true, false, "locks the VIF to these addresses"},
    S_END};
static const xoc_api_param_t p_vm_migrate[] = {
    {"vm", S_STR, false, false, NULL},
    {"targetHost", S_STR, false, false, "a host of the VM's pool"},
    {"migrationNetwork", S_STR, true, false, "default: the pool's xo:migrationNetwork"},
    {"force", S_BOOL, true, false, NULL},
    {"sr", S_STR, true, false, "storage migration (not supported yet)"},
    {"mapVdisSrs", S_OBJ, true, false, "storage migration (not supported yet)"},
    {"mapVifsNetworks", S_OBJ, true, false, "migration between pools (not supported yet)"},
    S_END};
static const xoc_api_param_t p_disk_create[] = {
    {"name", S_STR, false, false, NULL},
    {"size", XOC_API_T_INTEGER | S_STR, false, false, "bytes or \"10GiB\""},
    {"sr", S_STR, false, false, NULL},
    {"vm", S_STR, true, false, "attach it to this VM"},
    {"bootable", S_BOOL, true, false, NULL},
    {"mode", S_STR, true, false, "RO | RW (default RW)"},
    {"position", S_STR, true, false, "userdevice (default: the first free)"},
    S_END};
static const xoc_api_param_t p_vdi_set[] = {
    {"id", S_STR, false, false, NULL},
    {"name_label", S_STR, true, true, NULL},
    {"name_description", S_STR, true, true, NULL},
    {"size", XOC_API_T_INTEGER | S_STR, true, false, "grows the disk: bytes or \"10GiB\""},
    S_END};
static const xoc_api_param_t p_vm_create[] = {
    {"name_label", S_STR, false, false, NULL},
    {"template", S_STR, false, false, "a template (or VM, snapshot) id"},
    {"name_description", S_STR, true, true, NULL},
    {"CPUs", XOC_API_T_INTEGER, true, false, NULL},
    {"memory", XOC_API_T_INTEGER | S_STR, true, false, "bytes or \"2GiB\""},
    {"affinityHost", S_STR, true, false, NULL},
    {"VDIs", S_ARR, true, false, "new disks: [{size, SR, name_label?, name_description?}]"},
    {"VIFs", S_ARR, true, false, "[{network, mac?, allowedIpv4Addresses?, ...}]"},
    {"installation", S_OBJ, true, false, "{method: cdrom, repository: ISO id} or {method: network}"},
    {"bootAfterCreate", S_BOOL, true, false, NULL},
    {"existingDisks", S_OBJ, true, false, "not supported yet (only {})"},
    {"cloudConfig", S_STR, true, true, "not supported yet"},
    {"networkConfig", S_STR, true, true, "not supported yet"},
    {"coresPerSocket", XOC_API_T_INTEGER | S_STR, true, true, "ignored"},
    {"hvmBootFirmware", S_STR, true, true, "ignored"},
    {"copyHostBiosStrings", S_BOOL, true, false, "ignored"},
    {"createVtpm", S_BOOL, true, false, "not supported yet (only false)"},
    {"resourceSet", S_STR, true, true, "not supported yet"},
    {"share", S_BOOL, true, false, "ignored (resource sets)"},
    {"vgpuType", S_STR, true, true, "not supported yet"},
    {"gpuGroup", S_STR, true, true, "not supported yet"},
    S_END};
static const xoc_api_param_t p_network_create[] = {
    {"pool", S_STR, false, false, NULL},
    {"name", S_STR, false, false, NULL},
    {"description", S_STR, true, true, NULL},
    {"mtu", XOC_API_T_INTEGER, true, false, "default 1500"},
    {"nbd", S_BOOL, true, false, "ignored"},
    {"pif", S_STR, true, false, "VLAN on this PIF (not supported yet)"},
    {"vlan", XOC_API_T_INTEGER, true, false, "VLAN tag (not supported yet)"},
    S_END};
static const xoc_api_param_t p_network_set[] = {
    {"id", S_STR, false, false, NULL},
    {"name_label", S_STR, true, true, NULL},
    {"name_description", S_STR, true, true, NULL},
    {"defaultIsLocked", S_BOOL, true, false, "new VIFs locked (default_locking_mode)"},
    {"automatic", S_BOOL, true, false, "other_config automatic"},
    S_END};
static const xoc_api_param_t p_vm_clone[] = {
    {"id", S_STR, false, false, NULL},
    {"name", S_STR, false, false, NULL},
    {"full_copy", S_BOOL, false, false, "VM.copy instead of VM.clone"},
    S_END};
static const xoc_api_param_t p_vm_delete[] = {
    {"id", S_STR, false, false, NULL},
    {"deleteDisks", S_BOOL, true, false, "also destroy its own disks"},
    {"force", S_BOOL, true, false, NULL},
    {"forceDeleteDefaultTemplate", S_BOOL, true, false, NULL},
    {"forceBlockedOperation", S_BOOL, true, false, NULL},
    S_END};
static const xoc_api_param_t p_host_restart[] = {
    {"id", S_STR, false, false, NULL},
    {"force", S_BOOL, true, false, "reboot even when the evacuation fails"},
    {"suspendResidentVms", S_BOOL, true, false, NULL},
    {"bypassBackupCheck", S_BOOL, true, false, NULL},
    {"bypassVersionCheck", S_BOOL, true, false, NULL},
    S_END};
static const xoc_api_param_t p_host_restart_agent[] = {
    {"id", S_STR, false, false, NULL}, {"bypassBackupCheck", S_BOOL, true, false, NULL}, S_END};
static const xoc_api_param_t p_host_maintenance[] = {
    {"id", S_STR, false, false, NULL},
    {"maintenance", S_BOOL, false, false, "true: disable and evacuate; false: enable"},
    {"vmsToForceMigrate", S_ARR, true, false, NULL},
    S_END};
static const xoc_api_param_t p_host_disable[] = {
    {"id", S_STR, false, false, NULL}, {"transient", S_BOOL, true, false, NULL}, S_END};
static const xoc_api_param_t p_names[] = {
    {"id", S_STR, false, false, NULL},
    {"name_label", S_STR, true, true, NULL},
    {"name_description", S_STR, true, true, NULL},
    S_END};
static const xoc_api_param_t p_pool_set[] = {
    {"id", S_STR, false, false, NULL},
    {"name_label", S_STR, true, true, NULL},
    {"name_description", S_STR, true, true, NULL},
    {"auto_poweron", S_BOOL, true, false, NULL},
    S_END};
static const xoc_api_param_t p_server_add[] = {
    {"host", S_STR, false, false, "address[:port] or URL of a pool member"},
    {"username", S_STR, false, false, NULL},
    {"password", S_STR, false, false, NULL},
    {"label", S_STR, true, true, NULL},
    {"autoConnect", S_BOOL, true, false, "connect now (default true)"},
    {"allowUnauthorized", S_BOOL, true, false, "accept a self-signed certificate"},
    {"readOnly", S_BOOL, true, false, NULL},
    {"httpProxy", S_STR, true, true, "stored, not used yet"},
    S_END};
static const xoc_api_param_t p_server_set[] = {
    {"id", S_STR, false, false, NULL},
    {"host", S_STR, true, false, NULL},
    {"username", S_STR, true, false, NULL},
    {"password", S_STR, true, false, NULL},
    {"label", S_STR, true, true, NULL},
    {"allowUnauthorized", S_BOOL, true, false, NULL},
    {"readOnly", S_BOOL, true, false, NULL},
    {"httpProxy", S_STR, true, true, NULL},
    S_END};
static const xoc_api_param_t p_acl[] = {
    {"subject", S_STR, false, false, "user or group id"},
    {"object", S_STR, false, false, "object id"},
    {"action", S_STR, false, false, "viewer | operator | admin"},
    S_END};
static const xoc_api_param_t p_group_create[] = {{"name", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_group_set[] = {
    {"id", S_STR, false, false, NULL}, {"name", S_STR, true, false, NULL}, S_END};
static const xoc_api_param_t p_group_set_name[] = {
    {"id", S_STR, false, false, NULL}, {"name", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_group_user[] = {
    {"id", S_STR, false, false, NULL}, {"userId", S_STR, false, false, NULL}, S_END};
static const xoc_api_param_t p_group_users[] = {
    {"id", S_STR, false, false, NULL},
    {"userIds", S_ARR, false, false, "user ids (the whole member list)"},
    S_END};

#define S_PUBLIC XOC_API_PERM_PUBLIC
#define S_USER XOC_API_PERM_SIGNED_IN
#define S_ADMIN XOC_API_PERM_ADMIN

/* sorted by name (strcmp) */
static const xoc_api_method_t s_methods[] = {
    {"acl.add", "grants a role (viewer, operator, admin) on an object to a user or group",
     S_ADMIN, {p_acl, false}, xoc_api_m_acl_add, "cache"},
    {"acl.get", "every ACL [{id, subject, object, action}]", S_ADMIN, {p_none, false},
     xoc_api_m_acl_get, "cache"},
    {"acl.getCurrentPermissions", "the caller's permissions {objectId: {perm: 1}}", S_USER,
     {p_none, false}, xoc_api_m_acl_get_current_permissions, NULL},
    {"acl.remove", "removes an ACL", S_ADMIN, {p_acl, false}, xoc_api_m_acl_remove, "cache"},
    {"disk.create", "creates a disk on an SR (attached to vm if given); returns its id", S_USER,
     {p_disk_create, false}, xoc_api_m_disk_create, "xapi.<pool>"},
    {"group.addUser", "adds a user to a group", S_ADMIN, {p_group_user, false},
     xoc_api_m_group_add_user, "cache"},
    {"group.create", "creates a group; returns its id", S_ADMIN, {p_group_create, false},
     xoc_api_m_group_create, "cache"},
    {"group.delete", "deletes a group (its ACLs and memberships too)", S_ADMIN, {p_id, false},
     xoc_api_m_group_delete, "cache"},
    {"group.getAll", "every group [{id, name, users}]", S_ADMIN, {p_none, false},
     xoc_api_m_group_get_all, "cache"},
    {"group.removeUser", "removes a user from a group", S_ADMIN, {p_group_user, false},
     xoc_api_m_group_remove_user, "cache"},
    {"group.set", "renames a group", S_ADMIN, {p_group_set, false}, xoc_api_m_group_set,
     "cache"},
    {"group.setName", "renames a group", S_ADMIN, {p_group_set_name, false},
     xoc_api_m_group_set, "cache"},
    {"group.setUsers", "sets the members of a group", S_ADMIN, {p_group_users, false},
     xoc_api_m_group_set_users, "cache"},
    {"host.disable", "disables a host (no new VM starts on it)", S_USER, {p_host_disable, false},
     xoc_api_m_host_enable, "xapi.<pool>"},
    {"host.enable", "enables a host", S_USER, {p_id, false}, xoc_api_m_host_enable, "xapi.<pool>"},
    {"host.restart", "reboots a host: disable, evacuate, reboot", S_USER, {p_host_restart, false},
     xoc_api_m_host_restart, "xapi.<pool>"},
    {"host.restartAgent", "restarts the toolstack of a host", S_USER,
     {p_host_restart_agent, false}, xoc_api_m_host_restart_agent, "xapi.<pool>"},
    {"host.set", "changes a host's name and description", S_USER, {p_names, false},
     xoc_api_m_host_set, "xapi.<pool>"},
    {"host.setMaintenanceMode", "maintenance on: disable and evacuate; off: enable", S_USER,
     {p_host_maintenance, false}, xoc_api_m_host_maintenance, "xapi.<pool>"},
    {"message.delete", "deletes a XAPI message", S_USER, {p_id, false}, xoc_api_m_message_delete,
     "xapi.<pool>"},
    {"network.create", "creates a private network in a pool; returns its id", S_USER,
     {p_network_create, false}, xoc_api_m_network_create, "xapi.<pool>"},
    {"network.delete", "destroys a network", S_USER, {p_id, false}, xoc_api_m_network_delete,
     "xapi.<pool>"},
    {"network.set", "changes a network's names, default locking, automatic flag", S_USER,
     {p_network_set, false}, xoc_api_m_network_set, "xapi.<pool>"},
    {"pool.set", "changes a pool's settings", S_USER, {p_pool_set, false}, xoc_api_m_pool_set,
     "xapi.<pool>"},
    {"pool.setDefaultSr", "makes an SR its pool's default SR", S_USER,
     {p_pool_default_sr, false}, xoc_api_m_pool_set_default_sr, "xapi.<pool>"},
    {"server.add", "adds a pool connection; returns its id", S_ADMIN, {p_server_add, false},
     xoc_api_m_server_add, "cache"},
    {"server.disable", "disconnects a pool and keeps it disabled", S_ADMIN, {p_id, false},
     xoc_api_m_server_enable, "cache"},
    {"server.enable", "enables (connects) a pool connection", S_ADMIN, {p_id, false},
     xoc_api_m_server_enable, "cache"},
    {"server.getAll", "every pool connection with its status (never its password)", S_ADMIN,
     {p_none, false}, xoc_api_m_server_get_all, "cache"},
    {"server.remove", "removes a pool connection (its objects go)", S_ADMIN, {p_id, false},
     xoc_api_m_server_remove, "cache"},
    {"server.set", "changes a pool connection", S_ADMIN, {p_server_set, false},
     xoc_api_m_server_set, "cache"},
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
    {"sr.scan", "rescans an SR", S_USER, {p_id, false}, xoc_api_m_sr_scan, "xapi.<pool>"},
    {"sr.set", "changes an SR's name and description", S_USER, {p_names, false}, xoc_api_m_sr_set,
     "xapi.<pool>"},
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
    {"task.cancel", "cancels a XAPI task", S_USER, {p_id, false}, xoc_api_m_task_cancel, "xapi.<pool>"},
    {"task.destroy", "destroys a XAPI task", S_USER, {p_id, false}, xoc_api_m_task_cancel, "xapi.<pool>"},
    {"token.create", "creates an authentication token for the caller", S_USER,
     {p_token_create, false}, xoc_api_m_token_create, "cache"},
    {"token.delete", "deletes tokens of any user", S_ADMIN, {p_token_delete, false},
     xoc_api_m_token_delete, "cache"},
    {"token.deleteOwn", "deletes the caller's tokens (all of them without tokens or pattern)",
     S_USER, {p_token_delete, false}, xoc_api_m_token_delete_own, "cache"},
    {"token.set", "changes the description of one of the caller's tokens", S_USER,
     {p_token_set, false}, xoc_api_m_token_set, "cache"},
    {"user.changePassword", "changes the caller's password (the old one checked)", S_USER,
     {p_change_password, false}, xoc_api_m_user_change_password, "cache"},
    {"user.create", "creates a user; returns its id", S_ADMIN, {p_user_create, false},
     xoc_api_m_user_create, "cache"},
    {"user.delete", "deletes a user (and closes its connections)", S_ADMIN, {p_id, false},
     xoc_api_m_user_delete, "cache"},
    {"user.getAll", "every user (public properties)", S_ADMIN, {p_none, false},
     xoc_api_m_user_get_all, "cache"},
    {"user.getAuthenticationTokens", "the caller's tokens (ids: their stored keys)", S_USER,
     {p_none, false}, xoc_api_m_user_get_tokens, "cache"},
    {"user.set", "changes a user (non-admins: their own preferences only)", S_USER,
     {p_user_set, false}, xoc_api_m_user_set, "cache"},
    {"vdi.delete", "destroys a disk", S_USER, {p_id, false}, xoc_api_m_vdi_delete, "xapi.<pool>"},
    {"vdi.set", "renames or grows a disk", S_USER, {p_vdi_set, false}, xoc_api_m_vdi_set,
     "xapi.<pool>"},
    {"vif.connect", "plugs a network interface", S_USER, {p_id, false}, xoc_api_m_vif_connect,
     "xapi.<pool>"},
    {"vif.delete", "removes a network interface (unplugged first)", S_USER, {p_id, false},
     xoc_api_m_vif_delete, "xapi.<pool>"},
    {"vif.disconnect", "unplugs a network interface", S_USER, {p_id, false},
     xoc_api_m_vif_connect, "xapi.<pool>"},
    {"vm.attachDisk", "attaches a disk to a VM (plugged if it runs)", S_USER,
     {p_vm_attach_disk, false}, xoc_api_m_vm_attach_disk, "xapi.<pool>"},
    {"vm.clone", "clones a VM (full_copy: VM.copy); returns the new VM's id", S_USER,
     {p_vm_clone, false}, xoc_api_m_vm_clone, "xapi.<pool>"},
    {"vm.convertToTemplate", "makes a halted VM a template", S_USER, {p_id, false},
     xoc_api_m_vm_convert_to_template, "xapi.<pool>"},
    {"vm.create", "creates a VM from a template (disks, interfaces, installation); returns its id",
     S_USER, {p_vm_create, false}, xoc_api_m_vm_create, "xapi.<pool>"},
    {"vm.createInterface", "adds a network interface to a VM; returns its id", S_USER,
     {p_vm_create_interface, false}, xoc_api_m_vm_create_interface, "xapi.<pool>"},
    {"vm.delete", "deletes a VM, snapshot or template (hard shutdown first)", S_USER,
     {p_vm_delete, false}, xoc_api_m_vm_delete, "xapi.<pool>"},
    {"vm.ejectCd", "empties a VM's CD drive", S_USER, {p_id, false}, xoc_api_m_vm_eject_cd,
     "xapi.<pool>"},
    {"vm.insertCd", "inserts an ISO into a VM's CD drive (one is added if it has none)", S_USER,
     {p_vm_insert_cd, false}, xoc_api_m_vm_insert_cd, "xapi.<pool>"},
    {"vm.migrate", "moves a running VM to another host of its pool (live)", S_USER,
     {p_vm_migrate, false}, xoc_api_m_vm_migrate, "xapi.<pool>"},
    {"vm.pause", "pauses a running VM", S_USER, {p_id, false}, xoc_api_m_vm_power, "xapi.<pool>"},
    {"vm.restart", "reboots a VM (force: hard reboot)", S_USER, {p_vm_restart, false},
     xoc_api_m_vm_restart, "xapi.<pool>"},
    {"vm.resume", "resumes a suspended VM", S_USER, {p_id, false}, xoc_api_m_vm_power, "xapi.<pool>"},
    {"vm.revert", "reverts a VM to a snapshot", S_USER, {p_vm_revert, false}, xoc_api_m_vm_revert,
     "xapi.<pool>"},
    {"vm.set", "changes a VM's settings", S_USER, {p_vm_set, false}, xoc_api_m_vm_set, "xapi.<pool>"},
    {"vm.setAndRestart", "vm.set on a running VM shut down, then started again", S_USER,
     {p_vm_set_restart, false}, xoc_api_m_vm_set, "xapi.<pool>"},
    {"vm.setBootOrder", "sets an HVM guest's boot order", S_USER, {p_vm_boot_order, false},
     xoc_api_m_vm_set_boot_order, "xapi.<pool>"},
    {"vm.snapshot", "snapshots a VM; returns the snapshot's id", S_USER, {p_vm_snapshot, false},
     xoc_api_m_vm_snapshot, "xapi.<pool>"},
    {"vm.start", "starts a VM (or resumes / unpauses it)", S_USER, {p_vm_start, false},
     xoc_api_m_vm_start, "xapi.<pool>"},
    {"vm.stop", "shuts a VM down (force: hard shutdown)", S_USER, {p_vm_stop, false},
     xoc_api_m_vm_stop, "xapi.<pool>"},
    {"vm.suspend", "suspends a running VM", S_USER, {p_id, false}, xoc_api_m_vm_power, "xapi.<pool>"},
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
