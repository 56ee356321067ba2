// Revocation and views across instances (run by run-xo-lib.sh with XO_LIB_API2=1: two xoc-api
// on one bus). A user signed in on instance A — WebSocket sessions (xo-lib, password and
// token) and SSE streams (token cookie, Basic) — while an admin changes him through instance B:
//   - SSE of a non-admin: enters of what ACLs show, exits of objects he could see (removed
//     from the pool, or hidden by an ACL change), nothing about the others;
//   - permission none -> admin -> none: his pushes and his open streams follow at once;
//   - token.delete: the session signed in with it and the stream opened with it end, the
//     others stay; the stale cookie gets 401 without throttling the address;
//   - user.delete: every session and stream of his ends at once, without a call of his.
// Usage: node xo_lib_revoke.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, finish, readEvents, simCall, sleep, waitFor } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const VMS = Number(vmsArg)
const apiB = process.env.XOC_API2_URL
const ADMIN = 'admin@admin.net'

const sim = (method, params) => simCall(simUrl, method, params)

const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64')
async function get(url, headers) {
  const res = await fetch(url, { headers })
  await res.text()
  return res.status
}

const clients = []
async function signIn(url, creds) {
  const xo = new Xo({ url })
  xo.on('error', () => {})
  clients.push(xo)
  await xo.open()
  await xo.signIn(creds)
  xo.closedAt = 0
  xo.on('closed', () => { xo.closedAt = Date.now() })
  return xo
}

// a WebSocket client's view as its `all` pushes build it
function follow(xo) {
  const v = { ids: new Set() }
  xo.on('notification', n => {
    if (n.method !== 'all') return
    for (const id of Object.keys(n.params.items))
      if (n.params.type === 'enter') v.ids.add(id)
      else v.ids.delete(id)
  })
  return v
}

// an SSE stream's view as its enter/exit events build it; strayExits: exits of ids it never had
async function openEvents(url, headers) {
  const s = { ids: new Set(), events: [], strayExits: [], init: false }
  return readEvents(url + '/rest/v0/events?all=true', headers, ev => {
    if (ev.event === 'init') s.init = true
    if (ev.event !== 'enter' && ev.event !== 'exit') return
    const items = JSON.parse(ev.data)
    s.events.push({ event: ev.event, ids: Object.keys(items) })
    for (const id of Object.keys(items))
      if (ev.event === 'enter') s.ids.add(id)
      else if (!s.ids.delete(id)) s.strayExits.push(id)
  }, s)
}

const sorted = s => [...s].sort()
function sameSet(a, b) {
  const x = sorted(a), y = sorted(b)
  return x.length === y.length && x.every((v, i) => v === y[i])
}
function diff(a, b) {
  const extra = [...a].filter(x => !b.has(x)), missing = [...b].filter(x => !a.has(x))
  return `extra ${extra.length} ${JSON.stringify(extra.slice(0, 3))}, missing ${missing.length} ` +
    JSON.stringify(missing.slice(0, 3))
}

