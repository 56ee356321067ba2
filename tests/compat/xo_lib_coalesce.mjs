// Coalesced `all` pushes (api.push_coalesce_ms) keep the clients right, with the npm `xo-lib`
// client against the real stack (run by run-xo-lib.sh, XO_LIB_API_ARGS gives a wide window):
// rapid changes of one VM, a VM removed and added again (same id) within a window, a VM
// added then removed within a window, churn — and each client's state, built only from
// getAllObjects once and then the pushes, ends equal to the server's getAllObjects: for a
// super-admin and for a non-admin whose pushes are ACL-filtered. A client that stops
// reading is still closed (bounded queue), and a reading one goes on.
// Usage: node xo_lib_coalesce.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, finish, sleep, waitFor } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const WebSocket = require('ws')

let xapiSession
async function xapi(method, ...params) {
  const res = await fetch(simUrl + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  const body = await res.json()
  if (body.error) throw new Error(method + ': ' + JSON.stringify(body.error))
  return body.result
}
async function xcall(method, ...params) {
  if (!xapiSession) xapiSession = await xapi('session.login_with_password', 'root', 'password')
  return xapi(method, xapiSession, ...params)
}

const clients = []
async function signIn(creds) {
  const xo = new Xo({ url: apiUrl })
  xo.on('error', () => {})
  clients.push(xo)
  await xo.open()
  await xo.signIn(creds)
  return xo
}

// a client's state: getAllObjects once (while quiet), then only the `all` pushes, applied in
// their order as xo-lib's users do (enter: set, exit: delete)
async function follow(xo) {
  const st = { objects: null, pushes: 0, enters: 0, exits: 0 }
  xo.on('notification', n => {
    if (n.method !== 'all') return
    st.pushes++
    if (n.params.type === 'enter') st.enters++
    else st.exits++
    // one connection keeps the order: a push received before the answer is already in it
    if (st.objects) apply(st, n.params)
  })
  st.objects = await xo.call('xo.getAllObjects')
  return st
}
function apply(st, p) {
  for (const [id, o] of Object.entries(p.items))
    if (p.type === 'enter') st.objects[id] = o
    else delete st.objects[id]
}
// canonical JSON (sorted keys) to compare objects
function canon(v) {
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']'
  if (v && typeof v === 'object')
    return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}'
  return JSON.stringify(v)
}
function diff(mine, server) {
  const a = Object.keys(mine), b = Object.keys(server)
  const missing = b.filter(id => !(id in mine)), extra = a.filter(id => !(id in server))
  const stale = b.filter(id => id in mine && canon(mine[id]) !== canon(server[id]))
  return { missing, extra, stale, ok: !missing.length && !extra.length && !stale.length }
}
// the client's state equals the server's (retried while the last pushes travel), once the
// server's state satisfies ready (the last change made has reached the replica)
async function expectSame(name, xo, st, ready = () => true) {
  let last = null
  const ok = await waitFor(15000, async () => {
    const server = await xo.call('xo.getAllObjects')
    if (!ready(server)) return false
    last = diff(st.objects, server)
    last.n = Object.keys(server).length
    return last.ok
  })
  check(name, !!ok, last ? `${last.n} objects, missing ${last.missing.length}, extra ` +
    `${last.extra.length}, stale ${last.stale.length} ${last.stale.slice(0, 3).join(' ')}` : '')
}

