// Compatibility test: the npm `xen-api` client (Xen Orchestra's XAPI library) against xapi-sim.
// Usage: node xen_api_compat.mjs <xen-api index.mjs> <master url> <slave url> <transport>
// Prints one line per check and `compat: N passed, M failed`; exits non-zero on failure.
import { check, checkPrefix, deadline as deadlineEvery, finish, simCall } from './lib.mjs'
const [modPath, masterUrl, slaveUrl, transport] = process.argv.slice(2)
const { pathToFileURL } = await import('node:url')
const { createClient } = await import(pathToFileURL(modPath).href)
checkPrefix(`[${transport}] `)
const deadline = (ms, what, fn) => deadlineEvery(ms, what, fn, 20)

const sim = (method, params) => simCall(masterUrl, method, params)

// What the client keeps of a record, comparable with sim.dump (JSON transport only: XML-RPC
// gives ints as strings and dates as Date objects).
function strip(o) {
  const r = {}
  for (const k of Object.keys(o)) if (!k.startsWith('$')) r[k] = o[k]
  return JSON.stringify(r, Object.keys(r).sort())
}

const xapi = createClient({
  url: slaveUrl, // a pool slave: the client must follow HOST_IS_SLAVE to the master
  auth: { user: 'root', password: 'password' },
  allowUnauthorized: true,
  transport,
})
xapi.on('error', () => {})

