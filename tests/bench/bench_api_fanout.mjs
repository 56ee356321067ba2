// bench fanout: N clients (default 1 000) signed in on one xoc-api, all receiving the `all`
// pushes while the simulator makes 1 000 changes/s (sim.churn), and 20 stamped changes/s:
// VM.set_name_label("fan-<seq>-<t>") made by this process in the simulator, t = its
// monotonic clock (ns) just before the call. Each client notes when the push that carries
// a stamp arrives (the first time only). Measured: stamp -> each client, end to end
// (simulator, collector, cache, bus, xoc-api's replica, JSON, fan-out, loopback TCP, the
// client's WebSocket parsing); and per stamp the spread from the first client to the last.
// Baseline in the same run: the same churn and stamps with ONE client (the delivery latency
// of the pipeline without fan-out), and the same N clients on a minimal Node `ws` broadcast
// server (bench_api_ws_broadcast.mjs) that is itself one client of xoc-api and re-sends every
// push it gets (same bytes; one more hop than xoc-api's own fan-out). Clients run in child processes (2 by default), the
// monotonic clock is the machine's (CLOCK_MONOTONIC) in every process.
// Usage: node bench_api_fanout.mjs <node_modules> <api url> <sim url> <password> <vms> <run dir>
//   env: BENCH_CLIENTS (1000), BENCH_SECONDS (10), BENCH_CHURN (1000), BENCH_WORKERS (2),
//   BENCH_PHASES (baseline,fanout,node: the phases to run, e.g. "fanout" alone to profile it)
// CPU: each phase also prints the CPU time that xoc-api (/proc/<pid>/stat) and the client
// processes (process.cpuUsage) used during its stamped part, per message delivered — a
// figure that does not depend on the load of the machine, unlike the latencies.
import { fork } from 'node:child_process'
import fs from 'node:fs'
import { connect, pct, requireFrom, sim, waitPool } from './bench_api_lib.mjs'

const IS_WORKER = process.argv[2] === '--worker'
const [modules, apiUrl, simUrl, password, vmsArg, , apiPidArg] = process.argv.slice(2)
const WebSocket = IS_WORKER ? null : requireFrom(modules)('ws')
const CLIENTS = Number(process.env.BENCH_CLIENTS || 1000)
const SECONDS = Number(process.env.BENCH_SECONDS || 10)
const CHURN = Number(process.env.BENCH_CHURN || 1000)
const WORKERS = Number(process.env.BENCH_WORKERS || 2)
const PHASES = (process.env.BENCH_PHASES || 'baseline,fanout,node').split(',')
const STAMPS_PER_S = 20
const MAX_SEQ = 1 << 16

// ---- worker: n connections, signed in with a token, noting stamps ------------------------------
if (IS_WORKER) {
  const [, , , wmodules, url, token, nArg, minSeqArg] = process.argv
  const minSeq = Number(minSeqArg) // stamps of an earlier phase may be pushed again: ignored
  const W = requireFrom(wmodules)('ws')
  const n = Number(nArg)
  const lat = []                 // ns, stamp -> receipt
  const first = new Map()        // seq -> [min receipt, max receipt, count]
  let bytes = 0
  let messages = 0
  const clients = []
  for (let i = 0; i < n; i++) {
    const seen = new Uint8Array(MAX_SEQ)
    const c = connect(W, url, {
      onNotify: (data, t) => {
        bytes += data.length
        messages++
        for (let at = data.indexOf('fan-'); at >= 0; at = data.indexOf('fan-', at + 4)) {
          const m = /^fan-(\d+)-(\d+)/.exec(data.toString('latin1', at, at + 48))
          if (!m) continue
          const seq = Number(m[1])
          if (seq < minSeq || seq >= MAX_SEQ || seen[seq]) continue
          seen[seq] = 1
          lat.push(Number(t - BigInt(m[2])))
          const f = first.get(seq)
          if (!f) first.set(seq, [t, t, 1])
          else { if (t < f[0]) f[0] = t; if (t > f[1]) f[1] = t; f[2]++ }
        }
      },
    })
    clients.push(c)
  }
  for (let i = 0; i < n; i += 50) // sign in 50 at a time
    await Promise.all(clients.slice(i, i + 50).map(async c => {
      await c.opened
      await c.call('session.signIn', { token })
    }))
  process.send({ ready: true })
  let cpu0 = null
  let msgs0 = 0
  process.on('message', msg => {
    if (msg.cpuStart) { cpu0 = process.cpuUsage(); msgs0 = messages }
    if (msg.cpuStop) {
      const d = process.cpuUsage(cpu0)
      process.send({ cpu: (d.user + d.system) / 1e6, cpuUser: d.user / 1e6, msgs: messages - msgs0 })
    }
    if (!msg.report) return
    process.send({
      lat, bytes, messages,
      first: [...first].map(([seq, f]) => [seq, String(f[0]), String(f[1]), f[2]]),
    }, () => process.exit(0))
  })
} else {
  await main()
}

