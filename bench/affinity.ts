import type { History } from './dialect-probes.js'
import { ask, clientAgent } from './http-client.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import type { Profile } from './options.js'
import { cpuMs, rssKb } from './procfs.js'
import { BENCH_KEY, startProxy, type ProxyProcess } from './proxy.js'
import { flatness } from './sequential.js'
import { mb, ms, summarize } from './stats.js'

// One Codex thread per conversation, against a thread per request, in the same run: a
// conversation of `rounds` rounds whose history reaches ~historyKb (a long system prompt, as IDE
// agents send, plus the answers), run alternately on a proxy with affinity (the default) and on
// one with PROXY_CONVERSATION_AFFINITY=false. Per round: time to first token at the client, and
// the CPU time the Codex worker spent (the history it parses, injects and serializes). Then the
// memory of holding conversations: many two-round conversations on one proxy, sampled as the
// held count reaches its cap.

const LOREM = 'You are a careful coding agent. Follow the project conventions, explain briefly, and prefer small changes. '

interface RoundSample { ttft: number[], cpu: number[], errors: number }

async function roundCounts (proxy: ProxyProcess): Promise<{ continued: number, fresh: number }> {
  const res = await fetch(`${proxy.baseUrl}/metrics`, { headers: { authorization: `Bearer ${BENCH_KEY}` } })
  let continued = 0
  let fresh = 0
  for (const line of (await res.text()).split('\n')) {
    if (!line.startsWith('codex_api_conversation_rounds_total{')) continue
    const value = Number(line.split(' ').at(-1))
    if (line.includes('result="continued"')) continued += value
    else fresh += value
  }
  return { continued, fresh }
}

