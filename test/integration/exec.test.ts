import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { liveChildren } from '../../src/backends/child-process.js'
import { usageFor, type MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectChildrenBackTo, expectEnvelope, postChat } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

// CODEX_BACKEND=exec: `codex exec --json` per request, the real binary against the mock upstream.

let h: CodexUpstreamApp
let client: OpenAI

beforeAll(async () => {
  h = await startCodexUpstreamApp({ backend: 'exec', listen: true, mock: { slowDelayMs: 100 } })
  client = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
})
afterAll(async () => { await h.close() })

describe('exec backend (real Codex, mock upstream)', () => {
  it('answers non-streaming with the usage of turn.completed', async () => {
    const baseline = liveChildren().size
    const completion = await client.chat.completions.create({
      model: 'codex-5-high', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'exec hello e1' }]
    })
    // exec takes one prompt: the conversation arrives as `[role] content` lines.
    expect(completion.choices[0]?.message.content).toBe('ECHO: [system] Be brief.\n[user] exec hello e1')
    const upstream = h.upstream.requests.at(-1)
    expect((upstream?.body?.reasoning as { effort?: string } | undefined)?.effort).toBe('high')
    expect(upstream?.body?.tools ?? []).toEqual([])
    expect(completion.usage?.prompt_tokens).toBe(usageFor(upstream?.seq ?? 0).input_tokens)
    expect(completion.usage?.completion_tokens_details?.reasoning_tokens).toBe(3)
    await expectChildrenBackTo(baseline)
  })

  it('streams the answer (in one piece: exec has no deltas) with role first and [DONE]', async () => {
    const stream = await client.chat.completions.create({ model: 'codex-5', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'exec stream e2' }] })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant')
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('ECHO: exec stream e2')
    expect(chunks.filter((c) => c.choices[0]?.finish_reason != null).length).toBe(1)
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(20)
  })

  it('answers an upstream failure with a 5xx', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { messages: [{ role: 'user', content: 'exec boom [fail500]' }] }
    })
    expect(res.statusCode).toBe(502)
    // As on app-server (test/integration/upstream-errors.test.ts has every status).
    expect(expectEnvelope(res.json(), { code: 'upstream_error' }).message).toContain(String(res.headers['x-request-id']))
  })

  it('refuses tools and images with a 400 that names the backend that can', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }
    })
    expect(res.statusCode).toBe(400)
    expect(expectEnvelope(res.json(), { code: 'unsupported_feature', param: 'tools' }).message).toMatch(/CODEX_BACKEND=app-server.*exec/)
  })

  it('kills the child when the client disconnects', async () => {
    const baseline = liveChildren().size
    const controller = new AbortController()
    const pending = postChat(h.app, { stream: true, messages: [{ role: 'user', content: 'exec leave [slow]' }] }, { signal: controller.signal })
    pending.catch(() => {})
    let upstream: MockRequest | undefined
    await waitFor(() => {
      upstream = h.upstream.requests.find((r) => JSON.stringify(r.body?.input).includes('exec leave'))
      return upstream !== undefined
    }, 5000, 'the upstream request')
    expect(liveChildren().size).toBe(baseline + 1)
    controller.abort()
    await expectChildrenBackTo(baseline, 3000)
    await expect(upstream?.ended).resolves.toBe('closedEarly')
  })
})
