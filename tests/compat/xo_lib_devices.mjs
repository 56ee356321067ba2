// Compatibility test of a VM's devices and of vm.migrate through the npm `xo-lib` client, against
// the real stack started by run-xo-lib.sh (xapi-sim with 2 hosts, xoc-bus, xoc-cache,
// xoc-collector, xoc-api): vm.insertCd / ejectCd, disk.create, vdi.set / delete, vm.attachDisk,
// vm.createInterface, vif.connect / disconnect / delete, vm.migrate; each result is checked in
// the objects pushed to the client (xo-lib's `all` notifications), and against the pool itself
// (XAPI calls on the simulator) where the push alone could hide a wrong call.
// Usage: node xo_lib_devices.mjs <node_modules dir> <api url> <sim master url> <admin password>
// Prints one line per check and `compat: N passed, M failed`; exits non-zero on failure.
import { createRequire } from 'node:module'
import path from 'node:path'
import { check, deadline, errorOf, finish, signer, simCall } from './lib.mjs'

const [modules, apiUrl, simUrl, adminPassword] = process.argv.slice(2)
const require = createRequire(path.join(modules, 'x.js'))
const Xo = require('xo-lib').default
const GiB = 1024 ** 3

const clients = []
const signedIn = signer(Xo, apiUrl, clients)

// the last pushed state of each object, and waiters on it
function follow(xo) {
  const seen = { objects: {}, waiters: [] }
  xo.on('notification', n => {
    if (n.method !== 'all') return
    for (const [id, o] of Object.entries(n.params.items)) {
      if (n.params.type === 'enter') seen.objects[id] = o
      else delete seen.objects[id]
    }
    seen.waiters = seen.waiters.filter(w => !w())
  })
  return seen
}

// resolves with pred()'s value once it is truthy after a push (no polling), or rejects
function onPush(seen, pred, ms = 10000) {
  return new Promise((resolve, reject) => {
    const now = pred()
    if (now) return resolve(now)
    const timer = setTimeout(() => reject(new Error('timeout waiting for a push')), ms)
    seen.waiters.push(() => {
      const v = pred()
      if (!v) return false
      clearTimeout(timer)
      resolve(v)
      return true
    })
  })
}

const objectsOf = (xo, filter) => xo.call('xo.getAllObjects', { filter })
const list = o => Object.values(o)

