import { mkdtemp, rename, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest'
import { liveChildren } from '../../src/backends/child-process.js'
import { AUTH, buildTestApp, useShimDelay } from '../helpers/build-test-app.js'
import { REPO_ROOT, type ShimVariant } from '../helpers/paths.js'
import { expectChildrenBackTo, expectEnvelope, openStream, postChat, readUsageLog, userMessage, type Chunk, type Envelope } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const CHAT = '/v1/chat/completions'
const QUESTION = 'one two three four five six'
const body = (stream: boolean): Record<string, unknown> => ({ model: 'codex-5', messages: userMessage(QUESTION), stream })

let baseline = 0
beforeEach(() => { baseline = liveChildren().size })
afterEach(async () => { await expectChildrenBackTo(baseline) })

interface Fault {
  shim?: ShimVariant
  env?: Record<string, string>
}

/** A non-streaming request that must fail before any byte was sent: the real status and the envelope. */
async function nonStream (fault: Fault, expected: Partial<Envelope['error']>, status: number): Promise<Envelope['error']> {
  const { app, config } = await buildTestApp(fault)
  const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: body(false) })
  expect(res.statusCode).toBe(status)
  const error = expectEnvelope(res.json(), expected)
  await expectChildrenBackTo(baseline)
  await app.usage.flush()
  const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
  expect(event?.status).toBe(status)
  return error
}

/** A streaming request that fails before its first token: still a real HTTP error, not a 200. */
async function streamBeforeFirstToken (fault: Fault, expected: Partial<Envelope['error']>, status: number): Promise<Envelope['error']> {
  const { app } = await buildTestApp({ ...fault, listen: true })
  const res = await postChat(app, body(true))
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/json/)
  const error = expectEnvelope(JSON.parse(res.raw), expected)
  await expectChildrenBackTo(baseline)
  return error
}

/** A streaming request that fails mid-answer: 200, role chunk, some content, one error frame, [DONE]. */
async function streamMidAnswer (fault: Fault, expected: Partial<Envelope['error']>, partial = true): Promise<Envelope['error']> {
  const { app, config } = await buildTestApp({ ...fault, listen: true })
  const res = await postChat(app, body(true))
  expect(res.status).toBe(200)
  expect(res.doneIndex).toBe(res.dataCount - 1)
  const frames = res.frames
  const last = frames.at(-1) as Partial<Envelope>
  const error = expectEnvelope(last, expected)
  const chunks = frames.slice(0, -1) as Chunk[]
  expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
  const content = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
  expect(content.length).toBeGreaterThan(0)
  expect(`echo: ${QUESTION}`.startsWith(content)).toBe(true)
  if (partial) expect(content).not.toBe(`echo: ${QUESTION}`)
  // An interrupted answer never claims to have finished.
  expect(chunks.every((c) => c.choices[0]?.finish_reason === null)).toBe(true)
  expect(frames.filter((f) => typeof f === 'object' && f !== null && 'error' in f)).toHaveLength(1)
  await expectChildrenBackTo(baseline)
  await app.usage.flush()
  const [event] = await readUsageLog(config.TOKEN_LOG_PATH)
  expect(event?.status).toBeGreaterThanOrEqual(500)
  return error
}

describe('a Codex that never answers (hang)', () => {
  const fault: Fault = { shim: 'hang', env: { PROXY_IDLE_TIMEOUT_MS: '500' } }

  it('is a 504 timeout_error after PROXY_IDLE_TIMEOUT_MS', async () => {
    const error = await nonStream(fault, { type: 'timeout_error', code: 'timeout' }, 504)
    expect(error.message).toContain('did not acknowledge')
  })

  it('streaming: is a 504 too (no first token, so the status is still real)', async () => {
    await streamBeforeFirstToken(fault, { type: 'timeout_error', code: 'timeout' }, 504)
  })
})

describe('a Codex that crashes mid-stream', () => {
  it('is a 502 codex_exited naming the exit and the request, not what Codex wrote on stderr', async () => {
    const error = await nonStream({ shim: 'crash' }, { type: 'server_error', code: 'codex_exited' }, 502)
    expect(error.message).toContain('exited with code 101')
    expect(error.message).toMatch(/request [0-9a-f-]{36}/)
    expect(error.message).not.toContain('simulated crash')
  })

  it('streaming: role, some content, an error frame, then [DONE]', async () => {
    const error = await streamMidAnswer({ shim: 'crash' }, { type: 'server_error', code: 'codex_exited' })
    expect(error.message).not.toContain('simulated crash')
  })
})

