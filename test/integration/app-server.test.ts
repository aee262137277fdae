import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { liveChildren } from '../../src/backends/child-process.js'
import { usageFor, type MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectEnvelope, openStream, postChat, type Chunk } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'
import { expectOnlyHeldThreads } from '../helpers/threads.js'

// The default backend end to end: the real Codex binary from node_modules, as a warm app-server
// pool, against the mock Responses API. The official openai SDK is the client where it can be.

let h: CodexUpstreamApp
let client: OpenAI

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true, mock: { slowDelayMs: 100 } })
  client = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
})
afterAll(async () => { await h.close() })

/** The upstream request that carried `marker` in its last user message. */
function upstreamFor (marker: string): MockRequest {
  const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker))
  const last = found.at(-1)
  if (last === undefined) throw new Error(`no upstream request with ${marker}`)
  return last
}

const inputTexts = (req: MockRequest): Array<{ role: unknown, text: string }> =>
  (req.body?.input ?? []).map((item) => ({
    role: item.role ?? item.type,
    text: ((item.content as Array<{ text?: string }> | undefined) ?? []).map((c) => c.text ?? '').join('')
  }))

describe('app-server backend (real Codex, mock upstream)', () => {
  it('answers non-streaming through the openai SDK with the usage the upstream reported', async () => {
    const completion = await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'hello sdk n1' }] })
    expect(completion.object).toBe('chat.completion')
    expect(completion.choices[0]?.message.content).toBe('ECHO: hello sdk n1')
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    const upstream = upstreamFor('hello sdk n1')
    const expected = usageFor(upstream.seq)
    expect(completion.usage).toEqual({
      prompt_tokens: expected.input_tokens,
      completion_tokens: expected.output_tokens,
      total_tokens: expected.total_tokens,
      prompt_tokens_details: { cached_tokens: 7 },
      completion_tokens_details: { reasoning_tokens: 3 }
    })
  })

  it('streams through the openai SDK: role first, deltas, one finish, the usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'codex-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream sdk s1' }]
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('ECHO: stream sdk s1')
    expect(chunks.filter((c) => (c.choices[0]?.delta.content ?? '').length > 0).length).toBeGreaterThan(1)
    expect(chunks.filter((c) => c.choices[0]?.finish_reason != null).map((c) => c.choices[0]?.finish_reason)).toEqual(['stop'])
    const last = chunks.at(-1)
    expect(last?.choices).toEqual([])
    expect(last?.usage?.prompt_tokens).toBe(usageFor(upstreamFor('stream sdk s1').seq).input_tokens)
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1)
  })

  it('sends the history and the system prompt upstream as messages, and nothing of Codex', async () => {
    const completion = await client.chat.completions.create({
      model: 'codex-5',
      messages: [
        { role: 'system', content: 'You are PROXY-SYS.' },
        { role: 'user', content: 'My name is Bob.' },
        { role: 'assistant', content: 'Hi Bob.' },
        { role: 'system', content: 'Mid-conversation rule.' },
        { role: 'user', content: 'what is my name h1' }
      ]
    })
    expect(completion.choices[0]?.message.content).toBe('ECHO: what is my name h1')
    const upstream = upstreamFor('what is my name h1')
    expect(inputTexts(upstream)).toEqual([
      { role: 'developer', text: 'You are PROXY-SYS.' },
      { role: 'user', text: 'My name is Bob.' },
      { role: 'assistant', text: 'Hi Bob.' },
      { role: 'developer', text: 'Mid-conversation rule.' },
      { role: 'user', text: 'what is my name h1' }
    ])
    const prompt = JSON.stringify([upstream.body?.input, upstream.body?.tools])
    // No Codex base prompt, environment context, AGENTS.md or permissions text...
    expect(prompt).not.toMatch(/You are Codex|environment_context|AGENTS\.md|sandbox|approval/i)
    expect(upstream.body?.instructions).toBeUndefined()
    // ...and no tool that could touch this host.
    expect(upstream.body?.tools ?? []).toEqual([])
    expect(prompt).not.toMatch(/exec_command|apply_patch|shell|view_image|write_stdin/)
  })

  it.each([
    { label: 'model variant', body: { model: 'codex-5-high' }, effort: 'high' },
    { label: 'reasoning.effort', body: { model: 'codex-5', reasoning: { effort: 'medium' } }, effort: 'medium' },
    { label: 'reasoning_effort', body: { model: 'codex-5-high', reasoning_effort: 'low' }, effort: 'low' },
    { label: 'minimal, which the model lacks, as its lowest', body: { model: 'codex-5-minimal' }, effort: 'low' },
    { label: 'a Codex model with an effort suffix', body: { model: 'gpt-5.5-xhigh' }, effort: 'xhigh' }
  ])('passes the reasoning effort from the $label upstream', async ({ label, body, effort }) => {
    const marker = `effort ${label}`
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { ...body, messages: [{ role: 'user', content: marker }] }
    })
    expect(res.statusCode).toBe(200)
    expect((upstreamFor(marker).body?.reasoning as { effort?: string } | undefined)?.effort).toBe(effort)
  })

  it('sends the model a Codex model id names', async () => {
    await client.chat.completions.create({ model: 'gpt-5.5', messages: [{ role: 'user', content: 'which model m1' }] })
    expect(upstreamFor('which model m1').body?.model).toBe('gpt-5.5')
    const models = await client.models.list()
    const ids = models.data.map((m) => m.id)
    expect(ids).toEqual(expect.arrayContaining(['codex-5', 'codex-5-high', 'gpt-5.5', 'gpt-5.5-high']))
    await expect(client.chat.completions.create({ model: 'gpt-nonexistent', messages: [{ role: 'user', content: 'x' }] }))
      .rejects.toMatchObject({ status: 404, code: 'model_not_found' })
  })

  it('streams reasoning summaries as reasoning_content', async () => {
    const res = await postChat(h.app, { model: 'codex-5', stream: true, messages: [{ role: 'user', content: 'think r1 [reason]' }] })
    const frames = res.frames as Chunk[]
    expect(frames.map((f) => f.choices[0]?.delta.reasoning_content ?? '').join('')).toBe('Thinking about the echo.')
    expect(frames.map((f) => f.choices[0]?.delta.content ?? '').join('')).toBe('ECHO: think r1 [reason]')
    const firstReasoning = frames.findIndex((f) => f.choices[0]?.delta.reasoning_content !== undefined)
    const firstContent = frames.findIndex((f) => (f.choices[0]?.delta.content ?? '').length > 0)
    expect(firstReasoning).toBeLessThan(firstContent)
  })

  it('answers an upstream 500 with a 5xx within seconds, streaming or not', async () => {
    const started = Date.now()
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { messages: [{ role: 'user', content: 'boom [fail500]' }] }
    })
    expect(res.statusCode).toBe(502)
    expectEnvelope(res.json(), { type: 'server_error', code: 'upstream_error' })
    expect(Date.now() - started).toBeLessThan(5000)
    // Streaming: the failure comes before any output, so it still gets its real status.
    const stream = await postChat(h.app, { stream: true, messages: [{ role: 'user', content: 'boom stream [fail500]' }] })
    expect(stream.status).toBe(502)
    expectEnvelope(JSON.parse(stream.raw), { code: 'upstream_error' })
  })

  it.each([
    { marker: '[fail429]', status: 429, code: 'rate_limit_exceeded' },
    { marker: '[ratelimit]', status: 429, code: 'rate_limit_exceeded', retryAfter: '7' },
    { marker: '[usagelimit]', status: 429, code: 'usage_limit_exceeded', retryAfterNear: 3600 },
    { marker: '[context]', status: 400, code: 'context_length_exceeded' },
    { marker: '[unauthorized]', status: 401, code: 'codex_unauthorized', message: /codex login/ },
    { marker: '[overloaded]', status: 503, code: 'upstream_overloaded' }
  ])('maps the upstream error $marker to HTTP $status', async ({ marker, status, code, retryAfter, retryAfterNear, message }) => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { messages: [{ role: 'user', content: `error case ${marker}` }] }
    })
    expect(res.statusCode).toBe(status)
    const error = expectEnvelope(res.json(), { code })
    if (message !== undefined) expect(error.message).toMatch(message)
    if (retryAfter !== undefined) expect(res.headers['retry-after']).toBe(retryAfter)
    if (retryAfterNear !== undefined) expect(Math.abs(Number(res.headers['retry-after']) - retryAfterNear)).toBeLessThan(120)
  })

  it('closes the upstream request within a second or two when the client disconnects', async () => {
    const marker = 'walk away d1 [slow]'
    const stream = await openStream(h.app, { stream: true, messages: [{ role: 'user', content: marker }] }, (t) => t.includes('"content":"'))
    expect(stream.status).toBe(200)
    const upstream = upstreamFor('walk away d1')
    expect(upstream.finished).toBe(false)
    const leftAt = Date.now()
    stream.controller.abort()
    await expect(upstream.ended).resolves.toBe('closedEarly')
    expect(Date.now() - leftAt).toBeLessThan(2000)
    // The thread was interrupted and dropped: only held conversations stay loaded in the worker.
    await expectOnlyHeldThreads(h.app.codex as AppServerBackend)
  })

  it('gives 16 concurrent streams each their own answer', async () => {
    const results = await Promise.all(Array.from({ length: 16 }, async (_, i) =>
      await postChat(h.app, { stream: true, messages: [{ role: 'user', content: `concurrent c${i}` }] })))
    results.forEach((res, i) => {
      expect(res.status).toBe(200)
      expect((res.frames as Chunk[]).map((f) => f.choices[0]?.delta.content ?? '').join('')).toBe(`ECHO: concurrent c${i}`)
      expect(res.doneIndex).toBe(res.dataCount - 1)
    })
  })

  it('returns to its baseline of child processes and loaded threads after many requests', async () => {
    const backend = h.app.codex as AppServerBackend
    const children = liveChildren().size
    const pids = backend.workerPids()
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: `sequential q${i}` }] })
      else await postChat(h.app, { stream: true, messages: [{ role: 'user', content: `sequential q${i}` }] })
    }
    await expectOnlyHeldThreads(backend)
    expect(liveChildren().size).toBe(children)
    expect(backend.workerPids()).toEqual(pids)
  })

  it('fails a stream fast when its worker dies, and the next request succeeds on a replacement', async () => {
    const backend = h.app.codex as AppServerBackend
    const [pid] = backend.workerPids()
    expect(pid).toBeTypeOf('number')
    const stream = await openStream(h.app, { stream: true, messages: [{ role: 'user', content: 'doomed k1 [slow]' }] }, (t) => t.includes('"content":"'))
    const killedAt = Date.now()
    process.kill(pid as number, 'SIGKILL')
    const raw = await stream.rest
    expect(Date.now() - killedAt).toBeLessThan(3000)
    const data = raw.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6))
    expect(data.at(-1)).toBe('[DONE]')
    const error = JSON.parse(data.at(-2) ?? '{}') as { error?: { code?: string } }
    expect(error.error?.code).toBe('codex_exited')

    await waitFor(() => backend.health().ready && !backend.workerPids().includes(pid as number), 15_000, 'a replacement worker')
    expect(backend.health().workers?.[0]?.restarts).toBeGreaterThanOrEqual(1)
    const completion = await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'after the crash a1' }] })
    expect(completion.choices[0]?.message.content).toBe('ECHO: after the crash a1')
  })
})
