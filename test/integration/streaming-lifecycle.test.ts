import { describe, expect, it } from 'vitest'
import { liveChildren } from '../../src/backends/child-process.js'
import { buildTestApp, useShimDelay } from '../helpers/build-test-app.js'
import { expectChildrenBackTo, openStream, parseSse, postChat, readUsageLog, sharedTestApp, sseData, userMessage, type Chunk } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const KEEPALIVE = ': keepalive'
/** Six words: four deltas from the fake Codex, about 4 × SHIM_DELAY_MS of streaming. */
const LONG = 'one two three four five six'
const streamBody = (text = LONG): Record<string, unknown> => ({ model: 'codex-5', messages: userMessage(text), stream: true })

const keepalives = (raw: string): number => parseSse(raw).flatMap((b) => b.comments).filter((c) => c === KEEPALIVE).length
const contentOf = (raw: string): string => sseData(raw)
  .filter((d) => d !== '[DONE]')
  .map((d) => JSON.parse(d) as Chunk)
  .map((c) => c.choices[0]?.delta.content ?? '')
  .join('')

describe('SSE keepalive', () => {
  useShimDelay(200)
  const shared = sharedTestApp({ listen: true, shim: 'slow', env: { SSE_KEEPALIVE_MS: '100' } })

  it('sends `: keepalive` comments every SSE_KEEPALIVE_MS while Codex is slow', async () => {
    const { app } = shared()
    // Half a second between deltas (restored after the test): five or so keepalives per gap, so
    // that two arrive even when a loaded CI machine starves the event loop for a while.
    process.env.SHIM_DELAY_MS = '500'
    const res = await postChat(app, streamBody())
    expect(res.status).toBe(200)
    expect(keepalives(res.raw)).toBeGreaterThanOrEqual(2)
    // Comment lines are whole SSE blocks of their own, never glued to a data line.
    for (const block of parseSse(res.raw)) expect(block.data !== undefined && block.comments.length > 0).toBe(false)
    expect(contentOf(res.raw)).toBe(`echo: ${LONG}`)
    expect(res.raw.endsWith('data: [DONE]\n\n')).toBe(true)
  })

  it('sends none with SSE_KEEPALIVE_MS=0', async () => {
    const { app } = await buildTestApp({ listen: true, shim: 'slow', env: { SSE_KEEPALIVE_MS: '0' } })
    const res = await postChat(app, streamBody('a b'))
    expect(res.status).toBe(200)
    expect(res.raw).not.toContain(KEEPALIVE)
    expect(contentOf(res.raw)).toBe('echo: a b')
  })

  it.each([
    ['X-No-Keepalive: 1', { headers: { 'x-no-keepalive': '1' } }],
    ['?no_keepalive=1', { path: '/v1/chat/completions?no_keepalive=1' }],
    ['?no_keepalive=true', { path: '/v1/chat/completions?no_keepalive=true' }],
    ['an Obsidian user agent', { headers: { 'user-agent': 'Mozilla/5.0 obsidian/1.5.3 Chrome/120' } }],
    ['an Electron user agent', { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 SomeApp/2.0 Chrome/124 Electron/30.0.1 Safari/537.36' } }]
  ])('sends none to clients that opt out: %s', async (_name, opts) => {
    const { app } = shared()
    const res = await postChat(app, streamBody(), opts)
    expect(res.status).toBe(200)
    expect(res.raw).not.toContain(KEEPALIVE)
    expect(contentOf(res.raw)).toBe(`echo: ${LONG}`)
  })
})

describe('client disconnect', () => {
  useShimDelay(500)

  it('kills the Codex child and logs status 499', async () => {
    const baseline = liveChildren().size
    const { app, config } = await buildTestApp({ listen: true, shim: 'slow' })
    const stream = await openStream(app, streamBody(), (text) => text.includes('"content":"echo: '))
    expect(stream.status).toBe(200)
    expect(liveChildren().size).toBe(baseline + 1)
    stream.controller.abort()
    await expectChildrenBackTo(baseline, 2000)
    await waitFor(async () => (await readUsageLog(config.TOKEN_LOG_PATH)).length === 1, 2000, 'the usage log line')
    const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(event?.status).toBe(499)
    expect(event?.stream).toBe(true)
    // It ended long before the fake Codex would have finished (4 deltas × 500 ms).
    expect(event?.duration_ms).toBeLessThan(2000)
    // The server is fine afterwards.
    const after = await postChat(app, streamBody('ok'))
    expect(contentOf(after.raw)).toBe('echo: ok')
  })

  it('before the first token (headers not sent yet) kills the child and logs 499', async () => {
    const baseline = liveChildren().size
    const { app, config } = await buildTestApp({ listen: true, shim: 'hang', env: { PROXY_IDLE_TIMEOUT_MS: '10000' } })
    const controller = new AbortController()
    const pending = postChat(app, streamBody(), { signal: controller.signal })
    pending.catch(() => {})
    await waitFor(() => liveChildren().size === baseline + 1, 3000, 'the Codex child to start')
    await waitFor(() => app.admission.stats().active === 1, 3000, 'the turn to be running')
    controller.abort()
    await expect(pending).rejects.toThrow()
    await expectChildrenBackTo(baseline, 2000)
    await waitFor(async () => (await readUsageLog(config.TOKEN_LOG_PATH)).length === 1, 2000, 'the usage log line')
    const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(event?.status).toBe(499)
    expect(event?.duration_ms).toBeLessThan(5000)
  })

  it('of a non-streaming request kills the child and logs 499', async () => {
    const baseline = liveChildren().size
    const { app, config } = await buildTestApp({ listen: true, shim: 'slow' })
    const controller = new AbortController()
    const pending = postChat(app, { ...streamBody(), stream: false }, { signal: controller.signal })
    pending.catch(() => {})
    await waitFor(() => liveChildren().size === baseline + 1, 3000, 'the Codex child to start')
    await waitFor(() => app.admission.stats().active === 1, 3000, 'the turn to be running')
    controller.abort()
    await expect(pending).rejects.toThrow()
    await expectChildrenBackTo(baseline, 2000)
    await waitFor(async () => (await readUsageLog(config.TOKEN_LOG_PATH)).length === 1, 2000, 'the usage log line')
    const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(event?.status).toBe(499)
    expect(event?.stream).toBe(false)
  })

  it('with PROXY_KILL_ON_DISCONNECT=false lets the turn finish (status 200) and still reaps the child', async () => {
    const baseline = liveChildren().size
    const { app, config } = await buildTestApp({ listen: true, shim: 'slow', env: { PROXY_KILL_ON_DISCONNECT: 'false' } })
    const stream = await openStream(app, streamBody(), (text) => text.includes('"content":"echo: '))
    expect(stream.status).toBe(200)
    stream.controller.abort()
    // The turn goes on without its client: it ends with 200 and the whole answer's counts, not 499.
    await waitFor(async () => (await readUsageLog(config.TOKEN_LOG_PATH)).length === 1, 5000, 'the usage log line')
    const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(event?.status).toBe(200)
    // Codex reports its counts only when the turn completes: it ran to the end.
    expect(event?.usage_source).toBe('codex')
    expect(event?.completion_tokens_est).toBe(Math.ceil(`echo: ${LONG}`.length / 4))
    await expectChildrenBackTo(baseline, 2000)
  })
})

describe('shutdown', () => {
  useShimDelay(500)

  it('app.close() with a stream open ends it with a shutting_down error frame and [DONE], and leaves no child', async () => {
    const baseline = liveChildren().size
    const { app } = await buildTestApp({ listen: true, shim: 'slow' })
    const stream = await openStream(app, streamBody(), (text) => text.includes('"content":"echo: '))
    expect(stream.status).toBe(200)
    expect(liveChildren().size).toBe(baseline + 1)

    const started = Date.now()
    await app.close()
    expect(Date.now() - started).toBeLessThan(3000)

    const raw = await stream.rest
    const data = sseData(raw)
    expect(data.at(-1)).toBe('[DONE]')
    const error = JSON.parse(data.at(-2) ?? '{}') as { error?: { code?: string, type?: string, message?: string } }
    expect(error.error?.code).toBe('shutting_down')
    expect(error.error?.type).toBe('server_error')
    expect(raw.split('data: [DONE]').length).toBe(2)
    // No finish_reason was sent for the interrupted answer.
    const finishes = data.slice(0, -2).map((d) => JSON.parse(d) as Chunk).filter((c) => c.choices[0]?.finish_reason != null)
    expect(finishes).toHaveLength(0)
    await expectChildrenBackTo(baseline, 2000)
  })

  it('app.close() with a non-streaming request running answers it with a 503 shutting_down', async () => {
    const baseline = liveChildren().size
    const { app } = await buildTestApp({ listen: true, shim: 'slow' })
    const pending = postChat(app, { ...streamBody(), stream: false })
    await waitFor(() => liveChildren().size === baseline + 1, 3000, 'the Codex child to start')
    await waitFor(() => app.admission.stats().active === 1, 3000, 'the turn to be running')
    const started = Date.now()
    await app.close()
    expect(Date.now() - started).toBeLessThan(3000)
    const res = await pending
    expect(res.status).toBe(503)
    const body = JSON.parse(res.raw) as { error?: { code?: string, type?: string } }
    expect(body.error?.code).toBe('shutting_down')
    expect(body.error?.type).toBe('server_error')
    await expectChildrenBackTo(baseline, 2000)
  })

  it('app.close() with several streams open ends all of them', async () => {
    const baseline = liveChildren().size
    const { app } = await buildTestApp({ listen: true, shim: 'slow' })
    const streams = await Promise.all([1, 2, 3].map(async () => await openStream(app, streamBody(), (text) => text.includes('"content":"echo: '))))
    expect(liveChildren().size).toBe(baseline + 3)
    const started = Date.now()
    await app.close()
    expect(Date.now() - started).toBeLessThan(3000)
    for (const stream of streams) {
      const raw = await stream.rest
      expect(raw).toContain('"code":"shutting_down"')
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true)
    }
    await expectChildrenBackTo(baseline, 2000)
  })
})