describe('a Codex that stops talking mid-answer (never-complete)', () => {
  it('is a 504 after PROXY_PROTO_IDLE_MS', async () => {
    const error = await nonStream({ shim: 'never-complete', env: { PROXY_PROTO_IDLE_MS: '1000' } }, { type: 'timeout_error', code: 'timeout' }, 504)
    expect(error.message).toMatch(/silent for 1000 ms/)
  })

  it('is a 504 after PROXY_STREAM_IDLE_TIMEOUT_MS', async () => {
    const error = await nonStream({ shim: 'never-complete', env: { PROXY_STREAM_IDLE_TIMEOUT_MS: '1000' } }, { type: 'timeout_error', code: 'timeout' }, 504)
    expect(error.message).toMatch(/silent for 1000 ms/)
  })

  it('streaming: the whole text, then a timeout error frame (no finish_reason) and [DONE]', async () => {
    // never-complete sends every delta and then falls silent without finishing the turn.
    await streamMidAnswer({ shim: 'never-complete', env: { PROXY_STREAM_IDLE_TIMEOUT_MS: '1000' } }, { type: 'timeout_error', code: 'timeout' }, false)
  })
})

describe('a Codex that prints garbage', () => {
  it('is a 502 codex_protocol_error', async () => {
    await nonStream({ shim: 'garbage' }, { type: 'server_error', code: 'codex_protocol_error' }, 502)
  })

  it('streaming: is a 502 too', async () => {
    await streamBeforeFirstToken({ shim: 'garbage' }, { type: 'server_error', code: 'codex_protocol_error' }, 502)
  })
})

describe('a Codex that floods stderr (noisy)', () => {
  it('still answers correctly', async () => {
    const { app } = await buildTestApp({ shim: 'noisy' })
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: body(false) })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe(`echo: ${QUESTION}`)
  })

  it('streaming: still answers correctly', async () => {
    const { app } = await buildTestApp({ shim: 'noisy', listen: true })
    const res = await postChat(app, body(true))
    expect(res.status).toBe(200)
    const content = (res.frames as Chunk[]).map((c) => c.choices[0]?.delta.content ?? '').join('')
    expect(content).toBe(`echo: ${QUESTION}`)
  })
})

describe('a missing Codex binary', () => {
  const fault: Fault = { env: { CODEX_BIN: '/nonexistent/codex' } }

  it('is a 503 saying the binary was not found', async () => {
    const error = await nonStream(fault, { type: 'server_error', code: 'codex_unavailable' }, 503)
    expect(error.message).toContain('not found')
    expect(error.message).toContain('/nonexistent/codex')
  })

  it('streaming: is a 503 too', async () => {
    const error = await streamBeforeFirstToken(fault, { type: 'server_error', code: 'codex_unavailable' }, 503)
    expect(error.message).toContain('not found')
  })
})

describe('a CODEX_HOME that does not exist', () => {
  const fault: Fault = { env: { CODEX_HOME: join(REPO_ROOT, 'test/fixtures/no-such-codex-home') } }

  it('makes /readyz a 503 with the reason', async () => {
    const { app } = await buildTestApp(fault)
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(503)
    const body = res.json()
    expect(body.ok).toBe(false)
    expect(body.backend).toBe('proto')
    expect(body.reason).toContain('CODEX_HOME')
    expect(body.reason).toContain('does not exist')
    // Liveness is not readiness.
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('makes chat a 503, not an empty 200', async () => {
    const error = await nonStream(fault, { type: 'server_error', code: 'codex_home_unusable' }, 503)
    expect(error.message).toContain('CODEX_HOME')
  })

  it('streaming: a 503 too', async () => {
    await streamBeforeFirstToken(fault, { type: 'server_error', code: 'codex_home_unusable' }, 503)
  })
})

describe('a CODEX_HOME that is not writable at the start (read-only)', () => {
  it('is a 503 until it is made writable, then answers without a restart', async () => {
    // A symlink to /proc/sys (no process, not even root, creates files there), re-pointed at a
    // writable directory as the operator's fix: root writes through chmod, and tests do not mount.
    const dir = await mkdtemp(join(tmpdir(), 'proto-home-'))
    const link = `${dir}-link`
    await symlink('/proc/sys', link)
    onTestFinished(async () => { await rm(link, { force: true }); await rm(dir, { recursive: true, force: true }) })
    const { app } = await buildTestApp({ env: { CODEX_HOME: link, PROXY_HEALTH_CHECK_MS: '200' } })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json<{ reason: string }>().reason).toContain('not writable')
    const refused = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: body(false) })
    expect(refused.statusCode).toBe(503)
    expectEnvelope(refused.json(), { code: 'codex_home_unusable' })
    await symlink(dir, `${link}.new`)
    await rename(`${link}.new`, link)
    await waitFor(() => app.codex.health().ready, 5000, 'the backend to notice the writable home')
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: body(false) })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe(`echo: ${QUESTION}`)
  })
})

