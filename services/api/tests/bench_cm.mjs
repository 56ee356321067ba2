// Measures xo.getAllObjects with string filters (complex-matcher) on a big simulated pool,
// next to no filter and an object filter (run through tests/compat/run-xo-lib.sh with
// XO_LIB_VMS=10000): round trip over a raw WebSocket, median of 5, objects selected.
// Usage: node bench_cm.mjs <node_modules dir> <api url> <sim url> <admin password> <vms>
import { createRequire } from 'node:module'
import path from 'node:path'

const [modules, apiUrl, , password, vmsArg] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const WebSocket = require('ws')
const ws = new WebSocket(apiUrl.replace(/^http/, 'ws') + '/api/', { maxPayload: 1 << 30 })
let next = 1
const waiting = new Map()
ws.on('message', data => {
  const t = performance.now()
  const m = JSON.parse(data.toString())
  const w = waiting.get(m.id)
  if (w) { waiting.delete(m.id); w({ m, t }) }
})
function call(method, params = {}) {
  const id = next++
  const t0 = performance.now()
  return new Promise(resolve => {
    waiting.set(id, r => resolve({ ...r, ms: r.t - t0 }))
    ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
  })
}
await new Promise(r => ws.on('open', r))
await call('session.signIn', { email: 'admin@admin.net', password })
const vms = Number(vmsArg)
for (const end = Date.now() + 240000; Date.now() < end;) {
  const r = await call('xo.getAllObjects', { filter: { type: 'VM' } })
  if (Object.keys(r.m.result).length >= vms) break
  await new Promise(r => setTimeout(r, 500))
}
const total = Object.keys((await call('xo.getAllObjects')).m.result).length
const cases = [['no filter', undefined], ['object {type:VM,power_state:Running}',
  { type: 'VM', power_state: 'Running' }], ['type:VM power_state:Running', null],
  ['|(power_state:Halted type:host)', null], ['!type:VM', null], ['nomatchanywhere', null],
  ['name_label:/^vm-?1[0-9]*$/i', null], ['memory:size:>1e9 CPUs:number:>=2', null],
  ['r*ing', null],
  // the worst case the limits allow: every term a full-text search that never matches
  ['|(' + Array.from({ length: 125 }, (_, i) => 'zq' + i).join(' ') + ')', null]]
console.log(`${total} objects`)
for (const [name, obj] of cases) {
  const params = obj === undefined ? {} : { filter: obj === null ? name : obj }
  const runs = []
  let last
  for (let i = 0; i < 5; i++) {
    last = await call('xo.getAllObjects', params)
    runs.push(last.ms)
  }
  runs.sort((a, b) => a - b)
  const n = last.m.result ? Object.keys(last.m.result).length : JSON.stringify(last.m.error)
  console.log(`${(name.length > 40 ? name.slice(0, 37) + '...' : name).padEnd(40)} ${String(n).padStart(6)} objects  median ${runs[2].toFixed(0)} ms` +
    ` (min ${runs[0].toFixed(0)})`)
}
ws.close()
process.exit(0)
