import { Agent } from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { ask, type AskResult } from './http-client.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { descendants, fdCount, rssKb } from './procfs.js'
import { startProxy, type ProxyProcess } from './proxy.js'
import { mb, ms, summarize } from './stats.js'

// Many SSE streams held open at once, with keepalives. 1,000 Codex (or shim) processes would be
// 1,000 processes on a 2-core machine, so the 1,000-stream run uses an in-process fake backend
// (bench/proxy-child.mjs: holds each turn open and trickles deltas) — it measures the HTTP/SSE
// layer, admission, keepalive timers and per-stream memory of the real app. A smaller run on the
// proto backend with the slow shim shows the same with a real child process per stream.

interface Resources { rssKb: number | undefined, fds: number | undefined, kids: number, kidsRssKb: number }

function resources (pid: number): Resources {
  const kids = descendants(pid)
  return { rssKb: rssKb(pid), fds: fdCount(pid), kids: kids.length, kidsRssKb: kids.reduce((sum, k) => sum + (rssKb(k.pid) ?? 0), 0) }
}

interface HoldRun {
  label: string
  streams: number
  results: AskResult[]
  openAllMs: number
  before: Resources
  peak: Resources
  after: Resources
  afterGcKb: number | undefined
  heapBeforeKb: number
  heapAfterGcKb: number
  peakOpenStreams: number
}

async function holdStreams (label: string, proxy: ProxyProcess, streams: number, batch: number, everyMs: number): Promise<HoldRun> {
  const heapBeforeKb = (await proxy.stats({ gc: true })).heapUsedKb
  const before = resources(proxy.pid)
  const peak: Resources = { ...before }
  let peakOpenStreams = 0
  // Flipped by the main flow once every stream has ended.
  const sampling = { on: true }
  const sampler = (async () => {
    for (let tick = 0; sampling.on; tick++) {
      const now = resources(proxy.pid)
      peak.rssKb = Math.max(peak.rssKb ?? 0, now.rssKb ?? 0)
      peak.fds = Math.max(peak.fds ?? 0, now.fds ?? 0)
      peak.kids = Math.max(peak.kids, now.kids)
      peak.kidsRssKb = Math.max(peak.kidsRssKb, now.kidsRssKb)
      if (tick % 4 === 0) peakOpenStreams = Math.max(peakOpenStreams, (await proxy.stats().catch(() => undefined))?.openStreams ?? 0)
      await sleep(250)
    }
  })()
  // One connection per stream, as separate clients would open them.
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const t0 = performance.now()
  const pending: Array<Promise<AskResult>> = []
  for (let i = 0; i < streams; i += batch) {
    for (let j = i; j < Math.min(streams, i + batch); j++) pending.push(ask(proxy.baseUrl, agent, `hold ${j}`, { stream: true }))
    await sleep(everyMs)
  }
  const openAllMs = performance.now() - t0
  const results = await Promise.all(pending)
  sampling.on = false
  await sampler
  agent.destroy()
  await sleep(2000)
  const after = resources(proxy.pid)
  const heapAfterGcKb = (await proxy.stats({ gc: true })).heapUsedKb
  return { label, streams, results, openAllMs, before, peak, after, afterGcKb: rssKb(proxy.pid), heapBeforeKb, heapAfterGcKb, peakOpenStreams }
}