describe('a busy server', () => {
  useShimDelay(300)

  it('answers 429 with Retry-After when the queue is full, streaming or not', async () => {
    const { app } = await buildTestApp({ shim: 'slow', listen: true, env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '0' } })
    const holder = await openStream(app, body(true), (text) => text.includes('"content":"echo: '))
    expect(holder.status).toBe(200)
    for (const stream of [false, true]) {
      const res = await postChat(app, body(stream))
      expect(res.status).toBe(429)
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1)
      expectEnvelope(JSON.parse(res.raw), { type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    }
    expect(await holder.rest).toContain('data: [DONE]')
    // The slot is free again.
    const after = await postChat(app, body(false))
    expect(after.status).toBe(200)
  })

  it('drops a queued request whose client left, without running it', async () => {
    const { app, config } = await buildTestApp({ shim: 'slow', listen: true, env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '4' } })
    const holder = await openStream(app, body(true), (text) => text.includes('"content":"echo: '))
    const controller = new AbortController()
    const queued = postChat(app, body(false), { signal: controller.signal, headers: { 'user-agent': 'queued-client' } })
    queued.catch(() => {})
    await waitFor(() => app.admission.stats().queued === 1, 2000, 'the request to be queued')
    controller.abort()
    await expect(queued).rejects.toThrow()
    await waitFor(() => app.admission.stats().queued === 0, 2000, 'the queue to empty')
    expect(liveChildren().size).toBe(baseline + 1)
    expect(await holder.rest).toContain('data: [DONE]')
    await app.usage.flush()
    const log = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(log.find((e) => e.user_agent === 'queued-client')?.status).toBe(499)
    expect(app.admission.stats()).toMatchObject({ active: 0, queued: 0 })
  })

  it('answers 429 when a queued request waits longer than PROXY_QUEUE_TIMEOUT_MS', async () => {
    const { app } = await buildTestApp({ shim: 'slow', listen: true, env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '1', PROXY_QUEUE_TIMEOUT_MS: '200' } })
    const holder = await openStream(app, body(true), (text) => text.includes('"content":"echo: '))
    const res = await postChat(app, body(false))
    expect(res.status).toBe(429)
    expect(res.headers['retry-after']).toBeDefined()
    expectEnvelope(JSON.parse(res.raw), { type: 'rate_limit_error' })
    expect(await holder.rest).toContain('data: [DONE]')
  })
})

describe('PROXY_TIMEOUT_MS', () => {
  // The first delta comes at once, the answer would take 4 s: the total limit falls in between,
  // however slow the machine is to start the fake Codex.
  useShimDelay(1000)

  it('cancels a turn that takes too long in total with a 504', async () => {
    const error = await nonStream({ shim: 'slow', env: { PROXY_TIMEOUT_MS: '2500' } }, { type: 'timeout_error', code: 'timeout' }, 504)
    expect(error.message).toContain('PROXY_TIMEOUT_MS')
  })

  it('streaming: the answer so far, then a timeout error frame', async () => {
    const error = await streamMidAnswer({ shim: 'slow', env: { PROXY_TIMEOUT_MS: '2500' } }, { type: 'timeout_error', code: 'timeout' })
    expect(error.message).toContain('PROXY_TIMEOUT_MS')
  })
})
