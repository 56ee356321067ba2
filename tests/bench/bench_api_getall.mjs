// bench getall: xo.getAllObjects of the whole pool from xoc-api, against a minimal Node `ws`
// server in its own process answering each request (a) with the very same bytes, prepared
// once (the transport's floor: what any server pays to move these bytes over a loopback
// WebSocket to this client) and (b) with JSON.stringify of the same objects + send (what a
// straightforward Node server, e.g. xo-server, pays at least). Same client, same machine,
// runs interleaved.
// What is reported, per case, median over RUNS calls:
//   round trip      request sent -> whole message received by the client (not parsed)
//   server          xoc-api's own time, from its debug log: the request frame complete on
//                   its WebSocket thread -> the answer's last byte handed to the socket
//                   (`ws: sent ... us=`), and inside it the answer's assembly
//                   (`getAllObjects ... us=`). Handed to the socket is not received: the
//                   kernel's send and receive buffers (tcp_wmem/tcp_rmem, up to 4 + 32 MB
//                   on Linux loopback) may still hold the end for the client to read.
//   client parse    this client's toString + JSON.parse of the answer (what a JS client,
//                   e.g. xo-lib, pays on top of the round trip)
// xoc-api cases: `unchanged` (the replica did not change since the previous call: the kept
// answer is sent again, only the id patched) and `after a change` (one VM renamed in the
// simulator and its push received first: the answer is built again).
// Usage: node bench_api_getall.mjs <node_modules> <api url> <sim url> <password> <vms> <run dir>
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { connect, median, requireFrom, sim, waitPool } from './bench_api_lib.mjs'

const [modules, apiUrl, simUrl, password, vmsArg, runDir] = process.argv.slice(2)
const WebSocket = requireFrom(modules)('ws')
const RUNS = 7

let onPush = null
const xoc = connect(WebSocket, apiUrl)
await xoc.opened
await xoc.call('session.signIn', { email: 'admin@admin.net', password })
// the timed calls go through a raw connection, as the baselines' (no JSON.parse in the
// client between calls, whose garbage would slow the next receive): parse timed apart
const xr = connect(WebSocket, apiUrl, { raw: true, onNotify: data => onPush && onPush(data) })
await xr.opened
await xr.call('session.signIn', { email: 'admin@admin.net', password })
const t0 = Date.now()
const count = await waitPool(xoc.call, Number(vmsArg))
console.log(`getall: pool loaded: ${count} objects (${vmsArg} VMs) after ${((Date.now() - t0) / 1000).toFixed(1)} s of waiting`)
// one VM renamed per `after a change` call, names of a fixed length (the same answer size)
const simSession = await sim(simUrl, 'session.login_with_password', ['root', 'password'])
const vm = (await sim(simUrl, 'VM.get_all', [simSession]))[0]
let renames = 0
async function change() {
  const name = `getall-bench-${String(renames++).padStart(6, '0')}`
  const seen = new Promise(resolve => { onPush = data => data.includes(name) && resolve() })
  await sim(simUrl, 'VM.set_name_label', [simSession, vm, name])
  await seen
  onPush = null
}
await change()
const sample = await xr.call('xo.getAllObjects')
const file = path.join(runDir, 'all.json')
fs.writeFileSync(file, sample.data)

