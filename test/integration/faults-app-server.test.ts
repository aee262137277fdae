import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { liveChildren } from '../../src/backends/child-process.js'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { processAlive, startFakeAppServerApp, type FakeAppServerApp, type Received } from '../helpers/fake-app-server.js'
import { captureLogs } from '../helpers/log-capture.js'
import { expectChildrenBackTo, expectEnvelope, openStream, postChat, readUsageLog, recordingBackend, sseData, userMessage, type Chunk, type Envelope, type StreamResult } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

// Faults of the default (app-server) backend: a worker that prints garbage, hangs, goes silent in
// a turn, crashes mid-answer or floods stderr (the fake app-server, test/fixtures/fake-app-server.mjs,
// run by the real backend through CODEX_BIN); the real Codex against an upstream that hangs;
// shutdown with streams open; an unwritable usage log; admission control and the per-key rate
// limit. Every test fails if the behaviour it names breaks. The proto-backend faults are in
// faults.test.ts, a killed real worker in app-server.test.ts, start-up problems in
// app-server-startup.test.ts.

const QUESTION = 'one two three four five six'
const chat = (stream: boolean, text = QUESTION): Record<string, unknown> => ({ model: 'codex-5', messages: userMessage(text), stream })

/** Content of the chunks of a stream, joined. */
const contentOf = (frames: unknown[]): string => (frames as Chunk[]).map((c) => c.choices?.[0]?.delta.content ?? '').join('')

/** A stream that failed after its headers: 200, role chunk first, no finish, one error frame, then [DONE]. */
function expectErrorFrame (res: StreamResult, expected: Partial<Envelope['error']>): { error: Envelope['error'], content: string } {
  expect(res.status).toBe(200)
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
  expect(res.doneIndex).toBe(res.dataCount - 1)
  const frames = res.frames
  const error = expectEnvelope(frames.at(-1), expected)
  const chunks = frames.slice(0, -1) as Chunk[]
  expect(chunks.length).toBeGreaterThan(0)
  expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
  expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true)
  expect(frames.filter((f) => typeof f === 'object' && f !== null && 'error' in f)).toHaveLength(1)
  return { error, content: contentOf(chunks) }
}

/** A request that failed before any byte was sent: the real status and the JSON envelope. */
function expectJsonError (res: StreamResult, status: number, expected: Partial<Envelope['error']>): Envelope['error'] {
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/json/)
  return expectEnvelope(JSON.parse(res.raw), expected)
}

