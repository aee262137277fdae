import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { BackendEvent, CodexBackend, CompletionRequest } from '../../../src/backends/types.js'
import { loadConfig } from '../../../src/config.js'
import { Admission } from '../../../src/turns/admission.js'
import { TurnPipeline } from '../../../src/turns/pipeline.js'
import type { TurnPlan } from '../../../src/turns/plan.js'
import type { TurnOutcome } from '../../../src/turns/run-turn.js'
import { UsageLedger, type UsageEvent } from '../../../src/usage/ledger.js'
import { collect, fakeLogger } from '../support.js'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async (d) => await rm(d, { recursive: true, force: true }))) })

function backend (events: BackendEvent[]): CodexBackend & { seen: CompletionRequest[] } {
  const seen: CompletionRequest[] = []
  return {
    kind: 'app-server',
    capabilities: { tools: true, images: true, structuredOutput: true },
    seen,
    async start () {},
    health: () => ({ ready: true }),
    async models () { return [] },
    async * complete (req) { seen.push(req); for (const e of events) yield e },
    async close () {}
  }
}

async function setup (events: BackendEvent[]): Promise<{ pipeline: TurnPipeline, ledger: UsageLedger, observed: Array<[TurnOutcome, UsageEvent]>, seen: CompletionRequest[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'cca-pipeline-'))
  dirs.push(dir)
  const config = loadConfig({ TOKEN_LOG_PATH: join(dir, 'usage.ndjson'), CODEX_HOME: dir })
  const ledger = new UsageLedger(config.TOKEN_LOG_PATH, fakeLogger().log)
  const observed: Array<[TurnOutcome, UsageEvent]> = []
  const b = backend(events)
  const pipeline = new TurnPipeline({
    config,
    backend: b,
    admission: new Admission({ maxConcurrency: 2, maxQueue: 2, queueTimeoutMs: 1000 }),
    ledger,
    usageAdmins: new Set(['default']),
    observe: (outcome, event) => { observed.push([outcome, event]) }
  })
  return { pipeline, ledger, observed, seen: b.seen }
}

const plan = (text: string, dialect: TurnPlan['dialect'] = 'messages'): TurnPlan => ({
  dialect,
  requestedModel: 'claude-sonnet-x',
  effectiveModel: 'default',
  stream: true,
  request: { requestId: 'r1', model: undefined, effort: undefined, items: [{ type: 'message', role: 'user', content: [{ type: 'text', text }] }], tools: [], toolChoice: 'auto', parallelToolCalls: true, outputFormat: undefined }
})
const caller = { requestId: 'r1', route: '/v1/messages', method: 'POST', keyName: 'alice', userAgent: 'ua', signal: new AbortController().signal }

describe('TurnPipeline', () => {
  it('writes one ledger line per turn with the route, dialect, key name and the model Codex ran', async () => {
    const { pipeline, ledger, observed } = await setup([
      { type: 'started', model: 'gpt-9' },
      { type: 'text', itemId: 'm', text: 'hi' },
      { type: 'usage', usage: { promptTokens: 10, completionTokens: 2, totalTokens: 12, cachedTokens: 4 } },
      { type: 'done', finishReason: 'stop' }
    ])
    const turn = await pipeline.start(plan('hello'), caller)
    expect(await collect(turn.events)).toHaveLength(4)
    const [line] = await ledger.index.recent(5)
    expect(line).toMatchObject({
      route: '/v1/messages',
      dialect: 'messages',
      key_name: 'alice',
      requested_model: 'claude-sonnet-x',
      effective_model: 'gpt-9',
      stream: true,
      status: 200,
      prompt_tokens_est: 10,
      completion_tokens_est: 2,
      cached_tokens: 4,
      usage_source: 'codex',
      request_id: 'r1'
    })
    expect(observed).toHaveLength(1)
    expect(observed[0]?.[1]).toEqual(line)
  })

  it('answers a usage query from the ledger in any dialect, without the backend', async () => {
    const { pipeline, seen, ledger } = await setup([{ type: 'started' }, { type: 'done', finishReason: 'stop' }])
    const turn = await pipeline.start(plan('usage today', 'chat'), caller)
    const events = await collect(await turn.ready())
    expect(events.some((e) => e.type === 'text' && e.text.startsWith('Usage from'))).toBe(true)
    expect(seen).toHaveLength(0)
    expect((await ledger.index.recent(1))[0]?.effective_model).toBe('usage-query')
  })

  it('hands the parser what it needs to know about the server', async () => {
    const { pipeline } = await setup([])
    expect(await pipeline.context('req-9')).toEqual({
      requestId: 'req-9', codexModels: [], configuredModel: undefined
    })
  })
})
