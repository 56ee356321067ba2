// Differential test of xoc's complex-matcher filters against the npm complex-matcher (the
// reference implementation): random filters from a grammar of the syntax (and random
// character soups for the error paths) on a few objects; every answer must agree (match,
// no match, or syntax error), except where xoc_api_cm.h documents a difference.
// Usage: node cm_oracle.mjs <npm prefix dir> <cm_oracle binary> [cases] [seed]
import { createRequire } from 'node:module'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const [prefixArg, binary, casesArg, seedArg] = process.argv.slice(2)
const prefix = path.resolve(prefixArg)
fs.mkdirSync(prefix, { recursive: true })
if (!fs.existsSync(path.join(prefix, 'node_modules/complex-matcher/package.json')))
  execFileSync('npm', ['install', '--silent', '--no-audit', '--no-fund', '--prefix', prefix,
    'complex-matcher@0.7.0'], { stdio: ['ignore', 'ignore', 'inherit'] })
const require = createRequire(path.join(prefix, 'node_modules', 'x.js'))
const CM = require('complex-matcher')
// 0.7.0 compares only numbers; the current source (and xoc) any value, as JavaScript does
CM.Comparison.prototype.match = function (v) { return this._comparator(v, this._value) }

let seed = Number(seedArg || 42) >>> 0
function rand() { // mulberry32: the same cases at every run
  seed = (seed + 0x6d2b79f5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = a => a[Math.floor(rand() * a.length)]

const objects = [
  { id: 'vm1', type: 'VM', name_label: 'Web Server 01', name_description: 'first line\nsecond Line',
    power_state: 'Running', CPUs: { number: 2, max: 4 }, memory: { size: 1073741824 },
    tags: ['prod', 'web'], boot: { order: 'cdn' }, is_a_template: false, auto_poweron: true,
    addresses: { '0/ipv4/0': '10.0.0.5' }, count: '42', nothing: null, empty: '', zero: 0,
    list1: [7], list2: [], q: 'say "hi" \\o/', neg: -3, f: 0.5, s: ' 12 ', hex: '0x1f' },
  { id: 'h1', type: 'host', name_label: 'xcp-1', power_state: 'Halted', tags: [],
    cpus: { cores: 8 }, x: [[1], [2, 3]], n: [null] },
  { type: 'VM-template', name_label: 'Debian 12', power_state: 'Halted', tags: ['a b', 'c'] },
]
const words = ['type', 'VM', 'vm', 'host', 'name_label', 'power_state', 'Running', 'Halted',
  'web', 'Server', '01', '2', '4', '42', '1073741824', 'CPUs', 'number', 'max', 'memory', 'size',
  'tags', 'prod', 'boot', 'order', 'cdn', 'c', 'is_a_template', 'auto_poweron', 'addresses',
  '10.0.0.5', 'count', 'nothing', 'empty', 'zero', 'list1', 'list2', 'q', 'neg', '-3', 'f', '.5',
  '0.5', 's', '12', 'hex', '0x1f', '31', 'x', 'n', 'length', '0', '1', 'cores', '8', 'missing',
  'Debian', '1e3', '-', '_', '$', 'a', 'deb*an', 'w*b', '*', 'se*ver', 'first*line',
  'first*second']
const regexes = ['/^web/i', '/^web/', '/server \\d+$/i', '/\\d{2}/', '/^(vm|host)$/i', '/a b/',
  '/o\\//', '/^$/', '/[0-9]+/', '/x|y/', '/[^a-z ]/', '/(?:se|we)r/i', '/\\bweb\\b/i', '/a{/',
  '/e*?b/', '/\\s/', '/x)/', '/**/', '/a\\/']
const ops = ['>', '>=', '<', '<=']
const nums = ['0', '1', '2', '-1', '3', '41', '1e3', '0.4', 'abc', 'x1']
function term(d) {
  const k = rand()
  if (d > 3 || k < 0.3) return pick(words)
  if (k < 0.4) return pick(regexes)
  if (k < 0.5) return pick(ops) + pick(nums)
  if (k < 0.6) return pick(words) + '?'
  if (k < 0.75) return pick(words) + (rand() < 0.2 ? ' : ' : ':') + term(d + 1)
  if (k < 0.82) return '!' + term(d + 1)
  if (k < 0.88) return '(' + terms(d + 1) + ')'
  if (k < 0.94) return '|(' + terms(d + 1) + ')'
  if (k < 0.97) return '"' + pick(words).replace('a', '\\"') + ' ' + pick(words) + '"'
  return pick(['(', ')', '|', '!', ':', '"x', ',', '>', '//', '/(/'])
}
function terms(d) {
  return Array.from({ length: 1 + Math.floor(rand() * 3) }, () => term(d)).join(' ')
}
const soup = ['(', ')', '|', '!', ':', '?', '"', '\\', '/', '*', '<', '>', '=', 'a', 'b', 'c',
  'd', '1', '2', '.', '-', ' ', ',', 'i', 'e', 'f', '0']
function chars() {
  let s = ''
  for (let n = 1 + Math.floor(rand() * 12); n > 0; n--) s += pick(soup)
  return s
}
// documented differences: back-references and \0 in regular expressions are refused
const documented = f => /\/[^/]*\\[0-9]/.test(f)

const N = Number(casesArg || 20000)
const cases = []
for (let i = 0; i < N; i++) cases.push([i % 3 === 2 ? chars() : terms(0), pick(objects)])
const input = cases.map(([f, o]) => JSON.stringify(f) + '\t' + JSON.stringify(o)).join('\n') + '\n'
const run = spawnSync(binary, { input, maxBuffer: 1 << 26 })
const got = run.stdout.toString().trim().split('\n')
let differences = 0
let skipped = 0
cases.forEach(([f, o], i) => {
  let want
  try { want = CM.parse(f).createPredicate()(o) ? '1' : '0' } catch (e) { want = 'E' }
  if (want === got[i]) return
  if (got[i] === 'E' && documented(f)) { skipped++; return }
  differences++
  if (differences <= 20)
    console.log(`FAIL ${JSON.stringify(f)} on ${o.id || o.type}: complex-matcher ${want}, xoc ${got[i]}`)
})
console.log(`cm_oracle: ${N} cases, ${differences} differences, ${skipped} documented`)
process.exit(run.status === 0 && got.length === N && differences === 0 ? 0 : 1)