try {
  await xapi.connect()
  check('connect through HOST_IS_SLAVE', xapi.status === 'connected' &&
    masterUrl.includes(xapi._url.hostname), `now at ${xapi._url.hostname}`)
  await xapi.objectsFetched

  // 1. every object loaded
  const dump = await sim('sim.dump')
  let expected = 0
  for (const cls of Object.keys(dump)) expected += Object.keys(dump[cls]).length
  const all = Object.values(xapi.objects.all)
  check('load every object', all.length === expected, `${all.length}/${expected}`)

  // 2. events while churn runs: each metrics object's sim-seq only grows, and at the end the
  //    client's cache equals the simulator's state
  const lastSeq = new Map()
  let updates = 0
  let disorder = 0
  const onChange = objs => {
    for (const o of Object.values(objs)) {
      const seq = Number(o.other_config?.['sim-seq'] ?? NaN)
      if (Number.isNaN(seq)) continue
      updates++
      const prev = lastSeq.get(o.$ref) ?? 0
      if (seq <= prev) disorder++
      lastSeq.set(o.$ref, seq)
    }
  }
  xapi.objects.on('update', onChange)
  xapi.objects.on('add', onChange)
  await sim('sim.churn', { rate: 400 })
  const stats0 = await sim('sim.stats')
  await deadline(20000, 'churn events', () => updates > 200)
  await sim('sim.churn', { rate: 0 })
  await xapi.barrier()
  check('events follow churn in order', disorder === 0 && updates > 200,
    `${updates} updates, ${disorder} out of order`)
  const stats1 = await sim('sim.stats')
  const final = await sim('sim.dump')
  let missing = 0
  let differ = 0
  let count = 0
  for (const cls of Object.keys(final)) {
    for (const [ref, rec] of Object.entries(final[cls])) {
      count++
      const o = xapi.objects.all[rec.uuid] ?? xapi.getObjectByRef(ref, undefined)
      if (o === undefined) missing++
      else if (transport === 'json-rpc' && strip(o) !== strip(rec)) differ++
      else if (o.name_label !== rec.name_label) differ++
    }
  }
  const ghosts = Object.values(xapi.objects.all).length - count
  check('cache equals simulator state after churn', missing === 0 && differ === 0 && ghosts === 0,
    `${count} objects, ${missing} missing, ${differ} different, ${ghosts} ghosts, ` +
    `${stats1.churn_seq - stats0.churn_seq} churn changes`)

  // 3. Async VM.start watched to success
  const vm = Object.values(xapi.objects.all).find(o => o.$type === 'VM' &&
    o.power_state === 'Halted' && !o.is_a_template && !o.is_control_domain)
  const taskRef = await xapi.call('Async.VM.start', vm.$ref, false, false)
  check('Async.VM.start returns a task', String(taskRef).startsWith('OpaqueRef:'))
  const progress = new Set()
  await deadline(10000, 'task end', () => {
    const t = xapi.getObjectByRef(taskRef, undefined)
    if (t) progress.add(Number(t.progress))
    return t && t.status !== 'pending'
  })
  const task = xapi.getObjectByRef(taskRef)
  check('task ends in success with moving progress', task.status === 'success' &&
    progress.size >= 2, `status ${task.status}, progress ${[...progress].join(',')}`)
  await xapi.call('task.destroy', taskRef)
  await xapi.barrier()
  check('VM is running', xapi.getObjectByRef(vm.$ref).power_state === 'Running')

  // 4. callAsync (the client's own create/watch/destroy) and errors with their parameters
  const snap = await xapi.callAsync('VM.snapshot', vm.$ref, 'compat-snap')
  check('callAsync VM.snapshot gives a ref', /^OpaqueRef:/.test(snap), snap)
  try {
    await xapi.call('VM.start', vm.$ref, false, false)
    check('VM_BAD_POWER_STATE', false)
  } catch (e) {
    check('VM_BAD_POWER_STATE', e.code === 'VM_BAD_POWER_STATE' &&
      e.params[0] === vm.$ref && e.params[1] === 'halted' && e.params[2] === 'running',
      `${e.code} ${JSON.stringify(e.params)}`)
  }
  try {
    await xapi.call('VM.get_record', 'OpaqueRef:nope')
    check('HANDLE_INVALID', false)
  } catch (e) {
    check('HANDLE_INVALID', e.code === 'HANDLE_INVALID' && e.params[0] === 'VM',
      `${e.code} ${JSON.stringify(e.params)}`)
  }
  try {
    await xapi.call('VM.no_such_method')
    check('MESSAGE_METHOD_UNKNOWN', false)
  } catch (e) {
    check('MESSAGE_METHOD_UNKNOWN', e.code === 'MESSAGE_METHOD_UNKNOWN')
  }

  // 5. export a halted VM through /export and import it back through /import
  const halted = Object.values(xapi.objects.all).find(o => o.$type === 'VM' &&
    o.power_state === 'Halted' && !o.is_a_template && !o.is_control_domain && !o.is_a_snapshot)
  const res = await xapi.getResource('/export/', { query: { ref: halted.$ref, use_compression: 'false' }, task: true })
  const xva = Buffer.from(await res.body.arrayBuffer())
  await res.task
  check('export streams an XVA', xva.length > 1024 * 1024 && xva.subarray(0, 7).toString() === 'ova.xml',
    `${xva.length} bytes`)
  const imported = await xapi.putResource(xva, '/import/', { task: true })
  const newRef = Array.isArray(imported) ? imported[0] : imported
  await xapi.barrier()
  const copy = xapi.getObjectByRef(newRef, undefined)
  check('import creates the VM', copy !== undefined && copy.name_label === halted.name_label &&
    copy.VBDs.length === halted.VBDs.length, String(newRef))
  const bad = Buffer.from(xva)
  bad[bad.indexOf('xapi-sim disk')] ^= 1
  try {
    await xapi.putResource(bad, '/import/', { task: true })
    check('import rejects a bad checksum', false)
  } catch (e) {
    check('import rejects a bad checksum', e.code === 'IMPORT_ERROR', `${e.code} ${JSON.stringify(e.params)}`)
  }

  // 6. EVENTS_LOST: the client reloads everything and stays consistent
  await sim('sim.events_lost')
  await sim('sim.add_vm', { name: 'after-events-lost' })
  await deadline(15000, 'new VM after EVENTS_LOST', () =>
    Object.values(xapi.objects.all).some(o => o.name_label === 'after-events-lost'))
  check('recovers from EVENTS_LOST', true)

  // 7. the master moves and sessions are lost (as when xapi restarts): the client logs in
  //    again at its URL, gets HOST_IS_SLAVE and follows it by itself
  const slaveHost = new URL(slaveUrl).hostname
  const newUrl = masterUrl.replace(new URL(masterUrl).hostname, slaveHost)
  await sim('sim.move_master', { host: 1, drop: false })
  await sim('sim.expire_sessions')
  await deadline(30000, 'client on the new master', () => xapi._url.hostname === slaveHost)
  await fetch(newUrl + '/jsonrpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'sim.add_vm', params: { name: 'after-move' }, id: 1 }),
  })
  await deadline(30000, 'VM added after the move', () =>
    Object.values(xapi.objects.all).some(o => o.name_label === 'after-move'))
  check('follows HOST_IS_SLAVE after the master moved', true, `now at ${xapi._url.hostname}`)
  await sim('sim.move_master', { host: 0, drop: false })
} catch (e) {
  check('no exception', false, e.stack)
} finally {
  await xapi.disconnect().catch(() => {})
}
finish('compat')
