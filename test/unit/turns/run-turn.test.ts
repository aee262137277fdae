import { describe, expect, it } from 'vitest'
import { Admission } from '../../../src/turns/admission.js'
import { runTurn, type RunTurnOptions, type TurnLimits, type TurnOutcome } from '../../../src/turns/run-turn.js'
import { ApiError, rateLimited } from '../../../src/errors.js'
import type { BackendEvent, CodexBackend, CompletionRequest } from '../../../src/backends/types.js'
import { collect, rejectionOf, sleep } from '../support.js'
import { countPromptTokens } from '../../../src/tokens/prompt-tokens.js'

const REQUEST: CompletionRequest = {
  requestId: 'r1',
  model: undefined,
  effort: undefined,
  items: [{ type: 'message', role: 'user', content: [{ type: 'text', text: 'hi' }] }],
  tools: [],
  toolChoice: 'none',
  parallelToolCalls: true,
  outputFormat: undefined
}
const LIMITS: TurnLimits = { totalMs: 5000, ackMs: 2000, idleMs: 2000 }

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
async function wait (ms: number, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** A fake backend that plays `script` (events and delays) and records the signal it was given. */
function fakeBackend (script: Array<BackendEvent | number | Error>): { backend: Pick<CodexBackend, 'complete'>, seen: { signal?: AbortSignal, finished: boolean } } {
  const seen: { signal?: AbortSignal, finished: boolean } = { finished: false }
  return {
    seen,
    backend: {
      async * complete (_request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
        seen.signal = signal
        try {
          for (const step of script) {
            if (typeof step === 'number') await wait(step, signal)
            else if (step instanceof Error) throw step
            else yield step
          }
        } finally {
          seen.finished = true
        }
      }
    }
  }
}

function setup (script: Array<BackendEvent | number | Error>, extra: Partial<RunTurnOptions> = {}) {
  const { backend, seen } = fakeBackend(script)
  const admission = new Admission({ maxConcurrency: 1, maxQueue: 4, queueTimeoutMs: 5000 })
  const settled: TurnOutcome[] = []
  const client = new AbortController()
  const opts: RunTurnOptions = {
    backend, admission, limits: LIMITS, signal: client.signal, onSettled: (o) => { settled.push(o) }, ...extra
  }
  return { events: runTurn(REQUEST, opts), seen, admission, settled, client }
}

const TEXT_TURN: BackendEvent[] = [
  { type: 'started' },
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'abc' },
  { type: 'text', itemId: 'msg_1', text: 'hello' },
  { type: 'tool_call', id: 'c', name: 'fn', arguments: '{}' },
  { type: 'usage', usage: { promptTokens: 5, completionTokens: 7, totalTokens: 12 } },
  { type: 'done', finishReason: 'tool_calls' }
]

