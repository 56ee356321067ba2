// Scale test: two xoc-api instances (A, B) behind haproxy, clients with the npm `xo-lib`.
// Usage: node xo_lib_scale.mjs <node_modules> <url A> <url B> <url haproxy> <url C (no cache)>
//        <sim master url> <admin password> <vms> <haproxy stats socket> <pid A> <pid B>
// Prints one line per check and `scale: N passed, M failed`; exits non-zero on failure.
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import { check, deadline, finish, simCall } from './lib.mjs'

const [modules, urlA, urlB, urlH, urlC, simUrl, password, vmsArg, statsSock, pidA, pidB] =
  process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const { createBackoff } = require('jsonrpc-websocket-client')
const VMS = Number(vmsArg)

const sim = (method, params) => simCall(simUrl, method, params)

// haproxy's `show stat` as [{pxname, svname, status, scur, ...}]
function haproxyStat() {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(statsSock)
    let text = ''
    s.on('connect', () => s.write('show stat\n'))
    s.on('data', d => { text += d })
    s.on('end', () => {
      const lines = text.trim().split('\n')
      const head = lines.shift().replace(/^# /, '').split(',')
      resolve(lines.map(l => Object.fromEntries(l.split(',').map((v, i) => [head[i], v]))))
    })
    s.on('error', reject)
  })
}
async function backends() {
  const rows = await haproxyStat()
  const out = {}
  for (const r of rows)
    if (r.pxname === 'xoc_api' && r.svname.startsWith('api')) out[r.svname] = r
  return out
}

const clients = []
let onClosed = null
function client(url) {
  const xo = new Xo({ url })
  xo.on('error', () => {})
  clients.push(xo)
  return xo
}
function pushesOf(xo) {
  const items = []
  xo.on('notification', n => {
    if (n.method === 'all' && n.params.type === 'enter') items.push(...Object.values(n.params.items))
  })
  return items
}
async function vmCount(xo) {
  return Object.keys(await xo.call('xo.getAllObjects', { filter: { type: 'VM' } })).length
}

