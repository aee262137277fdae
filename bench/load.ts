import { ask, clientAgent } from './http-client.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { cpuMs } from './procfs.js'
import { startProxy } from './proxy.js'
import { ms, summarize } from './stats.js'

// Non-streaming throughput at a fixed concurrency: `concurrency` clients, each sending its next
// request as soon as the previous one is answered, until `requests` have been sent.

export async function loadSection (lab: Lab, p: Profile['load']): Promise<SectionResult> {
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server' })
  try {
    const agent = clientAgent(p.concurrency)
    await Promise.all(Array.from({ length: p.concurrency }, async (_, i) => await ask(proxy.baseUrl, agent, `load warm-up ${i}`, { stream: false })))
    const workerPid = (await proxy.stats()).workerPids[0] ?? -1
    const cpu0 = { proxy: cpuMs(proxy.pid) ?? 0, worker: cpuMs(workerPid) ?? 0 }

    const latencies: number[] = []
    const statuses = new Map<string, number>()
    let next = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: p.concurrency }, async () => {
      for (let i = next++; i < p.requests; i = next++) {
        const res = await ask(proxy.baseUrl, agent, `load ${i}`, { stream: false })
        if (res.error === undefined && res.done) latencies.push(res.totalMs)
        else statuses.set(`${res.status} ${res.error ?? ''}`.trim(), (statuses.get(`${res.status} ${res.error ?? ''}`.trim()) ?? 0) + 1)
      }
    }))
    const wallMs = performance.now() - t0
    const cpu1 = { proxy: cpuMs(proxy.pid) ?? 0, worker: cpuMs(workerPid) ?? 0 }
    agent.destroy()

    const l = summarize(latencies)
    const errors = [...statuses.values()].reduce((a, b) => a + b, 0)
    const main = table(
      ['Requests', 'Concurrency', 'Wall s', 'Requests/s', 'Latency p50', 'p90', 'p99', 'max', 'Errors'],
      [[p.requests, p.concurrency, (wallMs / 1000).toFixed(2), (p.requests / wallMs * 1000).toFixed(1), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.max), errors]]
    )
    const cpu = table(['CPU per request (user + system)', 'ms'], [
      ['proxy process (Node)', ms((cpu1.proxy - cpu0.proxy) / p.requests)],
      ['app-server worker (Codex)', ms((cpu1.worker - cpu0.worker) / p.requests)]
    ])
    const blocks = [main, cpu]
    if (errors > 0) blocks.push(`Errors: ${[...statuses].map(([k, v]) => `${v} × ${k}`).join('; ')}`)
    return { id: 'load', title: `2. Non-stream throughput at concurrency ${p.concurrency} (app-server backend)`, blocks, ok: errors === 0 }
  } finally {
    await proxy.stop()
  }
}