describe('runTurn', () => {
  it('passes the events through and settles once with 200', async () => {
    const { events, settled, admission, seen } = setup([{ type: 'started' }, 20, ...TEXT_TURN.slice(1)])
    expect(await collect(events)).toEqual(TEXT_TURN)
    expect(settled).toHaveLength(1)
    const o = settled[0] as TurnOutcome
    expect(o.status).toBe(200)
    expect(o.error).toBeUndefined()
    expect(o.usage).toEqual({ promptTokens: 5, completionTokens: 7, totalTokens: 12 })
    expect(o.finishReason).toBe('tool_calls')
    expect(o.usageSource).toBe('codex')
    expect(o.firstTokenMs).toBeGreaterThanOrEqual(15)
    expect(o.durationMs).toBeGreaterThanOrEqual(o.firstTokenMs ?? Infinity)
    // No other turn held the slot: the wait was only the admission itself, before the first token.
    expect(o.queuedMs).toBeLessThan(o.firstTokenMs ?? 0)
    expect(admission.stats().active).toBe(0)
    expect(seen.signal?.aborted).toBe(false)
  })

  it('leaves firstTokenMs undefined for a turn without tokens', async () => {
    const { events, settled } = setup([{ type: 'started' }, { type: 'done', finishReason: 'stop' }])
    await collect(events)
    expect(settled[0]?.firstTokenMs).toBeUndefined()
  })

  it('estimates the usage with the tokenizer when Codex reports none, before done', async () => {
    const { events, settled } = setup([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'Hello there, world!' }, { type: 'done', finishReason: 'stop' }])
    const got = await collect(events)
    const prompt = await countPromptTokens(REQUEST.items, REQUEST.tools)
    // o200k_base: "Hello", " there", ",", " world", "!"
    const usage = { promptTokens: prompt, completionTokens: 5, totalTokens: prompt + 5 }
    expect(got.slice(-2)).toEqual([{ type: 'usage', usage }, { type: 'done', finishReason: 'stop' }])
    expect(settled[0]).toMatchObject({ usage, usageSource: 'estimate' })
  })

  it('times out with a 504 when the backend never acknowledges, aborting its signal', async () => {
    const { events, settled, seen, admission } = setup([60_000], { limits: { totalMs: 5000, ackMs: 50, idleMs: 5000 } })
    const started = Date.now()
    const err = await rejectionOf(collect(events))
    expect(Date.now() - started).toBeLessThan(1000)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).statusCode).toBe(504)
    expect((err as ApiError).kind).toBe('timeout')
    expect((err as ApiError).code).toBe('timeout')
    expect((err as ApiError).message).toContain('did not acknowledge')
    expect(seen.signal?.aborted).toBe(true)
    expect(seen.finished).toBe(true)
    expect(settled).toHaveLength(1)
    expect(settled[0]?.status).toBe(504)
    expect(settled[0]?.error).toBe(err)
    expect(admission.stats().active).toBe(0)
  })

  it('times out with a 504 on silence between events', async () => {
    const { events, settled, seen } = setup([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'a' }, 60_000], { limits: { totalMs: 5000, ackMs: 5000, idleMs: 50 } })
    const got: BackendEvent[] = []
    const err = await rejectionOf((async () => { for await (const e of events) got.push(e) })())
    expect(got).toEqual([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'a' }])
    expect((err as ApiError).statusCode).toBe(504)
    expect((err as ApiError).message).toContain('was silent for 50 ms')
    expect(seen.signal?.aborted).toBe(true)
    expect(settled.map((o) => o.status)).toEqual([504])
  })

  it('does not count a slow consumer as backend silence', async () => {
    const { events, settled } = setup([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'a' }, { type: 'done', finishReason: 'stop' }], { limits: { totalMs: 5000, ackMs: 5000, idleMs: 40 } })
    const got: BackendEvent[] = []
    for await (const e of events) {
      got.push(e)
      await sleep(80)
    }
    // started, text, the estimated usage, done
    expect(got).toHaveLength(4)
    expect(settled.map((o) => o.status)).toEqual([200])
  })

  it('times out with a 504 after the total limit even while events keep coming', async () => {
    const script: Array<BackendEvent | number> = [{ type: 'started' }]
    for (let i = 0; i < 200; i++) script.push(10, { type: 'text', itemId: 'msg_1', text: 'x' })
    const { events, settled, seen } = setup(script, { limits: { totalMs: 120, ackMs: 5000, idleMs: 5000 } })
    const err = await rejectionOf(collect(events))
    expect((err as ApiError).statusCode).toBe(504)
    expect((err as ApiError).message).toContain('PROXY_TIMEOUT_MS')
    expect(seen.signal?.aborted).toBe(true)
    expect(settled[0]?.status).toBe(504)
    // What was produced before the timeout is still counted (one token per "x").
    expect(settled[0]?.usageSource).toBe('estimate')
    expect(settled[0]?.usage?.completionTokens).toBeGreaterThan(0)
  })

  it('settles with 499 and aborts the backend when the client aborts', async () => {
    const { events, settled, seen, client, admission } = setup([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'a' }, 60_000])
    const iterator = events[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toEqual({ type: 'started' })
    expect((await iterator.next()).value).toEqual({ type: 'text', itemId: 'msg_1', text: 'a' })
    const pending = iterator.next()
    const reason = new Error('client went away')
    client.abort(reason)
    expect(await rejectionOf(pending)).toBe(reason)
    expect(seen.signal?.aborted).toBe(true)
    expect(seen.signal?.reason).toBe(reason)
    expect(settled).toHaveLength(1)
    expect(settled[0]?.status).toBe(499)
    expect(settled[0]?.error).toBeUndefined()
    expect(admission.stats().active).toBe(0)
  })

  it('rethrows a backend ApiError and settles with its status', async () => {
    const quota = rateLimited('Codex usage limit reached.', 60, 'insufficient_quota')
    const { events, settled, admission } = setup([{ type: 'started' }, quota])
    expect(await rejectionOf(collect(events))).toBe(quota)
    expect(settled).toHaveLength(1)
    expect(settled[0]?.status).toBe(429)
    expect(settled[0]?.error).toBe(quota)
    expect(admission.stats().active).toBe(0)
  })

  it('turns an unknown backend error into a 500 internal_error', async () => {
    const { events, settled } = setup([new TypeError('oops')])
    const err = await rejectionOf(collect(events))
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).statusCode).toBe(500)
    expect((err as ApiError).code).toBe('internal_error')
    expect((err as ApiError).message).not.toContain('oops')
    expect(settled[0]?.status).toBe(500)
  })

  it('names the request in a 5xx the backend shares between turns (a dead worker\'s), not in a 4xx', async () => {
    const shared = new ApiError(502, 'Codex app-server exited with code 1; details in the server log', { kind: 'server', code: 'codex_exited' })
    const a = await rejectionOf(collect(setup([{ type: 'started' }, shared]).events)) as ApiError
    expect(a.message).toBe('Codex app-server exited with code 1; details in the server log (request r1).')
    expect([a.statusCode, a.code, a.kind]).toEqual([502, 'codex_exited', 'server'])
    expect(shared.message).not.toContain('r1')
    const named = new ApiError(502, 'Codex failed (request r1).', { kind: 'server', code: 'codex_error' })
    expect(await rejectionOf(collect(setup([named]).events))).toBe(named)
    const refused = new ApiError(400, 'The upstream model API refused the request.', { kind: 'invalid_request', code: 'upstream_bad_request' })
    expect(await rejectionOf(collect(setup([refused]).events))).toBe(refused)
  })

  it('aborts the backend and releases the slot when the consumer stops early', async () => {
    const { events, settled, seen, admission } = setup([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'a' }, { type: 'text', itemId: 'msg_1', text: 'b' }, { type: 'done', finishReason: 'stop' }])
    const iterator = events[Symbol.asyncIterator]()
    await iterator.next()
    expect(admission.stats().active).toBe(1)
    expect(await iterator.return?.(undefined)).toEqual({ value: undefined, done: true })
    expect(seen.signal?.aborted).toBe(true)
    expect(seen.finished).toBe(true)
    expect(admission.stats().active).toBe(0)
    expect(settled).toHaveLength(1)
  })

  it('waits for a slot, and a queued turn settles 499 when its client leaves', async () => {
    const first = setup([{ type: 'started' }, 60_000])
    const it1 = first.events[Symbol.asyncIterator]()
    await it1.next()
    const { backend, seen } = fakeBackend([{ type: 'done', finishReason: 'stop' }])
    const settled: TurnOutcome[] = []
    const client = new AbortController()
    const queued = runTurn(REQUEST, { backend, admission: first.admission, limits: LIMITS, signal: client.signal, onSettled: (o) => { settled.push(o) } })
    const pending = collect(queued)
    await sleep(10)
    expect(first.admission.stats().queued).toBe(1)
    client.abort(new Error('bye'))
    await rejectionOf(pending)
    expect(seen.signal).toBeUndefined()
    expect(settled.map((o) => o.status)).toEqual([499])
    expect(first.admission.stats().queued).toBe(0)
    await it1.return?.(undefined)
    expect(first.admission.stats().active).toBe(0)
  })

  it('settles with 429 when the queue is full', async () => {
    const admission = new Admission({ maxConcurrency: 1, maxQueue: 0, queueTimeoutMs: 1000 })
    const hold = await admission.acquire(new AbortController().signal)
    const settled: TurnOutcome[] = []
    const { backend } = fakeBackend([{ type: 'done', finishReason: 'stop' }])
    const err = await rejectionOf(collect(runTurn(REQUEST, { backend, admission, limits: LIMITS, signal: new AbortController().signal, onSettled: (o) => { settled.push(o) } })))
    expect((err as ApiError).statusCode).toBe(429)
    expect(settled.map((o) => o.status)).toEqual([429])
    hold()
  })
})
