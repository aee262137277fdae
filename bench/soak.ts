import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { anonRssKb, descendants, fdCount, rssKb } from './procfs.js'
import { startProxy } from './proxy.js'
import { flatness, loadedThreads, runSequential } from './sequential.js'
import { mb, ms } from './stats.js'

// The long run: thousands of sequential requests, watching for anything that accumulates —
// memory, file descriptors (sockets, pipes), child processes, threads held by the worker.

interface Sample { done: number, rssKb: number | undefined, fds: number | undefined, descendants: number, live: number, loaded: string, settled: number | null, workerKb: number | undefined, workerAnonKb: number | undefined, heapKb: number }

export async function soakSection (lab: Lab, p: Profile['soak']): Promise<SectionResult> {
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server' })
  const samples: Sample[] = []
  try {
    const sample = async (done: number): Promise<void> => {
      const stats = await proxy.stats()
      const workerPid = stats.workerPids[0]
      const loaded = await loadedThreads(proxy, stats.loadedThreads)
      samples.push({
        done,
        rssKb: rssKb(proxy.pid),
        fds: fdCount(proxy.pid),
        descendants: descendants(proxy.pid).length,
        live: stats.liveChildren,
        loaded: loaded.shown,
        settled: loaded.settled,
        workerKb: workerPid === undefined ? undefined : rssKb(workerPid),
        workerAnonKb: workerPid === undefined ? undefined : anonRssKb(workerPid),
        heapKb: stats.heapUsedKb
      })
    }
    const run = await runSequential(proxy, p.requests, p.every, sample, 'soak')
    const series = table(
      ['Requests done', 'Proxy RSS MB', 'Proxy heap used MB', 'Proxy open fds', 'Descendant processes', 'liveChildren()', 'Loaded threads (→ 100 ms later)', 'Worker RSS MB', 'Worker anonymous RSS MB'],
      samples.map((s) => [s.done, mb(s.rssKb), mb(s.heapKb), s.fds ?? '–', s.descendants, s.live, s.loaded, mb(s.workerKb), mb(s.workerAnonKb)])
    )
    const rss = flatness(samples.map((s) => s.rssKb))
    const fds = flatness(samples.map((s) => s.fds))
    const kids = flatness(samples.map((s) => s.descendants))
    const worker = flatness(samples.map((s) => s.workerKb))
    const anon = flatness(samples.map((s) => s.workerAnonKb))
    const heap = flatness(samples.map((s) => s.heapKb))
    const summary = table(['Series', 'Start', 'End', 'Max'], [
      ['proxy RSS MB', mb(rss.start), mb(rss.end), mb(rss.max)],
      ['proxy heap used MB', mb(heap.start), mb(heap.end), mb(heap.max)],
      ['proxy open fds', fds.start, fds.end, fds.max],
      ['descendant processes', kids.start, kids.end, kids.max],
      ['worker RSS MB', mb(worker.start), mb(worker.end), mb(worker.max)],
      ['worker anonymous RSS MB', mb(anon.start), mb(anon.end), mb(anon.max)]
    ])
    const last = samples.at(-1)
    const tail = `${p.requests} requests (alternating stream / non-stream) in ${(run.wallMs / 1000).toFixed(1)} s ` +
      `(${(p.requests / run.wallMs * 1000).toFixed(1)} req/s sequential), latency p50 ${ms(run.latency.p50)} ms, ` +
      `p99 ${ms(run.latency.p99)} ms, max ${ms(run.latency.max)} ms, errors ${run.errors}` +
      `${run.firstError === undefined ? '' : ` (first: ${run.firstError})`}.`
    return {
      id: 'soak',
      title: `6. Soak: ${p.requests} sequential requests (app-server backend)`,
      blocks: [summary, series, tail],
      ok: run.errors === 0 && last?.settled === 0 && fds.end <= fds.start + 2 && kids.end === kids.start
    }
  } finally {
    await proxy.stop()
  }
}
