// Compatibility test of the actions, their ACL checks and server.* methods: the npm `xo-lib` client against the
// real stack started by run-xo-lib.sh (xapi-sim, xoc-bus, xoc-cache, xoc-collector, xoc-api).
// Usage: node xo_lib_actions.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
// $XAPI_SIM: the simulator binary, started here for a second pool (server.add, through an HTTP
// proxy made here: httpProxy) and stopped.
// Prints one line per check and `compat: N passed, M failed`; exits non-zero on failure.
import http from 'node:http'
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, deadline, errorOf, finish, signer, simCall, startSim } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default

// a call on the first simulated pool, as a XAPI client would make it
const sim = (method, params) => simCall(simUrl, method, params)

const clients = []
const signedIn = signer(Xo, apiUrl, clients)

// a second simulated pool, in its own process (always stopped at the end)
let sim2 = null
let stopProxy = () => {}
async function startSim2() {
  sim2 = await startSim({ vms: 4, seed: 7 })
  return sim2.url
}
function stopSim2() {
  if (sim2) sim2.stop()
}

// resolves when pred() holds after a push (checked at each push, no polling), or rejects
function onPush(seen, pred, ms = 10000) {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve()
    const timer = setTimeout(() => reject(new Error('timeout waiting for a push')), ms)
    seen.waiters.push(() => { if (!pred()) return false; clearTimeout(timer); resolve(); return true })
  })
}

// pushes seen by a client: the last pushed state of each object, and every exited id
function follow(xo) {
  const seen = { objects: {}, exits: new Set(), n: 0, waiters: [] }
  xo.on('notification', n => {
    if (n.method !== 'all') return
    seen.n++
    for (const [id, o] of Object.entries(n.params.items)) {
      if (n.params.type === 'enter') { seen.objects[id] = o; seen.exits.delete(id) }
      else { seen.exits.add(id); delete seen.objects[id] }
    }
    seen.waiters = seen.waiters.filter(w => !w())
  })
  return seen
}

const objectsOf = (xo, filter) => xo.call('xo.getAllObjects', { filter })