async function main() {
  const admin = await signIn({ email: 'admin@admin.net', password: adminPassword })
  const vms = await waitFor(30000, async () => {
    const v = Object.values(await admin.call('xo.getAllObjects', { filter: { type: 'VM' } }))
      .filter(o => !o.is_a_template && !o.name_label.startsWith('Control domain'))
    return v.length >= 2 ? v : null
  })
  check('the pool is loaded', !!vms)
  const [vm, other] = vms

  // a non-admin who may view one VM: his pushes are filtered by the ACLs
  const uid = await admin.call('user.create', { email: 'dave@example.net', password: 'dave-secret' })
  await admin.call('acl.add', { subject: uid, object: vm.id, action: 'viewer' })
  const dave = await signIn({ email: 'dave@example.net', password: 'dave-secret' })
  await waitFor(10000, async () => vm.id in (await dave.call('xo.getAllObjects')))
  const sa = await follow(admin)
  const sd = await follow(dave)
  check('the non-admin sees the VM of his ACL', vm.id in sd.objects &&
    !(other.id in sd.objects), `${Object.keys(sd.objects).length} objects`)

  // 1. rapid changes of one VM: the last name wins; with a wide window the 40 changes
  //    reach the client in a few pushes
  let vmPushes = 0
  const countVm = n => { if (n.method === 'all' && vm.id in n.params.items) vmPushes++ }
  admin.on('notification', countVm)
  const t0 = Date.now()
  for (let i = 0; i < 40; i++) await xcall('VM.set_name_label', vm._xapiRef, `rapid-${i}`)
  const took = Date.now() - t0
  const named = label => server => server[vm.id] && server[vm.id].name_label === label
  await expectSame('rapid changes of one VM: admin state = getAllObjects', admin, sa, named('rapid-39'))
  check('rapid changes: the last name', sa.objects[vm.id] && sa.objects[vm.id].name_label === 'rapid-39',
    sa.objects[vm.id] && sa.objects[vm.id].name_label)
  admin.removeListener('notification', countVm)
  const window = Number((process.env.XO_LIB_API_ARGS || '').match(/push_coalesce_ms (\d+)/)?.[1] || 0)
  if (window >= 100)
    check('rapid changes were coalesced', vmPushes > 0 && vmPushes <= Math.ceil(took / window) + 3,
      `40 changes in ${took} ms -> ${vmPushes} pushes of the VM (window ${window} ms)`)
  await expectSame('rapid changes of one VM: ACL-filtered state = his getAllObjects', dave, sd, named('rapid-39'))
  check('rapid changes: the non-admin has the last name',
    sd.objects[vm.id] && sd.objects[vm.id].name_label === 'rapid-39')

  // 2. removed and added again (same id) within a window, several times, with changes between
  let vmExits = 0
  const countExit = n => { if (n.method === 'all' && n.params.type === 'exit' && vm.id in n.params.items) vmExits++ }
  admin.on('notification', countExit)
  for (let i = 0; i < 5; i++) {
    await xcall('VM.set_name_label', vm._xapiRef, `readd-${i}`)
    await xapi('sim.remove_object', { ref: vm._xapiRef, readd: true })
    await xapi('sim.remove_object', { ref: other._xapiRef, readd: true })
  }
  await expectSame('remove + re-add of a VM within a window: admin state = getAllObjects', admin, sa,
    server => named('readd-4')(server) && other.id in server)
  admin.removeListener('notification', countExit)
  console.log(`     remove + re-add x5: ${vmExits} exit pushes of the VM reached the admin`)
  check('remove + re-add: the VM is still there for the admin', !!sa.objects[vm.id] &&
    !!sa.objects[other.id] && sa.objects[vm.id].name_label === 'readd-4')
  await expectSame('remove + re-add: ACL-filtered state = his getAllObjects', dave, sd, named('readd-4'))
  check('remove + re-add: the VM is still there for the non-admin', !!sd.objects[vm.id] &&
    !(other.id in sd.objects))

  // 2b. the pool disconnected and connected again at once: every object exits, then enters
  //     again with the same id (within one window when the reconnection is quick)
  const servers = await admin.call('server.getAll')
  const before2b = { pushes: sa.pushes, exits: sa.exits }
  if (servers.length === 1) {
    await admin.call('server.disable', { id: servers[0].id })
    await admin.call('server.enable', { id: servers[0].id })
  }
  await waitFor(20000, () => sa.pushes > before2b.pushes)
  await expectSame('pool disconnected + reconnected: admin state = getAllObjects', admin, sa,
    server => vm.id in server && other.id in server)
  check('pool reconnected: the VMs are back for the admin', !!sa.objects[vm.id] && !!sa.objects[other.id],
    `${sa.pushes - before2b.pushes} pushes, ${sa.exits - before2b.exits} of them exit`)
  await expectSame('pool reconnected: ACL-filtered state = his getAllObjects', dave, sd,
    server => vm.id in server)
  check('pool reconnected: the VM is back for the non-admin', !!sd.objects[vm.id])

  // 3. added then removed within a window (the client may get an exit of what it never had)
  const refs = []
  for (let i = 0; i < 5; i++) refs.push(await xapi('sim.add_vm', { name: `ephemeral-${i}`, running: false }))
  for (const ref of refs) await xapi('sim.remove_object', { ref })
  await expectSame('added then removed within a window: admin state = getAllObjects', admin, sa,
    server => !Object.values(server).some(o => o.type === 'VM' && String(o.name_label).startsWith('ephemeral-')))
  check('added then removed: gone from the admin\'s state',
    !Object.values(sa.objects).some(o => o.type === 'VM' && String(o.name_label).startsWith('ephemeral-')))

  // 4. churn with everything above at once
  await xapi('sim.churn', { rate: 500 })
  for (let i = 0; i < 10; i++) {
    await xcall('VM.set_name_label', vm._xapiRef, `churn-${i}`)
    await xapi('sim.remove_object', { ref: vm._xapiRef, readd: true })
    await sleep(100) // pacing: ten rounds spread over about a second of churn
  }
  await xapi('sim.churn', { rate: 0 })
  await expectSame('after churn: admin state = getAllObjects', admin, sa)
  await expectSame('after churn: ACL-filtered state = his getAllObjects', dave, sd)
  console.log(`     ${sa.pushes} pushes (${sa.enters} enter, ${sa.exits} exit) to the admin, ` +
    `${sd.pushes} to the non-admin`)

  // 5. a client that stops reading is still closed (api.send_queue_max, 1 MiB here); the
  //    admin's xo-lib connection, reading, goes on
  const slow = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/')
  let closeCode = null
  slow.on('close', code => { closeCode = code })
  slow.on('error', () => {})
  await new Promise((resolve, reject) => { slow.once('open', resolve); slow.once('error', reject) })
  const signed = new Promise(resolve => slow.once('message', resolve))
  slow.send(JSON.stringify({ jsonrpc: '2.0', method: 'session.signIn', id: 1,
    params: { email: 'admin@admin.net', password: adminPassword } }))
  await signed
  slow._socket.pause()
  const before = sa.pushes
  await xapi('sim.churn', { rate: 3000 })
  // pushes alone may stay small with a wide window: answers it does not read fill it too
  for (let i = 0; i < 40; i++)
    slow.send(JSON.stringify({ jsonrpc: '2.0', method: 'xo.getAllObjects', id: 10 + i, params: {} }))
  // what the reading client gets is what the paused one is sent: once well over the kernel
  // buffers and the 1 MiB queue, the server must have closed the paused one
  let readBytes = 0
  const onBytes = n => { if (n.method === 'all') readBytes += JSON.stringify(n.params).length }
  admin.on('notification', onBytes)
  await waitFor(30000, () => readBytes > 24 << 20 || closeCode !== null)
  slow._socket.resume()
  await waitFor(25000, () => closeCode !== null)
  // 1008 "send queue full" when the close frame still fits, else the connection is dropped
  check('a client that does not read is closed (bounded queue)', closeCode === 1008 || closeCode === 1006,
    `code ${closeCode}, ${(readBytes / 1048576).toFixed(1)} MiB pushed meanwhile`)
  // the reading client goes on, also after the close: the churn runs until it got its pushes
  // (the unread answers above may fill the paused client's queue within a second, with only
  // a window or two of pushes by then, so the churn must not stop at the close)
  const atClose = sa.pushes
  await waitFor(30000, () => sa.pushes > before + 10 && sa.pushes > atClose + 2)
  await xapi('sim.churn', { rate: 0 })
  check('the reading client goes on', sa.pushes > before + 10 && sa.pushes > atClose + 2,
    `${sa.pushes - before} pushes, ${sa.pushes - atClose} of them after the close`)
  await expectSame('the reading client is still right', admin, sa)
  slow.terminate()
}

try {
  await main()
} catch (e) {
  check('no exception', false, e && e.stack || String(e))
} finally {
  await xapi('sim.churn', { rate: 0 }).catch(() => {})
  for (const c of clients) await c.close().catch(() => {})
}
finish('compat')
