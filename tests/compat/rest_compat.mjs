// REST /rest/v0, the SSE event stream and the one-shot $getFrom URLs of xoc-api, against the
// whole stack started by run-xo-lib.sh (xapi-sim, xoc-bus, xoc-cache, xoc-collector, xoc-api).
// Usage: node rest_compat.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
// Prints one line per check and `rest: N passed, M failed`; exits non-zero on failure.
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { check, deadline as deadlineEvery, finish, readEvents, simCall } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const VMS = Number(vmsArg)
const ADMIN = 'admin@admin.net'
const deadline = (ms, what, fn) => deadlineEvery(ms, what, fn, 100)

const sim = (method, params) => simCall(simUrl, method, params)

const basic = (u, p) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64')
let cookie = ''
async function get(p, headers = { cookie }) {
  const res = await fetch(apiUrl + p, { headers })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch (e) {}
  return { status: res.status, headers: res.headers, text, json }
}
async function post(p, body, headers = { cookie }) {
  const res = await fetch(apiUrl + p, { method: 'POST', headers, body })
  const text = await res.text()
  let json
  try { json = JSON.parse(text) } catch (e) {}
  return { status: res.status, headers: res.headers, text, json }
}

// one raw request on a TCP socket: resolves with the status line ('' if closed without one)
function rawRequest(text) {
  const u = new URL(apiUrl)
  return new Promise(resolve => {
    const s = net.connect(Number(u.port), u.hostname, () => s.end(text))
    let got = ''
    s.setTimeout(15000, () => s.destroy())
    s.on('data', d => { got += d.toString('latin1') })
    s.on('error', () => {})
    s.on('close', () => resolve(got.split('\r\n')[0]))
  })
}

// an SSE reader: collects events {event, data} from a fetch stream
// (the firehose, xoc's own format: /rest/v0/events?all=true; xo-server's subscriptions are
// tested by rest_events_compat.mjs)
async function openEvents(headers) {
  const state = { events: [] }
  await readEvents(apiUrl + '/rest/v0/events?all=true', headers, ev => state.events.push(ev),
    state)
  state.type = state.headers.get('content-type')
  return state
}

