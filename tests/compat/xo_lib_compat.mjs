// Compatibility test: the npm `xo-lib` client (Xen Orchestra's client library) against xoc-api.
// Usage: node xo_lib_compat.mjs <node_modules dir> <api url> <sim master url> <admin password> <vms>
// Prints one line per check and `compat: N passed, M failed`; exits non-zero on failure.
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, deadline, errorOf, finish, simCall } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const WebSocket = require('ws')
const VMS = Number(vmsArg)

const sim = (method, params) => simCall(simUrl, method, params)

// one raw WebSocket exchange: sends text, resolves with the first message parsed
function raw(text) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/')
    const timer = setTimeout(() => reject(new Error('raw: no answer')), 10000)
    ws.on('open', () => ws.send(text))
    ws.on('message', data => {
      clearTimeout(timer)
      ws.close()
      resolve(JSON.parse(data.toString()))
    })
    ws.on('error', reject)
  })
}

// opens a raw WebSocket, runs fn(ws), resolves with the close {code, reason}
function closeOf(fn) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/')
    const timer = setTimeout(() => { ws.terminate(); resolve({ code: 0, reason: 'not closed' }) }, 20000)
    ws.on('open', () => fn(ws))
    ws.on('close', (code, reason) => { clearTimeout(timer); resolve({ code, reason: reason.toString() }) })
    ws.on('error', () => {})
  })
}

const clients = []
function client() {
  const xo = new Xo({ url: apiUrl })
  xo.on('error', () => {})
  clients.push(xo)
  return xo
}