try {
  const xo = await signedIn('admin@admin.net', adminPassword)
  const seen = follow(xo)
  const pool = await deadline(30000, 'the pool', async () => list(await objectsOf(xo, { type: 'pool' }))[0])
  await deadline(30000, 'the VMs', async () => list(await objectsOf(xo, { type: 'VM' })).length > 0)
  Object.assign(seen.objects, await xo.call('xo.getAllObjects'))
  const all = () => list(seen.objects)
  const vbdsOf = vm => all().filter(o => o.type === 'VBD' && o.VM === vm.id)
  const xs = await simCall(simUrl, 'session.login_with_password', ['root', 'password'])
  const sim = (method, ...args) => simCall(simUrl, method, [xs, ...args])

  const vm = all().find(o => o.type === 'VM' && o.power_state === 'Halted' && o.$pool === pool.id)
  const isoSr = all().find(o => o.type === 'SR' && o.SR_type === 'iso')
  const iso = all().find(o => o.type === 'VDI' && o.$SR === isoSr?.id)
  const net = all().find(o => o.type === 'network' && o.$pool === pool.id && o.PIFs?.length > 0)
  check('a halted VM, an ISO and a network to work with', vm && iso && net,
    JSON.stringify({ vm: vm?.id, isoSr: isoSr?.id, iso: iso?.id, net: net?.id }))
  const vmRef = vm._xapiRef

  // 1. CD drive: the VM has none, vm.insertCd adds one holding the ISO
  check('the VM has no CD drive yet', !vbdsOf(vm).some(b => b.is_cd_drive))
  check('vm.insertCd → true', (await xo.call('vm.insertCd', { id: vm.id, cd_id: iso.id })) === true)
  const drive = await onPush(seen, () => vbdsOf(vm).find(b => b.is_cd_drive && b.VDI === iso.id))
  check('… a CD drive holding the ISO is pushed, read-only, on a free position',
    drive.read_only === true && !vbdsOf(vm).some(b => b.id !== drive.id && b.position === drive.position),
    JSON.stringify(drive))
  const xDrive = await sim('VBD.get_record', drive._xapiRef)
  check('… and the pool has it: VBD type CD, not empty, of this VM', xDrive.type === 'CD' &&
    xDrive.empty === false && xDrive.VM === vmRef, JSON.stringify(xDrive))
  const full = await errorOf(xo.call('vm.insertCd', { id: vm.id, cd_id: iso.id }))
  check('vm.insertCd into a full drive → XAPI VBD_NOT_EMPTY (admin: -32000, message)',
    full?.code === -32000 && /VBD_NOT_EMPTY/.test(full?.message), JSON.stringify(full))
  check('vm.insertCd {force} → true (ejected, then inserted)',
    (await xo.call('vm.insertCd', { id: vm.id, cd_id: iso.id, force: true })) === true)
  check('vm.ejectCd → true', (await xo.call('vm.ejectCd', { id: vm.id })) === true)
  await onPush(seen, () => seen.objects[drive.id] && !seen.objects[drive.id].VDI)
  check('… the empty drive pushed (no VDI)', true, JSON.stringify(seen.objects[drive.id]))
  const xEmpty = await sim('VBD.get_record', drive._xapiRef)
  check('… the pool says empty', xEmpty.empty === true && xEmpty.VDI === 'OpaqueRef:NULL',
    JSON.stringify({ empty: xEmpty.empty, VDI: xEmpty.VDI }))
  check('vm.ejectCd of an empty drive → true (nothing to do)',
    (await xo.call('vm.ejectCd', { id: vm.id })) === true)
  check('vm.insertCd into the existing drive → true',
    (await xo.call('vm.insertCd', { id: vm.id, cd_id: iso.id })) === true &&
    (await onPush(seen, () => seen.objects[drive.id]?.VDI === iso.id)) &&
    vbdsOf(vm).filter(b => b.is_cd_drive).length === 1)
  const notIso = await errorOf(xo.call('vm.insertCd', { id: vm.id, cd_id: vm.id }))
  check('vm.insertCd of a VM id as the ISO → 1 noSuchObject', notIso?.code === 1, JSON.stringify(notIso))

  // 2. disks
  const sr = pool.default_SR
  const diskId = await xo.call('disk.create', { name: 'data1', size: '1GiB', sr, vm: vm.id })
  // the answer comes once the replica of this xoc-api has the object; its push may follow it
  const disk = await onPush(seen, () => seen.objects[diskId])
  check('disk.create {vm} → the id of a VDI, pushed', disk?.type === 'VDI' &&
    disk.name_label === 'data1' && disk.size === GiB && disk.$SR === sr, JSON.stringify(disk))
  const dataVbd = await onPush(seen, () => vbdsOf(vm).find(b => b.VDI === diskId))
  check('… attached to the VM on a free position, read-write', dataVbd.read_only === false &&
    !vbdsOf(vm).some(b => b.id !== dataVbd.id && b.position === dataVbd.position),
    JSON.stringify(vbdsOf(vm).map(b => b.position)))
  check('vdi.set {name_label, size: "2GiB"} → true',
    (await xo.call('vdi.set', { id: diskId, name_label: 'data1b', size: '2GiB' })) === true)
  await onPush(seen, () => seen.objects[diskId]?.size === 2 * GiB && seen.objects[diskId].name_label === 'data1b')
  check('… both pushed', true)
  const lone = await xo.call('disk.create', { name: 'data2', size: 1048576, sr })
  check('disk.create without vm → id, no VBD',
    (await onPush(seen, () => seen.objects[lone]))?.$VBDs?.length === 0,
    JSON.stringify(seen.objects[lone]))
  check('vm.attachDisk {mode: "RO", bootable} → true',
    (await xo.call('vm.attachDisk', { vm: vm.id, vdi: lone, mode: 'RO', bootable: true })) === true)
  const roVbd = await onPush(seen, () => vbdsOf(vm).find(b => b.VDI === lone))
  check('… pushed read-only and bootable', roVbd.read_only === true && roVbd.bootable === true,
    JSON.stringify(roVbd))
  for (const [what, params] of [
    ['a size that is no size', { name: 'x', size: 'ten', sr }],
    ['a negative size', { name: 'x', size: -5, sr }],
    ['mode "XX"', { name: 'x', size: 4096, sr, mode: 'XX' }],
    ['an unknown SR', { name: 'x', size: 4096, sr: 'nope' }]]) {
    const e = await errorOf(xo.call('disk.create', params))
    check(`disk.create with ${what} → ${what === 'an unknown SR' ? 1 : 10}`,
      e?.code === (what === 'an unknown SR' ? 1 : 10), JSON.stringify(e))
  }
  const tmp = await xo.call('disk.create', { name: 'tmp', size: '64MiB', sr })
  check('vdi.delete → true, the VDI exits', (await xo.call('vdi.delete', { id: tmp })) === true &&
    (await onPush(seen, () => seen.objects[tmp] === undefined)))

  // 3. network interfaces: on the halted VM (not plugged), then on the running VM (plugged)
  const vifsOf = v => all().filter(o => o.type === 'VIF' && o.$VM === v.id)
  const before = vifsOf(vm).map(v => v.device)
  const vifId = await xo.call('vm.createInterface',
    { vm: vm.id, network: net.id, allowedIpv4Addresses: ['10.0.0.5'] })
  const vif = await onPush(seen, () => seen.objects[vifId])
  check('vm.createInterface → the id of a VIF, pushed, locked to its address',
    vif?.type === 'VIF' && vif.$network === net.id && vif.lockingMode === 'locked' &&
    JSON.stringify(vif.allowedIpv4Addresses) === '["10.0.0.5"]' && vif.attached === false &&
    /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(vif.MAC) && // no mac asked: the pool chose one
    !before.includes(vif.device), JSON.stringify({ vif, before }))
  check('vm.start → true', (await xo.call('vm.start', { id: vm.id })) === true)
  await onPush(seen, () => seen.objects[vm.id]?.power_state === 'Running')
  const vif2Id = await xo.call('vm.createInterface', { vm: vm.id, network: net.id, position: '7' })
  await onPush(seen, () => seen.objects[vif2Id]?.attached) // created, then plugged: two pushes
  check('vm.createInterface {position} on a running VM → plugged at once, device 7',
    seen.objects[vif2Id]?.attached === true && seen.objects[vif2Id].device === '7' &&
    seen.objects[vif2Id].lockingMode === 'network_default', JSON.stringify(seen.objects[vif2Id]))
  const badPos = await errorOf(xo.call('vm.createInterface', { vm: vm.id, network: net.id, position: 'x1' }))
  check('vm.createInterface {position: "x1"} → 10', badPos?.code === 10, JSON.stringify(badPos))
  check('vif.disconnect → true, pushed detached',
    (await xo.call('vif.disconnect', { id: vif2Id })) === true &&
    (await onPush(seen, () => seen.objects[vif2Id]?.attached === false)))
  check('vif.connect → true, pushed attached',
    (await xo.call('vif.connect', { id: vif2Id })) === true &&
    (await onPush(seen, () => seen.objects[vif2Id]?.attached === true)))
  check('vif.delete of an attached VIF → true, it exits',
    (await xo.call('vif.delete', { id: vif2Id })) === true &&
    (await onPush(seen, () => seen.objects[vif2Id] === undefined)))

  // 4. vm.migrate within the pool: the VM moves to the other host
  const from = seen.objects[vm.id].$container
  const to = all().find(o => o.type === 'host' && o.$pool === pool.id && o.id !== from)
  check('a second host in the pool', to !== undefined, from)
  check('vm.migrate → true', (await xo.call('vm.migrate', { vm: vm.id, targetHost: to.id })) === true)
  await onPush(seen, () => seen.objects[vm.id]?.$container === to.id)
  check('… the VM pushed on the other host, still running', seen.objects[vm.id].power_state === 'Running')
  const hostRef = await sim('VM.get_resident_on', vmRef)
  check('… and the pool says so', hostRef === to._xapiRef, hostRef)
  const storage = await errorOf(xo.call('vm.migrate', { vm: vm.id, targetHost: from, sr }))
  check('vm.migrate {sr} (storage motion, not supported yet) → 10, nothing moved',
    storage?.code === 10 && seen.objects[vm.id].$container === to.id, JSON.stringify(storage))
  await xo.call('vm.stop', { id: vm.id, force: true })
  await onPush(seen, () => seen.objects[vm.id]?.power_state === 'Halted')
  const halted = await errorOf(xo.call('vm.migrate', { vm: vm.id, targetHost: from }))
  check('vm.migrate of a halted VM → 13 vmBadPowerState', halted?.code === 13, JSON.stringify(halted))

  // 5. vm.create from a template: settings, a new disk, an interface, the installation ISO in
  // a new CD drive, started; then what it refuses before making anything
  const tpl = all().find(o => o.type === 'VM-template' && o.$pool === pool.id)
  const vmCount = () => all().filter(o => o.type === 'VM').length
  const countBefore = vmCount()
  const newId = await xo.call('vm.create', {
    name_label: 'created-1', template: tpl.id, name_description: 'made by vm.create',
    CPUs: 2, memory: '1GiB', VDIs: [{ size: '3GiB', SR: sr, name_label: 'root-1' }],
    VIFs: [{ network: net.id, mac: '02:00:00:00:00:42' }],
    installation: { method: 'cdrom', repository: iso.id }, bootAfterCreate: true,
  })
  const made = await onPush(seen, () => seen.objects[newId]?.power_state === 'Running' && seen.objects[newId])
    .catch(async e => {
      const ref = await sim('VM.get_by_uuid', newId).catch(x => String(x))
      const rec = await sim('VM.get_record', ref).catch(x => String(x))
      console.log('DEBUG', newId, JSON.stringify(seen.objects[newId]), ref, JSON.stringify(rec).slice(0, 3000))
      throw e
    })
  check('vm.create → the id of a VM (not a template), pushed running', made.type === 'VM' &&
    made.name_label === 'created-1' && made.name_description === 'made by vm.create',
    JSON.stringify({ type: made.type, name: made.name_label }))
  check('… 2 vCPUs and 1 GiB', made.CPUs?.number === 2 && made.memory?.dynamic?.[1] === GiB,
    JSON.stringify({ CPUs: made.CPUs, memory: made.memory }))
  const newVbds = await onPush(seen, () => {
    const b = vbdsOf(made)
    return b.length === 2 && b.every(x => x.VDI) && b
  })
  const rootVbd = newVbds.find(b => !b.is_cd_drive), cdVbd = newVbds.find(b => b.is_cd_drive)
  const root = seen.objects[rootVbd?.VDI]
  check('… its new disk (3 GiB, named, on the SR, bootable) and the ISO in a CD drive',
    root?.size === 3 * GiB && root.name_label === 'root-1' && root.$SR === sr &&
    rootVbd.bootable === true && cdVbd?.VDI === iso.id && cdVbd.position !== rootVbd.position,
    JSON.stringify(newVbds.map(b => [b.position, b.is_cd_drive, b.VDI])))
  const newVif = await onPush(seen, () => vifsOf(made)[0])
  check('… its interface on the network with the MAC asked', newVif.$network === net.id &&
    newVif.MAC === '02:00:00:00:00:42', JSON.stringify(newVif))
  check('… and the pool has the VM out of the template, CD boot first',
    (await sim('VM.get_is_a_template', made._xapiRef)) === false &&
    (tpl.virtualizationMode !== 'hvm' || (await sim('VM.get_HVM_boot_params', made._xapiRef)).order === 'dcn'))
  // vm.setAndRestart: a setting only a halted VM takes, on the running VM: shut down, set,
  // started again; a setting the pool refuses after the shutdown: started again, its error
  check('vm.set {memoryStaticMax} of a running VM → an error (a halted VM only)',
    (await errorOf(xo.call('vm.set', { id: newId, memoryStaticMax: '2GiB' }))) !== null)
  check('vm.setAndRestart {memoryStaticMax: "2GiB"} → true',
    (await xo.call('vm.setAndRestart', { id: newId, memoryStaticMax: '2GiB' })) === true)
  const xNew = await sim('VM.get_record', made._xapiRef)
  check('… the pool has it, and the VM runs again', xNew.memory_static_max === 2 * GiB &&
    xNew.power_state === 'Running', JSON.stringify([xNew.memory_static_max, xNew.power_state]))
  const refused = await errorOf(xo.call('vm.setAndRestart', { id: newId, memory: '1GiB', memoryMin: '1.5GiB' }))
  check('vm.setAndRestart whose setting the pool refuses → its error, and the VM runs again',
    refused !== null && (await sim('VM.get_power_state', made._xapiRef)) === 'Running',
    JSON.stringify(refused))
  for (const [what, params, code] of [
    ['cloudConfig (not supported yet)', { cloudConfig: '#cloud-config' }, 10],
    ['an unknown template', { template: 'nope' }, 1],
    ['a disk on an unknown SR', { VDIs: [{ size: 4096, SR: 'nope' }] }, 1],
    ['a disk without a size', { VDIs: [{ SR: sr }] }, 10],
    ['installation by floppy', { installation: { method: 'floppy' } }, 10]]) {
    const e = await errorOf(xo.call('vm.create', { name_label: 'refused', template: tpl.id, ...params }))
    check(`vm.create with ${what} → ${code}`, e?.code === code, JSON.stringify(e))
  }
  check('… no VM was made by the refused calls', vmCount() === countBefore + 1 &&
    !all().some(o => o.name_label === 'refused'), `${vmCount()} vs ${countBefore} + 1`)
  // a step failing after the clone leaves no VM behind: every host disabled, VM.start fails
  // with NO_HOSTS_AVAILABLE (7); the clone made before is destroyed
  const hosts = all().filter(o => o.type === 'host' && o.$pool === pool.id)
  for (const h of hosts) await xo.call('host.disable', { id: h.id })
  const noHost = await errorOf(xo.call('vm.create', { name_label: 'too-early', template: tpl.id,
    VDIs: [{ size: 4096, SR: sr }], bootAfterCreate: true }))
  for (const h of hosts) await xo.call('host.enable', { id: h.id })
  check('vm.create whose VM.start fails → 7 noHostsAvailable', noHost?.code === 7,
    JSON.stringify(noHost))
  const names = async () => list(await objectsOf(xo, { type: 'VM' })).map(v => v.name_label)
  const left = await sim('VM.get_by_name_label', 'too-early')
  const leftDisk = await sim('VDI.get_by_name_label', 'too-early 0')
  check('… and the half-made VM and its new disk were destroyed (in the pool and in the objects)',
    left.length === 0 && leftDisk.length === 0 && !(await names()).includes('too-early'),
    JSON.stringify({ left, leftDisk }))

  // 6. networks: create, set, delete
  const netId = await xo.call('network.create', { pool: pool.id, name: 'private-1', description: 'p', mtu: 9000 })
  const newNet = await onPush(seen, () => seen.objects[netId])
  check('network.create → the id of a network of the pool, pushed', newNet.type === 'network' &&
    newNet.name_label === 'private-1' && newNet.MTU === 9000 && newNet.$pool === pool.id,
    JSON.stringify(newNet))
  check('network.set {name_label, defaultIsLocked, automatic} → true, pushed',
    (await xo.call('network.set', { id: netId, name_label: 'private-1b', defaultIsLocked: true,
      automatic: true })) === true &&
    !!(await onPush(seen, () => seen.objects[netId]?.name_label === 'private-1b' &&
      seen.objects[netId].defaultIsLocked === true && seen.objects[netId].automatic === true)))
  const vlan = await errorOf(xo.call('network.create', { pool: pool.id, name: 'v', vlan: 10, pif: 'x' }))
  check('network.create with a VLAN (not supported yet) → 10', vlan?.code === 10, JSON.stringify(vlan))
  check('network.delete → true, it exits', (await xo.call('network.delete', { id: netId })) === true &&
    !!(await onPush(seen, () => seen.objects[netId] === undefined)))

  // 7. a user without permissions may not touch the VM's devices
  await xo.call('user.create', { email: 'nobody@x', password: 'pw-nobody', permission: 'none' })
  const nobody = await signedIn('nobody@x', 'pw-nobody')
  for (const [method, params] of [
    ['vm.insertCd', { id: vm.id, cd_id: iso.id }],
    ['vm.ejectCd', { id: vm.id }],
    ['disk.create', { name: 'x', size: 4096, sr }],
    ['vm.createInterface', { vm: vm.id, network: net.id }],
    ['vif.delete', { id: vifId }],
    ['vm.migrate', { vm: vm.id, targetHost: to.id }],
    ['vm.create', { name_label: 'x', template: tpl.id }],
    ['network.create', { pool: pool.id, name: 'x' }]]) {
    const e = await errorOf(nobody.call(method, params))
    check(`${method} by a user without permissions → 2 or 1 (object not in his view)`,
      e?.code === 2 || e?.code === 1, JSON.stringify(e))
  }
  check('… the VIF is still there', seen.objects[vifId] !== undefined)
} catch (e) {
  check('no exception', false, e && (e.stack || e.message || String(e)))
}
for (const c of clients) c.close().catch(() => {})
finish('compat')