const clients = []
try {
  const xo = new Xo({ url: apiUrl })
  xo.on('error', () => {})
  clients.push(xo)
  await xo.open()
  await xo.signIn({ email: ADMIN, password: adminPassword })
  const token = await xo.call('token.create', { description: 'rest' })
  cookie = `authenticationToken=${token}`
  await deadline(30000, 'the pool in the replica', async () =>
    Object.keys(await xo.call('xo.getAllObjects', { filter: { type: 'VM' } })).length === VMS)

  // ---- authentication
  const none = await get('/rest/v0/vms', {})
  check('no credentials → 401 + WWW-Authenticate', none.status === 401 &&
    /^Basic/.test(none.headers.get('www-authenticate') || ''), `${none.status}`)
  const badTok = await get('/rest/v0/vms', { cookie: 'authenticationToken=nope' })
  check('unknown token cookie → 401', badTok.status === 401, `${badTok.status}`)
  const viaCookie = await get('/rest/v0/vms')
  check('authenticationToken cookie → 200, hrefs', viaCookie.status === 200 &&
    Array.isArray(viaCookie.json) && viaCookie.json.length === VMS &&
    viaCookie.json.every(h => typeof h === 'string' && h.startsWith('/rest/v0/vms/')),
  `${viaCookie.status} ${viaCookie.json && viaCookie.json.length}`)
  const viaXoCookie = await get('/rest/v0/hosts', { cookie: `lang=fr; token=${token}` })
  check('xo-server `token` cookie → 200', viaXoCookie.status === 200 &&
    viaXoCookie.json.length === 2, `${viaXoCookie.status} ${viaXoCookie.text.slice(0, 80)}`)
  const viaBasic = await get('/rest/v0/pools', { authorization: basic(ADMIN, adminPassword) })
  check('HTTP Basic → 200', viaBasic.status === 200 && viaBasic.json.length === 1,
    `${viaBasic.status}`)
  const both = await get('/rest/v0/pools', { cookie, authorization: basic(ADMIN, adminPassword) })
  check('cookie and Basic at once → 400', both.status === 400, `${both.status}`)
  const malformedBasic = await get('/rest/v0/pools', { authorization: 'Basic !!!' })
  check('malformed Basic → 401', malformedBasic.status === 401, `${malformedBasic.status}`)

  // ---- collections
  const root = await get('/rest/v0')
  check('/rest/v0 lists the collections', root.status === 200 &&
    root.json.includes('/rest/v0/vms') && root.json.includes('/rest/v0/events'))
  const fields = await get('/rest/v0/vms?fields=name_label,power_state&limit=3')
  check('fields= and limit=', fields.status === 200 && fields.json.length === 3 &&
    fields.json.every(o => typeof o.name_label === 'string' && o.power_state &&
      o.href.startsWith('/rest/v0/vms/') && Object.keys(o).length === 3),
  fields.text.slice(0, 200))
  const star = await get('/rest/v0/hosts?fields=*')
  check('fields=* → whole objects', star.status === 200 &&
    star.json.every(o => o.type === 'host' && o.id && o.$pool), star.text.slice(0, 100))
  const nd = await get('/rest/v0/vms?ndjson=true&fields=name_label')
  const ndLines = nd.text.split('\n').filter(Boolean)
  check('ndjson=true', nd.status === 200 && /x-ndjson/.test(nd.headers.get('content-type')) &&
    ndLines.length === VMS && ndLines.every(l => JSON.parse(l).href), `${ndLines.length}`)
  const ndAccept = await get('/rest/v0/vms', { cookie, accept: 'application/x-ndjson' })
  check('Accept: application/x-ndjson', ndAccept.status === 200 &&
    ndAccept.text.split('\n').filter(Boolean).length === VMS)
  const limit0 = await get('/rest/v0/vms?limit=0')
  check('limit=0 → []', limit0.status === 200 && limit0.json.length === 0)
  const tpl = await get('/rest/v0/vm-controllers?fields=type')
  check('vm-controllers are VM-controller objects', tpl.status === 200 &&
    tpl.json.length === 2 && tpl.json.every(o => o.type === 'VM-controller'), tpl.text.slice(0, 100))
  const running = viaCookie.json.length &&
    (await get('/rest/v0/vms?fields=power_state')).json.filter(o => o.power_state === 'Running').length
  const filtered = await get('/rest/v0/vms?filter=' + encodeURIComponent('power_state:Running') +
    '&fields=power_state')
  check('filter= (complex matcher)', filtered.status === 200 && filtered.json.length === running &&
    filtered.json.every(o => o.power_state === 'Running'), `${filtered.status} ${running}`)
  const filtered2 = await get('/rest/v0/vms?filter=' + encodeURIComponent('!power_state:Running name_label:/^vm-0000[0-4]$/') + '&ndjson')
  const lines2 = filtered2.text.split('\n').filter(Boolean)
  const expect2 = (await get('/rest/v0/vms?fields=power_state,name_label')).json
    .filter(o => o.power_state !== 'Running' && /^vm-0000[0-4]$/.test(o.name_label)).map(o => o.href).sort()
  check('filter= with not and regex, ndjson', filtered2.status === 200 &&
    JSON.stringify(lines2.map(l => JSON.parse(l)).sort()) === JSON.stringify(expect2),
  `${filtered2.status} ${lines2.length}/${expect2.length}`)
  const badFilter = await get('/rest/v0/vms?filter=' + encodeURIComponent('|(a'))
  check('malformed filter → 400 with the parser\'s message', badFilter.status === 400 &&
    /\(/.test(badFilter.json.error), `${badFilter.status} ${badFilter.text}`)

  // ---- single objects
  const vmId = viaCookie.json[0].split('/').pop()
  const one = await get('/rest/v0/vms/' + vmId)
  check('GET /rest/v0/vms/<id>', one.status === 200 && one.json.id === vmId &&
    one.json.type === 'VM', `${one.status}`)
  const oneFields = await get(`/rest/v0/vms/${vmId}?fields=name_label`)
  check('GET /rest/v0/vms/<id>?fields=', oneFields.status === 200 &&
    Object.keys(oneFields.json).sort().join() === 'href,name_label')
  const wrongColl = await get('/rest/v0/hosts/' + vmId)
  check('a VM under /hosts → 404', wrongColl.status === 404, `${wrongColl.status}`)
  const unknown = await get('/rest/v0/vms/no-such-vm')
  check('unknown id → 404', unknown.status === 404)
  const noColl = await get('/rest/v0/nothing')
  check('unknown collection → 404', noColl.status === 404)

  // ---- actions
  const all = (await get('/rest/v0/vms?fields=power_state,name_label')).json
  let vm = all.find(o => o.power_state === 'Halted')
  const startOrStop = vm ? 'start' : 'hard_shutdown'
  vm = vm || all.find(o => o.power_state === 'Running')
  const id = vm.href.split('/').pop()
  const act = await post(`/rest/v0/vms/${id}/actions/${startOrStop}`)
  const loc = act.headers.get('location') || ''
  check(`POST actions/${startOrStop} → 202 + task`, act.status === 202 &&
    loc.startsWith('/rest/v0/tasks/') && act.json && act.json.taskId &&
    loc.endsWith(act.json.taskId), `${act.status} ${act.text}`)
  const want = startOrStop === 'start' ? 'Running' : 'Halted'
  let state = ''
  try {
    await deadline(15000, 'the power state', async () => {
      state = (await get(`/rest/v0/vms/${id}?fields=power_state`)).json.power_state
      return state === want
    })
  } catch (e) {}
  check('the VM\'s power state follows the action', state === want, `${state}`)
  const task = await get(loc)
  check('GET the task href (200, or 404 once XAPI destroyed it)', task.status === 200 ?
    task.json.type === 'task' : task.status === 404, `${task.status} ${task.text.slice(0, 120)}`)
  const back = await post(`/rest/v0/vms/${id}/actions/${startOrStop === 'start' ? 'hard_shutdown' : 'start'}`)
  check('the opposite action → 202', back.status === 202, `${back.status}`)
  const snap = await post(`/rest/v0/vms/${id}/actions/snapshot`, JSON.stringify({ name_label: 'rest-snap' }),
    { cookie, 'content-type': 'application/json' })
  check('POST actions/snapshot → 202', snap.status === 202, `${snap.status} ${snap.text}`)
  let snapped = null
  try {
    snapped = await deadline(15000, 'the snapshot', async () =>
      (await get('/rest/v0/vm-snapshots?fields=name_label')).json.find(o => o.name_label === 'rest-snap'))
  } catch (e) {}
  check('the snapshot appears with the name of the POST body', !!snapped)
  const getAction = await get(`/rest/v0/vms/${id}/actions/start`)
  check('GET on an action → 405', getAction.status === 405, `${getAction.status}`)
  const noAction = await post(`/rest/v0/vms/${id}/actions/explode`)
  check('unknown action → 404', noAction.status === 404, `${noAction.status}`)
  const noVmAction = await post('/rest/v0/vms/no-such-vm/actions/start')
  check('action on an unknown VM → 404', noVmAction.status === 404, `${noVmAction.status}`)

  // ---- SSE
  const sse = await openEvents({ cookie })
  check('GET /rest/v0/events?all=true → text/event-stream', sse.status === 200 &&
    /text\/event-stream/.test(sse.type || ''), `${sse.status} ${sse.type}`)
  await deadline(5000, 'event: init', () => sse.events.some(e => e.event === 'init'))
  const ref = await sim('sim.add_vm', { name: 'sse-vm', running: false })
  let entered = null
  try {
    entered = await deadline(15000, 'an enter event with the new VM', () => sse.events.find(e =>
      e.event === 'enter' && Object.values(JSON.parse(e.data)).some(o => o.name_label === 'sse-vm')))
  } catch (e) {}
  check('SSE enter after a simulator change', !!entered, `${sse.events.length} events`)
  const newId = entered && Object.values(JSON.parse(entered.data)).find(o => o.name_label === 'sse-vm').id
  await sim('sim.remove_object', { ref })
  let exited = null
  try {
    exited = await deadline(15000, 'an exit event', () => sse.events.find(e =>
      e.event === 'exit' && newId in JSON.parse(e.data)))
  } catch (e) {}
  check('SSE exit after a removal', !!exited)
  const sseNoAuth = await openEvents({})
  check('SSE without credentials → 401', sseNoAuth.status === 401)
  sse.close()

  // a stream client that stops reading is closed once its queue (api.send_queue_max, 1 MiB
  // here) is full; a reading client on the same frontend goes on
  const u = new URL(apiUrl)
  const slow = net.connect(Number(u.port), u.hostname)
  let slowBytes = 0
  const slowEnded = new Promise(resolve => {
    slow.on('data', d => { slowBytes += d.length })
    slow.on('error', () => resolve('error'))
    slow.on('close', () => resolve('closed'))
  })
  slow.write(`GET /rest/v0/events?all=true HTTP/1.1\r\nHost: x\r\nCookie: ${cookie}\r\n\r\n`)
  await new Promise(r => setTimeout(r, 300))
  slow.pause()
  const reader = await openEvents({ cookie })
  await sim('sim.churn', { rate: 3000 })
  // the paused client is sent what the reading one gets: once that is well over what the
  // kernel buffers and the 1 MiB queue hold, the server must have given up on it
  try {
    await deadline(60000, '24 MiB of events', () => reader.bytes > 24 << 20)
  } catch (e) {}
  slow.resume() // whatever was buffered is read, then the close must come
  const slowClosed = await Promise.race([slowEnded,
    new Promise(r => setTimeout(() => r('open'), 25000))])
  const readerEvents = reader.events.filter(e => e.event === 'enter').length
  await sim('sim.churn', { rate: 0 })
  slow.destroy()
  check('a stream client that does not read is closed (bounded queue)', slowClosed === 'closed',
    `${slowClosed}, ${(slowBytes / 1048576).toFixed(1)} MiB read`)
  check('a reading stream client goes on', !reader.ended && readerEvents > 10,
    `${readerEvents} enter events`)
  reader.close()

  // ---- $getFrom
  const allObjects = await xo.call('xo.getAllObjects')
  const gf = await xo.call('xo.getAllObjects', { ndjson: true })
  check('xo.getAllObjects {ndjson} → $getFrom', gf && /^\/api\/[A-Za-z0-9_-]{43}$/.test(gf.$getFrom),
    JSON.stringify(gf))
  const first = await fetch(apiUrl + gf.$getFrom)
  const lines = (await first.text()).split('\n').filter(Boolean).map(l => JSON.parse(l))
  const total = Object.keys(allObjects).length
  check('$getFrom streams NDJSON objects', first.status === 200 &&
    Math.abs(lines.length - total) <= 50 && lines.every(o => o.id && o.type),
  `${lines.length} lines, ${total} objects`)
  const second = await fetch(apiUrl + gf.$getFrom)
  check('$getFrom is one-shot (second GET → 404)', second.status === 404, `${second.status}`)
  const gfVm = await xo.call('xo.getAllObjects', { ndjson: true, filter: { type: 'VM' }, limit: 5 })
  const vmLines = (await (await fetch(apiUrl + gfVm.$getFrom)).text()).split('\n').filter(Boolean)
  check('$getFrom with filter and limit', vmLines.length === 5 &&
    vmLines.every(l => JSON.parse(l).type === 'VM'), `${vmLines.length}`)
  const gfCm = await xo.call('xo.getAllObjects', { ndjson: true, filter: 'type:host' })
  const hostLines = (await (await fetch(apiUrl + gfCm.$getFrom)).text()).split('\n').filter(Boolean)
  check('$getFrom with a string filter', hostLines.length === 2 &&
    hostLines.every(l => JSON.parse(l).type === 'host'), `${hostLines.length}`)
  let gfBad = null
  try { await xo.call('xo.getAllObjects', { ndjson: true, filter: '|(a' }) } catch (e) { gfBad = e }
  check('$getFrom with a malformed string filter → 10', gfBad && gfBad.code === 10, gfBad && gfBad.message)
  const forged = await fetch(apiUrl + '/api/' + 'A'.repeat(43))
  check('an unknown one-shot URL → 404', forged.status === 404)

  // ---- bad input
  const badPath = await get('/rest/v0/vms/a/b')
  check('malformed path → 400', badPath.status === 400, `${badPath.status}`)
  const badFields = await get('/rest/v0/vms?fields=a,,b')
  check('empty field name → 400', badFields.status === 400, `${badFields.status}`)
  const badLimit = await get('/rest/v0/vms?limit=-1')
  check('negative limit → 400', badLimit.status === 400, `${badLimit.status}`)
  const badNd = await get('/rest/v0/vms?ndjson=maybe')
  check('ndjson=maybe → 400', badNd.status === 400, `${badNd.status}`)
  const put = await fetch(apiUrl + '/rest/v0/vms', { method: 'DELETE', headers: { cookie } })
  check('DELETE on a collection → 405', put.status === 405, `${put.status}`)
  const bigBody = await rawRequest(`POST /rest/v0/vms/${id}/actions/start HTTP/1.1\r\nHost: x\r\n` +
    `Content-Length: ${64 << 20}\r\n\r\n`)
  check('body over api.http_body_max → 413', / 413/.test(bigBody), bigBody)
  const bigHeader = await rawRequest(`GET /rest/v0/vms HTTP/1.1\r\nHost: x\r\nCookie: ${'a'.repeat(100000)}\r\n\r\n`)
  check('oversized headers → 4xx or closed', bigHeader === '' || / 4\d\d/.test(bigHeader), bigHeader)
  const garbage = await rawRequest('BLAH\x01\x02 /?? HTTP/9\r\n\r\n')
  check('malformed request line → 4xx or closed', garbage === '' || / 4\d\d/.test(garbage), garbage)
  const flood = await Promise.all(Array.from({ length: 300 }, (_, i) =>
    get(i % 2 ? '/rest/v0/hosts' : '/rest/v0/vms?limit=5&fields=name_label')))
  check('300 concurrent requests all answered', flood.every(r => r.status === 200),
    flood.map(r => r.status).filter(s => s !== 200).slice(0, 5).join())
  const still = await get('/rest/v0/pools')
  check('still serving after bad input', still.status === 200)

  // a user without ACLs sees nothing (every object goes through the ACL check)
  const bobId = await xo.call('user.create', { email: 'bob@rest.net', password: 'bob-pw' })
  const bob = { authorization: basic('bob@rest.net', 'bob-pw') }
  const bobVms = await get('/rest/v0/vms', bob)
  check('a non-admin without ACLs: empty collection', bobVms.status === 200 &&
    Array.isArray(bobVms.json) && bobVms.json.length === 0, `${bobVms.status} ${bobVms.text.slice(0, 80)}`)
  const bobVm = await get('/rest/v0/vms/' + vmId, bob)
  check('a non-admin without ACLs: object → 404', bobVm.status === 404, `${bobVm.status}`)
  const bobAct = await post(`/rest/v0/vms/${vmId}/actions/hard_shutdown`, undefined, bob)
  check('a non-admin without ACLs: action → 404', bobAct.status === 404, `${bobAct.status}`)
  const bobSse = await openEvents(bob)
  const adminSse = await openEvents({ cookie })
  const ref2 = await sim('sim.add_vm', { name: 'bob-vm', running: false })
  try {
    await deadline(15000, 'the admin\'s enter event', () => adminSse.events.some(e =>
      e.event === 'enter' && e.data.includes('bob-vm')))
  } catch (e) {}
  await new Promise(r => setTimeout(r, 500))
  check('SSE: the admin sees the new VM, the non-admin nothing', adminSse.events.some(e =>
    e.event === 'enter' && e.data.includes('bob-vm')) && bobSse.status === 200 &&
    !bobSse.events.some(e => e.event === 'enter' || e.event === 'exit'),
  `${bobSse.events.map(e => e.event).join()}`)
  adminSse.close()
  await sim('sim.remove_object', { ref: ref2 })
  await xo.call('user.delete', { id: bobId })
  let bobEnded = false
  try { bobEnded = await deadline(5000, 'the end of the deleted user\'s stream', () => bobSse.ended) } catch (e) {}
  check('user.delete ends the user\'s event streams', bobEnded)
  bobSse.close()

  // last: a wrong password throttles this address
  const wrong = await get('/rest/v0/pools', { authorization: basic(ADMIN, 'wrong') })
  check('wrong Basic password → 401', wrong.status === 401, `${wrong.status}`)
  const throttled = await get('/rest/v0/pools', { authorization: basic(ADMIN, adminPassword) })
  check('then throttled → 429', throttled.status === 429, `${throttled.status}`)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('rest')
