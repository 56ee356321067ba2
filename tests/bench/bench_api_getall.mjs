// bench getall: xo.getAllObjects of the whole pool from xoc-api, against a minimal Node `ws`
// server in its own process answering each request (a) with the very same bytes, prepared
// once (the transport's floor: what any server pays to move these bytes over a loopback
// WebSocket to this client) and (b) with JSON.stringify of the same objects + send (what a
// straightforward Node server, e.g. xo-server, pays at least). Same client, same machine,
// runs interleaved; time = request sent -> whole message received by the client.
// Usage: node bench_api_getall.mjs <node_modules> <api url> <sim url> <password> <vms> <run dir>
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { connect, median, requireFrom, waitPool } from './bench_api_lib.mjs'

const [modules, apiUrl, , password, vmsArg, runDir] = process.argv.slice(2)
const WebSocket = requireFrom(modules)('ws')
const RUNS = 7

const xoc = connect(WebSocket, apiUrl)
await xoc.opened
await xoc.call('session.signIn', { email: 'admin@admin.net', password })
const t0 = Date.now()
const count = await waitPool(xoc.call, Number(vmsArg))
console.log(`getall: pool loaded: ${count} objects (${vmsArg} VMs) after ${((Date.now() - t0) / 1000).toFixed(1)} s of waiting`)
const sample = await xoc.call('xo.getAllObjects')
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
const times = { xoc: [], bytes: [], stringify: [] }
let bytes = 0
for (let i = 0; i < RUNS; i++) {
  const r = await xoc.call('xo.getAllObjects', {})
  bytes = r.bytes
  times.xoc.push(r.ms)
  for (const k of Object.keys(peers)) {
    const b = await peers[k].call('x')
    if (b.bytes !== r.bytes && k === 'bytes') throw new Error('baseline sent other bytes')
    times[k].push(b.ms)
  }
}
const fmt = a => `median ${median(a).toFixed(1)} ms (min ${Math.min(...a).toFixed(1)}, max ${Math.max(...a).toFixed(1)})`
console.log(`getall: ${count} objects, ${(bytes / 1e6).toFixed(1)} MB of JSON, ${RUNS} runs each, interleaved`)
console.log(`  xoc-api xo.getAllObjects                      ${fmt(times.xoc)}`)
console.log(`  Node ws server, the same bytes prepared once  ${fmt(times.bytes)}`)
console.log(`  Node ws server, JSON.stringify + send         ${fmt(times.stringify)}`)
// the answer's assembly inside xoc-api (its debug line per call), the last RUNS calls
const built = fs.readFileSync(path.join(runDir, 'api.log'), 'utf8').split('\n')
  .map(l => /getAllObjects objects=(\d+) bytes=\d+ us=(\d+)/.exec(l))
  .filter(x => x && Number(x[1]) === count).map(x => Number(x[2]) / 1000).slice(-RUNS)
if (built.length)
  console.log(`  of which xoc-api building the answer (its log) ${fmt(built)}`)
const m = median(times.xoc)
console.log(`  ratio xoc / same-bytes baseline ${(m / median(times.bytes)).toFixed(2)}, ` +
  `xoc / JSON.stringify baseline ${(m / median(times.stringify)).toFixed(2)}`)
console.log(`  xo.getAllObjects median ${m.toFixed(1)} ms (goal < 150 ms) ${m < 150 ? 'ok' : 'MISSED'}`)
for (const p of Object.values(peers)) { p.ws.close(); p.child.kill() }
xoc.ws.close()
process.exit(0)
