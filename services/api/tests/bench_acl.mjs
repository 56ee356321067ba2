// Measures xo.getAllObjects for a super-admin and for non-admins (operator on the pool: sees
// everything through the ACL; viewer on one VM), and how long an ACL change takes to reach a
// non-admin as pushes (run through tests/compat/run-xo-lib.sh with XO_LIB_VMS=10000).
// Usage: node bench_acl.mjs <node_modules dir> <api url> <sim url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'

const [modules, apiUrl, , password, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const WebSocket = require('ws')

function client() {
  const ws = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/', { maxPayload: 1 << 30 })
  let next = 1
  const waiting = new Map()
  const c = { ws, pushes: [] }
  ws.on('message', data => {
    const t = performance.now()
    const text = data.toString()
    const m = JSON.parse(text)
    if (m.method === 'all') { c.pushes.push({ t, m }); return }
    const w = waiting.get(m.id)
    if (w) { waiting.delete(m.id); w({ m, t, bytes: text.length }) }
  })
  c.call = (method, params = {}) => {
    const id = next++
    const t0 = performance.now()
    return new Promise(resolve => {
      waiting.set(id, r => resolve({ ...r, ms: r.t - t0 }))
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    })
  }
  c.open = new Promise(r => ws.on('open', r))
  return c
}
async function timeAll(c, label) {
  const runs = []
  let last
  for (let i = 0; i < 5; i++) {
    last = await c.call('xo.getAllObjects')
    runs.push(last.ms)
  }
  runs.sort((a, b) => a - b)
  console.log(`${label}: ${Object.keys(last.m.result).length} objects, ${(last.bytes / 1e6).toFixed(1)} MB, ` +
    `min ${runs[0].toFixed(0)} ms, median ${runs[2].toFixed(0)} ms`)
}

const admin = client()
await admin.open
await admin.call('session.signIn', { email: 'admin@admin.net', password })
const vms = Number(vmsArg)
let all
for (const end = Date.now() + 240000; Date.now() < end;) {
  const r = await admin.call('xo.getAllObjects', { filter: { type: 'VM' } })
  if (Object.keys(r.m.result).length >= vms) break
  await new Promise(r => setTimeout(r, 500))
}
all = (await admin.call('xo.getAllObjects')).m.result
const pool = Object.values(all).find(o => o.type === 'pool')
const vm = Object.values(all).find(o => o.type === 'VM')
const uid = (await admin.call('user.create', { email: 'bench@x', password: 'bench-pw' })).m.result
const user = client()
await user.open
await user.call('session.signIn', { email: 'bench@x', password: 'bench-pw' })
await timeAll(admin, 'super-admin getAllObjects')
let t0 = performance.now()
await admin.call('acl.add', { subject: uid, object: pool.id, action: 'operator' })
const tAdd = performance.now() - t0
await new Promise(r => setTimeout(r, 1000))
const entered = user.pushes.reduce((n, p) => n + Object.keys(p.m.params.items).length, 0)
console.log(`acl.add operator on the pool: answered in ${tAdd.toFixed(0)} ms, ${entered} objects entered by push`)
await timeAll(user, 'operator on the pool getAllObjects')
user.pushes.length = 0
t0 = performance.now()
await admin.call('acl.remove', { subject: uid, object: pool.id, action: 'operator' })
const tRemove = performance.now() - t0
await admin.call('acl.add', { subject: uid, object: vm.id, action: 'viewer' })
await new Promise(r => setTimeout(r, 1000))
const exited = user.pushes.filter(p => p.m.params.type === 'exit')
  .reduce((n, p) => n + Object.keys(p.m.params.items).length, 0)
console.log(`acl.remove: answered in ${tRemove.toFixed(0)} ms, ${exited} objects exited by push`)
await timeAll(user, 'viewer on one VM getAllObjects')
process.exit(0)
