// The error codes of xo-api.md §2, each provoked on the real stack by the mistake (or the pool
// situation) that produces it, and seen by the npm `xo-lib` client (or a raw WebSocket for the
// frames xo-lib cannot send) with its message and data. Started by run-xo-lib.sh (xapi-sim with
// 2 hosts, xoc-bus, xoc-cache, xoc-collector, xoc-api).
// Usage: node xo_lib_errors.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
// $XAPI_SIM: the simulator binary, started here for a second pool (serverUnreachable) and stopped.
// $XOC_CACHE_PID: the cache started by the launcher, stopped at the very end (serviceUnavailable).
// Prints one line per check and `compat: N passed, M failed`; exits non-zero on failure.
//
// Codes not provoked here, because no method xoc implements can meet them:
//   4 alreadyAuthenticated, 6 GenericError: deprecated, xo-server never sends them either.
//   12 vmIsTemplate (VM_IS_TEMPLATE): every xoc method that makes a VM.start / shutdown / reboot
//     / suspend call resolves its id as type VM, so a template (VM-template) or a snapshot is
//     noSuchObject (1) before any XAPI call, as in xo-server (checked below); vm.delete of a
//     default template is forbiddenOperation (5), or with forceDeleteDefaultTemplate clears the
//     flag before VM.destroy (checked below).
//   17 vdiInUse (VDI_IN_USE): the only VDI call is VDI.destroy in vm.delete {deleteDisks}, after
//     VM.destroy, and only on disks no other VM uses (per the replica), so never an attached one.
//   20 patchPrecheckFailed, 22/23 audit records, 24 notEnoughResources (resource sets),
//     26 featureUnauthorized (licences), 27 noMatchingVm (backup jobs): no such methods in xoc.
//   0 notImplemented: every method xoc lists is carried out, with every parameter it declares.
// The frontend's mapping of those XAPI codes is the same table as for the ones seen here
// (services/api/xoc_api_xapi.c, s_fail_known).
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, deadline, errorOf, finish, signer, startSim } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const WebSocket = require('ws')

const show = e => e ? JSON.stringify({ code: e.code, message: e.message, data: e.data }) : 'no error'
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)

// a XAPI call on a simulated pool (its master URL), as a XAPI client makes it
let session = null
async function simCall(url, method, params) {
  const res = await fetch(url + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  const body = await res.json()
  if (body.error) throw new Error(JSON.stringify(body.error))
  return body.result
}
const sim = (method, ...params) => simCall(simUrl, method, [session, ...params])

const clients = []
const signedIn = signer(Xo, apiUrl, clients)

// one raw JSON-RPC exchange on a fresh WebSocket (frames xo-lib never sends)
function raw(frames) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(apiUrl.replace(/^http/, 'ws').replace(/\/?$/, '/api/'))
    const answers = []
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no answer')) }, 10000)
    ws.on('open', () => { for (const f of frames) ws.send(f) })
    ws.on('message', m => {
      answers.push(JSON.parse(m.toString()))
      if (answers.length === frames.length) { clearTimeout(timer); ws.close(); resolve(answers) }
    })
    ws.on('error', e => { clearTimeout(timer); reject(e) })
  })
}

// a second simulated pool, in its own process (always stopped at the end)
let sim2 = null
async function startSim2() {
  sim2 = await startSim({ vms: 3, seed: 11 })
  return sim2.url
}
function stopSim2() {
  if (sim2) sim2.stop()
}

const objectsOf = (xo, filter) => xo.call('xo.getAllObjects', { filter })

