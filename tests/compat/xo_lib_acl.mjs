// ACL test with the npm `xo-lib` client against the real stack (run by run-xo-lib.sh):
// a non-admin user sees exactly what xo-api.md §8.4 lets him see — in xo.getAllObjects and
// in the `all` pushes — as ACLs, groups and objects change at run time.
// The expected views are computed here, independently, from the admin's getAllObjects.
// Usage: node xo_lib_acl.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, errorOf, finish, sleep, waitFor } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const VMS = Number(vmsArg)
const deadline = (ms, what, fn) => waitFor(ms, fn) // null when it times out

// XAPI on the simulator (JSON-RPC)
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
async function sim(method, params) { return xapi(method, params) }

// ---- the rules of xo-api.md §8.4, written again here ------------------------------------------
const ROLES = { viewer: ['view'], operator: ['view', 'operate'], admin: ['view', 'operate', 'administrate'] }
function permsOf(acls) {
  const perms = {}
  for (const { object, action } of acls)
    for (const p of ROLES[action] || [action]) (perms[object] ||= {})[p] = 1
  return perms
}
function visibleSet(all, perms, perm = 'view') {
  const memo = new Map()
  const has = (id, depth) => {
    if (id === undefined || id === null || depth > 24) return false
    const o = all[id]
    if (!o) return false
    if (memo.has(id)) return memo.get(id)
    const self = () => !!(perms[id] && perms[id][perm])
    const m = f => has(f, depth + 1)
    let r
    switch (o.type) {
      case 'VM': case 'SR': r = self() || m(o.$container); break
      case 'VM-controller': r = m(o.$container); break
      case 'VM-snapshot': r = self() || m(o.$snapshot_of); break
      case 'VM-template': case 'host': case 'network': r = self() || m(o.$pool); break
      case 'VDI': r = m(o.$SR) || (o.$VBDs || []).some(b => all[b] && m(all[b].VM)); break
      case 'VDI-snapshot': r = m(o.$snapshot_of); break
      case 'VBD': r = m(o.VDI); break
      case 'VIF': r = m(o.$network) || m(o.$VM); break
      case 'PIF': case 'PCI': case 'task': r = m(o.$host); break
      case 'PBD': r = m(o.host) || m(o.SR); break
      case 'message': r = m(o.$object); break
      case 'PUSB': r = m(o.host); break
      case 'VUSB': r = m(o.vm); break
      case 'USB_group': r = (o.PUSBs || []).length > 0 && o.PUSBs.every(p => m(p)); break
      default: r = self()
    }
    memo.set(id, r)
    return r
  }
  return new Set(Object.keys(all).filter(id => has(id, 0)))
}
const sorted = s => [...s].sort()
function sameSet(a, b) {
  const x = sorted(a), y = sorted(b)
  return x.length === y.length && x.every((v, i) => v === y[i])
}
function setDiff(a, b) {
  const extra = [...a].filter(x => !b.has(x)), missing = [...b].filter(x => !a.has(x))
  return `extra ${JSON.stringify(extra.slice(0, 5))} (${extra.length}), missing ` +
    `${JSON.stringify(missing.slice(0, 5))} (${missing.length})`
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

// a client's view as maintained by its pushes
function follow(xo) {
  const view = { ids: new Set(), enters: [], exits: [], log: [] }
  xo.on('notification', n => {
    if (n.method !== 'all') return
    const ids = Object.keys(n.params.items)
    view.log.push({ type: n.params.type, ids, items: n.params.items })
    for (const id of ids) {
      if (n.params.type === 'enter') { view.ids.add(id); view.enters.push(id) }
      else { view.ids.delete(id); view.exits.push(id) }
    }
  })
  return view
}

// the expected view of the user matches getAllObjects and what his pushes built
async function expectView(name, admin, user, view, acls) {
  let last = ''
  const ok = await deadline(10000, name, async () => {
    const all = await admin.call('xo.getAllObjects')
    const want = visibleSet(all, permsOf(acls))
    const got = new Set(Object.keys(await user.call('xo.getAllObjects')))
    last = `getAllObjects: ${setDiff(got, want)}; pushes: ${setDiff(view.ids, want)}`
    return sameSet(got, want) && sameSet(view.ids, want) ? want : null
  })
  check(name, ok, ok ? `${ok.size} objects` : last)
  return ok
}

try {
  const admin = await signIn({ email: 'admin@admin.net', password: adminPassword })
  const adminView = follow(admin)
  const all0 = await deadline(60000, 'the pool', async () => {
    const all = await admin.call('xo.getAllObjects')
    return Object.values(all).filter(o => o.type === 'VM').length === VMS ? all : null
  })
  check('pool loaded', !!all0)
  const objs = Object.values(all0)
  const pool = objs.find(o => o.type === 'pool')
  const hosts = objs.filter(o => o.type === 'host')
  // a VM with disks and interfaces
  const vm = objs.find(o => o.type === 'VM' && (o.$VBDs || []).length && (o.VIFs || []).length)

  // 1. a new user sees nothing, and admin methods are refused (unauthorized, code 2)
  const uid = await admin.call('user.create', { email: 'carol@example.net', password: 'carol-secret' })
  const carol = await signIn({ email: 'carol@example.net', password: 'carol-secret' })
  const view = follow(carol)
  check('no ACL: getAllObjects is empty', Object.keys(await carol.call('xo.getAllObjects')).length === 0)
  check('no ACL: getCurrentPermissions is {}',
    JSON.stringify(await carol.call('acl.getCurrentPermissions')) === '{}')
  for (const [m, p] of [['acl.get', {}], ['acl.add', { subject: uid, object: vm.id, action: 'admin' }],
    ['acl.remove', { subject: uid, object: vm.id, action: 'admin' }], ['group.getAll', {}],
    ['group.create', { name: 'x' }], ['user.getAll', {}]]) {
    const e = await errorOf(carol.call(m, p))
    check(`${m} as a non-admin → unauthorized (2)`, e && e.code === 2, e && e.message)
  }

  // 2. viewer on one VM
  const acls = [{ subject: uid, object: vm.id, action: 'viewer' }]
  check('acl.add viewer on a VM', await admin.call('acl.add', acls[0]) === true)
  check('acl.add again is idempotent', await admin.call('acl.add', acls[0]) === true)
  const list = await admin.call('acl.get')
  const rec = list.find(a => a.subject === uid)
  check('acl.get', list.filter(a => a.subject === uid).length === 1 && rec.object === vm.id &&
    rec.action === 'viewer' && typeof rec.id === 'string' && rec.id.length === 6, JSON.stringify(rec))
  const perms = await carol.call('acl.getCurrentPermissions')
  check('acl.getCurrentPermissions', JSON.stringify(perms) === JSON.stringify({ [vm.id]: { view: 1 } }),
    JSON.stringify(perms))
  const v1 = await expectView('viewer on a VM: exactly the VM and what inherits from it', admin, carol, view, acls)
  if (v1) {
    const types = new Set([...v1].map(id => all0[id] && all0[id].type))
    check('… the VM, its VBDs, VDIs and VIFs', v1.has(vm.id) && types.has('VBD') && types.has('VDI') &&
      types.has('VIF') && !types.has('host') && !types.has('pool'), JSON.stringify(sorted(types)))
  }
  const hostsSeen = await carol.call('xo.getAllObjects', { filter: { type: 'host' } })
  const vmsSeen = await carol.call('xo.getAllObjects', { filter: { type: 'VM' } })
  check('… filters apply within the view', Object.keys(hostsSeen).length === 0 &&
    JSON.stringify(Object.keys(vmsSeen)) === JSON.stringify([vm.id]))

  // 2b. the same view through REST and the event stream (Basic credentials)
  const httpBase = apiUrl.replace(/^ws/, 'http').replace(/\/api\/?$/, '')
  const auth = { authorization: 'Basic ' + Buffer.from('carol@example.net:carol-secret').toString('base64') }
  const restVms = await (await fetch(httpBase + '/rest/v0/vms', { headers: auth })).json()
  check('REST: his VM collection is exactly the VM', JSON.stringify(restVms) ===
    JSON.stringify([`/rest/v0/vms/${vm.id}`]), JSON.stringify(restVms).slice(0, 200))
  const restHosts = await (await fetch(httpBase + '/rest/v0/hosts', { headers: auth })).json()
  const other = objs.find(o => o.type === 'VM' && o.id !== vm.id)
  const otherStatus = (await fetch(httpBase + `/rest/v0/vms/${other.id}`, { headers: auth })).status
  const ownStatus = (await fetch(httpBase + `/rest/v0/vms/${vm.id}`, { headers: auth })).status
  check('REST: no hosts, another VM is 404, his VM is 200', restHosts.length === 0 &&
    otherStatus === 404 && ownStatus === 200, `${restHosts.length} ${otherStatus} ${ownStatus}`)
  const sseAbort = new AbortController()
  const sseRes = await fetch(httpBase + '/rest/v0/events?all=true', { headers: auth, signal: sseAbort.signal })
  let sseText = ''
  const sseRead = (async () => {
    const dec = new TextDecoder()
    try { for await (const chunk of sseRes.body) sseText += dec.decode(chunk) } catch {}
  })()

  // 3. pushes after simulator changes only concern what he sees
  view.log.length = 0
  const adminPushes = adminView.log.length
  await xcall('VM.set_name_description', vm._xapiRef, 'changed by the ACL test')
  await sim('sim.churn', { rate: 100 })
  await sleep(1500) // the churn's duration is the point
  await sim('sim.churn', { rate: 0 })
  const gotVm = await deadline(5000, 'the VM change', () =>
    view.log.some(p => p.type === 'enter' && p.items[vm.id] &&
      p.items[vm.id].name_description === 'changed by the ACL test'))
  check('the change of his VM is pushed to him', !!gotVm)
  await sleep(500) // the churn's last pushes: a leak among them must be seen
  const allNow = await admin.call('xo.getAllObjects')
  const pushedIds = new Set(view.log.flatMap(p => p.ids))
  const merged = { ...allNow }
  for (const p of view.log) if (p.type === 'enter') Object.assign(merged, p.items)
  const allowed = visibleSet(merged, permsOf(acls))
  const leaked = [...pushedIds].filter(id => !allowed.has(id))
  check('pushes during churn concern only objects he may view', leaked.length === 0 &&
    adminView.log.length - adminPushes > view.log.length,
    `${view.log.length} pushes to him (${pushedIds.size} ids), ${adminView.log.length - adminPushes} to the admin, leaked ${JSON.stringify(leaked.slice(0, 3))}`)
  await expectView('his pushes and getAllObjects agree after churn', admin, carol, view, acls)
  await deadline(5000, 'the VM change on his event stream', () => sseText.includes('changed by the ACL test'))
  sseAbort.abort()
  await sseRead
  const sseIds = new Set()
  for (const m of sseText.matchAll(/^data: (.*)$/gm)) {
    try { for (const id of Object.keys(JSON.parse(m[1]))) sseIds.add(id) } catch {}
  }
  const sseLeaked = [...sseIds].filter(id => all0[id] && !allowed.has(id))
  check('SSE: the change of his VM reaches his stream, and only what he may view',
    sseIds.has(vm.id) && sseLeaked.length === 0, `${sseIds.size} ids, leaked ${JSON.stringify(sseLeaked.slice(0, 3))}`)

  // 4. operator on a host: the host's VMs; a VM moving away leaves his view, and comes back
  const [h1, h2] = hosts
  acls.push({ subject: uid, object: h1.id, action: 'operator' })
  await admin.call('acl.add', acls[1])
  await expectView('operator on a host: its objects enter', admin, carol, view, acls)
  let mover = Object.values(await admin.call('xo.getAllObjects')).find(o => o.type === 'VM' &&
    o.$container === h1.id && o.power_state === 'Running' && o.id !== vm.id)
  if (!mover) {
    mover = Object.values(allNow).find(o => o.type === 'VM' && o.power_state === 'Halted' && o.id !== vm.id)
    await xcall('VM.start_on', mover._xapiRef, h1._xapiRef, false, false)
    await deadline(5000, 'the VM started', () => view.ids.has(mover.id))
  }
  check('a running VM on his host is visible', view.ids.has(mover.id))
  view.exits.length = 0
  await xcall('VM.pool_migrate', mover._xapiRef, h2._xapiRef, {})
  const left = await deadline(5000, 'exit', () => view.exits.includes(mover.id))
  check('VM migrated to another host → exit pushed', !!left && !view.ids.has(mover.id))
  await expectView('… and his view is exact', admin, carol, view, acls)
  view.enters.length = 0
  await xcall('VM.pool_migrate', mover._xapiRef, h1._xapiRef, {})
  const back = await deadline(5000, 'enter', () => view.enters.includes(mover.id))
  check('VM migrated back → enter pushed', !!back && view.ids.has(mover.id))

  // 5. operator on the pool: every object of the pool
  acls.push({ subject: uid, object: pool.id, action: 'operator' })
  await admin.call('acl.add', acls[2])
  const vp = await expectView('operator on the pool: the pool\'s objects enter', admin, carol, view, acls)
  check('… VMs of every host, hosts, SRs, networks', vp && [...hosts.map(h => h.id), pool.id].every(id => vp.has(id)) &&
    Object.values(allNow).filter(o => o.type === 'VM').every(o => vp.has(o.id)))
  const perms2 = await carol.call('acl.getCurrentPermissions')
  check('acl.getCurrentPermissions with three ACLs', perms2[pool.id] && perms2[pool.id].operate === 1 &&
    perms2[h1.id].view === 1 && !perms2[pool.id].administrate, JSON.stringify(perms2))

  // 6. removing ACLs at run time: exits
  view.exits.length = 0
  check('acl.remove', await admin.call('acl.remove', acls[2]) === true)
  acls.splice(2, 1)
  await expectView('pool ACL removed: what it gave leaves (exit pushes)', admin, carol, view, acls)
  check('… exits were pushed', view.exits.length > 0 && view.exits.includes(h2.id), `${view.exits.length} exits`)
  check('acl.remove of a missing ACL → true',
    await admin.call('acl.remove', { subject: uid, object: 'nothing', action: 'viewer' }) === true)

  // 7. groups: a group's ACL reaches its members; removal from the group takes it back
  const gid = await admin.call('group.create', { name: 'acl-testers' })
  check('group.create', typeof gid === 'string')
  const dupGroup = await errorOf(admin.call('group.create', { name: 'acl-testers' }))
  check('group.create of an existing name → 16', dupGroup && dupGroup.code === 16)
  check('group.addUser', await admin.call('group.addUser', { id: gid, userId: uid }) === true)
  const groups = await admin.call('group.getAll')
  const g = groups.find(x => x.id === gid)
  check('group.getAll', g && g.name === 'acl-testers' && JSON.stringify(g.users) === JSON.stringify([uid]))
  const users = await admin.call('user.getAll')
  check('membership on the user too', users.find(u => u.id === uid).groups.includes(gid))
  const gacl = { subject: gid, object: h2.id, action: 'viewer' }
  await admin.call('acl.add', gacl)
  await expectView('an ACL of his group applies to him', admin, carol, view, [...acls, { ...gacl, subject: uid }])
  check('group.setName', await admin.call('group.setName', { id: gid, name: 'acl-testers-2' }) === true &&
    (await admin.call('group.getAll')).find(x => x.id === gid).name === 'acl-testers-2')
  check('group.removeUser', await admin.call('group.removeUser', { id: gid, userId: uid }) === true)
  await expectView('removed from the group: its ACL no longer applies', admin, carol, view, acls)
  check('group.setUsers', await admin.call('group.setUsers', { id: gid, userIds: [uid] }) === true)
  await expectView('group.setUsers: back in', admin, carol, view, [...acls, { ...gacl, subject: uid }])
  const badUser = await errorOf(admin.call('group.setUsers', { id: gid, userIds: ['no-such-user'] }))
  check('group.setUsers with an unknown user → 1', badUser && badUser.code === 1)
  check('group.delete', await admin.call('group.delete', { id: gid }) === true)
  check('group.delete drops its ACLs', !(await admin.call('acl.get')).some(a => a.subject === gid))
  check('group.delete drops the membership', !(await admin.call('user.getAll')).find(u => u.id === uid).groups.includes(gid))
  await expectView('group deleted: its ACL is gone', admin, carol, view, acls)
  const noGroup = await errorOf(admin.call('group.delete', { id: gid }))
  check('group.delete of an unknown group → 1', noGroup && noGroup.code === 1)
  const noSubject = await errorOf(admin.call('acl.add', { subject: 'nobody', object: vm.id, action: 'viewer' }))
  check('acl.add for an unknown subject → 1', noSubject && noSubject.code === 1)

  // 7b. concurrent edits lose nothing: 12 users added at once to one group, then at once to a
  //     second group while each changes his preferences (every edit a read-modify-write of the
  //     same group record, and of each user's record from both sides)
  const racers = await Promise.all([...Array(12).keys()].map(i =>
    admin.call('user.create', { email: `racer-${i}@example.net`, password: 'racer-pw' })))
  const [ga, gb] = [await admin.call('group.create', { name: 'race-a' }),
    await admin.call('group.create', { name: 'race-b' })]
  await Promise.all(racers.map(u => admin.call('group.addUser', { id: ga, userId: u })))
  await Promise.all([...racers.map(u => admin.call('group.addUser', { id: gb, userId: u })),
    ...racers.map(u => admin.call('user.set', { id: u, preferences: { mine: u } }))])
  const raceGroups = await admin.call('group.getAll')
  const members = id => raceGroups.find(x => x.id === id).users
  check('12 concurrent group.addUser: all 12 members', racers.every(u => members(ga).includes(u)) &&
    members(ga).length === 12, JSON.stringify(members(ga).length))
  check('… with 12 concurrent user.set: all 12 members of the second group too',
    racers.every(u => members(gb).includes(u)) && members(gb).length === 12,
    JSON.stringify(members(gb).length))
  const raceUsers = (await admin.call('user.getAll')).filter(u => racers.includes(u.id))
  check('… and on the users\' side: both groups and their own preferences, nothing lost',
    raceUsers.length === 12 && raceUsers.every(u => u.groups.includes(ga) &&
      u.groups.includes(gb) && u.preferences.mine === u.id),
    JSON.stringify(raceUsers.map(u => [u.groups.length, u.preferences.mine === u.id])))
  await Promise.all(racers.map(u => admin.call('group.removeUser', { id: ga, userId: u })))
  check('12 concurrent group.removeUser: the group empty',
    (await admin.call('group.getAll')).find(x => x.id === ga).users.length === 0)
  await Promise.all([ga, gb].map(id => admin.call('group.delete', { id })))
  await Promise.all(racers.map(id => admin.call('user.delete', { id })))

  // 8. he becomes a super-admin (user.set: the frontend learns it from the config.users event):
  //    everything enters; and back: what his ACLs do not give exits
  await admin.call('user.set', { id: uid, permission: 'admin' })
  let lastAdmin = ''
  const asAdmin = await deadline(10000, 'super-admin view', async () => {
    const all = await admin.call('xo.getAllObjects')
    lastAdmin = setDiff(view.ids, new Set(Object.keys(all)))
    return sameSet(view.ids, new Set(Object.keys(all)))
  })
  check('made super-admin: every object enters his view by push', !!asAdmin, lastAdmin)
  await admin.call('user.set', { id: uid, permission: 'none' })
  await expectView('back to none: only what his ACLs give (exit pushes)', admin, carol, view, acls)

  // 9. a second frontend on the same bus learns ACL changes from the config.acls events
  if (process.env.XOC_API2_URL) {
    const c2 = new Xo({ url: process.env.XOC_API2_URL })
    c2.on('error', () => {})
    clients.push(c2)
    await c2.open()
    await c2.signIn({ email: 'carol@example.net', password: 'carol-secret' })
    const v2 = follow(c2)
    for (const id of Object.keys(await c2.call('xo.getAllObjects'))) v2.ids.add(id)
    const seen2 = async want => deadline(5000, 'second frontend', async () => {
      const got = new Set(Object.keys(await c2.call('xo.getAllObjects')))
      return sameSet(got, want) && sameSet(v2.ids, want) ? got : null
    })
    const before = visibleSet(await admin.call('xo.getAllObjects'), permsOf(acls))
    check('second frontend: the same view', !!(await seen2(before)))
    const extra = { subject: uid, object: h2.id, action: 'viewer' }
    await admin.call('acl.add', extra)
    const all2 = await admin.call('xo.getAllObjects')
    const want2 = visibleSet(all2, permsOf([...acls, extra]))
    const got2 = await seen2(want2)
    const entered2 = await deadline(5000, 'enter on the second frontend', () =>
      v2.enters.includes(h2.id))
    check('second frontend: an ACL added on the first enters by push', !!got2 && !!entered2,
      got2 ? `${want2.size} objects` : 'views differ')
    await admin.call('acl.remove', extra)
    const exited2 = await deadline(5000, 'exit on the second frontend', () =>
      v2.exits.includes(h2.id))
    check('second frontend: an ACL removed on the first exits by push', !!exited2 &&
      !!(await seen2(before)))
  }

  // 10. user.delete drops his ACLs
  await admin.call('user.delete', { id: uid })
  check('user.delete drops his ACLs', !(await admin.call('acl.get')).some(a => a.subject === uid))
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('acl compat')
