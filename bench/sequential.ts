import type { BenchDialect } from './dialect-probes.js'
import { ask, clientAgent } from './http-client.js'
import type { ProxyProcess, ProxyStats } from './proxy.js'
import { summarize, type Summary } from './stats.js'

export interface SequentialRun {
  latency: Summary
  errors: number
  firstError: string | undefined
  wallMs: number
}

/**
 * `count` requests one after another, alternating streaming and non-streaming so that both paths
 * are exercised (and, given several dialects, taking them in turn, a pair each), calling
 * `sample(done)` before the first and after every `every` requests.
 */
export async function runSequential (proxy: ProxyProcess, count: number, every: number, sample: (done: number) => Promise<void>, tag: string, dialects: readonly BenchDialect[] = ['chat']): Promise<SequentialRun> {
  const agent = clientAgent(1)
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  const t0 = performance.now()
  try {
    await sample(0)
    for (let i = 1; i <= count; i++) {
      const dialect = dialects[Math.floor((i - 1) / 2) % dialects.length]
      const res = await ask(proxy.baseUrl, agent, `${tag} ${i}`, { stream: i % 2 === 0, dialect })
      if (res.error !== undefined || !res.done) {
        errors++
        firstError ??= res.error ?? 'incomplete'
      } else {
        latencies.push(res.totalMs)
      }
      if (i % every === 0 || i === count) await sample(i)
    }
  } finally {
    agent.destroy()
  }
  return { latency: summarize(latencies), errors, firstError, wallMs: performance.now() - t0 }
}

/** start / end / max / end − start of a series, for "stays flat" claims. */
export function flatness (values: ReadonlyArray<number | undefined>): { start: number, end: number, max: number, delta: number } {
  const known = values.filter((v): v is number => v !== undefined)
  const start = known[0] ?? Number.NaN
  const end = known.at(-1) ?? Number.NaN
  return { start, end, max: Math.max(...known), delta: end - start }
}

/**
 * Threads the proxy's worker holds beyond the conversations it keeps for their next round (which
 * must be 0: anything else is a thread left behind), right after a response and again 100 ms
 * later when that was not 0: Codex can still list a thread for a few ms after it answered
 * thread/unsubscribe (seen driving app-server directly too), which is not a leak. Shown as
 * "loaded (held)", and "1 → 0" for the stray ones when a second look was needed.
 */
export async function loadedThreads (proxy: ProxyProcess, stats: ProxyStats): Promise<{ shown: string, settled: number | null }> {
  const stray = (s: ProxyStats): number | null => (s.loadedThreads === null ? null : s.loadedThreads - (s.conversations?.held ?? 0))
  const first = stray(stats)
  const held = `${stats.loadedThreads ?? '–'} (${stats.conversations?.held ?? 0} held)`
  if (first === null || first === 0) return { shown: held, settled: first }
  await new Promise((resolve) => setTimeout(resolve, 100))
  const settled = stray(await proxy.stats())
  return { shown: `${held}, stray ${first} → ${settled ?? '–'}`, settled }
}