function expectAnswer (res: StreamResult, stream: boolean, text = QUESTION): void {
  expect(res.status).toBe(200)
  if (stream) {
    expect(contentOf(res.frames)).toBe(`ECHO: ${text}`)
    expect(res.doneIndex).toBe(res.dataCount - 1)
  } else {
    expect((JSON.parse(res.raw) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe(`ECHO: ${text}`)
  }
}

/** The worker `pid` is gone (killed) and a different one is ready; returns the new pid. */
async function expectRecycled (h: FakeAppServerApp, pid: number): Promise<number> {
  await waitFor(() => !processAlive(pid), 5000, `worker ${pid} to be killed`)
  const replacement = await h.readyWorker(pid)
  expect(replacement).not.toBe(pid)
  expect(h.backend.workerPids()).toEqual([replacement])
  return replacement
}

const methods = (received: readonly Received[], pid: number): string[] => received.filter((m) => m.pid === pid).map((m) => m.method ?? '')

describe('app-server worker prints garbage on stdout', () => {
  // FAULT_ONCE: the garbage comes on the first turn/start only, so that the replacement worker
  // can show that the pool recovered; rearm() arms it again for the streaming case.
  let h: FakeAppServerApp
  let baseline = 0
  beforeAll(async () => {
    baseline = liveChildren().size
    h = await startFakeAppServerApp('garbage', { once: true })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  it('fails the request with 502 codex_protocol_error and recycles the worker; the next request succeeds', async () => {
    const pid = await h.readyWorker()
    expect(liveChildren().size).toBe(baseline + 1)
    const res = await postChat(h.app, chat(false))
    const error = expectJsonError(res, 502, { type: 'server_error', code: 'codex_protocol_error' })
    expect(error.message).toMatch(/not JSON-RPC/)
    expect(error.message).toContain(`(request ${String(res.headers['x-request-id'])})`)
    const replacement = await expectRecycled(h, pid)
    expectAnswer(await postChat(h.app, chat(false)), false)
    expect(h.backend.workerPids()).toEqual([replacement])
    expect(liveChildren().size).toBe(baseline + 1)
  })

  it('streaming: a 502 before the first token (a real status, not a 200), and a replacement worker', async () => {
    await h.rearm()
    const pid = await h.readyWorker()
    const res = await postChat(h.app, chat(true))
    expectJsonError(res, 502, { code: 'codex_protocol_error' })
    await expectRecycled(h, pid)
    expectAnswer(await postChat(h.app, chat(true)), true)
    expect(liveChildren().size).toBe(baseline + 1)
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.json()).toMatchObject({ ok: true, workers: [{ state: 'ready', restarts: 2 }] })
  })
})

describe('a hung app-server worker', () => {
  // The fake answers the start-up handshake, then nothing: the request gets its 504 from the
  // acknowledgement limit, and the worker is killed when its own RPC limit
  // (max(2 s, PROXY_IDLE_TIMEOUT_MS + 1 s)) runs out. FAULT_ONCE, so the replacement works.
  let h: FakeAppServerApp
  let baseline = 0
  beforeAll(async () => {
    baseline = liveChildren().size
    h = await startFakeAppServerApp('hang', { once: true, env: { PROXY_IDLE_TIMEOUT_MS: '800' } })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  it.each([false, true])('stream=%s: 504 timeout within PROXY_IDLE_TIMEOUT_MS, the hung worker is killed and replaced', async (stream) => {
    await h.rearm()
    const pid = await h.readyWorker()
    const started = Date.now()
    const res = await postChat(h.app, chat(stream))
    const elapsed = Date.now() - started
    const error = expectJsonError(res, 504, { type: 'timeout_error', code: 'timeout' })
    expect(error.message).toMatch(/did not acknowledge the request for 800 ms/)
    // Not the worker's 2 s RPC limit, nor anything longer.
    expect(elapsed).toBeLessThan(1900)
    await expectRecycled(h, pid)
    expectAnswer(await postChat(h.app, chat(stream)), stream)
    expect(liveChildren().size).toBe(baseline + 1)
  })
})

describe('a turn that goes silent (app-server answers turn/start, then nothing)', () => {
  let h: FakeAppServerApp
  let baseline = 0
  beforeAll(async () => {
    baseline = liveChildren().size
    // Keepalive at 200 ms: a stream sends its headers (and the role chunk) before the silence limit.
    h = await startFakeAppServerApp('silent-turn', { env: { PROXY_STREAM_IDLE_TIMEOUT_MS: '800', SSE_KEEPALIVE_MS: '200' } })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  /** The turn the last turn/start began was interrupted and its thread unsubscribed. */
  async function expectInterrupted (pid: number, before: number): Promise<void> {
    let all: Received[] = []
    await waitFor(async () => {
      all = (await h.received()).slice(before)
      return all.some((m) => m.method === 'thread/unsubscribe')
    }, 3000, 'turn/interrupt and thread/unsubscribe')
    const start = all.find((m) => m.method === 'turn/start')
    const interrupt = all.find((m) => m.method === 'turn/interrupt')
    const unsubscribe = all.find((m) => m.method === 'thread/unsubscribe')
    expect(start?.pid).toBe(pid)
    expect(interrupt?.params?.threadId).toBe(start?.params?.threadId)
    expect(interrupt?.params?.turnId).toMatch(/^turn-/)
    expect(unsubscribe?.params?.threadId).toBe(start?.params?.threadId)
    expect(methods(all, pid).filter((m) => m === 'turn/interrupt')).toHaveLength(1)
    // A silent turn is not a hung process: the worker stays, and holds no thread.
    expect(h.backend.workerPids()).toEqual([pid])
    expect(await h.backend.loadedThreadCounts()).toEqual([0])
  }

  it('non-streaming: 504 after PROXY_STREAM_IDLE_TIMEOUT_MS, and the turn is interrupted', async () => {
    const pid = await h.readyWorker()
    const before = (await h.received()).length
    const res = await postChat(h.app, chat(false))
    const error = expectJsonError(res, 504, { type: 'timeout_error', code: 'timeout' })
    expect(error.message).toMatch(/was silent for 800 ms/)
    await expectInterrupted(pid, before)
    expect(liveChildren().size).toBe(baseline + 1)
  })

  it('streaming: 200, the role chunk, a timeout error frame, [DONE], and the turn is interrupted', async () => {
    const pid = await h.readyWorker()
    const before = (await h.received()).length
    const res = await postChat(h.app, chat(true))
    const { error, content } = expectErrorFrame(res, { type: 'timeout_error', code: 'timeout' })
    expect(content).toBe('')
    expect(error.message).toMatch(/was silent for 800 ms/)
    await expectInterrupted(pid, before)
  })
})

describe('an app-server worker that crashes mid-stream', () => {
  let h: FakeAppServerApp
  let baseline = 0
  const logs = captureLogs('info')
  beforeAll(async () => {
    baseline = liveChildren().size
    h = await startFakeAppServerApp('crash-mid-stream', { once: true, logger: logs.options })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  it('streaming: the deltas so far, one codex_exited error frame without its stderr (that goes to the log), [DONE]; then a replacement', async () => {
    const pid = await h.readyWorker()
    const res = await postChat(h.app, chat(true))
    const { error, content } = expectErrorFrame(res, { type: 'server_error', code: 'codex_exited' })
    expect(content.length).toBeGreaterThan(0)
    expect(`ECHO: ${QUESTION}`.startsWith(content)).toBe(true)
    expect(content).not.toBe(`ECHO: ${QUESTION}`)
    expect(error.message).toContain('exited with code 1')
    // The one error of the worker, made each request's own: it names the request.
    expect(error.message).toContain(`(request ${String(res.headers['x-request-id'])})`)
    // A worker's stderr may hold another client's text: never in a client's error, only in the log.
    expect(error.message).not.toContain('simulated crash')
    expect(logs.lines().some((l) => l.includes('simulated crash in the middle of a turn'))).toBe(true)
    await expectRecycled(h, pid)
    expectAnswer(await postChat(h.app, chat(true)), true)
    expect(liveChildren().size).toBe(baseline + 1)
  })

  it('non-streaming: 502 codex_exited; then a replacement', async () => {
    await h.rearm()
    const pid = await h.readyWorker()
    const res = await postChat(h.app, chat(false))
    const error = expectJsonError(res, 502, { type: 'server_error', code: 'codex_exited' })
    expect(error.message).toContain('exited with code 1')
    expect(error.message).not.toContain('simulated crash')
    await expectRecycled(h, pid)
    expectAnswer(await postChat(h.app, chat(false)), false)
  })
})

describe('an app-server worker that floods stderr', () => {
  it('answers every request, streaming or not, on the same worker', async () => {
    const baseline = liveChildren().size
    const h = await startFakeAppServerApp('stderr-noise')
    try {
      const pid = await h.readyWorker()
      // About 32 KB of stderr per message read, five messages a request: several pipe buffers' worth.
      for (let i = 0; i < 6; i++) expectAnswer(await postChat(h.app, chat(i % 2 === 0, `noisy ${i}`)), i % 2 === 0, `noisy ${i}`)
      expect(h.backend.workerPids()).toEqual([pid])
      // Of the ~700 KB of noise only a bounded tail is kept (for the message if the worker dies).
      const child = [...liveChildren()].find((c) => c.pid === pid)
      expect(child?.stderrTail()).toContain('harmless noise')
      expect(child?.stderrTail().length).toBeLessThanOrEqual(8 * 1024)
    } finally {
      await h.close()
    }
    await expectChildrenBackTo(baseline, 5000)
  })
})

describe('the real Codex against an upstream that hangs ([hang])', () => {
  let h: CodexUpstreamApp
  let baseline = 0
  beforeAll(async () => {
    baseline = liveChildren().size
    h = await startCodexUpstreamApp({ listen: true, env: { PROXY_STREAM_IDLE_TIMEOUT_MS: '1500', SSE_KEEPALIVE_MS: '300' } })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  /** The upstream request carrying `marker`, once it arrived. */
  async function upstreamFor (marker: string): Promise<CodexUpstreamApp['upstream']['requests'][number]> {
    await waitFor(() => h.upstream.requests.some((r) => JSON.stringify(r.body?.input ?? []).includes(marker)), 5000, `the upstream request ${marker}`)
    const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(-1)
    if (found === undefined) throw new Error(`no upstream request with ${marker}`)
    return found
  }

  it('non-streaming: 504 after PROXY_STREAM_IDLE_TIMEOUT_MS, and the upstream request is closed', async () => {
    const marker = 'stuck upstream n1 [hang]'
    const res = await postChat(h.app, chat(false, marker))
    const error = expectJsonError(res, 504, { type: 'timeout_error', code: 'timeout' })
    expect(error.message).toMatch(/was silent for 1500 ms/)
    const upstream = await upstreamFor(marker)
    await expect(upstream.ended).resolves.toBe('closedEarly')
    expect(upstream.finished).toBe(false)
    const backend = h.app.codex as AppServerBackend
    await waitFor(async () => (await backend.loadedThreadCounts()).every((n) => n === 0), 3000, 'threads to unload')
  })

  it('streaming: 200, role chunk, a timeout error frame and [DONE], and the upstream request is closed', async () => {
    const marker = 'stuck upstream s1 [hang]'
    const res = await postChat(h.app, chat(true, marker))
    const { error } = expectErrorFrame(res, { type: 'timeout_error', code: 'timeout' })
    expect(error.message).toMatch(/was silent for 1500 ms/)
    await expect((await upstreamFor(marker)).ended).resolves.toBe('closedEarly')
    // The worker is fine: the next request is answered.
    expectAnswer(await postChat(h.app, chat(false, 'after the hang a1')), false, 'after the hang a1')
  })
})

describe('input the real Codex cannot parse', () => {
  // Codex reads its stdin with serde_json, which refuses unpaired surrogates and nesting deeper
  // than 128 levels: such a JSON-RPC line is dropped unanswered, and the turn used to hang until
  // the acknowledgement limit (a 504) with the worker then killed as hung, failing every turn on
  // it. The proxy now refuses these bodies itself (src/http/json-body.ts).
  let h: CodexUpstreamApp
  let baseline = 0
  beforeAll(async () => {
    baseline = liveChildren().size
    h = await startCodexUpstreamApp({ listen: true })
  })
  afterAll(async () => {
    await h.close()
    await expectChildrenBackTo(baseline, 5000)
  })

  it('an unpaired surrogate or a 130-level tool schema is a 400 at once, and the worker lives on', async () => {
    const backend = h.app.codex as AppServerBackend
    const [pid] = backend.workerPids()
    const deepTool = JSON.stringify({ messages: userMessage('deep tool'), tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', x: 'DEEP' } } }] })
      .replace('"DEEP"', `${'['.repeat(125)}${']'.repeat(125)}`)
    for (const payload of [JSON.stringify({ messages: userMessage('lone \ud800 surrogate') }), JSON.stringify({ messages: userMessage('x\udfff') }), deepTool]) {
      const started = Date.now()
      const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { ...AUTH, 'content-type': 'application/json' }, payload })
      expect(res.statusCode).toBe(400)
      expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_value' })
      expect(Date.now() - started).toBeLessThan(1000)
    }
    expect(h.upstream.requests).toHaveLength(0)
    expect(backend.workerPids()).toEqual([pid])
    expectAnswer(await postChat(h.app, chat(false, 'still alive 🎉')), false, 'still alive 🎉')
  })
})

describe('shutdown with streams open on the app-server backend (real Codex, [slow])', () => {
  it('app.close() ends every stream with shutting_down and [DONE], logs 503s, and leaves no Codex process', async () => {
    const baseline = liveChildren().size
    const h = await startCodexUpstreamApp({ listen: true, mock: { slowDelayMs: 100 } })
    let closed = false
    try {
      expect(liveChildren().size).toBe(baseline + 1)
      // 40 deltas 100 ms apart: about 4 s of answer, cut short by the shutdown.
      const streams = await Promise.all(['x1', 'x2'].map(async (id) =>
        await openStream(h.app, chat(true, `shutdown ${id} [slow]`), (t) => t.includes('"content":"E'))))
      const started = Date.now()
      await h.app.close()
      closed = true
      expect(Date.now() - started).toBeLessThan(6000)
      for (const stream of streams) {
        expect(stream.status).toBe(200)
        const data = sseData(await stream.rest)
        expect(data.at(-1)).toBe('[DONE]')
        expect(data.filter((d) => d === '[DONE]')).toHaveLength(1)
        expectEnvelope(JSON.parse(data.at(-2) ?? '{}'), { type: 'server_error', code: 'shutting_down' })
        const chunks = data.slice(0, -2).map((d) => JSON.parse(d) as Chunk)
        expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
        expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true)
      }
      await expectChildrenBackTo(baseline, 5000)
      // Codex closed the upstream streams it was reading.
      await Promise.all(h.upstream.requests.map(async (r) => { await expect(r.ended).resolves.toBe('closedEarly') }))
      const events = await readUsageLog(h.config.TOKEN_LOG_PATH)
      expect(events.map((e) => [e.status, e.stream])).toEqual([[503, true], [503, true]])
    } finally {
      if (!closed) await h.app.close()
      await h.close()
    }
  })
})

describe('a usage log that cannot be written (TOKEN_LOG_PATH under /proc/sys)', () => {
  it('still answers every request, and says so in exactly one error line', async () => {
    const logs = captureLogs('info')
    const baseline = liveChildren().size
    // /proc/sys is a directory no process (not even root) can create files in.
    const h = await startFakeAppServerApp('ok', { logger: logs.options, env: { TOKEN_LOG_PATH: '/proc/sys/codex-usage-test.ndjson' } })
    try {
      for (const stream of [false, true, false, true]) expectAnswer(await postChat(h.app, chat(stream)), stream)
      await h.app.usage.flush()
      const about = logs.records().filter((r) => /usage log/i.test(r.msg ?? '') || JSON.stringify(r).includes('/proc/sys/codex-usage-test'))
      expect(about).toHaveLength(1)
      expect(about[0]?.level).toBe(50)
      expect(about[0]?.msg).toMatch(/not writable \(TOKEN_LOG_PATH\); requests are still answered/)
      // Reading the (missing) log is an empty answer, not an error.
      const raw = await h.app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })
      expect(raw.statusCode).toBe(200)
      expect(raw.json()).toEqual({ count: 0, events: [] })
    } finally {
      await h.close()
    }
    await expectChildrenBackTo(baseline, 5000)
  })
})

describe('admission control (PROXY_MAX_CONCURRENCY=1, PROXY_MAX_QUEUE=1)', () => {
  const metric = (text: string, name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)

  it('a third request is refused at once with 429 and Retry-After; the queued one is answered; /readyz and /metrics show the queue', async () => {
    const h = await startFakeAppServerApp('ok', { env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '1' } })
    try {
      // The first turn holds its slot until the gate opens.
      const first = postChat(h.app, chat(false, 'first [gate:one]'))
      await waitFor(() => h.app.admission.stats().active === 1, 3000, 'the first turn to run')
      const second = postChat(h.app, chat(false, 'second'))
      await waitFor(() => h.app.admission.stats().queued === 1, 3000, 'the second request to queue')

      const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.json()).toMatchObject({ ok: true, backend: 'app-server', active: 1, queued: 1 })
      const metrics = await h.app.inject({ method: 'GET', url: '/metrics', headers: AUTH })
      expect(metrics.statusCode).toBe(200)
      expect(metric(metrics.body, 'codex_api_queued_requests')).toBe(1)
      expect(metric(metrics.body, 'codex_api_active_turns')).toBe(1)

      for (const stream of [false, true]) {
        const started = Date.now()
        const third = await postChat(h.app, chat(stream, 'third'))
        // Refused at once, not after a wait: the gate is still closed.
        expect(Date.now() - started).toBeLessThan(1000)
        const error = expectJsonError(third, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded' })
        expect(error.message).toMatch(/busy/)
        expect(Number(third.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      }
      expect(h.app.admission.stats()).toMatchObject({ active: 1, queued: 1 })

      await h.openGate('one')
      expectAnswer(await first, false, 'first [gate:one]')
      expectAnswer(await second, false, 'second')
      expect(h.app.admission.stats()).toMatchObject({ active: 0, queued: 0 })
      await h.app.usage.flush()
      const statuses = (await readUsageLog(h.config.TOKEN_LOG_PATH)).map((e) => e.status).sort()
      expect(statuses).toEqual([200, 200, 429, 429])
    } finally {
      await h.close()
    }
  })

  it('with PROXY_QUEUE_TIMEOUT_MS, a queued request gets a 429 once it has waited that long', async () => {
    const h = await startFakeAppServerApp('ok', { env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '1', PROXY_QUEUE_TIMEOUT_MS: '300' } })
    try {
      const first = postChat(h.app, chat(true, 'first [gate:two]'), { headers: { 'x-no-keepalive': '1' } })
      await waitFor(() => h.app.admission.stats().active === 1, 3000, 'the first turn to run')
      const queued = postChat(h.app, chat(false, 'queued'))
      await waitFor(() => h.app.admission.stats().queued === 1, 3000, 'the second request to queue')
      const error = expectJsonError(await queued, 429, { type: 'rate_limit_error', code: 'rate_limit_exceeded' })
      expect(error.message).toMatch(/within 300 ms/)
      expect(h.app.admission.stats()).toMatchObject({ active: 1, queued: 0 })
      await h.openGate('two')
      expectAnswer(await first, true, 'first [gate:two]')
    } finally {
      await h.close()
    }
  })
})

describe('the in-app per-key rate limit (PROXY_RATE_LIMIT_ENABLED=true, RATE_LIMIT_AVG=1, RATE_LIMIT_BURST=2)', () => {
  it('refuses the third rapid request with 429 and Retry-After, before it reaches the backend', async () => {
    const backend = recordingBackend()
    const { app } = await buildTestApp({ backend, env: { PROXY_RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_AVG: '1', RATE_LIMIT_BURST: '2' } })
    const send = async (headers: Record<string, string> = AUTH): Promise<Awaited<ReturnType<typeof app.inject>>> =>
      await app.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload: chat(false, 'rate') })
    const responses = [await send(), await send(), await send()]
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 429])
    const limited = responses[2]
    expectEnvelope(limited?.json(), { type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(limited?.headers['retry-after']).toBe('1')
    expect(backend.requests).toHaveLength(2)
    // A wrong key is a 401 (auth first), and the public probes are never limited.
    expect((await send({ authorization: 'Bearer wrong' })).statusCode).toBe(401)
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('has one bucket per key whichever prefix it is called under: the root routes give no second burst', async () => {
    const { app } = await buildTestApp({ backend: recordingBackend(), env: { PROXY_RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_AVG: '1', RATE_LIMIT_BURST: '2' } })
    // At once, so that no token refills between them.
    const statuses = await Promise.all(['/v1/chat/completions', '/chat/completions', '/v1/chat/completions', '/chat/completions'].map(async (url) =>
      (await app.inject({ method: 'POST', url, headers: AUTH, payload: chat(false, 'rate') })).statusCode))
    expect(statuses.filter((s) => s === 200)).toHaveLength(2)
    expect(statuses.filter((s) => s === 429)).toHaveLength(2)
  })
})

describe('Codex refusing a request over JSON-RPC', () => {
  it('is the client\'s 400 naming the part Codex refused, or a 503 when Codex cannot load its configuration', async () => {
    const h = await startFakeAppServerApp('refuse')
    try {
      const ask = async (content: string, extra: Record<string, unknown> = {}): Promise<StreamResult> =>
        await postChat(h.app, { messages: [{ role: 'user', content }], ...extra })
      const tools = await ask('with tools', { tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] })
      const onTools = expectJsonError(tools, 400, { type: 'invalid_request_error', code: 'codex_refused', param: 'tools' })
      expect(onTools.message).toContain('dynamic tool name is reserved')
      expectJsonError(await ask('too much'), 400, { code: 'codex_refused', param: 'messages' })
      expectJsonError(await ask('broken [config]'), 503, { type: 'server_error', code: 'codex_config_error' })
    } finally {
      await h.close()
    }
  })
})