try {
  // 1. health checks: /healthz on each instance, both backends UP in haproxy
  // (an instance serves at once; /healthz says 200 once its replica is loaded)
  const healthy = async url => (await fetch(url + '/healthz')).status === 200
  await deadline(20000, 'A and B healthy', async () => (await healthy(urlA)) && healthy(urlB))
  const hA = await fetch(urlA + '/healthz')
  const hB = await fetch(urlB + '/healthz')
  const hC = await fetch(urlC + '/healthz')
  check('/healthz: 200 on A and B (replica loaded), 503 on C (no cache)',
    hA.status === 200 && hB.status === 200 && hC.status === 503,
    `${hA.status} ${hB.status} ${hC.status}`)
  const up = await deadline(20000, 'both backends UP', async () => {
    const b = await backends()
    return b.api1 && b.api2 && b.api1.status === 'UP' && b.api2.status === 'UP' ? b : null
  })
  check('haproxy: both backends UP (HTTP check GET /healthz)', !!up)

  // 2. one client on each instance, the whole pool on both
  const xa = client(urlA)
  const xb = client(urlB)
  await xa.open()
  await xb.open()
  await xa.signIn({ email: 'admin@admin.net', password })
  await xb.signIn({ email: 'admin@admin.net', password })
  // A and B started together on an empty users db: one first admin, not two
  const admins = (await xa.call('user.getAll')).filter(u => u.email === 'admin@admin.net')
  check('two frontends starting together create one first admin', admins.length === 1,
    admins.map(u => u.id).join(' '))
  const pa = pushesOf(xa)
  const pb = pushesOf(xb)
  await deadline(30000, 'the pool on A and B', async () =>
    (await vmCount(xa)) === VMS && (await vmCount(xb)) === VMS)
  check('A and B serve the same pool', true, `${VMS} VMs each`)

  // 3. state made through B is seen through A, and the other way
  const uid = await xb.call('user.create', { email: 'carol@example.net', password: 'carol-pw' })
  const seen = (await xa.call('user.getAll')).some(u => u.id === uid && u.email === 'carol@example.net')
  check('a user created through B is in A\'s user.getAll', seen, uid)
  const token = await xa.call('token.create', { description: 'scale' })
  const xt = client(urlB)
  await xt.open()
  await xt.signIn({ token })
  check('a token created through A signs in on B', xt.user && xt.user.email === 'admin@admin.net')
  const xc = client(urlA)
  await xc.open()
  await xc.signIn({ email: 'carol@example.net', password: 'carol-pw' })
  check('the user created through B signs in on A', xc.user && xc.user.id === uid)
  // (every instance follows the config.users events: his connection on A is closed at once,
  //  without a call of his — xoc_api_sessions_revoke)
  await xb.call('user.delete', { id: uid })
  const closedAt = Date.now()
  let closed = false
  try { closed = await deadline(5000, 'his connection on A closed', () => xc.status === 'closed') } catch (e) {}
  let refused = null
  try { await xc.call('xo.getAllObjects', { limit: 1 }) } catch (e) { refused = e }
  check('after user.delete through B, his connection on A is closed at once, calls refused',
    closed && !!refused, `${closed ? Date.now() - closedAt + ' ms' : 'still ' + xc.status}, ` +
    `${refused ? refused.message : 'answered'}`)

  // 3b. an event stream through haproxy, subscribed through haproxy: each request is a new
  //     connection that least-connections would send to the other instance (which does not
  //     know the stream: 404); deploy/haproxy.cfg sends /rest/v0/events by client address
  const cookie = `authenticationToken=${token}`
  const stream = await fetch(`${urlH}/rest/v0/events`, { headers: { cookie } })
  const reader = stream.body.getReader()
  let sseText = ''
  const streamId = await deadline(5000, 'the stream\'s init event', async () => {
    const { value } = await reader.read()
    sseText += Buffer.from(value ?? []).toString()
    const m = /event: init\ndata: (\{[^\n]*\})/.exec(sseText)
    return m && JSON.parse(m[1]).id
  })
  const subs = []
  for (let i = 0; i < 6; i++) {
    const r = await fetch(`${urlH}/rest/v0/events/${streamId}/subscriptions`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ collection: 'VM', fields: ['name_label'] }),
    })
    subs.push(r.status)
  }
  check('6 subscriptions of a stream through haproxy all reach its instance (201)',
    subs.every(st => st === 201), subs.join(' '))
  await reader.cancel()

  // 4. a client through haproxy; a change in the simulator is pushed on every instance
  const xh = client(urlH)
  await xh.open()
  await xh.signIn({ email: 'admin@admin.net', password })
  const ph = pushesOf(xh)
  check('a client through haproxy signs in and reads the pool', (await vmCount(xh)) === VMS)
  const name1 = `scale-vm-${process.pid}-1`
  await sim('sim.add_vm', { name: name1, running: true })
  const has = (items, name) => items.some(o => o.type === 'VM' && o.name_label === name)
  try {
    await deadline(15000, 'the new VM pushed', () => has(pa, name1) && has(pb, name1) && has(ph, name1))
  } catch (e) {}
  check('a VM added in the simulator is pushed to clients on A, on B and through haproxy',
    has(pa, name1) && has(pb, name1) && has(ph, name1),
    `A ${has(pa, name1)} B ${has(pb, name1)} haproxy ${has(ph, name1)}`)

  // 5. kill (SIGKILL) the instance that serves the haproxy client: it reconnects as xo-web
  //    does (open with a backoff on 'closed'; xo-lib signs in again by itself with the
  //    credentials of signIn), then reads and gets pushes from the survivor
  const b = await backends()
  const served = Object.values(b).find(s => Number(s.scur) > 0)
  check('haproxy shows which instance serves the client', !!served,
    Object.values(b).map(s => `${s.svname} scur=${s.scur}`).join(' '))
  const victim = served && served.svname === 'api2' ? 'api2' : 'api1'
  const survivor = victim === 'api1' ? 'api2' : 'api1'
  let reconnects = 0
  onClosed = () => {
    reconnects++
    xh.open(createBackoff()).catch(() => {})
  }
  xh.on('closed', onClosed)
  const authenticated = new Promise(r => xh.once('authenticated', r))
  const t0 = Date.now()
  process.kill(Number(victim === 'api1' ? pidA : pidB), 'SIGKILL')
  const again = await Promise.race([authenticated.then(() => true),
    new Promise(r => setTimeout(() => r(false), 20000))])
  check('after SIGKILL of its instance, the haproxy client reconnects and xo-lib signs in again',
    again && reconnects === 1 && xh.user && xh.user.email === 'admin@admin.net',
    `${Date.now() - t0} ms, ${reconnects} reconnection(s), killed ${victim}`)
  const after = await backends()
  check('the new connection is on the survivor', Number(after[survivor].scur) === 1 &&
    Number(after[victim].scur) === 0, `${survivor} scur=${after[survivor].scur}`)
  check('the client reads the pool again', (await vmCount(xh)) === VMS + 1)
  const name2 = `scale-vm-${process.pid}-2`
  await sim('sim.add_vm', { name: name2, running: false })
  try {
    await deadline(15000, 'a push after the reconnection', () => has(ph, name2))
  } catch (e) {}
  check('pushes reach the client after the reconnection', has(ph, name2))
  const down = await deadline(20000, 'the killed backend DOWN', async () => {
    const s = await backends()
    return s[victim].status.startsWith('DOWN') && s[survivor].status === 'UP' ? s : null
  }).catch(() => null)
  check('haproxy marks the killed instance DOWN and keeps the survivor UP', !!down)
  const xn = client(urlH)
  await xn.open()
  await xn.signIn({ email: 'admin@admin.net', password })
  check('a new client through haproxy works with one instance left', (await vmCount(xn)) === VMS + 2)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  if (onClosed) c.off('closed', onClosed)
  try { await c.close() } catch (e) {}
}
finish('scale')