// seconds of CPU (user, system) used by a process so far
function procCpu(pid) {
  if (!pid) return null
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const v = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return { user: Number(v[11]) / 100, sys: Number(v[12]) / 100 } // clock ticks (100 Hz)
  } catch { return null }
}

// each worker's CPU time and messages received between its cpuStart and cpuStop
async function workerCpu(workers) {
  return Promise.all(workers.map(x => new Promise(r => {
    const on = m => { if (m.cpu !== undefined) { x.w.off('message', on); r(m) } }
    x.w.on('message', on)
    x.w.send({ cpuStop: true })
  })))
}

async function simLogin() {
  const s = await sim(simUrl, 'session.login_with_password', ['root', 'password'])
  const recs = await sim(simUrl, 'VM.get_all_records', [s])
  const vms = Object.entries(recs).filter(([, r]) => !r.is_a_template && !r.is_control_domain)
    .map(([ref]) => ref)
  return { session: s, vms }
}

async function phase(label, nClients, token, simS, seqBase, { viaNode = false } = {}) {
  let url = apiUrl
  let broadcaster = null
  if (viaNode) {
    broadcaster = fork(new URL('./bench_api_ws_broadcast.mjs', import.meta.url).pathname,
      [modules, apiUrl, token], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
    const port = await new Promise(r => broadcaster.stdout.once('data', d => r(String(d).trim())))
    url = `ws://127.0.0.1:${port}/api/`
  }
  const per = Math.ceil(nClients / Math.min(WORKERS, nClients))
  const workers = []
  for (let left = nClients; left > 0; left -= per) {
    const w = fork(new URL(import.meta.url).pathname,
      ['--worker', modules, url, token, String(Math.min(per, left)), String(seqBase)], { stdio: 'inherit' })
    workers.push({ w, ready: new Promise(r => w.on('message', m => m.ready && r())) })
  }
  const t0 = Date.now()
  await Promise.all(workers.map(x => x.ready))
  const signinS = (Date.now() - t0) / 1000
  await sim(simUrl, 'sim.churn', { rate: CHURN })
  await new Promise(r => setTimeout(r, 2000)) // churn settles
  const total = SECONDS * STAMPS_PER_S
  let sent = 0
  const apiPid = Number(apiPidArg) || 0
  for (const x of workers) x.w.send({ cpuStart: true })
  const api0 = procCpu(apiPid)
  const start = Date.now()
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / STAMPS_PER_S
    const wait = due - Date.now()
    if (wait > 0) await new Promise(r => setTimeout(r, wait))
    const seq = seqBase + i
    const vm = simS.vms[i % simS.vms.length]
    const name = `fan-${seq}-${process.hrtime.bigint()}`
    try { await sim(simUrl, 'VM.set_name_label', [simS.session, vm, name]); sent++ } catch (e) {}
  }
  const cpuSecs = (Date.now() - start) / 1000
  const api1 = procCpu(apiPid)
  const wcpu = await workerCpu(workers)
  await new Promise(r => setTimeout(r, 3000)) // the last pushes arrive
  await sim(simUrl, 'sim.churn', { rate: 0 })
  const reports = await Promise.all(workers.map(x => new Promise(r => {
    x.w.on('message', m => m.lat && r(m))
    x.w.send({ report: true })
  })))
  if (broadcaster) broadcaster.kill()
  const lat = reports.flatMap(r => r.lat).map(ns => ns / 1e6).sort((a, b) => a - b)
  const spans = new Map()
  for (const r of reports)
    for (const [seq, lo, hi] of r.first) {
      const s = spans.get(seq)
      if (!s) spans.set(seq, [BigInt(lo), BigInt(hi)])
      else { if (BigInt(lo) < s[0]) s[0] = BigInt(lo); if (BigInt(hi) > s[1]) s[1] = BigInt(hi) }
    }
  const spread = [...spans.values()].map(([lo, hi]) => Number(hi - lo) / 1e6).sort((a, b) => a - b)
  const bytes = reports.reduce((n, r) => n + r.bytes, 0)
  const msgs = reports.reduce((n, r) => n + r.messages, 0)
  const secs = SECONDS + 5
  const expected = sent * nClients
  console.log(`fanout ${label}: ${nClients} client(s) signed in (token) in ${signinS.toFixed(1)} s; ` +
    `${sent} stamps at ${STAMPS_PER_S}/s + churn ${CHURN}/s; ${lat.length}/${expected} deliveries; ` +
    `per client ${(msgs / nClients / secs).toFixed(0)} pushes/s, ${(bytes / nClients / secs / 1024).toFixed(0)} KiB/s ` +
    `(all clients ${(bytes / secs / 1048576).toFixed(1)} MiB/s)`)
  console.log(`  stamp -> client  p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms  ` +
    `max ${lat[lat.length - 1]?.toFixed(2)} ms`)
  if (nClients > 1)
    console.log(`  first -> last client of a stamp  p50 ${pct(spread, 50).toFixed(2)} ms  p99 ${pct(spread, 99).toFixed(2)} ms`)
  // CPU per message: over the stamped part (cpuSecs), the messages received then
  const wmsgs = wcpu.reduce((n, r) => n + r.msgs, 0)
  const perMsg = (cpu) => (cpu * 1e6 / wmsgs).toFixed(1)
  const wsum = wcpu.reduce((n, r) => n + r.cpu, 0)
  const wuser = wcpu.reduce((n, r) => n + r.cpuUser, 0)
  let line = `  CPU over ${cpuSecs.toFixed(1)} s: clients ${(100 * wsum / cpuSecs).toFixed(0)} % of a core ` +
    `(user ${(100 * wuser / cpuSecs).toFixed(0)} %), ${perMsg(wsum)} us per message received`
  if (api0 && api1) {
    const u = api1.user - api0.user, sy = api1.sys - api0.sys
    line += `; xoc-api ${(100 * (u + sy) / cpuSecs).toFixed(0)} % (user ${(100 * u / cpuSecs).toFixed(0)} %, ` +
      `system ${(100 * sy / cpuSecs).toFixed(0)} %), ${perMsg(u + sy)} us per message sent`
  }
  if (!viaNode) console.log(line)
  return { p50: pct(lat, 50), p99: pct(lat, 99), complete: lat.length === expected, lat }
}

