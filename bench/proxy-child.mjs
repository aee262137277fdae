// The proxy under measurement: the BUILT server (dist/), so the numbers are those of the JS that
// ships, with no TypeScript loader in the process. Like dist/src/server.js, plus an IPC channel
// for diagnostics only the process itself knows (loaded threads, live children) and, for the SSE
// load test, an optional in-process fake backend. Configuration is the environment, as in production.
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../dist/src/build.js'
import { loadConfig } from '../dist/src/config.js'
import { killAllChildrenNow, liveChildren } from '../dist/src/backends/child-process.js'

/**
 * Holds a turn open for BENCH_FAKE_DURATION_MS, trickling a delta every BENCH_FAKE_DELTA_MS:
 * measures the HTTP/SSE layer alone, without a Codex process per stream.
 */
function trickleBackend (deltaMs, durationMs) {
  return {
    kind: 'proto',
    capabilities: { tools: false, images: false, structuredOutput: false },
    async start () {},
    health () { return { ready: true } },
    async models () { return [] },
    async close () {},
    async * complete (_request, signal) {
      yield { type: 'started' }
      const end = Date.now() + durationMs
      let n = 0
      let chars = 0
      while (Date.now() < end) {
        const text = `tok${n++} `
        chars += text.length
        yield { type: 'text', text }
        try {
          await sleep(Math.min(deltaMs, Math.max(0, end - Date.now())), undefined, { signal })
        } catch {
          signal.throwIfAborted()
        }
      }
      yield { type: 'usage', usage: { promptTokens: 10, completionTokens: Math.ceil(chars / 4), totalTokens: 10 + Math.ceil(chars / 4) } }
      yield { type: 'done', finishReason: 'stop' }
    }
  }
}

const config = loadConfig()
const fake = process.env.BENCH_FAKE_BACKEND === 'trickle'
  ? trickleBackend(Number(process.env.BENCH_FAKE_DELTA_MS ?? 2000), Number(process.env.BENCH_FAKE_DURATION_MS ?? 15000))
  : undefined
const app = await buildApp({ config, backend: fake })
const marks = process.env.BENCH_PROFILE === '1' ? instrument(app) : undefined

/** A monotonic clock shared by every process on the machine (CLOCK_MONOTONIC), in ms. */
function clock () {
  return Number(process.hrtime.bigint()) / 1e6
}

/**
 * BENCH_PROFILE=1: timestamps of one request's way through the proxy, keyed by the client's
 * x-request-id, without touching src/: the raw HTTP server's 'request' event (headers parsed),
 * the backend's complete() call and its first events, and the first writes of the response.
 */
function instrument (app) {
  const byId = new Map()
  const mark = (id, key) => {
    if (typeof id !== 'string') return
    const m = byId.get(id) ?? {}
    m[key] ??= clock()
    byId.set(id, m)
  }
  app.server.prependListener('request', (req, res) => {
    const id = req.headers['x-request-id']
    mark(id, 'request')
    const write = res.write
    res.write = function (...args) {
      mark(id, 'firstWrite')
      return write.apply(this, args)
    }
  })
  const backend = app.codex
  const complete = backend.complete.bind(backend)
  backend.complete = async function * (request, signal) {
    mark(request.requestId, 'complete')
    for await (const event of complete(request, signal)) {
      if (event.type === 'started') mark(request.requestId, 'started')
      if (event.type === 'text') mark(request.requestId, 'firstText')
      yield event
    }
  }
  return byId
}

let closing
const close = () => {
  closing ??= app.close().catch(() => {}).finally(() => {
    killAllChildrenNow()
    process.exit(0)
  })
  return closing
}
process.on('SIGTERM', close)
process.on('SIGINT', close)
process.on('disconnect', close)

await app.listen({ port: 0, host: '127.0.0.1' })
const deadline = Date.now() + 60_000
while (!app.codex.health().ready) {
  if (Date.now() > deadline) {
    process.send({ type: 'failed', reason: app.codex.health().reason ?? 'backend not ready' })
    await close()
  }
  await sleep(50)
}
process.send({ type: 'ready', port: app.server.address().port })

process.on('message', async (msg) => {
  if (msg?.type === 'marks') {
    process.send({ type: 'marks', id: msg.id, marks: Object.fromEntries(marks ?? []) })
    marks?.clear()
    return
  }
  if (msg?.type !== 'stats') return
  if (msg.gc === true) globalThis.gc?.()
  const codex = app.codex
  let loadedThreads = null
  try {
    if (typeof codex.loadedThreadCounts === 'function') loadedThreads = (await codex.loadedThreadCounts()).reduce((a, b) => a + b, 0)
  } catch {
    loadedThreads = -1
  }
  process.send({
    type: 'stats',
    id: msg.id,
    workerPids: typeof codex.workerPids === 'function' ? codex.workerPids() : [],
    loadedThreads,
    liveChildren: liveChildren().size,
    openStreams: app.openStreams(),
    heapUsedKb: Math.round(process.memoryUsage().heapUsed / 1024),
    storedResponses: app.responseStore.stats(),
    conversations: codex.health().conversations ?? null
  })
})