try {
  // 1. sign in with the admin's password
  const xo = client()
  await xo.open()
  await xo.signIn({ email: 'admin@admin.net', password: adminPassword })
  check('signIn with password', xo.user && xo.user.email === 'admin@admin.net' &&
    xo.user.permission === 'admin' && !('pw_hash' in xo.user), JSON.stringify(xo.user))

  // 2. introspection from the method table
  const methods = await xo.call('system.listMethods')
  const info = await xo.call('system.getMethodsInfo')
  check('system.listMethods / getMethodsInfo', methods.includes('xo.getAllObjects') &&
    info['session.signIn'].permission === null && info['user.create'].permission === 'admin' &&
    !('permission' in info['xo.getAllObjects']) &&
    info['xo.getAllObjects'].params.limit.optional === true, `${methods.length} methods`)

  // 3. token.create, then sign in with the token on another connection
  const token = await xo.call('token.create', { description: 'compat' })
  check('token.create', typeof token === 'string' && token.length === 43, token)
  const xt = client()
  await xt.open()
  await xt.signIn({ token })
  check('signIn with token', xt.user && xt.user.email === 'admin@admin.net')

  // 3b. a user's own tokens (§8.2): listed with their stored ids (never the secret), described,
  //     deleted by token, id or pattern, all at once; another user's are out of reach; and
  //     user.changePassword checks the old password
  const tokId = async desc => (await xo.call('user.getAuthenticationTokens'))
    .filter(t => t.description === desc).map(t => t.id)
  const tessId = await xo.call('user.create', { email: 'tess@example.net', password: 'tess-pw' })
  const tess = client()
  await tess.open()
  await tess.signIn({ email: 'tess@example.net', password: 'tess-pw' })
  const tessTok = await tess.call('token.create', { description: 'tess' })
  const t1 = await xo.call('token.create', { description: 'one' })
  await xo.call('token.create', { description: 'two' })
  const mine = await xo.call('user.getAuthenticationTokens')
  check('user.getAuthenticationTokens: his own, ids not the secrets, with expiration',
    mine.length >= 3 && mine.every(t => t.user_id === xo.user.id && t.id !== t1 &&
      t.id !== token && typeof t.expiration === 'number') &&
    mine.some(t => t.description === 'one') && !mine.some(t => t.description === 'tess'),
    JSON.stringify(mine.map(t => t.description)))
  check('token.set by the token itself and by its listed id',
    (await xo.call('token.set', { id: t1, description: 'uno' })) === true &&
    (await tokId('uno')).length === 1 &&
    (await xo.call('token.set', { id: (await tokId('uno'))[0], description: 'one' })) === true &&
    (await tokId('one')).length === 1)
  const foreign = await errorOf(xo.call('token.set', { id: tessTok, description: 'mine' }))
  check('token.set of another user\'s token → 1 no such token', foreign?.code === 1 &&
    foreign.data?.type === 'token', JSON.stringify(foreign))
  await xo.call('token.deleteOwn', { tokens: await tokId('one') })
  const gone = await errorOf((async () => { const x = client(); await x.open();
    await x.signIn({ token: t1 }) })())
  check('token.deleteOwn {tokens: [listed id]}: that token signs in no more',
    (await tokId('one')).length === 0 && gone?.code === 3, JSON.stringify(gone))
  await xo.call('token.deleteOwn', { pattern: { description: 'two' } })
  check('token.deleteOwn {pattern}', (await tokId('two')).length === 0 &&
    (await tokId('compat')).length === 1)
  await tess.call('token.create', { description: 'tess-2' })
  await tess.call('token.deleteOwn', {})
  check('token.deleteOwn {}: every token of the caller, none of the others\'',
    (await tess.call('user.getAuthenticationTokens')).length === 0 &&
    (await tokId('compat')).length === 1)
  const wrongOld = await errorOf(tess.call('user.changePassword',
    { oldPassword: 'nope', newPassword: 'tess-new' }))
  check('user.changePassword with a wrong old password → 3', wrongOld?.code === 3,
    JSON.stringify(wrongOld))
  await new Promise(resolve => setTimeout(resolve, 2100)) // the sign-in throttling delay
  check('user.changePassword → true', (await tess.call('user.changePassword',
    { oldPassword: 'tess-pw', newPassword: 'tess-new' })) === true)
  const oldPw = await errorOf((async () => { const x = client(); await x.open();
    await x.signIn({ email: 'tess@example.net', password: 'tess-pw' }) })())
  await new Promise(resolve => setTimeout(resolve, 2100))
  const x2 = client()
  await x2.open()
  await x2.signIn({ email: 'tess@example.net', password: 'tess-new' })
  check('… the old password refused (3), the new one signs in', oldPw?.code === 3 &&
    x2.user?.id === tessId, JSON.stringify(oldPw))
  await xo.call('user.delete', { id: tessId })

  // 4. xo.getAllObjects: the pool's objects, VM count as the simulator's
  const vms = await deadline(30000, 'the pool in xo.getAllObjects', async () => {
    const all = await xo.call('xo.getAllObjects', { filter: { type: 'VM' } })
    const n = Object.keys(all).length
    return n === VMS ? all : null
  })
  check('xo.getAllObjects filter type=VM', Object.keys(vms).length === VMS,
    `${Object.keys(vms).length}/${VMS}`)
  const all = await xo.call('xo.getAllObjects')
  const types = new Set(Object.values(all).map(o => o.type))
  check('xo.getAllObjects (all)', types.has('pool') && types.has('host') && types.has('VM') &&
    Object.entries(all).every(([id, o]) => o.id === id), `${Object.keys(all).length} objects`)
  const two = await xo.call('xo.getAllObjects', { limit: 2 })
  check('xo.getAllObjects limit', Object.keys(two).length === 2)

  // 5. an `all` push after a change in the simulator
  const pushes = []
  xt.on('notification', n => { if (n.method === 'all') pushes.push(n.params) })
  await sim('sim.churn', { rate: 50 })
  try {
    await deadline(15000, 'an all push', () => pushes.some(p => p.type === 'enter'))
  } catch (e) {}
  await sim('sim.churn', { rate: 0 })
  const enter = pushes.find(p => p.type === 'enter')
  check('`all` enter push after a change', enter &&
    Object.entries(enter.items).every(([id, o]) => o.id === id && o.type),
    `${pushes.length} pushes`)

  // 5b. string filters (complex-matcher syntax): each result equals what the npm
  //     complex-matcher selects from the same objects (taken before and after, equal)
  const CM = require('complex-matcher')
  // complex-matcher 0.7.0 on npm compares only numbers; its current source (and xoc)
  // compares any value with JavaScript's conversions: the oracle follows the source
  CM.Comparison.prototype.match = function (v) { return this._comparator(v, this._value) }
  const stringFilters = ['type:VM power_state:Running', '|(power_state:Halted type:host)',
    '!type:VM', 'type:VM !power_state:Running', 'type:/^VM$/i', 'name_label:/^control/i',
    'CPUs:number:>=1 memory:size:>1000', 'tags?', '!tags?', 'r*ing', '"Control domain"',
    'type:host |(enabled? !enabled?)', 'boot:order:c', 'CPUs:(number:>0 max:>=1)', '32',
    'power_state:|(Running Paused) !is_a_template?', '']
  let snapshot = null
  let cmResults = null
  for (let attempt = 0; attempt < 10 && !cmResults; attempt++) {
    const before = await xo.call('xo.getAllObjects')
    const results = []
    for (const f of stringFilters)
      results.push(await xo.call('xo.getAllObjects', { filter: f }))
    const after = await xo.call('xo.getAllObjects')
    if (JSON.stringify(before) === JSON.stringify(after)) {
      snapshot = before
      cmResults = results
    } else {
      await new Promise(r => setTimeout(r, 500))
    }
  }
  check('string filters: a stable snapshot to compare with', cmResults !== null)
  if (cmResults) {
    stringFilters.forEach((f, i) => {
      const pred = CM.parse(f).createPredicate()
      const want = Object.keys(snapshot).filter(id => pred(snapshot[id])).sort()
      const got = Object.keys(cmResults[i]).sort()
      check(`string filter ${JSON.stringify(f)} = complex-matcher`,
        JSON.stringify(got) === JSON.stringify(want), `${got.length}/${want.length}`)
    })
    const running = cmResults[0]
    const byObject = await xo.call('xo.getAllObjects', { filter: { type: 'VM', power_state: 'Running' } })
    check('"type:VM power_state:Running" contains the object filter\'s VMs (and the control domains)',
      Object.keys(byObject).length > 0 && Object.keys(byObject).every(id => id in running) &&
      Object.values(running).every(o => o.type === 'VM' || o.type === 'VM-controller'),
      `${Object.keys(running).length} ⊇ ${Object.keys(byObject).length}`)
    check('string filters select something and not everything',
      Object.keys(cmResults[1]).length > 0 && Object.keys(cmResults[2]).length > 0 &&
      Object.keys(cmResults[2]).length < Object.keys(snapshot).length)
  }
  const oneVm = await xo.call('xo.getAllObjects', { filter: 'type:VM', limit: 1 })
  check('string filter with a limit', Object.keys(oneVm).length === 1 &&
    Object.values(oneVm)[0].type.startsWith('VM'))
  const badFilter = await errorOf(xo.call('xo.getAllObjects', { filter: '|(type:VM' }))
  check('string filter syntax error → 10 with the parser\'s message', badFilter &&
    badFilter.code === 10 && badFilter.data && badFilter.data.errors &&
    /missing '\)'.*position 1$/.test(badFilter.data.errors[0].message),
    badFilter && JSON.stringify(badFilter.data))
  const badCmp = await errorOf(xo.call('xo.getAllObjects', { filter: 'memory:size:>lots' }))
  check('string filter: comparison with a non-number → 10', badCmp && badCmp.code === 10)

  // 6. users: create, sign in as a non-admin, admin-only methods refused, own preferences,
  //    getUser / signOut, delete (closes the user's connections)
  const uid = await xo.call('user.create', { email: 'bob@example.net', password: 'bob-secret' })
  const users = await xo.call('user.getAll')
  check('user.create / user.getAll', typeof uid === 'string' &&
    users.some(u => u.id === uid && u.email === 'bob@example.net' && u.permission === 'none') &&
    users.every(u => !('pw_hash' in u)), `${users.length} users`)
  const dup = await errorOf(xo.call('user.create', { email: 'BOB@example.net', password: 'x' }))
  check('user.create of an existing email → 16', dup && dup.code === 16)
  const xb = client()
  await xb.open()
  await xb.signIn({ email: 'bob@example.net', password: 'bob-secret' })
  check('signIn as a non-admin', xb.user && xb.user.id === uid && xb.user.permission === 'none')
  const refused = await errorOf(xb.call('user.getAll'))
  check('admin method as a non-admin → 2', refused && refused.code === 2)
  await xb.call('user.set', { id: uid, preferences: { lang: 'fr' } })
  const me = await xb.refreshUser()
  check('user.set own preferences, session.getUser', me.preferences && me.preferences.lang === 'fr')
  const noPerm = await errorOf(xb.call('user.set', { id: uid, permission: 'admin' }))
  check('a non-admin cannot raise his permission → 2', noPerm && noPerm.code === 2)
  const bobClosed = new Promise(r => xb.once('closed', r))
  await xo.call('user.delete', { id: uid })
  const closedInTime = await Promise.race([bobClosed.then(() => true),
    new Promise(r => setTimeout(() => r(false), 5000))])
  check('user.delete closes the user\'s connections', closedInTime &&
    !(await xo.call('user.getAll')).some(u => u.id === uid))

  // 7. error codes
  const unknown = await errorOf(xo.call('no.such.method'))
  check('unknown method → -32601', unknown && unknown.code === -32601, unknown && unknown.message)
  const badParams = await errorOf(xo.call('xo.getAllObjects', { limit: 'ten' }))
  check('wrong param type → 10', badParams && badParams.code === 10)
  const notAdmin = client()
  await notAdmin.open()
  const before = await errorOf(notAdmin.call('xo.getAllObjects'))
  check('call before sign-in → 2', before && before.code === 2, before && before.message)

  const parse = await raw('{"jsonrpc":"2.0","id":1,"method":')
  check('malformed JSON → -32700, id null', parse.error && parse.error.code === -32700 &&
    parse.id === null, JSON.stringify(parse))
  const invalid = await raw('{"jsonrpc":"2.0","id":9}')
  check('invalid request → -32600', invalid.error && invalid.error.code === -32600 &&
    invalid.id === 9)

  // 5b. xo.getAllObjects of everything, again and again while nothing changes (xoc-api sends
  //     its kept answer with the call's id patched in; an id longer than its slot gets an
  //     answer built anew), then after a change (the answer is built again)
  const answers = await new Promise((resolve, reject) => {
    const ws = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/', { maxPayload: 1 << 30 })
    const ids = [7, 'a-string-id', 'x'.repeat(60), 12345678901234, 8]
    const got = []
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('getAllObjects: no answer')) }, 20000)
    ws.on('open', () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'session.signIn',
      params: { email: 'admin@admin.net', password: adminPassword } })))
    ws.on('message', data => {
      const m = JSON.parse(data.toString())
      if (m.method) return // a push
      if (m.id === 0) {
        for (const id of ids)
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'xo.getAllObjects' }))
        return
      }
      got.push({ sent: ids[got.length], m })
      if (got.length === ids.length) { clearTimeout(timer); ws.close(); resolve(got) }
    })
    ws.on('error', reject)
  })
  // (the objects: every VM in each; the churn above may still add a message or a task)
  const vmsOf = a => Object.values(a.m.result || {}).filter(o => o.type === 'VM').length
  check('xo.getAllObjects repeated: each answer carries its own id, every VM',
    answers.every(a => a.m.id === a.sent && vmsOf(a) === VMS),
    answers.map(a => `${JSON.stringify(a.m.id).slice(0, 12)}:${Object.keys(a.m.result || {}).length}`).join(' '))
  const simSession = await sim('session.login_with_password', ['root', 'password'])
  const renamed = Object.values(all).find(o => o.type === 'VM' && o._xapiRef)
  const newName = `renamed-${Date.now()}`
  const seenPush = deadline(15000, 'the rename pushed', () => pushes.some(p => p.type === 'enter' &&
    p.items[renamed.id] && p.items[renamed.id].name_label === newName))
  await sim('VM.set_name_label', [simSession, renamed._xapiRef, newName])
  await seenPush
  const after1 = await xo.call('xo.getAllObjects')
  const after2 = await xo.call('xo.getAllObjects')
  check('xo.getAllObjects after a change shows it (twice)',
    after1[renamed.id].name_label === newName && after2[renamed.id].name_label === newName &&
    Object.keys(after2).length === Object.keys(after1).length, newName)

  // limits (run-xo-lib.sh sets api.max_frame and api.send_queue_max to 1 MiB)
  const big = await closeOf(ws => ws.send('{"jsonrpc":"2.0","id":1,"method":"m","params":{"x":"' +
    'a'.repeat(2 << 20) + '"}}'))
  check('oversized frame → close 1009', big.code === 1009, `${big.code} ${big.reason}`)
  const slow = await closeOf(async ws => {
    ws.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'session.signIn',
      params: { email: 'admin@admin.net', password: adminPassword } }))
    await new Promise(r => ws.once('message', r))
    ws._socket.pause() // a client that stops reading
    for (let i = 1; i <= 400; i++)
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'xo.getAllObjects' }))
    setTimeout(() => ws._socket.resume(), 3000)
  })
  // the close frame (1008 "send queue full") reaches a client that stopped reading only when
  // its buffers still have room; otherwise it sees the TCP close (1006)
  check('slow client closed by the server (1008 "send queue full", or 1006)',
    (slow.code === 1008 && slow.reason === 'send queue full') || slow.code === 1006,
    `${slow.code} ${slow.reason}`)
  const still = await xo.call('system.getVersion')
  check('other clients unaffected', still === '0.1')

  // last: a failure throttles this address for a while
  const xw = client()
  await xw.open()
  const wrong = await errorOf(xw.signIn({ email: 'admin@admin.net', password: 'wrong' }))
  check('wrong password → 3', wrong && wrong.code === 3, wrong && wrong.message)
  const again = await errorOf(xw.signIn({ email: 'admin@admin.net', password: adminPassword }))
  check('sign-in throttled right after a failure (a plain error: -32000, hidden as §2 says)',
    again && again.code === -32000 && again.message === 'unknown error from the peer',
    again && again.message)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) {
  try { await c.close() } catch (e) {}
}
finish('compat')
