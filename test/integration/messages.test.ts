import Anthropic from '@anthropic-ai/sdk'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { usageFor } from '../fixtures/mock-upstream.mjs'
import { AUTH, TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { parseSse, readUsageLog } from '../helpers/http.js'
import { offlineFetch } from '../helpers/offline.js'
import { waitFor } from '../helpers/wait.js'
import { countPromptTokens } from '../../src/tokens/prompt-tokens.js'

// POST /v1/messages end to end with the official Anthropic SDK (1.14, which sends the key as
// Bearer), through the real Codex app-server and the mock upstream, whose request log shows what
// Codex sent upstream.

let h: CodexUpstreamApp
let client: Anthropic
const net = offlineFetch()
const MODEL = 'claude-opus-5-5'

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true, env: { PROXY_API_KEYS: 'bob=key-of-bob', SSE_KEEPALIVE_MS: '200', PROXY_BODY_LIMIT_BYTES: '400000' } })
  client = new Anthropic({ baseURL: baseUrl(h.app), apiKey: TEST_KEY, maxRetries: 0, timeout: 20_000 })
})
afterAll(async () => {
  await h.close()
  expect(net.blocked()).toEqual([])
})

const weatherTool = {
  name: 'get_weather',
  description: 'Get the weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] }
}

function upstreamFor (marker: string, nth = -1): MockRequest {
  const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(nth)
  if (found === undefined) throw new Error(`no upstream request with ${marker}`)
  return found
}
const inputOf = (req: MockRequest): Array<Record<string, unknown>> => req.body?.input ?? []
const textOf = (m: Anthropic.Message): string => m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('')

