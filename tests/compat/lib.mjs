// What the compatibility scripts share: the tally of checks, waiting with a deadline, the
// error of a promise, and calls to the simulator's JSON-RPC control (sim.*).
//
//   import { check, finish, deadline, errorOf, simCall } from './lib.mjs'
//   check('the pool is there', n === VMS, `${n} VMs`)
//   ...
//   finish('compat')   // prints `compat: N passed, M failed`, exits 1 when a check failed

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