try {
  const xo = await signedIn('admin@admin.net', adminPassword)
  const seen = follow(xo)
  const pools = await deadline(30000, 'the first pool', async () => {
    const p = Object.values(await objectsOf(xo, { type: 'pool' }))
    return p.length === 1 ? p : null
  })
  const pool1 = pools[0].id
  const vms = Object.values(await objectsOf(xo, { type: 'VM' }))
  const halted = vms.filter(v => v.power_state === 'Halted')
  const vm = halted[0]
  check('a halted VM to act on', vm !== undefined, `${halted.length} halted of ${vms.length}`)

  // 1. vm.start / vm.stop round trip, the pushed power state follows
  const started = await xo.call('vm.start', { id: vm.id })
  await deadline(10000, 'Running pushed', () => seen.objects[vm.id]?.power_state === 'Running')
  check('vm.start → true, pushed power_state Running', started === true)
  const badStart = await errorOf(xo.call('vm.start', { id: vm.id }))
  check('vm.start of a running VM → 13 VM_BAD_POWER_STATE', badStart && badStart.code === 13 &&
    badStart.message === 'VM state is running but should be halted' &&
    badStart.data.objectId === vm.id && badStart.data.expected === 'halted' &&
    badStart.data.actual === 'running', badStart && JSON.stringify(badStart))
  const stopped = await xo.call('vm.stop', { id: vm.id })
  await deadline(10000, 'Halted pushed', () => seen.objects[vm.id]?.power_state === 'Halted')
  check('vm.stop → true, pushed power_state Halted', stopped === true)
  const badStop = await errorOf(xo.call('vm.stop', { id: vm.id, force: false }))
  check('vm.stop of a halted VM → 13 (clean_shutdown: expected running)', badStop &&
    badStop.code === 13 && badStop.data.expected === 'running' &&
    badStop.data.actual === 'halted', badStop && JSON.stringify(badStop))
  await xo.call('vm.start', { vm: vm.id }) // §1.8: {vm} stands for {id}
  await deadline(10000, 'Running again', () => seen.objects[vm.id]?.power_state === 'Running')
  check('vm.start {vm: id} (the namespace param stands for id)', true)
  await xo.call('vm.stop', { id: vm.id, force: true })
  await deadline(10000, 'Halted after a hard shutdown',
    () => seen.objects[vm.id]?.power_state === 'Halted')
  check('vm.stop force (hard_shutdown)', true)

  // figures (printed, not asserted): a call's round trip and the push that follows it
  const calls = [], pushesMs = []
  for (let i = 0; i < 20; i++) {
    for (const [method, params, state] of [['vm.start', { id: vm.id }, 'Running'],
      ['vm.stop', { id: vm.id, force: true }, 'Halted']]) {
      const t0 = performance.now()
      await xo.call(method, params)
      calls.push(performance.now() - t0)
      await onPush(seen, () => seen.objects[vm.id]?.power_state === state)
      pushesMs.push(performance.now() - t0)
    }
  }
  const pct = (a, p) => a.slice().sort((x, y) => x - y)[Math.floor(a.length * p)].toFixed(1)
  console.log(`info vm.start/vm.stop x${calls.length}: call p50 ${pct(calls, 0.5)} ms, ` +
    `p90 ${pct(calls, 0.9)} ms; until the push p50 ${pct(pushesMs, 0.5)} ms, ` +
    `p90 ${pct(pushesMs, 0.9)} ms`)

  // 2. vm.set: the new name and vCPUs in the push
  const newName = 'renamed-' + Date.now()
  await xo.call('vm.set', { id: vm.id, name_label: newName, name_description: 'by xo-lib',
    CPUs: 2 })
  // each setting is its own XAPI call, so its own change: wait for all three
  const setSeen = await errorOf(deadline(10000, 'the settings pushed', () => {
    const o = seen.objects[vm.id]
    return o && o.name_label === newName && o.name_description === 'by xo-lib' &&
      o.CPUs.number === 2
  }))
  check('vm.set name_label / name_description / CPUs seen in the push', setSeen === null,
    JSON.stringify(seen.objects[vm.id]?.CPUs))

  // 2b. vm.setBootOrder (an HVM guest: the other boot parameters kept), pool.setDefaultSr
  const bootParams = seen.objects[vm.id]?.boot ?? {}
  check('vm.setBootOrder → true', (await xo.call('vm.setBootOrder',
    { vm: vm.id, order: 'dnc' })) === true)
  const booted = await errorOf(onPush(seen, () => seen.objects[vm.id]?.boot?.order === 'dnc'))
  check('… the new order pushed, the other boot parameters kept', booted === null &&
    Object.entries(bootParams).every(([k, v]) => k === 'order' ||
      seen.objects[vm.id].boot[k] === v), JSON.stringify(seen.objects[vm.id]?.boot))
  const badOrder = await errorOf(xo.call('vm.setBootOrder', { vm: vm.id, order: 'cxx' }))
  check('vm.setBootOrder with an unknown device → 10', badOrder?.code === 10,
    JSON.stringify(badOrder))
  const pool = Object.values(await objectsOf(xo, { type: 'pool' }))[0]
  const otherSr = Object.values(await objectsOf(xo, { type: 'SR', $pool: pool.id }))
    .find(sr => sr.id !== pool.default_SR)
  check('pool.setDefaultSr → true, pushed as the pool\'s default_SR',
    otherSr && (await xo.call('pool.setDefaultSr', { sr: otherSr.id })) === true &&
    (await errorOf(onPush(seen, () => seen.objects[pool.id]?.default_SR === otherSr.id))) ===
      null, otherSr && otherSr.id)

  // 3. vm.snapshot → the snapshot's id, already in the objects; vm.revert
  const snapId = await xo.call('vm.snapshot', { id: vm.id, name: 'snap1' })
  const snaps = await objectsOf(xo, { type: 'VM-snapshot' })
  const snap = snaps[snapId]
  check('vm.snapshot → id of a VM-snapshot already there', typeof snapId === 'string' &&
    snap && snap.$snapshot_of === vm.id && snap.name_label === 'snap1', snapId)
  check('vm.revert → true', (await xo.call('vm.revert', { snapshot: snapId })) === true)

  // 3b. a running VM: vm.snapshot {saveMemory} makes a checkpoint (suspended), and vm.revert
  // brings the VM back as it was when snapshotted: resumed after a checkpoint, started again
  // after a disk snapshot taken while it ran (the power state asked from the pool itself,
  // just after the answer: the restart is part of the call)
  const xs = await sim('session.login_with_password', ['root', 'password'])
  const powerOf = async () => sim('VM.get_power_state', [xs, vm._xapiRef])
  await xo.call('vm.start', { id: vm.id })
  await onPush(seen, () => seen.objects[vm.id]?.power_state === 'Running')
  const cpId = await xo.call('vm.snapshot', { id: vm.id, name: 'cp1', saveMemory: true })
  const runSnapId = await xo.call('vm.snapshot', { id: vm.id, name: 'run1' })
  const snaps2 = await objectsOf(xo, { type: 'VM-snapshot' })
  check('vm.snapshot {saveMemory} → a checkpoint: suspended; without: halted',
    snaps2[cpId]?.power_state === 'Suspended' && snaps2[runSnapId]?.power_state === 'Halted',
    `${snaps2[cpId]?.power_state} ${snaps2[runSnapId]?.power_state}`)
  const cpRevert = await xo.call('vm.revert', { snapshot: cpId })
  const afterCp = await powerOf()
  check('vm.revert to a checkpoint of a running VM → true, the VM resumed (Running)',
    cpRevert === true && afterCp === 'Running', afterCp)
  const runRevert = await xo.call('vm.revert', { snapshot: runSnapId })
  const afterRun = await powerOf()
  check('vm.revert to a disk snapshot of a running VM → true, the VM started again',
    runRevert === true && afterRun === 'Running', afterRun)
  await xo.call('vm.stop', { id: vm.id, force: true })
  const afterHalted = await xo.call('vm.revert', { snapshot: snapId }) && await powerOf()
  check('vm.revert to a snapshot of a halted VM: the VM left halted', afterHalted === 'Halted',
    afterHalted)
  await xo.call('vm.delete', { id: cpId })
  await xo.call('vm.delete', { id: runSnapId })
  await onPush(seen, () => seen.objects[vm.id]?.power_state === 'Halted')

  // 4. vm.clone → id; vm.delete: it goes (exit push)
  const cloneId = await xo.call('vm.clone', { id: vm.id, name: 'clone1', full_copy: false })
  const clone = (await objectsOf(xo, { type: 'VM' }))[cloneId]
  check('vm.clone → id of the new VM, already there', clone && clone.name_label === 'clone1' &&
    clone.power_state === 'Halted', cloneId)
  const copyId = await xo.call('vm.clone', { id: vm.id, name: 'copy1', full_copy: true })
  check('vm.clone full_copy (VM.copy) → id', typeof copyId === 'string' && copyId !== cloneId)
  // vm.convertToTemplate: a halted VM becomes a VM-template (a running one: 13)
  const running = Object.values(await objectsOf(xo, { type: 'VM', power_state: 'Running' }))
    .find(v => !v.is_control_domain)
  const notHalted = running && await errorOf(xo.call('vm.convertToTemplate', { id: running.id }))
  check('vm.convertToTemplate of a running VM → 13', !running || notHalted?.code === 13,
    JSON.stringify(notHalted))
  check('vm.convertToTemplate → true, the clone pushed as a VM-template',
    (await xo.call('vm.convertToTemplate', { id: cloneId })) === true &&
    (await errorOf(onPush(seen, () => seen.objects[cloneId]?.type === 'VM-template'))) === null,
    seen.objects[cloneId]?.type)
  check('vm.delete → true', (await xo.call('vm.delete', { id: cloneId })) === true)
  await deadline(10000, 'the clone\'s exit push', () => seen.exits.has(cloneId))
  await xo.call('vm.delete', { id: copyId, deleteDisks: true })
  await xo.call('vm.delete', { id: snapId })
  await deadline(10000, 'the exits', () => seen.exits.has(copyId) && seen.exits.has(snapId))
  check('vm.delete of a copy (deleteDisks) and of a snapshot: exit pushes', true)

  // 5. hosts: maintenance mode (disable + evacuate, then enable), pushed `enabled`
  const host = Object.values(await objectsOf(xo, { type: 'host' }))[0]
  await xo.call('vm.start', { id: vm.id, host: host.id })
  await deadline(10000, 'VM on the host', () => seen.objects[vm.id]?.$container === host.id)
  await xo.call('host.setMaintenanceMode', { id: host.id, maintenance: true })
  await deadline(10000, 'host disabled', () => seen.objects[host.id]?.enabled === false)
  await deadline(10000, 'VM evacuated', () => seen.objects[vm.id]?.$container &&
    seen.objects[vm.id].$container !== host.id)
  check('host.setMaintenanceMode true: disabled, its VM evacuated', true)
  await xo.call('host.setMaintenanceMode', { id: host.id, maintenance: false })
  await deadline(10000, 'host enabled', () => seen.objects[host.id]?.enabled === true)
  check('host.setMaintenanceMode false: enabled', true)
  // host.restart: disable, evacuate, reboot; it comes back enabled with a new start time
  await xo.call('vm.stop', { id: vm.id, force: true })
  await deadline(10000, 'Halted', () => seen.objects[vm.id]?.power_state === 'Halted')
  await xo.call('vm.start', { id: vm.id, host: host.id })
  await deadline(10000, 'VM on the host again', () => seen.objects[vm.id]?.$container === host.id)
  const bootBefore = seen.objects[host.id]?.startTime ?? host.startTime
  await new Promise(r => setTimeout(r, 1100)) // boot_time has a resolution of one second
  check('host.restart → true', (await xo.call('host.restart', { id: host.id })) === true)
  const rebooted = await errorOf(deadline(10000, 'the reboot pushed', () => {
    const h = seen.objects[host.id]
    return h && h.enabled === true && h.startTime !== bootBefore &&
      seen.objects[vm.id]?.$container !== host.id
  }))
  check('host.restart: VM evacuated, host back enabled with a new startTime', rebooted === null,
    `${bootBefore} -> ${seen.objects[host.id]?.startTime}`)
  check('host.restartAgent → true', (await xo.call('host.restartAgent', { id: host.id })) === true)
  await xo.call('vm.stop', { id: vm.id, force: true })

  // 6. sr.scan, pool.set
  const sr = Object.values(await objectsOf(xo, { type: 'SR' }))[0]
  check('sr.scan → true', (await xo.call('sr.scan', { id: sr.id })) === true)
  await xo.call('pool.set', { id: pool1, name_label: 'renamed pool' })
  await deadline(10000, 'pool name pushed', () => seen.objects[pool1]?.name_label === 'renamed pool')
  check('pool.set name_label seen in the push', true)

  // 6b. task.cancel / task.destroy, message.delete on objects made on the pool
  const session = await sim('session.login_with_password', ['root', 'password'])
  const taskUuid = await sim('task.get_uuid', [session,
    await sim('task.create', [session, 'compat task', 'to cancel'])])
  await deadline(10000, 'the task pushed', () => seen.objects[taskUuid]?.status === 'pending')
  check('task.cancel → true, pushed status cancelled',
    (await xo.call('task.cancel', { id: taskUuid })) === true &&
    await deadline(10000, 'cancelled', () => seen.objects[taskUuid]?.status === 'cancelled'))
  await xo.call('task.destroy', { id: taskUuid })
  await deadline(10000, 'the task gone', () => seen.exits.has(taskUuid))
  check('task.destroy: exit push', true)
  const msgUuid = await sim('message.get_uuid', [session, await sim('message.create',
    [session, 'COMPAT', 5, 'VM', vm.id, 'a message to delete'])])
  await deadline(10000, 'the message pushed', () => seen.objects[msgUuid]?.type === 'message')
  check('message.delete → true, exit push',
    (await xo.call('message.delete', { id: msgUuid })) === true &&
    await deadline(10000, 'message gone', () => seen.exits.has(msgUuid)))

  // 7. errors
  const unknown = await errorOf(xo.call('vm.start', { id: 'no-such-id' }))
  check('unknown object id → 1 no such VM', unknown && unknown.code === 1 &&
    unknown.message === 'no such VM no-such-id' && unknown.data.id === 'no-such-id' &&
    unknown.data.type === 'VM', unknown && JSON.stringify(unknown))
  const order = await errorOf(xo.call('vm.set', { id: vm.id, memoryMin: '64GiB' }))
  check('another XAPI error, to an admin: -32000 with CODE(params) and {code, params, call}',
    order && order.code === -32000 && order.message === 'MEMORY_CONSTRAINT_VIOLATION_ORDER()' &&
    order.data.code === 'MEMORY_CONSTRAINT_VIOLATION_ORDER' &&
    order.data.call.method === 'VM.set_memory_limits', order && JSON.stringify(order))
  await xo.call('vm.set', { id: vm.id, memory: '3GiB' })
  await deadline(10000, 'memory pushed', () =>
    seen.objects[vm.id]?.memory.dynamic[1] === 3 * 2 ** 30)
  check('vm.set memory "3GiB" seen in the push', true)
  const wrongType = await errorOf(xo.call('vm.start', { id: host.id }))
  check('an object of another type → 1', wrongType && wrongType.code === 1)
  const missing = await errorOf(xo.call('vm.start', {}))
  check('missing params → 10 invalid parameters', missing && missing.code === 10 &&
    Array.isArray(missing.data.errors), missing && JSON.stringify(missing))
  const badType = await errorOf(xo.call('vm.clone', { id: vm.id, name: 'x', full_copy: 'yes' }))
  check('wrong param type → 10', badType && badType.code === 10)
  await xo.call('user.create', { email: 'carol@example.net', password: 'carol-secret' })
  const carol = await signedIn('carol@example.net', 'carol-secret')
  const denied = await errorOf(carol.call('vm.start', { id: vm.id }))
  check('vm.start by a user without ACL → 2 unauthorized', denied && denied.code === 2 &&
    denied.data.permission === 'operate' && denied.data.object.id === vm.id,
    denied && JSON.stringify(denied))
  const deniedServer = await errorOf(carol.call('server.getAll'))
  check('server.getAll by a non-admin → 2', deniedServer && deniedServer.code === 2)

  // 8. servers: the configured one, then a second pool added, disabled, enabled, removed
  const servers = await xo.call('server.getAll')
  const first = servers[0]
  check('server.getAll: the configured server, connected, never its password',
    servers.length === 1 && first.status === 'connected' && first.poolId === pool1 &&
    first.label === 'compat' && first.enabled === true && !('password' in first) &&
    first.poolNameLabel === 'renamed pool', JSON.stringify(servers))
  const sim2Url = await startSim2()
  const dupe = await errorOf(xo.call('server.add', { host: first.host, username: 'root',
    password: 'password' }))
  check('server.add of a known host → 16', dupe && dupe.code === 16)
  // the second pool through an HTTP proxy (httpProxy): a forward proxy made here, which
  // counts the requests it carries to the simulator
  let proxied = 0
  const proxy = http.createServer((req, res) => {
    const target = new URL(req.url) // absolute form: a request to a proxy
    proxied++
    const up = http.request({ host: target.hostname, port: target.port, method: req.method,
      path: target.pathname + target.search, headers: req.headers }, r => {
      res.writeHead(r.statusCode, r.headers)
      r.pipe(res)
    })
    up.on('error', () => { res.writeHead(502); res.end() })
    req.pipe(up)
  })
  await new Promise(resolve => proxy.listen(0, '127.0.0.1', resolve))
  stopProxy = () => proxy.close()
  const sid = await xo.call('server.add', { host: sim2Url, username: 'root',
    password: 'password', label: 'second',
    httpProxy: `http://127.0.0.1:${proxy.address().port}` })
  const pool2 = await deadline(30000, 'the second pool pushed', () =>
    Object.values(seen.objects).find(o => o.type === 'pool' && o.id !== pool1))
  await deadline(30000, 'its VMs', async () =>
    Object.keys(await objectsOf(xo, { type: 'VM', $pool: pool2.id })).length === 4)
  check('server.add → id; the new pool\'s objects arrive through the pushes',
    typeof sid === 'string' && pool2.$pool === pool2.id)
  const loadProxied = proxied
  check('… every XAPI call of that pool through its httpProxy (login, get_all_records, ' +
    'event.from)', loadProxied >= 3, `${loadProxied} requests`)
  const s2 = await deadline(10000, 'server connected', async () =>
    (await xo.call('server.getAll')).find(s => s.id === sid && s.status === 'connected'))
  check('server.getAll: second server connected with its poolId', s2.poolId === pool2.id &&
    s2.label === 'second' && !('password' in s2))
  await xo.call('server.set', { id: sid, label: 'second pool' })
  const s2b = (await xo.call('server.getAll')).find(s => s.id === sid)
  check('server.set label (the connection stays)', s2b.label === 'second pool' &&
    s2b.status === 'connected')
  // host.restart in a one-host pool with a running guest: the evacuation fails, the host is
  // enabled again and the XAPI error is answered; force: the reboot itself refuses (HOST_IN_USE)
  const host2 = Object.values(await objectsOf(xo, { type: 'host', $pool: pool2.id }))[0]
  const guest2 = Object.values(await objectsOf(xo, { type: 'VM', $pool: pool2.id }))
    .find(v => v.power_state === 'Halted')
  const beforeStart = proxied
  await xo.call('vm.start', { id: guest2.id })
  check('… the actions on that pool through the proxy too (gateway)', proxied > beforeStart,
    `${proxied - beforeStart} requests`)
  const evac = await errorOf(xo.call('host.restart', { id: host2.id }))
  await deadline(10000, 'host2 enabled again', () =>
    (seen.objects[host2.id] ?? host2).enabled === true)
  check('host.restart, evacuation impossible: -32000 HOST_NOT_ENOUGH_FREE_MEMORY, host enabled again',
    evac && evac.code === -32000 && /^HOST_NOT_ENOUGH_FREE_MEMORY/.test(evac.message) &&
    evac.data.call.method === 'host.evacuate', evac && evac.message)
  const inUse = await errorOf(xo.call('host.restart', { id: host2.id, force: true }))
  check('host.restart force with a running guest: HOST_IN_USE from host.reboot',
    inUse && /^HOST_IN_USE/.test(inUse.message) && inUse.data.code === 'HOST_IN_USE',
    inUse && inUse.message)
  await xo.call('host.enable', { id: host2.id })
  await xo.call('vm.stop', { id: guest2.id, force: true })

  // readOnly: the pool's gateway refuses what would change it (a plain error, as xo-server)
  const vm2 = Object.values(await objectsOf(xo, { type: 'VM', $pool: pool2.id }))[0]
  await xo.call('server.set', { id: sid, readOnly: true })
  // the collector reconnects the pool with the new setting: probe with a harmless change
  const roProbe = await errorOf(deadline(30000, 'the read-only refusal', async () => {
    const e = await errorOf(xo.call('vm.set', { id: vm2.id, name_label: 'probe' }))
    return e && e.code === -32000 && /read only mode/.test(e.message) ? e : null
  }))
  const roStart = await errorOf(xo.call('vm.start', { id: vm2.id }))
  check('server.set readOnly: vm.start refused (-32000 "cannot call VM.start() in read only mode")',
    roProbe === null && roStart && roStart.code === -32000 &&
    roStart.message === 'cannot call VM.start() in read only mode' &&
    roStart.data.call.method === 'VM.start', roStart && roStart.message)
  await xo.call('server.set', { id: sid, readOnly: false })
  await deadline(30000, 'writable again', async () => {
    const e = await errorOf(xo.call('vm.set', { id: vm2.id, name_label: 'rw' }))
    return e === null
  })
  check('server.set readOnly false: writable again', true)
  await xo.call('server.disable', { id: sid })
  await deadline(30000, 'the second pool\'s exit', () => seen.exits.has(pool2.id))
  const s2c = (await xo.call('server.getAll')).find(s => s.id === sid)
  check('server.disable: its objects go, status disconnected', s2c.enabled === false &&
    s2c.status === 'disconnected' && Object.keys(await objectsOf(xo, { $pool: pool2.id }))
    .length === 0, JSON.stringify(s2c))
  await xo.call('server.enable', { id: sid })
  await deadline(30000, 'the second pool back', () => seen.objects[pool2.id] !== undefined)
  check('server.enable: the pool comes back', true)

  // 9. ACLs and actions (xo-api.md §8.4 capabilities, §8.1): a viewer, an operator of a pool
  //    and an administrator of a VM, each with his own connection and pushes
  await deadline(30000, 'the second pool\'s VMs back', async () =>
    Object.keys(await objectsOf(xo, { type: 'VM', $pool: pool2.id })).length === 4)
  const all1 = await objectsOf(xo, { $pool: pool1 })
  const diskSr = v => (v.$VBDs || []).map(b => all1[b]).filter(b => b && !b.is_cd_drive && b.VDI)
    .map(b => all1[b.VDI]?.$SR).find(Boolean)
  const spare = Object.values(all1).filter(o => o.type === 'VM' && o.power_state === 'Halted' &&
    o.id !== vm.id && diskSr(o))
  const [vA, vB, vC] = spare
  check('three halted VMs with disks for the ACL checks', vC !== undefined, `${spare.length}`)
  const otherVm = Object.values(await objectsOf(xo, { type: 'VM', $pool: pool2.id }))[0]
  const denied2 = (e, permission, id) => !!e && e.code === 2 && e.message === 'not enough permissions' &&
    e.data?.permission === permission && e.data?.object?.id === id
  const show = e => e ? JSON.stringify({ code: e.code, message: e.message, data: e.data }) : 'no error'
  const newUser = async name => {
    const id = await xo.call('user.create', { email: `${name}@example.net`, password: `${name}-pw` })
    return [id, await signedIn(`${name}@example.net`, `${name}-pw`)]
  }

  // 9a. viewer of one VM: sees it, may not operate nor administrate it
  const [daveId, dave] = await newUser('dave')
  await xo.call('acl.add', { subject: daveId, object: vA.id, action: 'viewer' })
  check('viewer: the VM is in his objects', (await dave.call('xo.getAllObjects'))[vA.id] !== undefined)
  for (const [m, p, perm] of [['vm.start', { id: vA.id }, 'operate'],
    ['vm.stop', { id: vA.id }, 'operate'],
    ['vm.set', { id: vA.id, name_label: 'by a viewer' }, 'administrate'],
    ['vm.snapshot', { id: vA.id }, 'operate'], ['vm.delete', { id: vA.id }, 'administrate']]) {
    const e = await errorOf(dave.call(m, p))
    check(`viewer of the VM: ${m} → 2 unauthorized {permission: '${perm}', object: {id}}`,
      denied2(e, perm, vA.id), show(e))
  }
  check('… and the VM did not change', (await objectsOf(xo, { type: 'VM' }))[vA.id]?.power_state ===
    'Halted')

  // 9b. operator of the first pool
  const [erinId, erin] = await newUser('erin')
  const erinSeen = follow(erin)
  await xo.call('acl.add', { subject: erinId, object: pool1, action: 'operator' })
  await deadline(10000, 'the pool in her pushes', () => erinSeen.objects[vB.id] !== undefined)
  check('operator of the pool: vm.start of a VM of the pool → true, Running in HER pushes',
    (await erin.call('vm.start', { id: vB.id })) === true &&
    await deadline(10000, 'Running pushed to erin', () =>
      erinSeen.objects[vB.id]?.power_state === 'Running'))
  check('… vm.stop → true, Halted in her pushes',
    (await erin.call('vm.stop', { id: vB.id, force: true })) === true &&
    await deadline(10000, 'Halted pushed to erin', () =>
      erinSeen.objects[vB.id]?.power_state === 'Halted'))
  check('… she does not see the other pool', erinSeen.objects[otherVm.id] === undefined &&
    (await erin.call('xo.getAllObjects'))[otherVm.id] === undefined)
  const host1 = Object.values(all1).find(o => o.type === 'host')
  for (const [m, p, perm, id] of [['vm.delete', { id: vB.id }, 'administrate', vB.id],
    ['vm.set', { id: vB.id, name_label: 'by an operator' }, 'administrate', vB.id],
    ['vm.clone', { id: vB.id, name: 'x', full_copy: false }, 'administrate', vB.id],
    ['vm.start', { id: otherVm.id }, 'operate', otherVm.id],
    ['host.setMaintenanceMode', { id: host1.id, maintenance: true }, 'administrate', host1.id],
    ['host.restartAgent', { id: host1.id }, 'administrate', host1.id],
    ['pool.set', { id: pool1, name_label: 'by an operator' }, 'administrate', pool1]]) {
    const e = await errorOf(erin.call(m, p))
    check(`operator of the pool: ${m}${id === otherVm.id ? ' (VM of another pool)' : ''} → 2 ` +
      `{permission: '${perm}'}`, denied2(e, perm, id), show(e))
  }
  for (const [m, p] of [['server.getAll', {}], ['user.getAll', {}],
    ['acl.add', { subject: erinId, object: otherVm.id, action: 'admin' }]]) {
    const e = await errorOf(erin.call(m, p))
    check(`operator of the pool: admin method ${m} → 2 unauthorized`, e && e.code === 2, show(e))
  }
  check('… the VM still exists, the host still enabled', (await objectsOf(xo, { type: 'VM' }))[vB.id] &&
    (await objectsOf(xo, { type: 'host' }))[host1.id]?.enabled === true)
  check('operator of the pool: sr.scan (operate) → true',
    (await erin.call('sr.scan', { id: diskSr(vB) })) === true)

  // 9c. administrator of one VM: snapshot and clone give him an admin ACL on the new VM
  const [frankId, frank] = await newUser('frank')
  const frankSeen = follow(frank)
  await xo.call('acl.add', { subject: frankId, object: vC.id, action: 'admin' })
  const srC = diskSr(vC)
  const noSr = await errorOf(frank.call('vm.snapshot', { id: vC.id }))
  check('admin of a VM, nothing on its SR: vm.snapshot → 2 {permission: operate, object: the SR}',
    denied2(noSr, 'operate', srC), show(noSr))
  await xo.call('acl.add', { subject: frankId, object: srC, action: 'operator' })
  let t0 = performance.now()
  const fSnap = await frank.call('vm.snapshot', { id: vC.id, name: 'frank-snap' })
  const fSnapMs = performance.now() - t0
  // the ACL is written and pushed before the answer: no waiting here
  check('vm.snapshot by a non-admin → id, the snapshot already pushed to him (enter)',
    typeof fSnap === 'string' && frankSeen.objects[fSnap]?.type === 'VM-snapshot' &&
    frankSeen.objects[fSnap].$snapshot_of === vC.id, fSnap)
  check('… and in his xo.getAllObjects', (await frank.call('xo.getAllObjects'))[fSnap] !== undefined)
  const fPerms = await frank.call('acl.getCurrentPermissions')
  check('… acl.getCurrentPermissions: admin on the snapshot',
    JSON.stringify(fPerms[fSnap]) === JSON.stringify({ view: 1, operate: 1, administrate: 1 }),
    JSON.stringify(fPerms))
  const aclOn = async id => (await xo.call('acl.get')).filter(a => a.object === id)
  const snapAcls = await aclOn(fSnap)
  check('… acl.get lists {subject: him, object: the snapshot, action: admin}',
    snapAcls.length === 1 && snapAcls[0].subject === frankId && snapAcls[0].action === 'admin',
    JSON.stringify(snapAcls))
  const fClone = await frank.call('vm.clone', { id: vC.id, name: 'frank-clone', full_copy: false })
  check('vm.clone by a non-admin → id, the clone already pushed to him, admin ACL on it',
    frankSeen.objects[fClone]?.name_label === 'frank-clone' &&
    (await frank.call('acl.getCurrentPermissions'))[fClone]?.administrate === 1 &&
    (await aclOn(fClone)).length === 1)
  t0 = performance.now()
  const aSnap = await xo.call('vm.snapshot', { id: vC.id, name: 'admin-snap' })
  console.log(`info vm.snapshot: ${fSnapMs.toFixed(1)} ms by a non-admin (with his ACL written), ` +
    `${(performance.now() - t0).toFixed(1)} ms by a super-admin`)
  check('vm.snapshot by a super-admin: no ACL written', (await aclOn(aSnap)).length === 0)
  await xo.call('vm.delete', { id: aSnap })
  check('vm.delete by him of the clone he administers → true, its ACL gone (acl.get)',
    (await frank.call('vm.delete', { id: fClone })) === true &&
    (await aclOn(fClone)).length === 0)
  await onPush(frankSeen, () => frankSeen.exits.has(fClone))
  check('… exit pushed to him', true)
  check('vm.delete of his snapshot → true, its ACL gone',
    (await frank.call('vm.delete', { id: fSnap })) === true && (await aclOn(fSnap)).length === 0)
  check('vm.delete of the VM he was given → true, its ACL gone; his SR ACL stays',
    (await frank.call('vm.delete', { id: vC.id, deleteDisks: true })) === true &&
    (await aclOn(vC.id)).length === 0 && (await aclOn(srC)).length === 1)
  check('… his permissions no longer list the deleted VMs', await deadline(5000, 'permissions',
    async () => {
      const p = await frank.call('acl.getCurrentPermissions')
      return !p[vC.id] && !p[fSnap] && !p[fClone] && p[srC]?.operate === 1
    }))
  await xo.call('server.remove', { id: sid })
  await deadline(30000, 'the second pool gone', () => seen.exits.has(pool2.id))
  const after = await xo.call('server.getAll')
  check('server.remove: gone from server.getAll and from the objects',
    !after.some(s => s.id === sid) &&
    Object.keys(await objectsOf(xo, { $pool: pool2.id })).length === 0)
  const noServer = await errorOf(xo.call('server.remove', { id: sid }))
  check('server.remove of an unknown id → 1', noServer && noServer.code === 1)
  const vmOfGone = await errorOf(xo.call('vm.start', { id: 'x' }))
  check('still answering', vmOfGone && vmOfGone.code === 1)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
stopSim2()
stopProxy()
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('compat')
