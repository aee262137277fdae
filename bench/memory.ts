import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { anonRssKb, rssKb } from './procfs.js'
import { startProxy } from './proxy.js'
import { flatness, loadedThreads, runSequential } from './sequential.js'
import { mb, ms } from './stats.js'

// Memory over many sequential requests: the proxy's RSS and heap and the worker's RSS, sampled
// every `every` requests, and the threads the worker still holds at the end beyond the
// conversations kept for their next round (must be 0: with thread_unload_delay_secs=0 an
// unsubscribed thread is dropped at once). Each request is a new conversation, so the held ones
// grow to PROXY_CONVERSATIONS_MAX and stay there.

interface Sample { done: number, proxyKb: number | undefined, heapKb: number, workerKb: number | undefined, workerAnonKb: number | undefined, loaded: string, settled: number | null }

export async function memorySection (lab: Lab, p: Profile['memory']): Promise<SectionResult> {
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server' })
  const samples: Sample[] = []
  try {
    const sample = async (done: number): Promise<void> => {
      const stats = await proxy.stats()
      const workerPid = stats.workerPids[0]
      const proxyKb = rssKb(proxy.pid)
      const workerKb = workerPid === undefined ? undefined : rssKb(workerPid)
      const workerAnonKb = workerPid === undefined ? undefined : anonRssKb(workerPid)
      const loaded = await loadedThreads(proxy, stats)
      samples.push({ done, proxyKb, heapKb: stats.heapUsedKb, workerKb, workerAnonKb, loaded: loaded.shown, settled: loaded.settled })
    }
    const run = await runSequential(proxy, p.requests, p.every, sample, 'memory')
    const proxyFlat = flatness(samples.map((s) => s.proxyKb))
    const workerFlat = flatness(samples.map((s) => s.workerKb))
    const heapFlat = flatness(samples.map((s) => s.heapKb))
    const anonFlat = flatness(samples.map((s) => s.workerAnonKb))
    const loadedAtEnd = samples.at(-1)?.settled
    const series = table(
      ['Requests done', 'Proxy RSS MB', 'Proxy heap used MB', 'Worker RSS MB', 'Worker anonymous RSS MB', 'Loaded threads (held conversations)'],
      samples.map((s) => [s.done, mb(s.proxyKb), mb(s.heapKb), mb(s.workerKb), mb(s.workerAnonKb), s.loaded])
    )
    const summary = table(
      ['Process', 'Start MB', 'End MB', 'Max MB', 'End − start MB'],
      [
        ['proxy RSS', mb(proxyFlat.start), mb(proxyFlat.end), mb(proxyFlat.max), mb(proxyFlat.delta)],
        ['proxy heap used', mb(heapFlat.start), mb(heapFlat.end), mb(heapFlat.max), mb(heapFlat.delta)],
        ['app-server worker RSS', mb(workerFlat.start), mb(workerFlat.end), mb(workerFlat.max), mb(workerFlat.delta)],
        ['app-server worker anonymous RSS', mb(anonFlat.start), mb(anonFlat.end), mb(anonFlat.max), mb(anonFlat.delta)]
      ]
    )
    const tail = `${p.requests} requests (alternating stream / non-stream) in ${(run.wallMs / 1000).toFixed(1)} s, ` +
      `latency p50 ${ms(run.latency.p50)} ms, p99 ${ms(run.latency.p99)} ms, errors ${run.errors}` +
      `${run.firstError === undefined ? '' : ` (first: ${run.firstError})`}; loaded threads at the end: ${loadedAtEnd ?? '–'}.`
    return {
      id: 'memory',
      title: `3. Memory over ${p.requests} sequential requests (app-server backend)`,
      blocks: [summary, series, tail],
      ok: run.errors === 0 && loadedAtEnd === 0
    }
  } finally {
    await proxy.stop()
  }
}
