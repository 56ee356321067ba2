// The REST event stream in xo-server's model (xo-api.md §9.3): GET /rest/v0/events gives
// `init` {id} and `ping`; POST /rest/v0/events/<id>/subscriptions {collection, fields}
// makes add / update / remove events of that collection arrive, ACL-filtered; DELETE
// .../subscriptions/<collection> stops them. Against the whole stack of run-xo-lib.sh
// (started with --api.sse_ping_s 1 by its ctest entry, so that pings come within seconds).
// Usage: node rest_events_compat.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, finish, readEvents, simCall, sleep, waitFor } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const VMS = Number(vmsArg)
const ADMIN = 'admin@admin.net'

const sim = (method, params) => simCall(simUrl, method, params)
let xapiSession
async function xcall(method, ...params) {
  if (!xapiSession) xapiSession = await simCall(simUrl, 'session.login_with_password', ['root', 'password'])
  return simCall(simUrl, method, [xapiSession, ...params])
}

const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64')
async function request(method, p, headers, body) {
  const res = await fetch(apiUrl + p, { method, headers, body })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch (e) {}
  return { status: res.status, headers: res.headers, text, json }
}
const subscribe = (auth, id, body) => request('POST', `/rest/v0/events/${id}/subscriptions`,
  { ...auth, 'content-type': 'application/json' }, typeof body === 'string' ? body : JSON.stringify(body))
const unsubscribe = (auth, id, coll) => request('DELETE', `/rest/v0/events/${id}/subscriptions/${coll}`, auth)

// an SSE reader: events {event, data (parsed JSON), at}
async function openStream(headers, query = '') {
  const st = { events: [] }
  await readEvents(apiUrl + '/rest/v0/events' + query, headers, ev => {
    let data = null
    try { data = JSON.parse(ev.data) } catch (e) {}
    st.events.push({ event: ev.comment ? 'comment' : ev.event, data, raw: ev.data, at: Date.now() })
  }, st)
  if (st.status !== 200) return st
  st.init = await waitFor(5000, () => st.events.find(e => e.event === 'init'))
  return st
}
const of = (st, event, pred = () => true) => st.events.filter(e => e.event === event && e.data && pred(e.data))
const find = (st, event, pred, ms = 15000) => waitFor(ms, () => of(st, event, pred)[0])
const collEvents = st => st.events.filter(e => ['add', 'update', 'remove'].includes(e.event))

