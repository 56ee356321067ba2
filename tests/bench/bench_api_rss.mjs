// bench rss: xoc-api's memory holding a 10 000-VM pool, next to what it holds: the replica's
// object bytes (xoc_replica_bytes: ids, types and msgpack, from the `replica_bytes` of its
// sys.api.heartbeat) and the JSON cache (the JSON text of every object, as sent by
// xo.getAllObjects: the whole answer minus its envelope and its "id": keys). Baseline: the
// size of the pool as JSON (the getAllObjects answer), and a Node process holding the same
// objects parsed (JSON.parse of that answer: what a Node frontend holds at least).
// Usage: node bench_api_rss.mjs <node_modules> <api url> <sim url> <password> <vms> <run dir>
//        <api pid> <build dir> <bus endpoint>
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { connect, memOf, requireFrom, waitPool } from './bench_api_lib.mjs'

const [modules, apiUrl, , password, vmsArg, runDir, apiPid, build, bus] = process.argv.slice(2)
const WebSocket = requireFrom(modules)('ws')
const MB = 1024 * 1024

const xoc = connect(WebSocket, apiUrl)
await xoc.opened
await xoc.call('session.signIn', { email: 'admin@admin.net', password })
const count = await waitPool(xoc.call, Number(vmsArg))
const loaded = memOf(apiPid)
const all = await xoc.call('xo.getAllObjects')
const ids = Object.keys(all.m.result)
// JSON cache = answer - envelope {"jsonrpc":"2.0","id":N,"result":{...}} - ("id": + comma) per object
const envelope = `{"jsonrpc":"2.0","id":${all.m.id},"result":{}}`.length
const jsonCache = all.bytes - envelope - ids.reduce((n, id) => n + JSON.stringify(id).length + 2, 0) + 1
const after = memOf(apiPid)
const hb = execFileSync(path.join(build, 'tools/xoc-events/xoc-events'),
  ['sys.api.heartbeat', '--count', '1', '--timeout', '10', '--bus.endpoint', bus, '--log.level', 'error'])
const stats = JSON.parse(hb.toString().trim().split('\n')[0])
const replicaBytes = Number(stats.replica_bytes ?? (stats.stats && stats.stats.replica_bytes))
fs.writeFileSync(path.join(runDir, 'all.json'), all.data)
const peer = spawnSync(process.execPath, ['-e', `
  const fs = require('fs'); const t = fs.readFileSync(process.argv[1], 'utf8')
  const o = JSON.parse(t).result; globalThis.keep = o; if (global.gc) global.gc()
  const s = fs.readFileSync('/proc/self/status', 'utf8')
  console.log(JSON.stringify({ rss: Number(s.match(/^VmRSS:\\s+(\\d+)/m)[1]) / 1024,
    heap: process.memoryUsage().heapUsed / ${MB}, n: Object.keys(o).length }))`,
  path.join(runDir, 'all.json')], { encoding: 'utf8', execArgv: [] })
const node = JSON.parse(peer.stdout.trim())
const f = x => x.toFixed(1)
console.log(`rss: xoc-api holding ${count} objects (${vmsArg} VMs):`)
console.log(`  after the load            VmRSS ${f(loaded.VmRSS)} MB (anon ${f(loaded.RssAnon)}, file ${f(loaded.RssFile)}), VmHWM ${f(loaded.VmHWM)} MB`)
console.log(`  after one getAllObjects   VmRSS ${f(after.VmRSS)} MB (anon ${f(after.RssAnon)}), VmHWM ${f(after.VmHWM)} MB`)
console.log(`  replica (xoc_replica_bytes) ${f(replicaBytes / MB)} MB, JSON cache ${f(jsonCache / MB)} MB (text only), ` +
  `sum ${f((replicaBytes + jsonCache) / MB)} MB; the pool as JSON ${f(all.bytes / MB)} MB`)
console.log(`  baseline: a Node process holding the same objects (JSON.parse): VmRSS ${f(node.rss)} MB, heap ${f(node.heap)} MB`)
console.log(`  ratio xoc-api anon / (replica + JSON cache) ${(loaded.RssAnon * MB / (replicaBytes + jsonCache)).toFixed(2)}, ` +
  `xoc-api VmRSS / Node holding the objects ${(loaded.VmRSS / node.rss).toFixed(2)}`)
console.log(`  xoc-api anonymous memory ${f(loaded.RssAnon)} MB (goal <= 150 MB per service) ${loaded.RssAnon <= 150 ? 'ok' : 'MISSED'}`)
xoc.ws.close()
process.exit(0)