export async function sseSection (lab: Lab, p: Profile['sse']): Promise<SectionResult> {
  const common = {
    SSE_KEEPALIVE_MS: String(p.keepaliveMs),
    PROXY_STREAM_IDLE_TIMEOUT_MS: '600000',
    PROXY_TIMEOUT_MS: '600000',
    PROXY_QUEUE_TIMEOUT_MS: '120000'
  }
  const runs: HoldRun[] = []
  const fake = await startProxy(lab, {
    ...common,
    BENCH_FAKE_BACKEND: 'trickle',
    BENCH_FAKE_DELTA_MS: String(p.deltaMs),
    BENCH_FAKE_DURATION_MS: String(p.durationMs),
    PROXY_MAX_CONCURRENCY: String(Math.min(4096, p.streams * 2)),
    PROXY_MAX_QUEUE: String(p.streams * 2)
  })
  try {
    runs.push(await holdStreams(`fake in-process backend (${p.durationMs / 1000} s, a delta every ${p.deltaMs / 1000} s)`, fake, p.streams, p.rampBatch, p.rampEveryMs))
  } finally {
    await fake.stop()
  }
  const shim = await startProxy(lab, {
    ...common,
    CODEX_BACKEND: 'proto',
    CODEX_BIN: join(lab.repoRoot, 'test/fixtures/codex-shim/codex-slow.mjs'),
    SHIM_DELAY_MS: String(p.protoDelayMs),
    PROXY_PROTO_IDLE_MS: '600000',
    PROXY_MAX_CONCURRENCY: String(p.protoStreams * 2),
    PROXY_MAX_QUEUE: String(p.protoStreams * 2)
  })
  try {
    runs.push(await holdStreams(`proto backend + slow shim (4 deltas ${p.protoDelayMs / 1000} s apart; one Node process per stream)`, shim, p.protoStreams, p.rampBatch, p.rampEveryMs))
  } finally {
    await shim.stop()
  }

  let ok = true
  const outcome = table(
    ['Backend', 'Streams', 'All opened in s', 'Peak open streams', '≥ 1 keepalive', 'Ended with [DONE]', 'Errors', 'TTFT p50', 'TTFT p99', 'Held p50 s', 'Held max s'],
    runs.map((r) => {
      const errors = r.results.filter((x) => x.error !== undefined || !x.done).length
      const keep = r.results.filter((x) => x.keepalives >= 1).length
      const done = r.results.filter((x) => x.done).length
      if (errors > 0 || keep !== r.streams || done !== r.streams) ok = false
      const t = summarize(r.results.flatMap((x) => (x.ttftMs === undefined ? [] : [x.ttftMs])))
      const held = summarize(r.results.map((x) => x.totalMs / 1000))
      return [r.label, r.streams, (r.openAllMs / 1000).toFixed(1), r.peakOpenStreams, keep, done, errors, ms(t.p50), ms(t.p99), held.p50.toFixed(1), held.max.toFixed(1)]
    })
  )
  const res = table(
    ['Backend', 'Proxy RSS MB before / peak / after / after GC', 'Proxy heap used MB before / after GC', 'Proxy fds before / peak / after', 'Child processes before / peak / after', 'Children RSS peak MB'],
    runs.map((r) => {
      if (r.after.kids !== r.before.kids) ok = false
      return [
        r.label,
        `${mb(r.before.rssKb)} / ${mb(r.peak.rssKb)} / ${mb(r.after.rssKb)} / ${mb(r.afterGcKb)}`,
        `${mb(r.heapBeforeKb)} / ${mb(r.heapAfterGcKb)}`,
        `${r.before.fds ?? '–'} / ${r.peak.fds ?? '–'} / ${r.after.fds ?? '–'}`,
        `${r.before.kids} / ${r.peak.kids} / ${r.after.kids}`,
        mb(r.peak.kidsRssKb)
      ]
    })
  )
  const errs = runs.flatMap((r) => r.results.filter((x) => x.error !== undefined).slice(0, 1).map((x) => `${r.label}: ${x.error ?? ''}`))
  const blocks = [outcome, res, `SSE_KEEPALIVE_MS=${p.keepaliveMs}; streams opened ${p.rampBatch} at a time every ${p.rampEveryMs} ms, one TCP connection each; "after" is 2 s after the last stream ended.`]
  if (errs.length > 0) blocks.push(`First errors: ${errs.join('; ')}`)
  return { id: 'sse', title: `4. ${p.streams} concurrent SSE streams held open with keepalives`, blocks, ok }
}
