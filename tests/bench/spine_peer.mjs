// The peer of bench_spine: the npm `xen-api` client (Xen Orchestra's XAPI library and object
// cache) loading every object of a pool of the simulator, then following its churn.
// Usage: node spine_peer.mjs <xen-api index.mjs> <master url> [transport] [churn_rate] [churn_s]
// Prints one line: `spine-peer: {json}` with load_s (createClient → objectsFetched, i.e. every
// get_all_records answered and cached), objects, rss_kb / hwm_kb (from /proc/self/status, after
// the load), and, with churn_rate > 0, updates_per_s seen by its cache while the simulator
// churns at that rate. Exits non-zero when it could not load.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

const [modPath, url, transport = 'json-rpc', churnArg = '0', churnSecArg = '5'] =
  process.argv.slice(2)
const { createClient } = await import(pathToFileURL(modPath).href)

function procStatus() {
  const s = readFileSync('/proc/self/status', 'utf8')
  const kb = k => Number((s.match(new RegExp('^' + k + ':\\s+(\\d+)', 'm')) ?? [])[1] ?? NaN)
  return { rss_kb: kb('VmRSS'), hwm_kb: kb('VmHWM'), anon_kb: kb('RssAnon') }
}

async function sim(method, params = []) {
  const res = await fetch(url + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  const body = await res.json()
  if (body.error) throw new Error(JSON.stringify(body.error))
  return body.result
}

const out = {}
const cpu0 = process.cpuUsage()
const t0 = performance.now()
const xapi = createClient({
  url,
  auth: { user: 'root', password: 'password' },
  allowUnauthorized: true,
  transport,
})
xapi.on('error', () => {})
try {
  await xapi.connect()
  await xapi.objectsFetched
  out.load_s = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0) // user + system of this process during the load, in us
  out.cpu_s = (cpu.user + cpu.system) / 1e6
  out.objects = Object.keys(xapi.objects.all).length
  Object.assign(out, procStatus())

  const rate = Number(churnArg)
  if (rate > 0) {
    let updates = 0
    const count = objs => { updates += Object.keys(objs).length }
    xapi.objects.on('update', count)
    xapi.objects.on('add', count)
    const s0 = await sim('sim.stats')
    await sim('sim.churn', { rate })
    await new Promise(r => setTimeout(r, 1000)) // warm-up
    const u0 = updates
    const c0 = (await sim('sim.stats')).churn_seq
    const w0 = performance.now()
    await new Promise(r => setTimeout(r, Number(churnSecArg) * 1000))
    const secs = (performance.now() - w0) / 1000
    out.updates_per_s = (updates - u0) / secs
    out.sim_changes_per_s = ((await sim('sim.stats')).churn_seq - c0) / secs
    await sim('sim.churn', { rate: 0 })
    out.churn_total = (await sim('sim.stats')).churn_seq - s0.churn_seq
    out.hwm_kb_after_churn = procStatus().hwm_kb
  }
  console.log('spine-peer: ' + JSON.stringify(out))
  await xapi.disconnect()
  process.exit(0)
} catch (error) {
  console.error('spine-peer: ' + (error?.stack ?? error))
  process.exit(1)
}