async function post (path: string, body: unknown, headers: Record<string, string> = AUTH): Promise<{ status: number, headers: Record<string, unknown>, raw: string, json: () => unknown }> {
  const res = await request(`${baseUrl(h.app)}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const raw = await res.body.text()
  return { status: res.statusCode, headers: res.headers, raw, json: () => JSON.parse(raw) as unknown }
}

describe('POST /v1/messages with the Anthropic SDK', () => {
  it('answers non-stream: the message, the model id echoed, end_turn and Anthropic usage', async () => {
    const m = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.332; cc_entrypoint=sdk-cli;' }, { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'hello messages m1' }]
    })
    expect(m).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, stop_reason: 'end_turn', stop_sequence: null })
    expect(m.id).toMatch(/^msg_/)
    expect(textOf(m)).toBe('ECHO: hello messages m1')
    const upstream = upstreamFor('hello messages m1')
    const expected = usageFor(upstream.seq)
    // Anthropic's input_tokens exclude the cache reads, which are reported beside them.
    expect(m.usage).toMatchObject({ input_tokens: expected.input_tokens - 7, cache_read_input_tokens: 7, cache_creation_input_tokens: 0, output_tokens: 20 })
    // The system text (without the billing header) replaced Codex's base prompt: Codex sends it first.
    expect(inputOf(upstream)[0]).toMatchObject({ role: 'developer', content: [{ type: 'input_text', text: 'Be brief.' }] })
    expect(JSON.stringify(upstream.body)).not.toContain('x-anthropic-billing-header')
  })

  it('streams every block in order with its event line: start, deltas, stop, message_delta, message_stop', async () => {
    const res = await post('/v1/messages?beta=true', { model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'stream raw m2' }] })
    expect(res.status).toBe(200)
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
    expect(res.headers['request-id']).toEqual(expect.any(String))
    const blocks = parseSse(res.raw).filter((b) => b.event !== 'ping')
    const events = blocks.map((b) => ({ event: b.event, data: JSON.parse(b.data ?? '{}') as Record<string, unknown> }))
    for (const e of events) expect(e.event).toBe(e.data.type)
    const types = events.map((e) => e.event)
    expect(types[0]).toBe('message_start')
    expect(types.slice(1, 2)).toEqual(['content_block_start'])
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop'])
    expect(events[0]?.data.message).toMatchObject({ role: 'assistant', model: MODEL, content: [], usage: { input_tokens: 0, output_tokens: 0 } })
    const text = events.flatMap((e) => (e.event === 'content_block_delta' ? [(e.data.delta as { text: string }).text] : [])).join('')
    expect(text).toBe('ECHO: stream raw m2')
    const delta = events.at(-2)?.data as { delta: unknown, usage: { output_tokens: number, cache_read_input_tokens: number } }
    expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null })
    expect(delta.usage).toMatchObject({ output_tokens: 20, cache_read_input_tokens: 7 })
  })

  it('messages.stream().finalMessage() assembles the same message', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'helper m3' }] })
    const pieces: string[] = []
    stream.on('text', (t) => { pieces.push(t) })
    const m = await stream.finalMessage()
    expect(textOf(m)).toBe('ECHO: helper m3')
    expect(pieces.join('')).toBe('ECHO: helper m3')
    expect(m.stop_reason).toBe('end_turn')
    expect(m.usage.output_tokens).toBe(20)
  })

  it('runs a tool round: tool_use out (stop_reason tool_use), tool_result back as function_call_output', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris? m4 [tool:get_weather:{"city":"Paris"}]' }]
    const m1 = await client.messages.stream({ model: MODEL, max_tokens: 256, tools: [weatherTool], messages }).finalMessage()
    expect(m1.stop_reason).toBe('tool_use')
    const use = m1.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
    expect(use).toMatchObject({ name: 'get_weather', input: { city: 'Paris' } })
    const first = upstreamFor('m4 [tool:get_weather')
    expect(first.body?.tools?.map((t: { name?: string }) => t.name)).toEqual(['get_weather'])
    messages.push({ role: 'assistant', content: m1.content })
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use?.id ?? '', content: 'sunny in Paris' }] })
    const m2 = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [weatherTool], messages })
    expect(m2.stop_reason).toBe('end_turn')
    expect(textOf(m2)).toBe('TOOL RESULT: sunny in Paris')
    const second = upstreamFor('sunny in Paris')
    const call = inputOf(second).find((i) => i.type === 'function_call')
    expect(call).toMatchObject({ call_id: use?.id, name: 'get_weather', arguments: '{"city":"Paris"}' })
    expect(inputOf(second).at(-1)).toMatchObject({ type: 'function_call_output', call_id: use?.id, output: 'sunny in Paris' })
  })

  it('passes an error result, block content and loaded-tool references on as the tool output', async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'm5 [tool:get_weather]' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: { city: 'x' } }, { type: 'tool_use', id: 'toolu_b', name: 'get_weather', input: { city: 'y' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_a', content: 'no such city', is_error: true },
          { type: 'tool_result', tool_use_id: 'toolu_b', content: [{ type: 'tool_reference', tool_name: 'WebFetch' } as unknown as Anthropic.TextBlockParam, { type: 'text', text: 'm5 done' }] }
        ]
      }
    ]
    const m = await client.messages.create({ model: MODEL, max_tokens: 64, tools: [weatherTool], messages })
    expect(textOf(m)).toBe('TOOL RESULT: ERROR: no such city; Tool WebFetch loaded.m5 done')
  })

  it('thinking survives a tool round: a signed thinking block comes back and its reasoning is replayed upstream', async () => {
    const thinking = { type: 'enabled' as const, budget_tokens: 2048 }
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'Think, then check Oslo. m6 [reason] [tool:get_weather:{"city":"Oslo"}]' }]
    const m1 = await client.messages.stream({ model: MODEL, max_tokens: 4096, thinking, tools: [weatherTool], messages }).finalMessage()
    expect(m1.content.map((b) => b.type)).toEqual(['thinking', 'tool_use'])
    const block = m1.content[0] as Anthropic.ThinkingBlock
    expect(block.thinking).toBe('Thinking about the echo.')
    expect(block.signature.length).toBeGreaterThan(20)
    const first = upstreamFor('m6 [reason]')
    // A 2048-token budget is a low effort; the reasoning's encrypted content is asked for.
    expect(first.body?.reasoning).toMatchObject({ effort: 'low' })
    expect(first.body?.include).toContain('reasoning.encrypted_content')
    const use = m1.content[1] as Anthropic.ToolUseBlock
    messages.push({ role: 'assistant', content: m1.content })
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: 'cold m6' }] })
    const m2 = await client.messages.create({ model: MODEL, max_tokens: 4096, thinking, tools: [weatherTool], messages })
    expect(textOf(m2)).toBe('TOOL RESULT: cold m6')
    const second = upstreamFor('cold m6')
    const replayed = inputOf(second).find((i) => i.type === 'reasoning')
    expect(replayed).toMatchObject({ id: `rs_mock_${first.seq}`, encrypted_content: `enc_rs_mock_${first.seq}`, summary: [{ type: 'summary_text', text: 'Thinking about the echo.' }] })
  })

  it('drops thinking it did not sign, that was altered, or that another key got, and redacted thinking — never an error', async () => {
    const m1 = await client.messages.create({ model: MODEL, max_tokens: 256, thinking: { type: 'adaptive' } as unknown as Anthropic.ThinkingConfigParam, messages: [{ role: 'user', content: 'm7 [reason]' }] })
    const signed = m1.content.find((b): b is Anthropic.ThinkingBlock => b.type === 'thinking')
    expect(signed?.signature).toEqual(expect.any(String))
    const bob = new Anthropic({ baseURL: baseUrl(h.app), apiKey: 'key-of-bob', maxRetries: 0, timeout: 20_000 })
    const variants: Array<[string, Anthropic.ContentBlockParam[], Anthropic]> = [
      ['foreign', [{ type: 'thinking', thinking: 'Thinking about the echo.', signature: 'EqQBCkgIAhABGAIiQL' }], client],
      ['altered text', [{ type: 'thinking', thinking: 'Something else.', signature: signed?.signature ?? '' }], client],
      ['altered signature', [{ type: 'thinking', thinking: signed?.thinking ?? '', signature: `${signed?.signature ?? ''}x` }], client],
      ['other key', [{ type: 'thinking', thinking: signed?.thinking ?? '', signature: signed?.signature ?? '' }], bob],
      ['redacted', [{ type: 'redacted_thinking', data: 'opaque' }], client]
    ]
    for (const [name, content, who] of variants) {
      const marker = `m7 ${name} next`
      const m = await who.messages.create({
        model: MODEL,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'm7 [reason]' }, { role: 'assistant', content: [...content, { type: 'text', text: 'ok' }] }, { role: 'user', content: marker }]
      })
      expect(textOf(m), name).toBe(`ECHO: ${marker}`)
      expect(inputOf(upstreamFor(marker)).some((i) => i.type === 'reasoning'), name).toBe(false)
    }
  })

  it('shows no thinking without thinking asked for, and an empty signed block with display omitted', async () => {
    const plain = await client.messages.create({ model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'm8 plain [reason]' }] })
    expect(plain.content.map((b) => b.type)).toEqual(['text'])
    const omitted = await client.messages.create({ model: MODEL, max_tokens: 64, thinking: { type: 'adaptive', display: 'omitted' } as unknown as Anthropic.ThinkingConfigParam, messages: [{ role: 'user', content: 'm8 omitted [reason]' }] })
    // Codex is asked for no summary; the block still carries the reasoning, for the next round.
    expect(upstreamFor('m8 omitted').body?.reasoning?.summary).toBeUndefined()
    expect(omitted.content.map((b) => b.type)).toEqual(['thinking', 'text'])
    expect(omitted.content[0]).toMatchObject({ type: 'thinking', signature: expect.any(String) as string })
  })

  it('maps claude-* ids and effort: families, output_config.effort, thinking budgets', async () => {
    const effortOf = async (model: string, marker: string, extra: Record<string, unknown> = {}): Promise<unknown> => {
      const m = await client.messages.create({ model, max_tokens: 64, messages: [{ role: 'user', content: marker }], ...extra } as Anthropic.MessageCreateParamsNonStreaming)
      expect(m.model).toBe(model)
      return upstreamFor(marker).body?.reasoning?.effort
    }
    expect(await effortOf('claude-opus-5-5', 'm9 opus')).toBe('high')
    expect(await effortOf('claude-sonnet-4-5-20250929', 'm9 sonnet')).toBe('medium')
    expect(await effortOf('claude-haiku-4-5', 'm9 haiku')).toBe('low')
    expect(await effortOf('claude-opus-5-5', 'm9 effort', { output_config: { effort: 'medium' } })).toBe('medium')
    expect(await effortOf('claude-sonnet-4-5', 'm9 budget', { thinking: { type: 'enabled', budget_tokens: 31999 } })).toBe('high')
    expect(await effortOf('gpt-5.5-low', 'm9 codex id')).toBe('low')
  })

  it('accepts what Claude Code sends: system messages, deferred tools, server tools, cache_control, context_management', async () => {
    const res = await post('/v1/messages?beta=true', {
      model: 'claude-opus-5-5',
      max_tokens: 128000,
      stream: false,
      thinking: { type: 'adaptive', display: 'omitted' },
      output_config: { effort: 'medium' },
      context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
      metadata: { user_id: '{"device_id":"d"}' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>\nbe nice</system-reminder>' }, { type: 'text', text: 'm10 hello', cache_control: { type: 'ephemeral' } }] },
        { role: 'system', content: [{ type: 'text', text: '# Environment m10', cache_control: { type: 'ephemeral' } }] }
      ],
      tools: [
        { ...weatherTool, defer_loading: true },
        { name: 'DeferredToolPlaceholder', description: 'Reserved placeholder', input_schema: { type: 'object', properties: {} }, defer_loading: true },
        { type: 'web_search_20250305', name: 'web_search', max_uses: 3 }
      ]
    }, { 'x-api-key': TEST_KEY, 'anthropic-version': '2023-06-01', 'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14' })
    expect(res.status).toBe(200)
    expect((res.json() as Anthropic.Message).content.at(-1)).toMatchObject({ type: 'text', text: 'ECHO: <system-reminder>\nbe nice</system-reminder>\nm10 hello' })
    const upstream = upstreamFor('m10 hello')
    expect(upstream.body?.tools?.map((t: { name?: string }) => t.name)).toEqual(['get_weather'])
    expect(inputOf(upstream).at(-1)).toMatchObject({ role: 'developer', content: [{ type: 'input_text', text: '# Environment m10' }] })
  })

  it('passes base64 and URL image blocks on as input images', async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='
    const m = await client.messages.create({
      model: MODEL,
      max_tokens: 64,
      messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'm11 what is this' }] }]
    })
    expect(textOf(m)).toBe('ECHO: m11 what is this')
    const image = JSON.stringify(upstreamFor('m11 what is this').body?.input)
    expect(image).toContain(`data:image/png;base64,${png}`)
  })

  it('counts tokens with o200k over system, messages and tools', async () => {
    const params = { model: MODEL, system: 'Be brief.', messages: [{ role: 'user' as const, content: 'how many tokens?' }] }
    const plain = await client.messages.countTokens(params)
    const withTools = await client.messages.countTokens({ ...params, tools: [weatherTool] })
    const expected = await countPromptTokens([
      { type: 'message', role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'how many tokens?' }] }
    ])
    expect(plain.input_tokens).toBe(expected)
    expect(withTools.input_tokens).toBeGreaterThan(plain.input_tokens + 20)
    const beta = await post('/v1/messages/count_tokens?beta=true', { ...params, tools: [weatherTool] }, { 'x-api-key': TEST_KEY })
    expect(beta.json()).toEqual({ input_tokens: withTools.input_tokens })
  })

  it('lists models in Anthropic\'s shape when asked by an Anthropic client', async () => {
    const ids: string[] = []
    for await (const model of client.models.list({ limit: 3 })) {
      expect(model.type).toBe('model')
      expect(typeof model.display_name).toBe('string')
      ids.push(model.id)
    }
    expect(ids.slice(0, 2)).toEqual(['codex-5', 'codex-5-minimal'])
    expect(new Set(ids).size).toBe(ids.length)
    expect((await client.models.retrieve('codex-5')).type).toBe('model')
    // The OpenAI shape stays for everyone else.
    const res = await request(`${baseUrl(h.app)}/v1/models`)
    expect(await res.body.json()).toMatchObject({ object: 'list' })
  })

  it('also answers at the root (/messages), with x-api-key', async () => {
    const res = await post('/messages', { model: MODEL, max_tokens: 64, messages: [{ role: 'user', content: 'm12 root' }] }, { 'x-api-key': TEST_KEY })
    expect(res.status).toBe(200)
    expect((res.json() as Anthropic.Message).content).toEqual([{ type: 'text', text: 'ECHO: m12 root' }])
  })

  it('sends ping events while idle, and records the turn in the usage log under /v1/messages', async () => {
    const res = await post('/v1/messages', { model: MODEL, max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'm13 [slow]' }] })
    const blocks = parseSse(res.raw)
    expect(blocks.some((b) => b.event === 'ping' && b.data === '{"type":"ping"}')).toBe(true)
    expect(res.raw).not.toContain(': keepalive')
    const upstream = upstreamFor('m13 [slow]')
    // The turn settles (and its line is appended) just after the stream's last bytes go out.
    const lineOf = async (): Promise<Record<string, unknown> | undefined> => {
      await h.app.usage.flush()
      return (await readUsageLog(h.config.TOKEN_LOG_PATH)).find((e) => e.prompt_tokens_est === usageFor(upstream.seq).input_tokens)
    }
    await waitFor(async () => (await lineOf()) !== undefined, 5000, 'the turn\'s usage line')
    const line = await lineOf()
    expect(line).toMatchObject({ route: '/v1/messages', dialect: 'messages', requested_model: MODEL, key_name: 'default', usage_source: 'codex' })
    const metrics = await (await request(`${baseUrl(h.app)}/metrics`, { headers: AUTH })).body.text()
    expect(metrics).toMatch(/codex_api_turns_total\{dialect="messages",status="200"\} [1-9]/)
  })
})

describe('Messages errors, in Anthropic\'s shape', () => {
  const errorOf = (body: unknown): { type: string, error: { type: string, message: string } } => body as { type: string, error: { type: string, message: string } }

  it('401 authentication_error for a wrong key', async () => {
    const res = await post('/v1/messages', { model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'wrong' })
    expect(res.status).toBe(401)
    expect(errorOf(res.json())).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    const sdk = new Anthropic({ baseURL: baseUrl(h.app), apiKey: 'wrong', maxRetries: 0 })
    await expect(sdk.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })).rejects.toBeInstanceOf(Anthropic.AuthenticationError)
  })

  it('400 invalid_request_error for bad input, naming the field', async () => {
    for (const body of [
      { model: MODEL, messages: [] },
      { model: MODEL, messages: [{ role: 'user', content: [{ type: 'video', url: 'x' }] }] },
      { model: MODEL, messages: [{ role: 'robot', content: 'x' }] },
      { model: MODEL, messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'bad name!', input_schema: {} }] },
      { messages: [{ role: 'user', content: 'x' }] }
    ]) {
      const res = await post('/v1/messages', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(errorOf(res.json()).error.type).toBe('invalid_request_error')
    }
    const unknownRoute = await post('/v1/messages/batches', {})
    expect(unknownRoute.status).toBe(404)
    expect(errorOf(unknownRoute.json()).error.type).toBe('not_found_error')
  })

  it('413 request_too_large for a body over the limit, 404 not_found_error for an unknown model', async () => {
    const big = await post('/v1/messages', { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(500_000) }] })
    expect(big.status).toBe(413)
    expect(errorOf(big.json()).error.type).toBe('request_too_large')
    const unknown = await post('/v1/messages', { model: 'gpt-nonexistent', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] })
    expect(unknown.status).toBe(404)
    expect(errorOf(unknown.json()).error.type).toBe('not_found_error')
  })

  it('an upstream failure before the stream: the SDK raises it; overloaded is 529', async () => {
    await expect(client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'e1 [fail500]' }] })).rejects.toMatchObject({ status: 502, error: { type: 'error', error: { type: 'api_error' } } })
    await expect(client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'e2 [overloaded]' }] })).rejects.toMatchObject({ status: 529, error: { error: { type: 'overloaded_error' } } })
    await expect(client.messages.create({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'e3 [fail429]' }] })).rejects.toBeInstanceOf(Anthropic.RateLimitError)
  })

  it('a failure after the stream started is one event: error, which the SDK raises', async () => {
    const res = await post('/v1/messages', { model: MODEL, max_tokens: 8, stream: true, messages: [{ role: 'user', content: 'e4 [failmid]' }] })
    expect(res.status).toBe(200)
    const last = parseSse(res.raw).filter((b) => b.event !== 'ping').at(-1)
    expect(last?.event).toBe('error')
    expect(JSON.parse(last?.data ?? '{}')).toMatchObject({ type: 'error', error: { type: expect.any(String) as string, message: expect.any(String) as string } })
    const started = Date.now()
    await expect(client.messages.stream({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'e5 [failmid]' }] }).finalMessage()).rejects.toBeInstanceOf(Anthropic.APIError)
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
