import { startDirect } from './direct-process.js'
import { ask, clientAgent } from './http-client.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { startProxy } from './proxy.js'
import { ms, summarize } from './stats.js'

// Many turns at once on ONE app-server worker: N streaming `[slow]` requests (40 deltas, paced by
// the mock) started together, through the proxy and, for reference, on a warm app-server driven
// directly. Codex's own CPU per thread + turn is what limits a 2-core machine (reference §5).

interface Burst { wallMs: number, ttft: number[], errors: number, firstError: string | undefined }

async function burst (n: number, one: (i: number) => Promise<{ ttftMs: number | undefined, error: string | undefined }>): Promise<Burst> {
  const t0 = performance.now()
  const results = await Promise.all(Array.from({ length: n }, async (_, i) => await one(i)))
  const wallMs = performance.now() - t0
  const failed = results.filter((r) => r.error !== undefined || r.ttftMs === undefined)
  return {
    wallMs,
    ttft: results.flatMap((r) => (r.ttftMs === undefined ? [] : [r.ttftMs])),
    errors: failed.length,
    firstError: failed[0]?.error
  }
}

export async function turnsSection (lab: Lab, p: Profile['turns']): Promise<SectionResult> {
  const max = Math.max(...p.counts)
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server', PROXY_MAX_CONCURRENCY: String(max), PROXY_MAX_QUEUE: String(max) })
  const direct = await startDirect(lab).catch(async (err: unknown) => { await proxy.stop(); throw err })
  const rows: Array<Array<string | number>> = []
  let errors = 0
  const notes: string[] = []
  try {
    const agent = clientAgent(max)
    // Warm both (first thread of a process is slower) and open the client's sockets.
    await burst(4, async (i) => await ask(proxy.baseUrl, agent, `turns warm-up ${i}`, { stream: true }))
    await burst(4, async (i) => await direct.turn(`turns warm-up ${i}`))
    for (const n of p.counts) {
      const viaProxy = await burst(n, async (i) => await ask(proxy.baseUrl, agent, `[slow] burst ${n} ${i}`, { stream: true }))
      const viaDirect = await burst(n, async (i) => await direct.turn(`[slow] burst ${n} ${i}`))
      for (const [label, b] of [['proxy', viaProxy], ['direct app-server', viaDirect]] as const) {
        const t = summarize(b.ttft)
        rows.push([n, label, (b.wallMs / 1000).toFixed(2), ms(t.p50), ms(t.p90), ms(t.max), b.errors])
        errors += b.errors
        if (b.firstError !== undefined) notes.push(`${label} at ${n}: ${b.firstError}`)
      }
    }
    agent.destroy()
  } finally {
    await direct.stop()
    await proxy.stop()
  }
  const stream = `${40 * p.slowDelayMs / 1000} s`
  const blocks = [
    table(['Concurrent turns', 'Path', 'Wall s', 'TTFT p50', 'TTFT p90', 'TTFT max', 'Errors'], rows),
    `Each turn streams 40 deltas ${p.slowDelayMs} ms apart (≈ ${stream} if alone); one worker (PROXY_APP_SERVER_WORKERS=1), PROXY_MAX_CONCURRENCY=${max}.`
  ]
  if (notes.length > 0) blocks.push(`Errors: ${notes.join('; ')}`)
  return { id: 'turns', title: '5. Concurrent turns on one app-server worker (streaming, mock upstream)', blocks, ok: errors === 0 }
}
