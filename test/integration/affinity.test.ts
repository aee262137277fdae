import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { AUTH, TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { readUsageLog } from '../helpers/http.js'
import { expectOnlyHeldThreads } from '../helpers/threads.js'
import { waitFor } from '../helpers/wait.js'

// One Codex thread per conversation, on all three APIs, with the real Codex app-server and the
// mock upstream: the upstream's request log shows one prompt_cache_key (Codex sends its thread id)
// for the rounds of one conversation, and a new one whenever a round must not continue it.

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam

let h: CodexUpstreamApp
let openai: OpenAI
let bobOpenai: OpenAI
let anthropic: Anthropic

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true, env: { PROXY_API_KEYS: 'bob=key-of-bob' } })
  openai = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0, timeout: 20_000 })
  bobOpenai = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: 'key-of-bob', maxRetries: 0, timeout: 20_000 })
  anthropic = new Anthropic({ baseURL: baseUrl(h.app), apiKey: TEST_KEY, maxRetries: 0, timeout: 20_000 })
})
afterAll(async () => { await h.close() })

/** The upstream requests made since now. */
const since = (): (() => MockRequest[]) => {
  const n = h.upstream.requests.length
  return () => h.upstream.requests.slice(n)
}
const keysOf = (requests: MockRequest[]): string[] => requests.map((r) => String(r.body?.prompt_cache_key))
const inputText = (r: MockRequest | undefined): string => JSON.stringify(r?.body?.input ?? [])
const backend = (): AppServerBackend => h.app.codex as AppServerBackend
const weather: OpenAI.Chat.ChatCompletionTool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }

async function metric (name: string): Promise<string> {
  const res = await request(`${baseUrl(h.app)}/metrics`, { headers: AUTH })
  return (await res.body.text()).split('\n').filter((l) => l.startsWith(name)).join('\n')
}

/** One chat round: the whole history sent, the answer appended to it. */
async function chatRound (history: ChatMessage[], content: ChatMessage | string, opts: { tools?: OpenAI.Chat.ChatCompletionTool[], client?: OpenAI } = {}): Promise<OpenAI.Chat.ChatCompletion> {
  history.push(typeof content === 'string' ? { role: 'user', content } : content)
  const completion = await (opts.client ?? openai).chat.completions.create({ model: 'codex-5', messages: history, ...(opts.tools === undefined ? {} : { tools: opts.tools }) })
  const message = completion.choices[0]?.message
  if (message !== undefined) history.push({ role: 'assistant', content: message.content, ...(message.tool_calls === undefined ? {} : { tool_calls: message.tool_calls }) })
  return completion
}

