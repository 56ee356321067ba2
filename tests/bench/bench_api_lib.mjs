// Helpers of the xoc-api benchmarks (run-bench-api.sh): a raw JSON-RPC WebSocket client,
// the simulator's calls, percentiles, /proc memory figures.
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

export function requireFrom(modules) {
  return createRequire(path.join(modules, 'x.js'))
}

// connects to url (ws:// or http://, path /api/ added unless present); calls resolve with
// {m (parsed unless raw), ms, bytes}; notifications go to onNotify(buffer, hrtime ns)
export function connect(WebSocket, url, { raw = false, onNotify = null } = {}) {
  const u = url.replace(/^http/, 'ws')
  const ws = new WebSocket(u.includes('/api/') ? u : u + '/api/',
    { maxPayload: 1 << 30, perMessageDeflate: false })
  let next = 1
  const waiting = new Map()
  ws.on('message', data => {
    const t = process.hrtime.bigint()
    if (data.subarray(0, 40).indexOf('"method"') >= 0) { // a notification
      if (onNotify) onNotify(data, t)
      return
    }
    const w = waiting.get(next - 1) // requests are sequential
    if (w) {
      waiting.delete(next - 1)
      w(data, t)
    }
  })
  function call(method, params = {}) {
    const id = next++
    const t0 = process.hrtime.bigint()
    return new Promise((resolve, reject) => {
      waiting.set(id, (data, t) => {
        const m = raw ? null : JSON.parse(data.toString())
        if (m && m.error) reject(Object.assign(new Error(m.error.message), m.error))
        else resolve({ m, data, ms: Number(t - t0) / 1e6, bytes: data.length })
      })
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }))
    })
  }
  const opened = new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject) })
  return { ws, call, opened }
}

export async function sim(simUrl, method, params) {
  const res = await fetch(simUrl + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  const body = await res.json()
  if (body.error) throw new Error(JSON.stringify(body.error))
  return body.result
}

// waits until the API's replica holds `vms` VMs and its object count stops moving for 2 s
export async function waitPool(call, vms, ms = 300000) {
  const end = Date.now() + ms
  let last = -1
  let stableSince = 0
  for (;;) {
    const r = await call('xo.getAllObjects', { filter: { type: 'VM' } })
    const nVms = Object.keys(r.m.result).length
    const all = nVms >= vms ? Object.keys((await call('xo.getAllObjects')).m.result).length : -1
    if (all > 0 && all === last) {
      if (Date.now() - stableSince >= 2000) return all
    } else {
      last = all
      stableSince = Date.now()
    }
    if (Date.now() > end) throw new Error(`the pool did not load: ${nVms}/${vms} VMs`)
    await new Promise(r => setTimeout(r, 500))
  }
}

export function pct(sorted, p) {
  if (!sorted.length) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

export function median(a) {
  const s = [...a].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

// {VmRSS, RssAnon, RssFile, VmHWM} in MB
export function memOf(pid) {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const out = {}
  for (const k of ['VmRSS', 'RssAnon', 'RssFile', 'VmHWM']) {
    const m = text.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))
    out[k] = m ? Number(m[1]) / 1024 : NaN
  }
  return out
}