const clients = []
try {
  const xo = new Xo({ url: apiUrl })
  xo.on('error', () => {})
  clients.push(xo)
  await xo.open()
  await xo.signIn({ email: ADMIN, password: adminPassword })
  const token = await xo.call('token.create', { description: 'rest events' })
  const admin = { cookie: `authenticationToken=${token}` }
  const loaded = await waitFor(30000, async () => {
    const all = await xo.call('xo.getAllObjects')
    return Object.values(all).filter(o => o.type === 'VM').length === VMS ? all : null
  })
  check('the pool in the replica', !!loaded)
  const vms = Object.values(loaded).filter(o => o.type === 'VM')
  const hosts = Object.values(loaded).filter(o => o.type === 'host')
  const [vmA, vmB, vmC] = vms

  // ---- the stream: init, headers, ping
  const s = await openStream(admin)
  check('GET /rest/v0/events → 200 text/event-stream, Cache-Control no-cache, no-transform',
    s.status === 200 && /text\/event-stream/.test(s.headers.get('content-type') || '') &&
    /no-cache/.test(s.headers.get('cache-control') || '') &&
    /no-transform/.test(s.headers.get('cache-control') || ''),
  `${s.status} ${s.headers.get('content-type')} ${s.headers.get('cache-control')}`)
  const cid = s.init && s.init.data && s.init.data.id
  check('first event: init {id} with a UUID connection id', s.events[0] === s.init &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(cid || '') &&
    Object.keys(s.init.data).length === 1, s.init && s.init.raw)
  const ping = await find(s, 'ping', d => typeof d.ping === 'number', 5000)
  check('event: ping {ping: <ms timestamp>} (every api.sse_ping_s)', !!ping &&
    Math.abs(ping.data.ping - Date.now()) < 10000 && Object.keys(ping.data).length === 1,
  ping && ping.raw)

  // ---- nothing without a subscription
  await xcall('VM.set_name_label', vmC._xapiRef, 'renamed-before-subscribing')
  await waitFor(10000, async () => (await xo.call('xo.getAllObjects', { filter: { id: vmC.id } }))[vmC.id]
    .name_label === 'renamed-before-subscribing')
  await sleep(300)
  check('no collection event before any subscription', collEvents(s).length === 0,
    collEvents(s).map(e => e.raw).join().slice(0, 200))

  // ---- subscribe to VM with fields
  const sub = await subscribe(admin, cid, { collection: 'VM', fields: ['id', 'name_label', 'power_state'] })
  check('POST …/subscriptions {collection: VM, fields} → 201 {id: "VM"}', sub.status === 201 &&
    JSON.stringify(sub.json) === '{"id":"VM"}', `${sub.status} ${sub.text}`)
  await xcall('VM.set_name_label', vmA._xapiRef, 'sse-renamed-A')
  const upd = await find(s, 'update', d => d.id === vmA.id && d.name_label === 'sse-renamed-A')
  check('update after a simulator change of a VM, fields picked', !!upd &&
    JSON.stringify(Object.keys(upd.data).sort()) === JSON.stringify(['$subscription', 'id', 'name_label', 'power_state']) &&
    upd.data.$subscription === 'VM' && Object.keys(upd.data)[0] === '$subscription', upd && upd.raw)

  // a change outside the picked fields is no update; a host change is nothing (not subscribed)
  const before = s.events.length
  await xcall('VM.set_name_description', vmA._xapiRef, 'not a picked field')
  await xcall('host.set_name_description', hosts[0]._xapiRef, 'host changed, not subscribed')
  await xcall('VM.set_name_label', vmB._xapiRef, 'sse-marker-1')
  const marker = await find(s, 'update', d => d.id === vmB.id && d.name_label === 'sse-marker-1')
  await sleep(300)
  const after = s.events.slice(before).filter(e => ['add', 'update', 'remove'].includes(e.event))
  check('no update when no picked field changed; nothing of an unsubscribed collection',
    !!marker && after.every(e => e.data.$subscription === 'VM' && e.data.id !== vmA.id),
  after.map(e => e.raw).join(' ').slice(0, 300))

  // add / remove of a created / destroyed VM
  const ref = await sim('sim.add_vm', { name: 'sse-added', running: false })
  const added = await find(s, 'add', d => d.name_label === 'sse-added')
  check('add for a created VM (fields picked)', !!added && added.data.$subscription === 'VM' &&
    Object.keys(added.data).length === 4, added && added.raw)
  await sim('sim.remove_object', { ref })
  const removed = added && await find(s, 'remove', d => d.id === added.data.id)
  check('remove for a destroyed VM, with the object as last seen', !!removed &&
    removed.data.name_label === 'sse-added' && removed.data.$subscription === 'VM', removed && removed.raw)
  check('only VM events on a VM subscription (its VBDs, VIFs … not sent)',
    collEvents(s).every(e => e.data.$subscription === 'VM'))

  // a second collection, fields "*" (default): whole objects; then DELETE
  const subHost = await subscribe(admin, cid, { collection: 'host' })
  check('POST {collection: host} (no fields) → 201', subHost.status === 201 &&
    subHost.json.id === 'host', `${subHost.status} ${subHost.text}`)
  await xcall('host.set_name_description', hosts[0]._xapiRef, 'host changed, subscribed')
  const hostUpd = await find(s, 'update', d => d.$subscription === 'host' &&
    d.name_description === 'host changed, subscribed')
  check('fields default "*": whole objects', !!hostUpd && hostUpd.data.type === 'host' &&
    hostUpd.data.id === hosts[0].id && hostUpd.data.$pool, hostUpd && hostUpd.raw.slice(0, 200))
  const del = await unsubscribe(admin, cid, 'host')
  check('DELETE …/subscriptions/host → 204', del.status === 204 && del.text === '', `${del.status} ${del.text}`)
  const delAgain = await unsubscribe(admin, cid, 'host')
  check('DELETE of a collection not subscribed → 204', delAgain.status === 204, `${delAgain.status}`)
  const n0 = s.events.length
  await xcall('host.set_name_description', hosts[0]._xapiRef, 'host changed, unsubscribed')
  await xcall('VM.set_name_label', vmB._xapiRef, 'sse-marker-2')
  await find(s, 'update', d => d.id === vmB.id && d.name_label === 'sse-marker-2')
  await sleep(300)
  check('after DELETE: no more events of that collection',
    !s.events.slice(n0).some(e => e.data && e.data.$subscription === 'host'))
  // subscribing again replaces the fields
  const again = await subscribe(admin, cid, { collection: 'VM', fields: '*' })
  await xcall('VM.set_name_label', vmB._xapiRef, 'sse-whole')
  const whole = await find(s, 'update', d => d.id === vmB.id && d.name_label === 'sse-whole')
  check('subscribing again replaces the fields ("*": whole VM)', again.status === 201 && !!whole &&
    whole.data.type === 'VM' && whole.data.$pool, whole && whole.raw.slice(0, 120))

  // ---- refusals
  const unknown = await subscribe(admin, '0d8b28c6-e9bf-4c9d-a382-3c9e0d7cfbff', { collection: 'VM' })
  check('unknown connection id → 404 no such event', unknown.status === 404 &&
    unknown.json && unknown.json.data && unknown.json.data.type === 'event' &&
    /no such event/.test(unknown.json.error), `${unknown.status} ${unknown.text}`)
  const bad = [
    ['not JSON', '{"collection":', 400],
    ['empty body', '', 422],
    ['no collection', {}, 422],
    ['REST collection name', { collection: 'vms' }, 422],
    ['unknown collection', { collection: 'nothing' }, 422],
    ['fields a string', { collection: 'VM', fields: 'name_label' }, 422],
    ['fields not strings', { collection: 'VM', fields: [1] }, 422],
    ['an array', ['VM'], 422],
  ]
  for (const [what, body, want] of bad) {
    const r = await subscribe(admin, cid, body)
    check(`bad body (${what}) → ${want}`, r.status === want && r.json && typeof r.json.error === 'string',
      `${r.status} ${r.text}`)
  }
  const badDel = await unsubscribe(admin, cid, 'vms')
  check('DELETE of a non-collection → 422', badDel.status === 422, `${badDel.status}`)
  const delUnknown = await unsubscribe(admin, 'nope', 'VM')
  check('DELETE on an unknown connection → 404', delUnknown.status === 404, `${delUnknown.status}`)
  const getSubs = await request('GET', `/rest/v0/events/${cid}/subscriptions`, admin)
  check('GET …/subscriptions → 405', getSubs.status === 405, `${getSubs.status}`)
  const noAuth = await subscribe({}, cid, { collection: 'VM' })
  check('POST without credentials → 401', noAuth.status === 401, `${noAuth.status}`)

  // ---- the firehose stays available with ?all=true (xoc's enter / exit)
  const fire = await openStream(admin, '?all=true')
  const fireRefused = await subscribe(admin, fire.init && fire.init.data.id, { collection: 'VM' })
  await xcall('VM.set_name_label', vmB._xapiRef, 'sse-firehose')
  const enter = await find(fire, 'enter', d => d[vmB.id] && d[vmB.id].name_label === 'sse-firehose')
  check('?all=true: enter / exit of everything, no subscription to make', !!enter &&
    !fire.events.some(e => ['add', 'update', 'remove'].includes(e.event)) && fireRefused.status === 404,
  `${fireRefused.status}`)
  fire.close()

  // ---- a non-admin viewer of one VM
  const carolId = await xo.call('user.create', { email: 'carol@sse.net', password: 'carol-pw' })
  const carol = { authorization: basic('carol@sse.net', 'carol-pw') }
  await xo.call('acl.add', { subject: carolId, object: vmA.id, action: 'viewer' })
  const cs = await openStream(carol)
  const ccid = cs.init && cs.init.data.id
  check('the non-admin opens his stream', cs.status === 200 && !!ccid, `${cs.status}`)
  const foreign = await subscribe(carol, cid, { collection: 'VM' })
  check('subscribing on another user\'s connection id → 404', foreign.status === 404,
    `${foreign.status} ${foreign.text}`)
  const foreign2 = await subscribe(admin, ccid, { collection: 'VM' })
  const foreignDel = await unsubscribe(admin, ccid, 'VM')
  check('… also for an admin, on POST and DELETE', foreign2.status === 404 && foreignDel.status === 404,
    `${foreign2.status} ${foreignDel.status}`)
  const csub = await subscribe(carol, ccid, { collection: 'VM', fields: ['id', 'name_label'] })
  check('the non-admin subscribes on his own stream → 201', csub.status === 201, `${csub.status}`)
  await xcall('VM.set_name_label', vmB._xapiRef, 'sse-not-for-carol')
  await xcall('VM.set_name_label', vmA._xapiRef, 'sse-for-carol')
  const cupd = await find(cs, 'update', d => d.id === vmA.id && d.name_label === 'sse-for-carol')
  await find(s, 'update', d => d.id === vmB.id && d.name_label === 'sse-not-for-carol')
  await sleep(300)
  check('a viewer of one VM: update of his VM, nothing of the others',
    !!cupd && collEvents(cs).every(e => e.data.id === vmA.id),
    collEvents(cs).map(e => e.raw).join(' ').slice(0, 300))
  // a VM entering and leaving his view by ACL: add, then remove
  await xo.call('acl.add', { subject: carolId, object: vmB.id, action: 'viewer' })
  const cadd = await find(cs, 'add', d => d.id === vmB.id)
  check('an ACL granting a VM → add of it', !!cadd && cadd.data.name_label === 'sse-not-for-carol' &&
    cadd.data.$subscription === 'VM', cadd && cadd.raw)
  await xo.call('acl.remove', { subject: carolId, object: vmB.id, action: 'viewer' })
  const crem = await find(cs, 'remove', d => d.id === vmB.id)
  check('the ACL removed → remove of it', !!crem, cs.events.map(e => e.event).join())
  // a new VM he may not view: nothing; the admin gets its add
  const ref2 = await sim('sim.add_vm', { name: 'sse-hidden', running: false })
  const hiddenAdd = await find(s, 'add', d => d.name_label === 'sse-hidden')
  await sleep(300)
  check('a VM he may not view: add to the admin, nothing to him', !!hiddenAdd &&
    !collEvents(cs).some(e => e.data.name_label === 'sse-hidden'))
  await sim('sim.remove_object', { ref: ref2 })
  // his VM destroyed: remove
  await sim('sim.remove_object', { ref: vmA._xapiRef })
  const cgone = await find(cs, 'remove', d => d.id === vmA.id)
  check('his VM destroyed → remove, with its last state', !!cgone &&
    cgone.data.name_label === 'sse-for-carol', cgone && cgone.raw)
  check('his stream never got an object he may not view', collEvents(cs).every(e =>
    e.data.id === vmA.id || e.data.id === vmB.id))
  // viewer of a host: a VM leaving it by its own change (migrated away) → remove, coming
  // back → add (not update: he could not see it in between)
  const [h1, h2] = hosts
  await xo.call('acl.add', { subject: carolId, object: h1.id, action: 'viewer' })
  const now = Object.values(await xo.call('xo.getAllObjects', { filter: { type: 'VM' } }))
  let mover = now.find(o => o.$container === h1.id && o.power_state === 'Running' && o.id !== vmB.id)
  if (!mover) {
    mover = now.find(o => o.power_state === 'Halted' && o.id !== vmB.id)
    await xcall('VM.start_on', mover._xapiRef, h1._xapiRef, false, false)
  }
  const moverIn = await find(cs, 'add', d => d.id === mover.id)
  const nIn = cs.events.length
  await xcall('VM.pool_migrate', mover._xapiRef, h2._xapiRef, {})
  const moverOut = await find(cs, 'remove', d => d.id === mover.id)
  await xcall('VM.pool_migrate', mover._xapiRef, h1._xapiRef, {})
  const moverBack = await waitFor(15000, () => cs.events.slice(nIn).find(e => e.event === 'add' &&
    e.data && e.data.id === mover.id))
  check('viewer of a host: a VM on it → add; migrated away → remove; back → add',
    !!moverIn && !!moverOut && !!moverBack && !cs.events.slice(nIn).some(e => e.event === 'update' &&
      e.data && e.data.id === mover.id), cs.events.slice(nIn).map(e => `${e.event}:${e.data && e.data.id}`).join(' ').slice(0, 300))
  await xo.call('user.delete', { id: carolId })
  check('user.delete ends his stream', !!(await waitFor(5000, () => cs.ended)))
  s.close()
  cs.close()
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('rest events')