describe('chat completions: one thread per conversation', () => {
  it('five rounds, text and tool rounds, reach the upstream under one prompt_cache_key with the full history', async () => {
    const upstream = since()
    const history: ChatMessage[] = [{ role: 'system', content: 'Be brief. a1' }]
    await chatRound(history, 'first a1', { tools: [weather] })
    await chatRound(history, 'second a1', { tools: [weather] })
    const call = await chatRound(history, 'weather? a1 [tool:get_weather:{"city":"Oslo"}]', { tools: [weather] })
    const id = call.choices[0]?.message.tool_calls?.[0]?.id ?? ''
    const result = await chatRound(history, { role: 'tool', tool_call_id: id, content: 'sunny a1' }, { tools: [weather] })
    expect(result.choices[0]?.message.content).toBe('TOOL RESULT: sunny a1')
    const last = await chatRound(history, 'thanks a1', { tools: [weather] })
    expect(last.choices[0]?.message.content).toBe('ECHO: thanks a1')

    const requests = upstream()
    // Exactly one upstream request per round, all on one thread.
    expect(requests).toHaveLength(5)
    expect(new Set(keysOf(requests)).size).toBe(1)
    // The model still sees everything, in order, in the last request.
    const texts = inputText(requests[4])
    let at = -1
    for (const piece of ['Be brief. a1', 'first a1', 'ECHO: first a1', 'second a1', 'ECHO: second a1', 'get_weather', 'sunny a1', 'TOOL RESULT: sunny a1', 'thanks a1']) {
      const next = texts.indexOf(piece, at + 1)
      expect(next, piece).toBeGreaterThan(at)
      at = next
    }
    // The tool round continued the same turn: its result came back as the output of the call.
    expect(requests[3]?.body?.input?.at(-1)).toMatchObject({ type: 'function_call_output', call_id: id, output: 'sunny a1' })
    expect(await metric('codex_api_conversation_rounds_total{dialect="chat",result="continued"')).toMatch(/ ([4-9]|\d\d+)$/)
  })

  it('starts fresh for an edited history, another key, other tools, and the same history again', async () => {
    const history: ChatMessage[] = []
    await chatRound(history, 'edit me b1')
    const base = [...history]
    const check = async (messages: ChatMessage[], client = openai, tools?: OpenAI.Chat.ChatCompletionTool[]): Promise<string> => {
      const upstream = since()
      await client.chat.completions.create({ model: 'codex-5', messages, ...(tools === undefined ? {} : { tools }) })
      return keysOf(upstream())[0] ?? ''
    }
    const first = keysOf(h.upstream.requests.filter((r) => inputText(r).includes('edit me b1')))[0]
    const continued = await check([...base, { role: 'user', content: 'go on b1' }])
    expect(continued).toBe(first)
    const edited = await check([{ role: 'user', content: 'edit me b1 (edited)' }, base[1] as ChatMessage, { role: 'user', content: 'go on b1' }])
    const otherKey = await check([...base, { role: 'user', content: 'go on b1 bob' }], bobOpenai)
    const otherTools = await check([...base, { role: 'user', content: 'go on b1 tools' }], openai, [weather])
    const retried = await check([...base])
    for (const key of [edited, otherKey, otherTools, retried]) expect(key).not.toBe(first)
    expect(await metric('codex_api_conversation_rounds_total{dialect="chat",result="fresh",reason="history_changed"}')).toMatch(/ [1-9]/)
  })

  it('never mixes two requests that continue one conversation at once: one continues, the other gets its own thread', async () => {
    const history: ChatMessage[] = []
    const before = since()
    await chatRound(history, 'race c1')
    const key = keysOf(before())[0]
    const upstream = since()
    const [a, b] = await Promise.all(['[slow] left c1', '[slow] right c1'].map(async (content) =>
      await openai.chat.completions.create({ model: 'codex-5', messages: [...history, { role: 'user', content }] })))
    expect(a?.choices[0]?.message.content).toMatch(/^ECHO: \[slow\] left c1\.*$/)
    expect(b?.choices[0]?.message.content).toMatch(/^ECHO: \[slow\] right c1\.*$/)
    const requests = upstream()
    expect(requests).toHaveLength(2)
    expect(new Set(keysOf(requests)).size).toBe(2)
    expect(keysOf(requests)).toContain(key)
    expect(await metric('codex_api_conversation_rounds_total{dialect="chat",result="fresh",reason="busy"}')).toMatch(/ [1-9]/)
    for (const r of requests) expect(inputText(r).includes('left c1') && inputText(r).includes('right c1')).toBe(false)
  })

  it('answers parallel calls together, a call the client left out with a note, and a tool result plus a new message in one request', async () => {
    const history: ChatMessage[] = []
    const calls = await chatRound(history, 'two d1 [tool:get_weather] [twice]', { tools: [weather] })
    const [one, two] = calls.choices[0]?.message.tool_calls ?? []
    expect(two).toBeDefined()
    const upstream = since()
    // Only the first call's result comes back.
    await chatRound(history, { role: 'tool', tool_call_id: one?.id ?? '', content: 'sunny d1' }, { tools: [weather] })
    const [request2] = upstream()
    const outputs = (request2?.body?.input ?? []).filter((i) => i.type === 'function_call_output')
    expect(outputs.map((o) => o.output)).toEqual(['sunny d1', 'The client returned no result for this call.'])

    const more: ChatMessage[] = []
    const call = await chatRound(more, 'one d2 [tool:get_weather]', { tools: [weather] })
    const id = call.choices[0]?.message.tool_calls?.[0]?.id ?? ''
    const next = since()
    more.push({ role: 'tool', tool_call_id: id, content: 'rain d2' })
    const answer = await chatRound(more, 'and Paris? d2', { tools: [weather] })
    expect(answer.choices[0]?.message.content).toBe('ECHO: and Paris? d2')
    const requests = next()
    // One upstream request: the result, then the message, under the turn's cache key.
    expect(requests).toHaveLength(1)
    expect((requests[0]?.body?.input ?? []).slice(-2)).toMatchObject([{ type: 'function_call_output', output: 'rain d2' }, { role: 'user' }])
  })

  it('keeps a strict tool strict: a call that breaks the schema goes back to the model, the client gets the valid one', async () => {
    const lookup: OpenAI.Chat.ChatCompletionTool = {
      type: 'function',
      function: { name: 'lookup', strict: true, parameters: { type: 'object', properties: { q: { type: 'string', minLength: 2 }, n: { type: 'integer' } }, required: ['q', 'n'], additionalProperties: false } }
    }
    const upstream = since()
    const completion = await openai.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'find e1 [strictbad:lookup]' }], tools: [lookup] })
    expect(completion.choices[0]?.message.tool_calls?.map((c) => (c.type === 'function' ? c.function.arguments : c.type))).toEqual(['{"q":"good","n":2}'])
    const requests = upstream()
    expect(requests).toHaveLength(2)
    const error = (requests[1]?.body?.input ?? []).find((i) => i.type === 'function_call_output')
    expect(String(error?.output)).toMatch(/^Invalid arguments for lookup: .*must be string.*Call lookup again/)
  })
})