try {
  const xo = await signedIn('admin@admin.net', adminPassword)
  session = await simCall(simUrl, 'session.login_with_password', ['root', 'password'])
  const pool1 = (await deadline(30000, 'the first pool', async () =>
    Object.values(await objectsOf(xo, { type: 'pool' }))[0]))
  const vms = await deadline(30000, 'the VMs', async () => {
    const v = Object.values(await objectsOf(xo, { type: 'VM', $pool: pool1.id }))
    return v.filter(o => o.power_state === 'Halted').length >= 3 ? v : null
  })
  const [vmA, vmB] = vms.filter(v => v.power_state === 'Halted')
  const hosts = Object.values(await objectsOf(xo, { type: 'host', $pool: pool1.id }))
  check('two hosts and two halted VMs to work on', hosts.length === 2 && vmB !== undefined)
  const fresh = async (id, pred, what) => deadline(10000, what, async () => {
    const o = (await objectsOf(xo, { id }))[id]
    return o && pred(o) ? o : null
  })

  // -32700, -32600 (raw frames), -32601 (xo-lib)
  const [parse, batch, badParams] = await raw(['{"jsonrpc":"2.0", nope',
    '[{"jsonrpc":"2.0","id":1,"method":"system.getVersion"}]',
    '{"jsonrpc":"2.0","id":7,"method":"vm.start","params":["x"]}'])
  check('-32700 invalid JSON, id null', parse.id === null && parse.error?.code === -32700 &&
    parse.error.message === 'invalid JSON', JSON.stringify(parse))
  check('-32600 for a batch, and for positional params (id echoed)',
    batch.error?.code === -32600 && badParams.error?.code === -32600 && badParams.id === 7,
    JSON.stringify([batch, badParams]))
  const noMethod = await errorOf(xo.call('vm.fly', { id: vmA.id }))
  check('-32601 method not found: <name>, data = the name', noMethod?.code === -32601 &&
    noMethod.message === 'method not found: vm.fly' && noMethod.data === 'vm.fly', show(noMethod))

  // 2 unauthorized before sign-in: {object: {}} (raw: xo-lib signs in first)
  const [anon] = await raw(['{"jsonrpc":"2.0","id":1,"method":"xo.getAllObjects","params":{}}'])
  check('2 not signed in: not enough permissions {object: {}}', anon.error?.code === 2 &&
    anon.error.message === 'not enough permissions' && same(anon.error.data, { object: {} }),
    JSON.stringify(anon))

  // 3 invalidCredentials; sign-in's plain errors hidden as -32000
  const bad = new Xo({ url: apiUrl })
  bad.on('error', () => {})
  clients.push(bad)
  await bad.open()
  const wrong = await errorOf(bad.signIn({ email: 'admin@admin.net', password: 'not-it' }))
  check('3 wrong password: invalid credentials, no data', wrong?.code === 3 &&
    wrong.message === 'invalid credentials' && wrong.data === undefined, show(wrong))
  const again = await errorOf(bad.signIn({ email: 'admin@admin.net', password: 'not-it' }))
  check('-32000 a retry within 2 s (throttled): unknown error from the peer',
    again?.code === -32000 && again.message === 'unknown error from the peer' &&
    again.data === undefined, show(again))
  const empty = await errorOf(bad.signIn({ email: 'nobody@example.net', password: '' }))
  check('-32000 empty password: unknown error from the peer', empty?.code === -32000 &&
    empty.message === 'unknown error from the peer', show(empty))
  // the throttling is per user and per address (all of these come from 127.0.0.1)
  await new Promise(r => setTimeout(r, 2100))
  const unknownToken = await errorOf(bad.signIn({ token: 'no-such-token' }))
  check('3 unknown token: invalid credentials', unknownToken?.code === 3, show(unknownToken))
  await new Promise(r => setTimeout(r, 2100))

  // 10 invalidParameters, Ajv error objects
  const missing = await errorOf(xo.call('vm.start', {}))
  const e0 = missing?.data?.errors?.[0]
  check('10 missing id: invalid parameters, Ajv {instancePath, schemaPath, keyword: required, ' +
    'params: {missingProperty}, message}', missing?.code === 10 &&
    missing.message === 'invalid parameters' && e0 && e0.instancePath === '' &&
    e0.schemaPath === '#/required' && e0.keyword === 'required' &&
    e0.params.missingProperty === 'id' && e0.message === "must have required property 'id'",
    show(missing))
  const wrongType = await errorOf(xo.call('vm.stop', { id: vmA.id, force: 'yes' }))
  const t0 = wrongType?.data?.errors?.[0]
  check('10 wrong type: keyword type, instancePath /force, schemaPath #/properties/force/type',
    wrongType?.code === 10 && t0?.keyword === 'type' && t0.instancePath === '/force' &&
    t0.schemaPath === '#/properties/force/type' && t0.params.type === 'boolean', show(wrongType))
  const extra = await errorOf(xo.call('vm.stop', { id: vmA.id, colour: 'red' }))
  check('10 unknown param: additionalProperties', extra?.code === 10 &&
    extra.data.errors[0].keyword === 'additionalProperties' &&
    extra.data.errors[0].params.additionalProperty === 'colour', show(extra))

  // 1 noSuchObject {id, type}; a template for a VM method is no such VM (as xo-server)
  const nope = await errorOf(xo.call('vm.start', { id: 'no-such-vm' }))
  check('1 unknown id: no such VM <id> {id, type: VM}', nope?.code === 1 &&
    nope.message === 'no such VM no-such-vm' && same(nope.data, { id: 'no-such-vm', type: 'VM' }),
    show(nope))
  const tmpl = Object.values(await objectsOf(xo, { type: 'VM-template' }))[0]
  const ofTmpl = await errorOf(xo.call('vm.start', { id: tmpl.id }))
  check('1 vm.start of a template: no such VM (resolved as a VM, no VM_IS_TEMPLATE call)',
    ofTmpl?.code === 1 && ofTmpl.data.id === tmpl.id, show(ofTmpl))

  // 13 for a checkpoint (vm.snapshot {saveMemory}) of a halted VM: XAPI wants it running
  const cpHalted = await errorOf(xo.call('vm.snapshot', { id: vmA.id, saveMemory: true }))
  check('13 vm.snapshot {saveMemory} of a halted VM (VM.checkpoint): VM state is halted but ' +
    'should be running', cpHalted?.code === 13 &&
    same(cpHalted.data, { objectId: vmA.id, expected: 'running', actual: 'halted' }),
    show(cpHalted))

  // 2 unauthorized for a non-admin: {permission, object: {id, type}}; admin method
  const uid = await xo.call('user.create', { email: 'gina@example.net', password: 'gina-pw' })
  const gina = await signedIn('gina@example.net', 'gina-pw')
  const noAcl = await errorOf(gina.call('vm.start', { id: vmA.id }))
  check('2 vm.start without ACL: {permission: operate, object: {id, type: VM}}',
    noAcl?.code === 2 && noAcl.message === 'not enough permissions' &&
    same(noAcl.data, { permission: 'operate', object: { id: vmA.id, type: 'VM' } }), show(noAcl))
  const adminOnly = await errorOf(gina.call('user.getAll'))
  check('2 admin method: {permission: admin, object: {}}', adminOnly?.code === 2 &&
    same(adminOnly.data, { permission: 'admin', object: {} }), show(adminOnly))

  // -32000: a XAPI error without an XO code, detailed for an admin, hidden for the others
  await xo.call('acl.add', { subject: uid, object: vmB.id, action: 'admin' })
  const order = await errorOf(xo.call('vm.set', { id: vmB.id, memoryMin: '64GiB' }))
  check('-32000 to an admin: CODE(params) and data {code, params, call}',
    order?.code === -32000 && order.message === 'MEMORY_CONSTRAINT_VIOLATION_ORDER()' &&
    order.data.code === 'MEMORY_CONSTRAINT_VIOLATION_ORDER' && same(order.data.params, []) &&
    order.data.call.method === 'VM.set_memory_limits', show(order))
  const hidden = await errorOf(gina.call('vm.set', { id: vmB.id, memoryMin: '64GiB' }))
  check('-32000 to a non-admin (admin of the VM): unknown error from the peer, no data',
    hidden?.code === -32000 && hidden.message === 'unknown error from the peer' &&
    hidden.data === undefined, show(hidden))

  // 13 vmBadPowerState
  await xo.call('vm.start', { id: vmA.id })
  await fresh(vmA.id, o => o.power_state === 'Running', 'vmA running')
  const twice = await errorOf(xo.call('vm.start', { id: vmA.id }))
  check('13 vm.start of a running VM: VM state is running but should be halted ' +
    '{objectId, expected, actual}', twice?.code === 13 &&
    twice.message === 'VM state is running but should be halted' &&
    same(twice.data, { objectId: vmA.id, expected: 'halted', actual: 'running' }), show(twice))

  // 21 operationFailed: a halted VM given a VIF with the MAC of a running VM's VIF (xo-server's
  // check before a start); bypassMacAddressesCheck lets it start all the same
  const [, , vmC] = vms.filter(v => v.power_state === 'Halted')
  const aVif = (await objectsOf(xo, { type: 'VIF', $VM: vmA.id }))
  const [mac, net] = Object.values(aVif).map(v => [v.MAC, v.$network])[0] ?? []
  const netRef = net && (await objectsOf(xo, { id: net }))[net]?._xapiRef
  const dupRef = await sim('VIF.create', { device: '7', network: netRef, VM: vmC._xapiRef,
    MAC: mac, MTU: 1500, other_config: {}, qos_algorithm_type: '', qos_algorithm_params: {} })
  const dupId = await sim('VIF.get_uuid', dupRef)
  await fresh(vmC.id, o => o.VIFs.includes(dupId), 'the VIF with a duplicated MAC')
  const dupMac = await errorOf(xo.call('vm.start', { id: vmC.id }))
  check('21 vm.start of a VM with the MAC of a running VM: operation failed ' +
    '{objectId, code: DUPLICATED_MAC_ADDRESS}', dupMac?.code === 21 &&
    dupMac.message === 'operation failed' &&
    same(dupMac.data, { objectId: vmC.id, code: 'DUPLICATED_MAC_ADDRESS' }), show(dupMac))
  check('… with bypassMacAddressesCheck → true',
    (await xo.call('vm.start', { id: vmC.id, bypassMacAddressesCheck: true })) === true)
  await xo.call('vm.stop', { id: vmC.id, force: true })
  await sim('VIF.destroy', dupRef)
  await fresh(vmC.id, o => o.power_state === 'Halted' && !o.VIFs.includes(dupId), 'vmC back')

  // 25 incorrectState
  const staticMax = await errorOf(xo.call('vm.set', { id: vmA.id, memoryStaticMax: '4GiB' }))
  check('25 vm.set memoryStaticMax of a running VM: incorrect state ' +
    '{actual, expected, object, property}', staticMax?.code === 25 &&
    staticMax.message === 'incorrect state' && same(staticMax.data, { actual: 'Running',
      expected: 'Halted', object: vmA.id, property: 'power_state' }), show(staticMax))
  await xo.call('vm.stop', { id: vmA.id, force: true })
  await fresh(vmA.id, o => o.power_state === 'Halted', 'vmA halted')

  // 11 / 14: a running HVM guest whose guest metrics report no PV drivers, then features
  // without the shutdown one (set on the pool, as its guest agent would report them)
  const gRef = await simCall(simUrl, 'sim.add_vm', { name: 'no-drivers', running: true })
  const gId = await sim('VM.get_uuid', gRef)
  const gm = await sim('VM.get_guest_metrics', gRef)
  await sim('VM_guest_metrics.set_PV_drivers_version', gm, {})
  await sim('VM_guest_metrics.set_other', gm, {})
  await fresh(gId, o => o.power_state === 'Running', 'the guest without drivers')
  const noDrivers = await errorOf(xo.call('vm.stop', { id: gId }))
  check('11 clean vm.stop, no PV drivers (VM_MISSING_PV_DRIVERS): missing PV drivers {objectId}',
    noDrivers?.code === 11 && noDrivers.message === 'missing PV drivers' &&
    same(noDrivers.data, { objectId: gId }), show(noDrivers))
  await sim('VM_guest_metrics.set_other', gm, { 'feature-balloon': '1' })
  const lacks = await errorOf(xo.call('vm.restart', { id: gId }))
  check('14 clean vm.restart, no shutdown feature (VM_LACKS_FEATURE): VM lacks feature {objectId}',
    lacks?.code === 14 && /^VM lacks feature/.test(lacks.message) &&
    lacks.data.objectId === gId, show(lacks))
  check('… a hard stop needs no drivers', (await xo.call('vm.stop', { id: gId, force: true })) ===
    true)

  // 19 operationBlocked / 5 forbiddenOperation: blocked_operations set on the pool
  await sim('VM.add_to_blocked_operations', vmA._xapiRef, 'start', 'compat-block')
  await sim('VM.add_to_blocked_operations', vmA._xapiRef, 'destroy', 'compat-keep')
  await fresh(vmA.id, o => o.blockedOperations?.destroy !== undefined, 'blockedOperations')
  const blocked = await errorOf(xo.call('vm.start', { id: vmA.id }))
  check('19 vm.start of a VM with start blocked (OPERATION_BLOCKED): operation blocked ' +
    '{objectId, code}', blocked?.code === 19 && blocked.message === 'operation blocked' &&
    same(blocked.data, { objectId: vmA.id, code: 'compat-block' }), show(blocked))
  const forbidden = await errorOf(xo.call('vm.delete', { id: vmA.id }))
  check('5 vm.delete of a VM with destroy blocked: forbidden operation: destroy ' +
    '{operation, reason}', forbidden?.code === 5 &&
    forbidden.message === 'forbidden operation: destroy' &&
    forbidden.data.operation === 'destroy', show(forbidden))
  // … the same with force, and a default template with forceDeleteDefaultTemplate: xoc clears
  // what XAPI's VM.destroy refuses (OPERATION_BLOCKED, VM_IS_TEMPLATE [vm, destroy]) first
  await sim('VM.add_to_blocked_operations', gRef, 'destroy', 'compat-keep')
  await fresh(gId, o => o.blockedOperations?.destroy !== undefined, 'blocked destroy on the guest')
  const gForbidden = await errorOf(xo.call('vm.delete', { id: gId }))
  check('… vm.delete {force} of a VM with destroy blocked → true (5 without force)',
    gForbidden?.code === 5 && (await xo.call('vm.delete', { id: gId, force: true })) === true,
    show(gForbidden))
  const dflt = await errorOf(xo.call('vm.delete', { id: tmpl.id }))
  check('5 vm.delete of a default template: {operation: destroy, reason: VM is default template}',
    dflt?.code === 5 && same(dflt.data, { operation: 'destroy', reason: 'VM is default template' }),
    show(dflt))
  const dfltGone = await errorOf(xo.call('vm.delete', { id: tmpl.id,
    forceDeleteDefaultTemplate: true }))
  check('… with forceDeleteDefaultTemplate → true (no VM_IS_TEMPLATE from VM.destroy)',
    dfltGone === null, show(dfltGone))
  await sim('VM.remove_from_blocked_operations', vmA._xapiRef, 'start')
  await sim('VM.remove_from_blocked_operations', vmA._xapiRef, 'destroy')

  // 15 notSupportedDuringUpgrade: a rolling pool upgrade in progress (XAPI's mark on the pool)
  await sim('pool.add_to_other_config', pool1._xapiRef, 'rolling_upgrade_in_progress', 'x')
  const rpu = await errorOf(xo.call('vm.snapshot', { id: vmA.id, name: 'during-rpu' }))
  check('15 vm.snapshot during a rolling pool upgrade (NOT_SUPPORTED_DURING_UPGRADE): ' +
    'not supported during upgrade, no data', rpu?.code === 15 &&
    rpu.message === 'not supported during upgrade' && rpu.data === undefined, show(rpu))
  await sim('pool.remove_from_other_config', pool1._xapiRef, 'rolling_upgrade_in_progress')

  // 7 noHostsAvailable: every host disabled
  for (const h of hosts) await xo.call('host.disable', { id: h.id })
  const noHost = await errorOf(xo.call('vm.start', { id: vmA.id }))
  check('7 vm.start with every host disabled (NO_HOSTS_AVAILABLE): no hosts available',
    noHost?.code === 7 && noHost.message === 'no hosts available', show(noHost))
  for (const h of hosts) await xo.call('host.enable', { id: h.id })

  // 18 hostOffline: the chosen host is down (its host_metrics.live, as the master records it)
  const [hUp, hDown] = hosts
  const hm = await sim('host.get_metrics', hDown._xapiRef)
  await sim('host_metrics.set_live', hm, false)
  const offline = await errorOf(xo.call('vm.start', { id: vmA.id, host: hDown.id }))
  check('18 vm.start on a host that is down (HOST_OFFLINE): host offline {objectId: the host}',
    offline?.code === 18 && offline.message === 'host offline' &&
    same(offline.data, { objectId: hDown.id }), show(offline))
  await sim('host_metrics.set_live', hm, true)
  check('… and once it is up again, vm.start on it → true',
    (await xo.call('vm.start', { id: vmA.id, host: hDown.id })) === true)
  await xo.call('vm.stop', { id: vmA.id, force: true })
  void hUp

  // 16 objectAlreadyExists
  const servers = await xo.call('server.getAll')
  const dupe = await errorOf(xo.call('server.add', { host: servers[0].host, username: 'root',
    password: 'password' }))
  check('16 server.add of a known host: server already exists {objectId, objectType}',
    dupe?.code === 16 && dupe.message === 'server already exists' &&
    same(dupe.data, { objectId: servers[0].id, objectType: 'server' }), show(dupe))

  // 9 serverUnreachable: a pool whose master stops answering, its objects still known
  const sim2Url = await startSim2()
  const sid = await xo.call('server.add', { host: sim2Url, username: 'root',
    password: 'password', label: 'to lose' })
  const vm2 = await deadline(30000, 'the second pool\'s VMs', async () =>
    Object.values(await objectsOf(xo, { type: 'VM' })).find(v =>
      v.$pool !== pool1.id && v.power_state === 'Halted'))
  sim2.proc.kill('SIGKILL')
  await new Promise(r => sim2.proc.on('exit', r))
  const stillThere = (await objectsOf(xo, { id: vm2.id }))[vm2.id] !== undefined
  const lost = await errorOf(xo.call('vm.start', { id: vm2.id }))
  check('9 vm.start on a pool whose master is gone: server unreachable {objectId}',
    stillThere && lost?.code === 9 && lost.message === 'server unreachable' &&
    same(lost.data, { objectId: vm2.id }), `${stillThere} ${show(lost)}`)
  await xo.call('server.remove', { id: sid })

  // 8 authenticationFailed: root's password changed on the first pool while connected; once
  // the gateway's session expires, its new login is refused (SESSION_AUTHENTICATION_FAILED)
  await simCall(simUrl, 'sim.set_password', { user: 'root', password: 'changed-on-the-host' })
  await simCall(simUrl, 'sim.expire_sessions', {})
  const authFailed = await errorOf(xo.call('vm.start', { id: vmB.id }))
  check('8 an action after the pool\'s password changed: authentication failed, no data',
    authFailed?.code === 8 && authFailed.message === 'authentication failed' &&
    authFailed.data === undefined, show(authFailed))

  // 28 serviceUnavailable: the cache (users, ACLs, servers) stopped; last, nothing needs it after
  const cachePid = Number(process.env.XOC_CACHE_PID)
  if (cachePid > 0) {
    process.kill(cachePid, 'SIGTERM')
    await deadline(10000, 'the cache stopped', () => {
      try { process.kill(cachePid, 0); return false } catch { return true }
    })
    const down = await deadline(15000, 'serviceUnavailable', async () => {
      const e = await errorOf(xo.call('server.getAll'))
      return e && e.code === 28 ? e : null
    }).catch(e => e)
    check('28 the cache stopped: server.getAll → service unavailable {serviceName: cache}',
      down?.code === 28 && down.message === 'service unavailable' &&
      same(down.data, { serviceName: 'cache' }), show(down))
    const version = await xo.call('system.getVersion').catch(e => e)
    check('… the frontend still answers what needs no cache', typeof version === 'string')
  } else check('XOC_CACHE_PID given by the launcher', false)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
stopSim2()
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('compat')
