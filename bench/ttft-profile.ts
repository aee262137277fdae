import { startDirect } from './direct-process.js'
import { ask, clientAgent } from './http-client.js'
import type { Lab } from './lab.js'
import { table } from './markdown.js'
import { startProxy, type RequestMarks } from './proxy.js'
import { ms, summarize } from './stats.js'

// Where the proxy's time to first token goes: a separate pass with BENCH_PROFILE=1 (timestamps
// on the machine-wide monotonic clock in the client and in the proxy), next to the same steps
// of a warm app-server driven directly. Separate from the headline numbers, because the
// instrumentation itself costs a little.

type Segment = readonly [label: string, from: keyof Marks, to: keyof Marks]
interface Marks extends Required<RequestMarks> { sent: number, received: number }

const SEGMENTS: readonly Segment[] = [
  ['client write → proxy has the headers (loopback, HTTP parse)', 'sent', 'request'],
  ['→ backend.complete() called (body, validation, auth, translation, admission)', 'request', 'complete'],
  ['→ turn started (thread/start + turn/start round trips)', 'complete', 'started'],
  ['→ first text delta out of the backend (Codex → upstream → delta)', 'started', 'firstText'],
  ['→ first response write (prefetch, chunk, SSE frame, headers)', 'firstText', 'firstWrite'],
  ['→ client has the first content (loopback, client parse)', 'firstWrite', 'received']
]

export async function ttftProfile (lab: Lab, n: number): Promise<string> {
  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server', BENCH_PROFILE: '1' })
  const direct = await startDirect(lab).catch(async (err: unknown) => { await proxy.stop(); throw err })
  const samples: Marks[] = []
  const directStarted: number[] = []
  const directDelta: number[] = []
  try {
    const agent = clientAgent(1)
    for (let i = 0; i < 5; i++) {
      await ask(proxy.baseUrl, agent, `profile warm-up ${i}`, { stream: true })
      await direct.turn(`profile warm-up ${i}`)
    }
    await proxy.marks()
    const sent = new Map<string, { sent: number, received: number }>()
    for (let i = 0; i < n; i++) {
      const id = `bench-profile-${i}`
      const res = await ask(proxy.baseUrl, agent, `profile ${i}`, { stream: true, headers: { 'x-request-id': id } })
      if (res.ttftMs !== undefined && res.error === undefined) sent.set(id, { sent: res.sentAtClock, received: res.sentAtClock + res.ttftMs })
      const d = await direct.turn(`profile ${i}`)
      if (d.error === undefined && d.ttftMs !== undefined) {
        directStarted.push(d.startedMs)
        directDelta.push(d.ttftMs - d.startedMs)
      }
    }
    const marks = await proxy.marks()
    for (const [id, client] of sent) {
      const m = marks[id]
      if (m?.request === undefined || m.complete === undefined || m.started === undefined || m.firstText === undefined || m.firstWrite === undefined) continue
      samples.push({ request: m.request, complete: m.complete, started: m.started, firstText: m.firstText, firstWrite: m.firstWrite, ...client })
    }
    agent.destroy()
  } finally {
    await direct.stop()
    await proxy.stop()
  }
  const seg = (from: keyof Marks, to: keyof Marks): number[] => samples.map((s) => s[to] - s[from])
  const directLine = (label: string, values: number[]): [string, string, string] => [label, ms(summarize(values).p50), ms(summarize(values).p90)]
  return table(['Step (profiled pass, n = ' + String(samples.length) + ')', 'p50 ms', 'p90 ms'], [
    ...SEGMENTS.map(([label, from, to]) => {
      const s = summarize(seg(from, to))
      return [label, ms(s.p50), ms(s.p90)]
    }),
    ['= client-side TTFT through the proxy', ms(summarize(seg('sent', 'received')).p50), ms(summarize(seg('sent', 'received')).p90)],
    ['proxy-only steps (all but the two Codex rows)', ms(summarize(samples.map((s) => (s.received - s.sent) - (s.firstText - s.complete))).p50), ms(summarize(samples.map((s) => (s.received - s.sent) - (s.firstText - s.complete))).p90)],
    directLine('direct app-server: thread/start sent → turn/start answered', directStarted),
    directLine('direct app-server: turn/start answered → first delta', directDelta)
  ])
}