describe('the Responses API: one thread per conversation', () => {
  it('a previous_response_id chain with a tool round stays on one thread', async () => {
    const upstream = since()
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'get_weather', parameters: { type: 'object', properties: {} }, strict: false }]
    const r1 = await openai.responses.create({ model: 'codex-5', input: 'hello f1', tools })
    const r2 = await openai.responses.create({ model: 'codex-5', input: 'weather f1 [tool:get_weather]', previous_response_id: r1.id, tools })
    const call = r2.output.find((o) => o.type === 'function_call')
    const r3 = await openai.responses.create({ model: 'codex-5', input: [{ type: 'function_call_output', call_id: call?.type === 'function_call' ? call.call_id : '', output: 'cold f1' }], previous_response_id: r2.id, tools })
    expect(r3.output_text).toBe('TOOL RESULT: cold f1')
    await openai.responses.create({ model: 'codex-5', input: 'bye f1', previous_response_id: r3.id, tools })
    const requests = upstream()
    expect(requests).toHaveLength(4)
    expect(new Set(keysOf(requests)).size).toBe(1)
  })

  it('the whole input each round (store: false, as Codex sends it) stays on one thread too', async () => {
    const upstream = since()
    const input: OpenAI.Responses.ResponseInputItem[] = [{ role: 'user', content: 'one g1' }]
    for (const next of ['two g1', 'three g1']) {
      const r = await openai.responses.create({ model: 'codex-5', input, store: false })
      input.push(...(r.output as OpenAI.Responses.ResponseInputItem[]), { role: 'user', content: next })
    }
    const requests = upstream()
    expect(requests).toHaveLength(2)
    expect(new Set(keysOf(requests)).size).toBe(1)
  })
})

describe('the Messages API: one thread per conversation', () => {
  it('five rounds with a tool round and thinking on one thread', async () => {
    const upstream = since()
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }]
    const messages: Anthropic.MessageParam[] = []
    const round = async (content: Anthropic.MessageParam['content']): Promise<Anthropic.Message> => {
      messages.push({ role: 'user', content })
      const m = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1024, thinking: { type: 'enabled', budget_tokens: 2048 }, tools, messages })
      messages.push({ role: 'assistant', content: m.content })
      return m
    }
    await round('hi h1')
    const m2 = await round('weather h1 [reason] [tool:get_weather:{"city":"Rome"}]')
    const use = m2.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
    const m3 = await round([{ type: 'tool_result', tool_use_id: use?.id ?? '', content: 'warm h1' }])
    expect(m3.content.find((b) => b.type === 'text')).toMatchObject({ text: 'TOOL RESULT: warm h1' })
    await round('ok h1')
    await round('bye h1')
    const requests = upstream()
    expect(requests).toHaveLength(5)
    expect(new Set(keysOf(requests)).size).toBe(1)
  })

  it('keeps a strict tool strict here too', async () => {
    const upstream = since()
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      tools: [{ name: 'lookup', strict: true, input_schema: { type: 'object', properties: { q: { type: 'string' }, n: { type: 'integer' } }, required: ['q', 'n'], additionalProperties: false } } as Anthropic.Tool],
      messages: [{ role: 'user', content: 'find h2 [strictbad:lookup]' }]
    })
    expect(m.content.find((b) => b.type === 'tool_use')).toMatchObject({ input: { q: 'good', n: 2 } })
    expect(upstream()).toHaveLength(2)
  })
})

