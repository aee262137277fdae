import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { anonRssKb, descendants, fdCount, rssKb } from './procfs.js'
import { startProxy } from './proxy.js'
import { flatness, loadedThreads, runSequential } from './sequential.js'
import { mb, ms } from './stats.js'

// The long run: thousands of sequential requests, watching for anything that accumulates —
// memory, file descriptors (sockets, pipes), child processes, threads held by the worker, stored
// responses. Half the requests go to /v1/responses (stored, as by default), with the store capped
// at a quarter of them so that the run shows memory once the cap is reached.

interface Sample { done: number, rssKb: number | undefined, fds: number | undefined, descendants: number, live: number, loaded: string, settled: number | null, workerKb: number | undefined, workerAnonKb: number | undefined, heapKb: number, stored: number, storedKb: number }

export async function soakSection (lab: Lab, p: Profile['soak']): Promise<SectionResult> {
  const storeCap = Math.max(1, Math.floor(p.requests / 4))
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server', PROXY_RESPONSES_STORE_MAX_ENTRIES: String(storeCap) })
  const samples: Sample[] = []
  try {
    const sample = async (done: number): Promise<void> => {
      const stats = await proxy.stats()
      const workerPid = stats.workerPids[0]
      const loaded = await loadedThreads(proxy, stats)
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
        heapKb: stats.heapUsedKb,
        stored: stats.storedResponses.entries,
        storedKb: stats.storedResponses.bytes / 1024
      })
    }
    const run = await runSequential(proxy, p.requests, p.every, sample, 'soak', ['chat', 'responses'])
    const series = table(
      ['Requests done', 'Proxy RSS MB', 'Proxy heap used MB', 'Proxy open fds', 'Descendant processes', 'liveChildren()', 'Loaded threads (held conversations)', 'Worker RSS MB', 'Worker anonymous RSS MB', 'Stored responses', 'Store MB'],
      samples.map((s) => [s.done, mb(s.rssKb), mb(s.heapKb), s.fds ?? '–', s.descendants, s.live, s.loaded, mb(s.workerKb), mb(s.workerAnonKb), s.stored, mb(s.storedKb)])
    )
    const rss = flatness(samples.map((s) => s.rssKb))
    const fds = flatness(samples.map((s) => s.fds))
    const kids = flatness(samples.map((s) => s.descendants))
    const worker = flatness(samples.map((s) => s.workerKb))
    const anon = flatness(samples.map((s) => s.workerAnonKb))
    const heap = flatness(samples.map((s) => s.heapKb))
    const stored = flatness(samples.map((s) => s.stored))
    const summary = table(['Series', 'Start', 'End', 'Max'], [
      ['proxy RSS MB', mb(rss.start), mb(rss.end), mb(rss.max)],
      ['proxy heap used MB', mb(heap.start), mb(heap.end), mb(heap.max)],
      ['proxy open fds', fds.start, fds.end, fds.max],
      ['descendant processes', kids.start, kids.end, kids.max],
      ['worker RSS MB', mb(worker.start), mb(worker.end), mb(worker.max)],
      ['worker anonymous RSS MB', mb(anon.start), mb(anon.end), mb(anon.max)],
      [`stored responses (cap ${storeCap})`, stored.start, stored.end, stored.max]
    ])
    const last = samples.at(-1)
    const tail = `${p.requests} requests (alternating stream / non-stream, two each to Chat Completions and to the Responses API) in ${(run.wallMs / 1000).toFixed(1)} s ` +
      `(${(p.requests / run.wallMs * 1000).toFixed(1)} req/s sequential), latency p50 ${ms(run.latency.p50)} ms, ` +
      `p99 ${ms(run.latency.p99)} ms, max ${ms(run.latency.max)} ms, errors ${run.errors}` +
      `${run.firstError === undefined ? '' : ` (first: ${run.firstError})`}.`
    return {
      id: 'soak',
      title: `6. Soak: ${p.requests} sequential requests (app-server backend, Chat Completions and Responses)`,
      blocks: [summary, series, tail],
      ok: run.errors === 0 && last?.settled === 0 && fds.end <= fds.start + 2 && kids.end === kids.start && stored.max <= storeCap
    }
  } finally {
    await proxy.stop()
  }
}