export async function affinitySection (lab: Lab, p: Profile['affinity']): Promise<SectionResult> {
  // Most of the history up front, as a system prompt; each round adds a question and its answer.
  const system = LOREM.repeat(Math.ceil(p.historyKb * 1024 * 0.8 / LOREM.length))
  const question = (c: number, r: number): string => `Conversation ${c}, round ${r}: ${'please look at the next part of the change and tell me what you think. '.repeat(5)}`
  const on: RoundSample[] = Array.from({ length: p.rounds }, () => ({ ttft: [], cpu: [], errors: 0 }))
  const off: RoundSample[] = Array.from({ length: p.rounds }, () => ({ ttft: [], cpu: [], errors: 0 }))
  let historyBytes = 0
  let counts = { continued: 0, fresh: 0 }

  const withAffinity = await startProxy(lab, { CODEX_BACKEND: 'app-server' })
  const without = await startProxy(lab, { CODEX_BACKEND: 'app-server', PROXY_CONVERSATION_AFFINITY: 'false' }).catch(async (err: unknown) => { await withAffinity.stop(); throw err })
  try {
    const agent = clientAgent(1)
    const conversation = async (proxy: ProxyProcess, samples: RoundSample[], c: number): Promise<void> => {
      const worker = (await proxy.stats()).workerPids[0]
      const history: Array<History[number]> = [{ role: 'system', content: system }]
      for (let r = 0; r < p.rounds; r++) {
        const prompt = question(c, r)
        const before = worker === undefined ? undefined : cpuMs(worker)
        const res = await ask(proxy.baseUrl, agent, prompt, { stream: true, history })
        const after = worker === undefined ? undefined : cpuMs(worker)
        const sample = samples[r] as RoundSample
        if (res.error !== undefined || res.ttftMs === undefined) sample.errors += 1
        else sample.ttft.push(res.ttftMs)
        if (before !== undefined && after !== undefined) sample.cpu.push(after - before)
        history.push({ role: 'user', content: prompt }, { role: 'assistant', content: res.content })
      }
      historyBytes = Buffer.byteLength(JSON.stringify(history))
    }
    // A warm-up conversation on each, then the measured ones, alternating which goes first.
    await conversation(withAffinity, Array.from({ length: p.rounds }, () => ({ ttft: [], cpu: [], errors: 0 })), -1)
    await conversation(without, Array.from({ length: p.rounds }, () => ({ ttft: [], cpu: [], errors: 0 })), -1)
    const baseline = await roundCounts(withAffinity)
    for (let c = 0; c < p.conversations; c++) {
      if (c % 2 === 0) {
        await conversation(withAffinity, on, c)
        await conversation(without, off, c)
      } else {
        await conversation(without, off, c)
        await conversation(withAffinity, on, c)
      }
    }
    const end = await roundCounts(withAffinity)
    counts = { continued: end.continued - baseline.continued, fresh: end.fresh - baseline.fresh }
    agent.destroy()
  } finally {
    await without.stop()
    await withAffinity.stop()
  }

  const rows = on.map((s, r) => {
    const o = off[r] as RoundSample
    return [r + 1, ms(summarize(s.ttft).p50), ms(summarize(o.ttft).p50), ms(summarize(s.cpu).p50), ms(summarize(o.cpu).p50), s.errors + o.errors]
  })
  const later = (samples: RoundSample[], pick: (s: RoundSample) => number[]): number[] => samples.slice(1).flatMap(pick)
  const ttftOn = summarize(later(on, (s) => s.ttft))
  const ttftOff = summarize(later(off, (s) => s.ttft))
  const cpuOn = summarize(later(on, (s) => s.cpu))
  const cpuOff = summarize(later(off, (s) => s.cpu))
  const perRound = table(['Round', 'TTFT p50, affinity (ms)', 'TTFT p50, thread per request (ms)', 'Codex CPU p50, affinity (ms)', 'Codex CPU p50, thread per request (ms)', 'Errors'], rows)
  const summary = table(['Rounds 2 … ' + String(p.rounds), 'Affinity (default)', 'Thread per request', 'Difference'], [
    ['TTFT p50 / p90 ms', `${ms(ttftOn.p50)} / ${ms(ttftOn.p90)}`, `${ms(ttftOff.p50)} / ${ms(ttftOff.p90)}`, `${ms(ttftOn.p50 - ttftOff.p50)} ms p50`],
    ['Codex worker CPU per round, p50 / mean ms', `${ms(cpuOn.p50)} / ${ms(cpuOn.mean)}`, `${ms(cpuOff.p50)} / ${ms(cpuOff.mean)}`, `${ms(cpuOn.mean - cpuOff.mean)} ms mean`],
    ['Rounds continued on a held thread / fresh (affinity proxy)', `${counts.continued} / ${counts.fresh}`, '– (always fresh)', '']
  ])

  // Memory of held conversations, as their number reaches the cap.
  const memory: Array<{ done: number, held: number, workerKb: number | undefined, proxyKb: number | undefined }> = []
  const holder = await startProxy(lab, { CODEX_BACKEND: 'app-server', PROXY_CONVERSATIONS_MAX: String(p.cap) })
  let memoryErrors = 0
  try {
    const agent = clientAgent(1)
    const sample = async (done: number): Promise<void> => {
      const stats = await holder.stats({ gc: true })
      const worker = stats.workerPids[0]
      memory.push({ done, held: stats.conversations?.held ?? 0, workerKb: worker === undefined ? undefined : rssKb(worker), proxyKb: rssKb(holder.pid) })
    }
    await sample(0)
    for (let c = 1; c <= p.held; c++) {
      const first = await ask(holder.baseUrl, agent, `held ${c} first`, { stream: false })
      const second = await ask(holder.baseUrl, agent, `held ${c} second`, { stream: false, history: [{ role: 'user', content: `held ${c} first` }, { role: 'assistant', content: first.content }] })
      if (first.error !== undefined || second.error !== undefined) memoryErrors += 1
      if (c % p.heldEvery === 0 || c === p.held) await sample(c)
    }
    agent.destroy()
  } finally {
    await holder.stop()
  }
  const memoryTable = table(['Conversations done (2 rounds each)', 'Held', 'Worker RSS MB', 'Proxy RSS MB'], memory.map((m) => [m.done, m.held, mb(m.workerKb), mb(m.proxyKb)]))
  const capped = memory.filter((m) => m.held >= p.cap)
  const worker = flatness(capped.map((m) => m.workerKb))
  const tail = `History at the last round: ${(historyBytes / 1024).toFixed(1)} KB as JSON. ${p.conversations} measured conversations of ${p.rounds} rounds on each proxy (streaming chat completions, one worker each). ` +
    `Memory: ${p.held} conversations with PROXY_CONVERSATIONS_MAX=${p.cap}; once the cap was reached the worker's RSS went from ${mb(worker.start)} to ${mb(worker.end)} MB (max ${mb(worker.max)}); ${memoryErrors} errors.`
  const roundErrors = [...on, ...off].reduce((n, s) => n + s.errors, 0)
  return {
    id: 'affinity',
    title: `7. One thread per conversation: ${p.rounds} rounds of ~${p.historyKb} KB, affinity on and off; ${p.held} held conversations`,
    blocks: [summary, perRound, memoryTable, tail],
    ok: roundErrors === 0 && memoryErrors === 0 && counts.continued === p.conversations * (p.rounds - 1) && memory.every((m) => m.held <= p.cap)
  }
}