describe('held conversations are accounted for', () => {
  it('/readyz and the metrics count them; the workers hold exactly their threads', async () => {
    const res = await request(`${baseUrl(h.app)}/readyz`)
    const body = await res.body.json() as { conversations?: { held: number, parked: number } }
    expect(body.conversations?.held).toBeGreaterThan(0)
    expect(await metric('codex_api_conversations_held')).toMatch(/state="idle"\} [1-9]/)
    await expectOnlyHeldThreads(backend())
  })
})

describe('the usage log', () => {
  it('records the model Codex ran (CODEX_MODEL unset), not "default"', async () => {
    await openai.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'which model k1' }] })
    await h.app.usage.flush()
    const line = (await readUsageLog(h.config.TOKEN_LOG_PATH)).at(-1)
    const upstream = h.upstream.requests.filter((r) => inputText(r).includes('which model k1')).at(-1)
    expect(line?.effective_model).toBe(upstream?.body?.model)
    expect(line?.effective_model).not.toBe('default')
  })
})

describe('limits', () => {
  it('caps, expiry and the tool-call timeout drop conversations and unload their threads; off means a thread per request', async () => {
    const limited = await startCodexUpstreamApp({ listen: true, env: { PROXY_CONVERSATIONS_MAX: '2', PROXY_CONVERSATION_TTL_MS: '1500', PROXY_TOOL_CALL_TIMEOUT_MS: '800' } })
    try {
      const client = new OpenAI({ baseURL: `${baseUrl(limited.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
      const lb = limited.app.codex as AppServerBackend
      for (const i of [1, 2, 3]) await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: `cap ${i} i1` }] })
      expect(lb.health().conversations?.held).toBe(2)
      await expectOnlyHeldThreads(lb)
      // Expired: the next round of an old conversation starts fresh.
      const history: ChatMessage[] = [{ role: 'user', content: 'expire i2' }]
      const first = await client.chat.completions.create({ model: 'codex-5', messages: history })
      history.push({ role: 'assistant', content: first.choices[0]?.message.content ?? '' }, { role: 'user', content: 'later i2' })
      await waitFor(() => lb.health().conversations?.held === 0, 5000, 'conversations to expire')
      await expectOnlyHeldThreads(lb)
      const n = limited.upstream.requests.length
      await client.chat.completions.create({ model: 'codex-5', messages: history })
      const keys = limited.upstream.requests.slice(n - 1).map((r) => r.body?.prompt_cache_key)
      expect(keys[0]).not.toBe(keys[1])
      // A parked tool call whose result never comes: the turn is interrupted, the thread unloaded.
      await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'wait i3 [tool:get_weather]' }], tools: [weather] })
      expect(lb.health().conversations?.parked).toBe(1)
      await waitFor(() => lb.health().conversations?.parked === 0, 5000, 'the parked call to time out')
      await expectOnlyHeldThreads(lb)
    } finally {
      await limited.close()
    }
    const off = await startCodexUpstreamApp({ listen: true, env: { PROXY_CONVERSATION_AFFINITY: 'false' } })
    try {
      const client = new OpenAI({ baseURL: `${baseUrl(off.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
      const first = await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'off j1' }] })
      await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'off j1' }, { role: 'assistant', content: first.choices[0]?.message.content ?? '' }, { role: 'user', content: 'again j1' }] })
      const keys = off.upstream.requests.map((r) => r.body?.prompt_cache_key)
      expect(new Set(keys).size).toBe(2)
      expect((off.app.codex as AppServerBackend).health().conversations?.held).toBe(0)
      await waitFor(async () => (await (off.app.codex as AppServerBackend).loadedThreadCounts()).every((c) => c === 0), 3000, 'no thread to stay loaded')
    } finally {
      await off.close()
    }
  })
})