async function baseline(mode) {
  const child = spawn(process.execPath, [new URL('./bench_api_ws_server.mjs', import.meta.url).pathname,
    modules, file, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise(resolve => child.stdout.once('data', d => resolve(Number(String(d).trim()))))
  const c = connect(WebSocket, `ws://127.0.0.1:${port}/api/`, { raw: true })
  await c.opened
  return { ...c, child }
}
const peers = { bytes: await baseline('bytes'), stringify: await baseline('stringify') }
// the baseline servers go with this process, also when it fails
process.on('exit', () => { for (const p of Object.values(peers)) p.child.kill() })
// equal sizes but for the id's digits (xoc-api pads it in a fixed slot; main did not)
const near = (a, b) => Math.abs(a - b) <= 64
const times = { unchanged: [], changed: [], bytes: [], stringify: [], parse: [] }
let bytes = 0
for (let i = 0; i < RUNS; i++) {
  await change()
  const c = await xr.call('xo.getAllObjects', {})
  times.changed.push(c.ms)
  const r = await xr.call('xo.getAllObjects', {})
  bytes = r.bytes
  times.unchanged.push(r.ms)
  const t = performance.now()
  JSON.parse(r.data.toString())
  times.parse.push(performance.now() - t)
  if (!near(c.bytes, r.bytes)) throw new Error(`answers of ${r.bytes} and ${c.bytes} bytes`)
  for (const k of Object.keys(peers)) {
    const b = await peers[k].call('x')
    if (!near(b.bytes, r.bytes) && k === 'bytes') throw new Error('baseline sent other bytes')
    times[k].push(b.ms)
  }
}
// xoc-api's debug log: per call `getAllObjects objects=N bytes=B us=U ...` then
// `ws: sent conn=C bytes=B us=U ...`; the last 2 * RUNS calls alternate changed / unchanged
const log = fs.readFileSync(path.join(runDir, 'api.log'), 'utf8').split('\n')
const built = log.map(l => /getAllObjects objects=(\d+) bytes=(\d+) us=(\d+)/.exec(l))
  // (near: main before h-getall logged the length without the closing brace)
  .filter(x => x && Number(x[1]) === count && near(Number(x[2]), bytes))
  .map(x => Number(x[3]) / 1000)
  .slice(-2 * RUNS)
const sent = log.map(l => /ws: sent conn=\d+ bytes=(\d+) us=(\d+)/.exec(l))
  .filter(x => x && near(Number(x[1]), bytes)).map(x => Number(x[2]) / 1000).slice(-2 * RUNS)
const odd = a => a.filter((_, i) => i % 2 === 0) // changed
const even = a => a.filter((_, i) => i % 2 === 1) // unchanged
const fmt = a => a.length ? `median ${median(a).toFixed(1)} ms (min ${Math.min(...a).toFixed(1)}, max ${Math.max(...a).toFixed(1)})` : 'n/a'
console.log(`getall: ${count} objects, ${(bytes / 1e6).toFixed(1)} MB of JSON, ${RUNS} runs each, interleaved`)
console.log(`  xoc-api, unchanged replica (answer kept)`)
console.log(`    round trip                                ${fmt(times.unchanged)}`)
console.log(`    server: request in -> last byte to socket ${fmt(even(sent))}`)
console.log(`      of which the answer (reused)            ${fmt(even(built))}`)
console.log(`  xoc-api, after a change (answer built)`)
console.log(`    round trip                                ${fmt(times.changed)}`)
console.log(`    server: request in -> last byte to socket ${fmt(odd(sent))}`)
console.log(`      of which building the answer            ${fmt(odd(built))}`)
console.log(`  Node ws server, the same bytes prepared once  ${fmt(times.bytes)}`)
console.log(`  Node ws server, JSON.stringify + send         ${fmt(times.stringify)}`)
console.log(`  client toString + JSON.parse of the answer    ${fmt(times.parse)}`)
const m = median(times.changed)
console.log(`  ratio round trip / same-bytes baseline: unchanged ${(median(times.unchanged) / median(times.bytes)).toFixed(2)}, ` +
  `after a change ${(m / median(times.bytes)).toFixed(2)}; after a change / JSON.stringify baseline ${(m / median(times.stringify)).toFixed(2)}`)
const srv = sent.length ? Math.max(median(even(sent)), median(odd(sent))) : NaN
console.log(`  xo.getAllObjects server side, worse case median ${srv.toFixed(1)} ms (goal < 150 ms) ${srv < 150 ? 'ok' : 'MISSED'}`)
console.log(`  xo.getAllObjects round trip after a change median ${m.toFixed(1)} ms (goal < 150 ms) ${m < 150 ? 'ok' : 'MISSED'}`)
for (const p of Object.values(peers)) { p.ws.close(); p.child.kill() }
xoc.ws.close()
xr.ws.close()
process.exit(0)
