import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { shimPath } from '../test/helpers/paths.js'
import { SYNTHETIC_KEYS, SYNTHETIC_MODELS, syntheticEvents, writeUsageLog } from '../test/helpers/usage-log.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { peakRssKb, rssKb } from './procfs.js'
import { BENCH_KEY, startProxy, type ProxyProcess } from './proxy.js'
import { mb, ms, summarize } from './stats.js'

// /v1/usage over a log as a user's looks after a year: several keys, models and routes (a few
// much busier), real and estimated counts, written in time order. Measured: the first answer of a
// server that has no rollups yet (it reads the whole log once), the first answer of a restarted
// one (it loads <log>.index), and then each kind of query many times, with the proxy's memory.

const DAY_MS = 86_400_000
const AUTH = { authorization: `Bearer ${BENCH_KEY}` }

async function timed (url: string): Promise<{ ms: number, body: Record<string, unknown> }> {
  const t0 = performance.now()
  const res = await fetch(url, { headers: AUTH })
  const body = await res.json() as Record<string, unknown>
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
  return { ms: performance.now() - t0, body }
}

export async function usageSection (lab: Lab, p: Profile['usage']): Promise<SectionResult> {
  const logPath = join(lab.scratch, 'usage-bench', 'usage.ndjson')
  const { mkdir } = await import('node:fs/promises')
  await mkdir(join(lab.scratch, 'usage-bench'), { recursive: true })
  // Up to a minute ago, so that the default window (the last 24 h) holds events too.
  const end = Date.now() - 60_000
  const start = end - p.days * DAY_MS
  const t0 = performance.now()
  await writeUsageLog(logPath, syntheticEvents({ count: p.events, startMs: start, endMs: end, seed: 2026 }))
  const writeS = (performance.now() - t0) / 1000
  const logBytes = (await stat(logPath)).size

  const env = { TOKEN_LOG_PATH: logPath, CODEX_BACKEND: 'proto', CODEX_BIN: shimPath() }
  const whole = `start=${new Date(start).toISOString()}&end=${new Date(end).toISOString()}`
  const day = `start=${new Date(end - DAY_MS - 1_234_567).toISOString()}&end=${new Date(end - 1_234_567).toISOString()}`
  const queries: Array<[string, string]> = [
    ['`/healthz` (for scale: one HTTP round trip, no usage code)', '/healthz'],
    ['`group=day`, the whole log', `/v1/usage?${whole}&group=day`],
    ['`group=hour`, a one-day window (cut hours at both ends)', `/v1/usage?${day}&group=hour`],
    ['`by=key`, the whole log, no buckets', `/v1/usage?${whole}&by=key`],
    ['`group=day&by=model`, the whole log', `/v1/usage?${whole}&group=day&by=model`],
    [`\`key=${SYNTHETIC_KEYS[1] ?? ''}&model=${SYNTHETIC_MODELS[0] ?? ''}&group=day\`, the whole log`, `/v1/usage?${whole}&key=${SYNTHETIC_KEYS[1] ?? ''}&model=${SYNTHETIC_MODELS[0] ?? ''}&group=day`],
    ['`route=/v1/responses&by=key`, the default window (last 24 h)', '/v1/usage?route=/v1/responses&by=key'],
    ['`/v1/usage/raw` (last 200)', '/v1/usage/raw'],
    [`\`/v1/usage/raw?key=${SYNTHETIC_KEYS.at(-1) ?? ''}\` (the rarest key's last 200)`, `/v1/usage/raw?key=${SYNTHETIC_KEYS.at(-1) ?? ''}`]
  ]

  // Cold: no rollups beside the log.
  await rm(`${logPath}.index`, { force: true })
  let proxy: ProxyProcess | undefined
  const startups: string[][] = []
  const rows: string[][] = []
  const memory: string[][] = []
  let firstTotal = 0
  try {
    for (const phase of ['cold (no <log>.index: the log is read once)', 'restart (loads <log>.index)']) {
      const started = performance.now()
      proxy = await startProxy(lab, env)
      const ready = performance.now()
      const first = await timed(`${proxy.baseUrl}${queries[1]?.[1] ?? ''}`)
      firstTotal = Number(first.body.total_requests)
      startups.push([phase, ms(ready - started), ms(first.ms), ms(performance.now() - started), mb(rssKb(proxy.pid))])
      // The queries on the restarted server: how a long-running one answers (rollups loaded).
      if (phase.startsWith('restart')) {
        for (const [name, path] of queries) {
          await timed(`${proxy.baseUrl}${path}`)
          const samples: number[] = []
          for (let i = 0; i < p.repeats; i++) samples.push((await timed(`${proxy.baseUrl}${path}`)).ms)
          const s = summarize(samples)
          rows.push([name, String(s.n), ms(s.p50), ms(s.p90), ms(s.max)])
        }
      }
      const stats = await proxy.stats({ gc: true })
      memory.push([phase.startsWith('cold') ? 'cold start, after the first answer (GC run)' : 'restart, after all the queries (GC run)', mb(rssKb(proxy.pid)), mb(stats.heapUsedKb), mb(peakRssKb(proxy.pid))])
      await proxy.stop()
      proxy = undefined
    }
  } finally {
    await proxy?.stop()
  }
  const index = await stat(`${logPath}.index`).catch(() => undefined)
  const ok = firstTotal === p.events
  return {
    id: 'usage',
    title: `8. /v1/usage over ${p.events.toLocaleString('en-US')} events (${p.days} days, ${(logBytes / 2 ** 20).toFixed(0)} MiB of log)`,
    blocks: [
      `The log: ${p.events.toLocaleString('en-US')} events, ${SYNTHETIC_KEYS.length} keys, ${SYNTHETIC_MODELS.length} models, 3 routes, ${p.days} days, written in ${writeS.toFixed(1)} s; ` +
        `its rollups (\`<log>.index\`) take ${index === undefined ? '–' : `${(index.size / 2 ** 20).toFixed(1)} MiB`}. The proxy runs the proto backend (no Codex worker: only the usage code is measured).`,
      table(['Start', 'Spawn → ready ms', 'First `group=day` answer ms', 'Spawn → answer ms', 'Proxy RSS MB then'], startups),
      table(['Query (restarted server; after one warm-up)', 'n', 'p50 ms', 'p90 ms', 'max ms'], rows),
      table(['Proxy memory', 'RSS MB', 'Heap used MB', 'Peak RSS MB'], memory),
      ok ? `Every answer counted all ${p.events.toLocaleString('en-US')} events.` : `**The first answer counted ${firstTotal} events, not ${p.events}.**`
    ],
    ok
  }
}