async function main() {
  const ctl = connect(WebSocket, apiUrl)
  await ctl.opened
  await ctl.call('session.signIn', { email: 'admin@admin.net', password })
  await waitPool(ctl.call, Number(vmsArg))
  const token = (await ctl.call('token.create', { description: 'bench' })).m.result
  const simS = await simLogin()
  const none = { p50: NaN, p99: NaN, complete: false }
  const one = PHASES.includes('baseline') ? await phase('baseline', 1, token, simS, 0) : none
  const many = PHASES.includes('fanout') ? await phase('fan-out', CLIENTS, token, simS, 10000) : none
  const node = PHASES.includes('node')
    ? await phase('Node ws broadcast fed by one xoc-api client', CLIENTS, token, simS, 20000, { viaNode: true }) : none
  console.log(`fanout: ratio p99 ${CLIENTS} clients / 1 client ${(many.p99 / one.p99).toFixed(2)}, ` +
    `p50 ${(many.p50 / one.p50).toFixed(2)}; ratio xoc-api / Node broadcast p99 ` +
    `${(many.p99 / node.p99).toFixed(2)}, p50 ${(many.p50 / node.p50).toFixed(2)}`)
  console.log(`  stamp -> each of ${CLIENTS} clients p99 ${many.p99.toFixed(2)} ms (goal < 50 ms) ` +
    `${many.p99 < 50 && many.complete ? 'ok' : 'MISSED'}${many.complete ? '' : ' (deliveries missing)'}`)
  ctl.ws.close()
  process.exit(0)
}