try {
  if (!apiB) throw new Error('XOC_API2_URL is not set (XO_LIB_API2=1)')
  const adminA = await signIn(apiUrl, { email: ADMIN, password: adminPassword })
  const adminB = await signIn(apiB, { email: ADMIN, password: adminPassword })
  const loaded = async xo => waitFor(60000, async () => {
    const all = await xo.call('xo.getAllObjects')
    return Object.values(all).filter(o => o.type === 'VM').length === VMS ? all : null
  })
  const all0 = await loaded(adminA)
  check('pool loaded on both instances', !!all0 && !!(await loaded(adminB)))
  const vms = Object.values(all0).filter(o => o.type === 'VM').slice(0, 3)

  // dave: no permission, no ACL; on instance A: two WebSocket sessions and two streams
  const daveId = await adminB.call('user.create', { email: 'dave@example.net', password: 'dave-pw' })
  const daveBasic = { authorization: basic('dave@example.net', 'dave-pw') }
  const davePw = await signIn(apiUrl, { email: 'dave@example.net', password: 'dave-pw' })
  const pwView = follow(davePw)
  const token = await davePw.call('token.create', {})
  const daveTok = await signIn(apiUrl, { token })
  const sseTok = await openEvents(apiUrl, { cookie: `authenticationToken=${token}` })
  const sseBasic = await openEvents(apiUrl, daveBasic)
  check('dave: sessions and streams open on A', sseTok.status === 200 && sseBasic.status === 200 &&
    !!(await waitFor(5000, () => sseTok.init && sseBasic.init)))
  const daveAll = async () => new Set(Object.keys(await davePw.call('xo.getAllObjects')))
  // his WebSocket pushes and both streams build what getAllObjects answers him
  // (cond: what his getAllObjects must show first — the change reached instance A)
  async function expectViews(name, want, cond = () => true) {
    let last = ''
    const ok = await waitFor(10000, async () => {
      const w = want || await daveAll()
      if (!cond(w)) {
        last = 'the change did not reach his getAllObjects'
        return null
      }
      last = `ws: ${diff(pwView.ids, w)}; sse: ${diff(sseTok.ids, w)}; sse basic: ${diff(sseBasic.ids, w)}`
      return sameSet(pwView.ids, w) && sameSet(sseTok.ids, w) && sameSet(sseBasic.ids, w) ? w : null
    })
    check(name, !!ok, ok ? `${ok.size} objects` : last)
    return ok
  }

  // 1. ACLs added on B: what they show enters his streams on A (SSE of a non-admin)
  for (const vm of vms)
    await adminB.call('acl.add', { subject: daveId, object: vm.id, action: 'viewer' })
  const seen = await expectViews('ACLs added on B: enter by push and by SSE on A', null,
    w => vms.every(vm => w.has(vm.id)))
  check('... his view is the 3 VMs and what hangs on them', !!seen &&
    vms.every(vm => seen.has(vm.id)) && seen.size < Object.keys(all0).length)

  // 2. an object he sees leaves the pool: its exit reaches his streams (the object is
  //    already gone from the replica when the exit is sent)
  await sim('sim.remove_object', { ref: vms[0]._xapiRef })
  const afterRemove = await expectViews('a visible VM removed: exit by push and by SSE', null,
    w => !w.has(vms[0].id))
  check('... the exits name the VM', !!afterRemove && !afterRemove.has(vms[0].id) &&
    sseTok.events.some(e => e.event === 'exit' && e.ids.includes(vms[0].id)) &&
    sseBasic.events.some(e => e.event === 'exit' && e.ids.includes(vms[0].id)))

  // 3. an ACL removed on B hides a VM: exit
  await adminB.call('acl.remove', { subject: daveId, object: vms[1].id, action: 'viewer' })
  const afterAcl = await expectViews('an ACL removed on B: exit by push and by SSE on A', null,
    w => !w.has(vms[1].id))
  check('... the VM is no longer his', !!afterAcl && !afterAcl.has(vms[1].id) &&
    afterAcl.has(vms[2].id))

  // 4. permission changed on B: admin, then none again — his open streams follow at once
  await adminB.call('user.set', { id: daveId, permission: 'admin' })
  const everything = new Set(Object.keys(await adminA.call('xo.getAllObjects')))
  await expectViews('made admin on B: everything enters his pushes and streams on A', everything)
  const ref = await sim('sim.add_vm', { name: 'revoke-vm', running: false })
  const newVm = await waitFor(10000, async () => Object.values(
    await adminA.call('xo.getAllObjects', { filter: { type: 'VM' } })).find(o => o.name_label === 'revoke-vm'))
  check('as admin: a new VM reaches his streams', !!newVm && !!(await waitFor(10000, () =>
    sseTok.ids.has(newVm.id) && sseBasic.ids.has(newVm.id) && pwView.ids.has(newVm.id))))
  await adminB.call('user.set', { id: daveId, permission: 'none' })
  const back = await expectViews('back to none on B: what his ACLs do not give exits', null,
    w => w.size < everything.size)
  check('... only his ACLs again', !!back && !back.has(newVm && newVm.id) && back.has(vms[2].id))
  await sim('sim.remove_object', { ref })
  await sleep(300) // a check that nothing comes: time for a wrong exit to arrive
  check('no exit for an object he could not see', sseTok.strayExits.length === 0 &&
    sseBasic.strayExits.length === 0, `${sseTok.strayExits.length} ${sseBasic.strayExits.length}`)

  // 5. his token deleted on B: what was opened with it ends on A, the rest stays
  await adminB.call('token.delete', { tokens: [token] })
  const tokEnded = await waitFor(5000, () => sseTok.ended && daveTok.closedAt)
  check('token deleted on B: its session and its stream end on A', !!tokEnded,
    `stream ended ${sseTok.ended}, session closed ${!!daveTok.closedAt}`)
  await sleep(500) // a check that nothing happens: time for a wrong close to arrive
  const pwAlive = await davePw.call('acl.getCurrentPermissions').then(p => !!p[vms[2].id], e => e.message)
  check('... his password session and Basic stream stay', pwAlive === true && !sseBasic.ended &&
    !davePw.closedAt, `call ${pwAlive}, stream ended ${sseBasic.ended}, closed ${!!davePw.closedAt}`)
  // a stale cookie: 401, and the address is not throttled for it
  const stale = []
  for (let i = 0; i < 3; i++)
    stale.push(await get(apiUrl + '/rest/v0/vms', { cookie: `authenticationToken=${token}` }))
  const basicAfter = await get(apiUrl + '/rest/v0/vms', daveBasic)
  const reSign = new Xo({ url: apiUrl })
  reSign.on('error', () => {})
  reSign.closedAt = 0
  reSign.on('closed', () => { reSign.closedAt = Date.now() })
  clients.push(reSign)
  await reSign.open()
  const reSignErr = await reSign.signIn({ token }).then(() => null, e => e)
  const pwAfter = await reSign.signIn({ email: 'dave@example.net', password: 'dave-pw' })
    .then(() => true, e => e.message)
  check('stale token cookie → 401, not throttling the address', stale.every(s => s === 401) &&
    basicAfter === 200, `${stale} then Basic ${basicAfter}`)
  check('stale token sign-in refused (invalidCredentials), a password right after works',
    !!reSignErr && reSignErr.code === 3 && pwAfter === true,
    `${reSignErr && reSignErr.code} ${pwAfter}`)
  // passwords are still throttled
  const wrong = await get(apiUrl + '/rest/v0/vms', { authorization: basic('dave@example.net', 'nope') })
  const right = await get(apiUrl + '/rest/v0/vms', daveBasic)
  check('a wrong password still throttles (401 then 429)', wrong === 401 && right === 429,
    `${wrong} ${right}`)

  // 6. dave deleted on B: every session and stream of his on A ends, without a call of his
  await adminB.call('user.delete', { id: daveId })
  const gone = await waitFor(5000, () => sseBasic.ended && davePw.closedAt && reSign.closedAt)
  check('user deleted on B: his sessions and streams on A end at once', !!gone,
    `stream ended ${sseBasic.ended}, sessions closed ${!!davePw.closedAt} ${reSign.status}`)
  check('... the admins stay', adminA.status === 'open' && adminB.status === 'open')
  sseTok.close()
  sseBasic.close()
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('revoke')
