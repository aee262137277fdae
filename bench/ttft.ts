import type { DirectTurn } from './app-server-direct.js'
import { startDirect } from './direct-process.js'
import { execArgsFor, runExec, type ExecRun } from './exec-direct.js'
import { DIALECT_PROBES } from './dialect-probes.js'
import { ask, clientAgent, type AskResult } from './http-client.js'
import type { Lab } from './lab.js'
import { table, type SectionResult } from './markdown.js'
import { histogramTotals } from './metrics.js'
import { ttftProfile } from './ttft-profile.js'
import type { Profile } from './options.js'
import { rssKb } from './procfs.js'
import { startProxy } from './proxy.js'
import { mb, medianCI, ms, summarize } from './stats.js'

// Time to first token and to completion, six ways, measured in the same run: the proxy on the
// app-server backend (through Chat Completions, the Responses API and the Messages API), a warm
// app-server driven directly, `codex exec` per request spawned directly, and the proxy on the exec
// backend. Pairs are interleaved (and their order alternates)
// so that machine noise falls on both sides alike.

interface Row { label: string, ttft: number[], done: number[], errors: number, doneLabel: string }

const row = (label: string, doneLabel: string): Row => ({ label, ttft: [], done: [], errors: 0, doneLabel })

function addAsk (r: Row, res: AskResult): void {
  if (res.error !== undefined || res.ttftMs === undefined) { r.errors++; return }
  r.ttft.push(res.ttftMs)
  r.done.push(res.totalMs)
}

function addDirect (r: Row, res: DirectTurn): void {
  if (res.error !== undefined || res.ttftMs === undefined) { r.errors++; return }
  r.ttft.push(res.ttftMs)
  r.done.push(res.doneMs)
}

function addExec (r: Row, res: ExecRun): void {
  if (res.error !== undefined || res.ttftMs === undefined) { r.errors++; return }
  r.ttft.push(res.ttftMs)
  r.done.push(res.exitMs)
}

const secondsToMs = (t: { sum: number, count: number }): number => (t.count === 0 ? Number.NaN : t.sum * 1000 / t.count)

