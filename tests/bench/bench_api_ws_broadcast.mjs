// The baseline server of bench_api_fanout.mjs: a minimal Node `ws` broadcast server fed the
// same messages. It signs in to xoc-api as ONE client (token) and sends every notification
// it receives, the same bytes, to each of its own clients (each answered `true` to any call,
// e.g. its session.signIn). Prints its port on stdout.
// Usage: node bench_api_ws_broadcast.mjs <node_modules> <api url> <token>
import { connect, requireFrom } from './bench_api_lib.mjs'

const [modules, apiUrl, token] = process.argv.slice(2)
const ws = requireFrom(modules)('ws')
const clients = new Set()
const wss = new ws.WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
wss.on('connection', c => {
  clients.add(c)
  c.on('message', data => {
    const id = JSON.parse(data.toString()).id
    c.send(JSON.stringify({ jsonrpc: '2.0', id, result: true }))
  })
  c.on('close', () => clients.delete(c))
})
const feed = connect(ws, apiUrl, {
  onNotify: data => { for (const c of clients) c.send(data, { binary: false }) },
})
await feed.opened
await feed.call('session.signIn', { token })
wss.on('listening', () => console.log(wss.address().port))
if (wss.address()) console.log(wss.address().port)
