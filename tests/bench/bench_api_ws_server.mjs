// The baseline server of bench_api_getall.mjs: a minimal Node `ws` server on a free port
// (printed on stdout) answering every message with the JSON of a file: `bytes` sends the
// file's bytes as read once; `stringify` parses them once, then answers each request with
// JSON.stringify({jsonrpc, id, result}) of the objects.
// Usage: node bench_api_ws_server.mjs <node_modules> <file> bytes|stringify
import fs from 'node:fs'
import { requireFrom } from './bench_api_lib.mjs'

const [modules, file, mode] = process.argv.slice(2)
const { WebSocketServer } = requireFrom(modules)('ws')
const bytes = fs.readFileSync(file)
const objects = mode === 'stringify' ? JSON.parse(bytes.toString()).result : null
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
wss.on('listening', () => console.log(wss.address().port))
wss.on('connection', ws => ws.on('message', data => {
  if (mode === 'bytes') ws.send(bytes, { binary: false })
  else ws.send(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(data.toString()).id, result: objects }))
}))
