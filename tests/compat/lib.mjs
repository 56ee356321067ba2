// What the compatibility scripts share: the tally of checks, waiting with a deadline, the
// error of a promise, and calls to the simulator's JSON-RPC control (sim.*).
//
//   import { check, finish, deadline, errorOf, simCall } from './lib.mjs'
//   check('the pool is there', n === VMS, `${n} VMs`)
//   ...
//   finish('compat')   // prints `compat: N passed, M failed`, exits 1 when a check failed

import { spawn } from 'node:child_process'

let passed = 0
let failed = 0
let prefix = ''

// prints `ok   name — detail` or `FAIL name — detail` and counts it
export function check(name, ok, detail = '') {
  if (ok) passed++
  else failed++
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${prefix}${name}${detail ? ' — ' + detail : ''}`)
}

// a prefix for the names of the checks that follow (e.g. the transport being tested)
export function checkPrefix(p) {
  prefix = p
}

export function finish(label) {
  console.log(`${label}: ${passed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}

// signer(Xo, url, clients)(email, password): a signed-in xo-lib client (its 'error' events
// ignored), pushed onto `clients` for the test to close at the end
export function signer(Xo, url, clients) {
  return async (email, password) => {
    const xo = new Xo({ url })
    xo.on('error', () => {})
    clients.push(xo)
    await xo.open()
    await xo.signIn({ email, password })
    return xo
  }
}

export const sleep = ms => new Promise(r => setTimeout(r, ms))

// fn() until it gives something truthy (returned), polling every `every` ms; throws after ms
export async function deadline(ms, what, fn, every = 50) {
  const v = await waitFor(ms, fn, every)
  if (!v) throw new Error('timeout waiting for ' + what)
  return v
}

// the same, but null after ms instead of an exception
export async function waitFor(ms, fn, every = 50) {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) return null
    await sleep(every)
  }
}

// the error a promise rejects with, or null when it resolves
export async function errorOf(promise) {
  try {
    await promise
    return null
  } catch (e) {
    return e
  }
}

// one call of the simulator's JSON-RPC (url: a host of the simulated pool)
export async function simCall(url, method, params = []) {
  const res = await fetch(url + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
  })
  const body = await res.json()
  if (body.error) throw new Error(method + ': ' + JSON.stringify(body.error))
  return body.result
}

// A simulated pool in a process of its own (the xapi-sim of $XAPI_SIM): returns {proc, url,
// stop}, url once it is ready; stopped at the latest when this script exits.
export function startSim({ vms = 4, seed = 7 } = {}) {
  const proc = spawn(process.env.XAPI_SIM, ['--port', '0', '--hosts', '1', '--vms', String(vms),
    '--seed', String(seed), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const stop = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
  }
  process.on('exit', stop)
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => { stop(); reject(new Error('xapi-sim did not start')) }, 20000)
    proc.stdout.on('data', d => {
      out += d
      const m = /master=1 url=(\S+)/.exec(out)
      if (m && /xapi-sim: ready/.test(out)) { clearTimeout(timer); resolve({ proc, url: m[1], stop }) }
    })
    proc.on('exit', () => { clearTimeout(timer); reject(new Error('xapi-sim exited')) })
  })
}

// An event stream (text/event-stream) read with fetch: GET url with these headers; each event
// goes to onEvent({event ('message' unless named), data (the data lines joined), comment
// (a ':' line was in it)}). Fills and returns `st` (pass the object the callback updates, so
// that it exists before the first event): status, headers, bytes (received), ended (true
// once the stream ends or is closed), close().
export async function readEvents(url, headers, onEvent, st = {}) {
  const ctl = new AbortController()
  const res = await fetch(url, { headers, signal: ctl.signal })
  Object.assign(st, { status: res.status, headers: res.headers, bytes: 0, ended: false,
    close: () => ctl.abort() })
  if (res.status !== 200) return st
  ;(async () => {
    const dec = new TextDecoder()
    let buf = ''
    try {
      for await (const chunk of res.body) {
        st.bytes += chunk.length
        buf += dec.decode(chunk, { stream: true })
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i)
          buf = buf.slice(i + 2)
          const ev = { event: 'message', data: '', comment: false }
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) ev.comment = true
            else if (line.startsWith('event: ')) ev.event = line.slice(7)
            else if (line.startsWith('data: ')) ev.data += line.slice(6)
          }
          onEvent(ev)
        }
      }
    } catch (e) {}
    st.ended = true
  })()
  return st
}
