// Measures xo.getAllObjects on a big simulated pool (run through tests/compat/run-xo-lib.sh
// with XO_LIB_VMS=10000): round trip over a raw WebSocket, bytes, objects.
// Usage: node bench_get_all.mjs <node_modules dir> <api url> <sim url> <admin password> <vms>
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
  const text = data.toString()
  const m = JSON.parse(text)
  const w = waiting.get(m.id)
  if (w) { waiting.delete(m.id); w({ m, t, bytes: text.length }) }
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
const runs = []
let last
for (let i = 0; i < 5; i++) {
  last = await call('xo.getAllObjects')
  runs.push(last.ms)
}
runs.sort((a, b) => a - b)
console.log(`getAllObjects: ${Object.keys(last.m.result).length} objects, ${(last.bytes / 1e6).toFixed(1)} MB, ` +
  `round trip (until the whole message is received) min ${runs[0].toFixed(0)} ms, median ${runs[2].toFixed(0)} ms`)
ws.close()
process.exit(0)
