// The direct app-server client in a process of its own (run with `node --import tsx`), so that
// it and the proxy are alike: each a dedicated, mostly idle Node process between the bench's
// orchestration and Codex. Timings are taken here, next to the JSON-RPC, not across IPC.
import { DirectAppServer } from './app-server-direct.js'
import type { Lab } from './lab.js'

interface Request { type: 'turn', id: number, text: string }
interface Loaded { type: 'loaded', id: number }

const spec = JSON.parse(process.env.BENCH_DIRECT_SPEC ?? '{}') as Pick<Lab, 'scratch' | 'codexBin' | 'codexEnv' | 'lean'>
const server = await DirectAppServer.start(spec)

process.on('message', (msg: Request | Loaded) => {
  if (msg.type === 'turn') {
    void server.turn(msg.text).then((result) => { process.send?.({ type: 'turn', id: msg.id, result }) })
  } else {
    void server.loadedThreads().then((count) => { process.send?.({ type: 'loaded', id: msg.id, count }) }, () => { process.send?.({ type: 'loaded', id: msg.id, count: -1 }) })
  }
})
const stop = (): void => { void server.stop().finally(() => process.exit(0)) }
process.on('SIGTERM', stop)
process.on('disconnect', stop)
process.send?.({ type: 'ready', pid: server.pid })