export async function ttftSection (lab: Lab, p: Profile['ttft']): Promise<SectionResult> {
  const proxyRow = row('proxy → app-server (stream)', '`[DONE]`')
  // The other dialects, each timed beside a chat request of the same iteration.
  const others = (['responses', 'messages'] as const).map((dialect) => ({
    dialect,
    row: row(`proxy → app-server, \`${DIALECT_PROBES[dialect].path}\` (stream)`, DIALECT_PROBES[dialect].doneLabel),
    diffs: [] as number[]
  }))
  const directRow = row('app-server direct (JSON-RPC)', '`turn/completed`')
  const execRow = row('`codex exec` per request (direct spawn)', 'process exit')
  const proxyExecRow = row('proxy → exec backend (stream)', '`[DONE]`')
  const pairDiffs: number[] = []
  const unsubscribe: number[] = []
  const execPeaks: number[] = []
  let workerRss: number | undefined
  let serverTtft = Number.NaN

  const proxy = await startProxy(lab, { CODEX_BACKEND: 'app-server' })
  const direct = await startDirect(lab).catch(async (err: unknown) => { await proxy.stop(); throw err })
  try {
    const agent = clientAgent(1)
    const viaProxy = async (i: number): Promise<AskResult> => await ask(proxy.baseUrl, agent, `ttft probe ${i}`, { stream: true })
    const viaOthers = async (i: number, order: 1 | -1): Promise<AskResult[]> => {
      const results: AskResult[] = []
      const list = order === 1 ? others : [...others].reverse()
      for (const o of list) results.push(await ask(proxy.baseUrl, agent, `ttft probe ${i}`, { stream: true, dialect: o.dialect }))
      return order === 1 ? results : results.reverse()
    }
    for (let i = 0; i < p.warmup; i++) {
      await viaProxy(-i)
      await viaOthers(-i, 1)
      await direct.turn(`ttft warm-up ${i}`)
    }
    const before = await histogramTotals(proxy.baseUrl, 'codex_api_time_to_first_token_seconds')
    for (let i = 0; i < p.n; i++) {
      let a: AskResult
      let b: DirectTurn
      let r: AskResult[]
      if (i % 2 === 0) {
        a = await viaProxy(i)
        r = await viaOthers(i, 1)
        b = await direct.turn(`ttft probe ${i}`)
      } else {
        b = await direct.turn(`ttft probe ${i}`)
        r = await viaOthers(i, -1)
        a = await viaProxy(i)
      }
      addAsk(proxyRow, a)
      others.forEach((o, j) => {
        const res = r[j] as AskResult
        addAsk(o.row, res)
        if (a.ttftMs !== undefined && res.ttftMs !== undefined) o.diffs.push(res.ttftMs - a.ttftMs)
      })
      addDirect(directRow, b)
      if (a.ttftMs !== undefined && b.ttftMs !== undefined) pairDiffs.push(a.ttftMs - b.ttftMs)
      if (Number.isFinite(b.cleanupMs)) unsubscribe.push(b.cleanupMs - b.doneMs)
    }
    const after = await histogramTotals(proxy.baseUrl, 'codex_api_time_to_first_token_seconds')
    serverTtft = secondsToMs({ sum: after.sum - before.sum, count: after.count - before.count })
    const workerPid = (await proxy.stats()).workerPids[0]
    workerRss = workerPid === undefined ? undefined : rssKb(workerPid)
    agent.destroy()
  } finally {
    await direct.stop()
    await proxy.stop()
  }

  const proxyExec = await startProxy(lab, { CODEX_BACKEND: 'exec' })
  try {
    const spec = await execArgsFor(lab)
    const agent = clientAgent(1)
    for (let i = 0; i < p.execWarmup; i++) {
      await runExec(lab, spec, `exec warm-up ${i}`)
      await ask(proxyExec.baseUrl, agent, `exec warm-up ${i}`, { stream: true })
    }
    for (let i = 0; i < p.execN; i++) {
      const order = i % 2 === 0
      if (order) addAsk(proxyExecRow, await ask(proxyExec.baseUrl, agent, `exec probe ${i}`, { stream: true }))
      const run = await runExec(lab, spec, `exec probe ${i}`)
      addExec(execRow, run)
      if (run.peakKb !== undefined) execPeaks.push(run.peakKb)
      if (!order) addAsk(proxyExecRow, await ask(proxyExec.baseUrl, agent, `exec probe ${i}`, { stream: true }))
    }
    agent.destroy()
  } finally {
    await proxyExec.stop()
  }

  const profile = await ttftProfile(lab, Math.max(10, Math.round(p.n / 2)))

  const rows = [proxyRow, ...others.map((o) => o.row), directRow, execRow, proxyExecRow]
  const timing = table(
    ['Path', 'n', 'TTFT p50', 'TTFT p90', 'TTFT p99', 'Complete at', 'Complete p50', 'Complete p90', 'Complete p99', 'Errors'],
    rows.map((r) => {
      const t = summarize(r.ttft)
      const d = summarize(r.done)
      return [r.label, t.n, ms(t.p50), ms(t.p90), ms(t.p99), r.doneLabel, ms(d.p50), ms(d.p90), ms(d.p99), r.errors]
    })
  )

  const proxyT = summarize(proxyRow.ttft)
  const directT = summarize(directRow.ttft)
  const execT = summarize(execRow.ttft)
  const added = proxyT.p50 - directT.p50
  const pairedAdded = summarize(pairDiffs).p50
  const [ciLow, ciHigh] = medianCI(pairDiffs)
  const speedup = execT.p50 / proxyT.p50
  const viaExecBackend = summarize(proxyExecRow.ttft).p50 / proxyT.p50
  const addedOk = added < 5
  const speedOk = speedup >= 10
  // Judged on the paired differences (each request beside a chat one in the same iteration), by
  // the upper end of their median's 95 % interval: p50 − p50 of two noisy series moves by more
  // than 5 % between runs on its own.
  const share = (d: number): string => `${(d / proxyT.p50 * 100).toFixed(1)} %`
  const dialectGoals = others.map((o) => {
    const [low, high] = medianCI(o.diffs)
    const median = summarize(o.diffs).p50
    const ok = high / proxyT.p50 <= 0.05
    return {
      ok,
      line: [
        `\`${DIALECT_PROBES[o.dialect].path}\` TTFT within 5 % of \`/v1/chat/completions\` (paired)`,
        `median of the ${o.diffs.length} paired differences ${ms(median)} ms = ${share(median)} of the chat p50 (95 % CI ${ms(low)} … ${ms(high)} ms, at most ${share(high)}); p50 ${ms(summarize(o.row.ttft).p50)} vs ${ms(proxyT.p50)} ms`,
        ok ? 'yes' : '**no**'
      ]
    }
  })
  const goals = table(['Goal', 'Measured', 'Met'], [
    ['proxy adds < 5 ms p50 TTFT over a warm app-server', `${ms(added)} ms (p50 − p50); median of the ${pairDiffs.length} paired differences ${ms(pairedAdded)} ms (95 % CI ${ms(ciLow)} … ${ms(ciHigh)})`, addedOk ? 'yes' : '**no**'],
    ...dialectGoals.map((g) => g.line),
    ['≥ 10× faster to first token than a process per request', `${speedup.toFixed(1)}× (exec spawned directly: p50 ${ms(execT.p50)} ms / proxy p50 ${ms(proxyT.p50)} ms); ${viaExecBackend.toFixed(1)}× against the proxy's own exec backend`, speedOk ? 'yes' : '**no**']
  ])
  const where = table(['Where the proxy\'s first token comes from (means)', 'ms'], [
    ['client-side TTFT through the proxy', ms(proxyT.mean)],
    ['inside the proxy: runTurn started → first text (metric `codex_api_time_to_first_token_seconds`)', ms(serverTtft)],
    ['HTTP in + request handling + SSE out (difference)', ms(proxyT.mean - serverTtft)],
    ['direct app-server TTFT', ms(directT.mean)],
    ['direct: turn/completed → thread/unsubscribe answered (p50; the proxy sends `[DONE]` after it)', ms(summarize(unsubscribe).p50)]
  ])
  const memory = table(['Process cost', 'RSS MB'], [
    ['app-server worker (one, shared by all requests), after the run', mb(workerRss)],
    [`\`codex exec\` per request, peak (p50 of ${execPeaks.length})`, mb(summarize(execPeaks).p50)]
  ])
  return {
    id: 'ttft',
    title: '1. Time to first token and to completion (sequential, streaming)',
    blocks: [timing, goals, where, profile, memory],
    ok: rows.every((r) => r.errors === 0)
  }
}
