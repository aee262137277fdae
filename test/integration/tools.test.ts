import { createOpenAICompatible } from '@ai-sdk/openai-compatible'
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai'
import OpenAI from 'openai'
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { postChat, type Chunk } from '../helpers/http.js'

// Function calling end to end: client tools reach the upstream as function tools, the model's
// calls come back as tool_calls (one upstream request per round), and the results continue the
// conversation — with the official openai SDK and the Vercel AI SDK as the clients.

let h: CodexUpstreamApp
let client: OpenAI

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true })
  client = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
})
afterAll(async () => { await h.close() })

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the weather for a city',
    parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }
  }
}

/** Upstream requests whose input mentions `marker`, oldest first. */
const upstreamWith = (marker: string): MockRequest[] =>
  h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker))

describe('function calling through the app-server backend', () => {
  it('round-trips a tool call without streaming: call, result, final answer', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'weather please t1 [tool:get_weather]' }]
    const first = await client.chat.completions.create({ model: 'codex-5', messages, tools: [weather] })
    const choice = first.choices[0]
    expect(choice?.finish_reason).toBe('tool_calls')
    expect(choice?.message.content).toBeNull()
    expect(choice?.message.tool_calls).toHaveLength(1)
    const call = choice?.message.tool_calls?.[0]
    expect(call?.type).toBe('function')
    if (call?.type !== 'function') throw new Error('expected a function call')
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"q":"x"}' })
    expect(call.id).toMatch(/^call_/)

    // Exactly one upstream request for the round, and the tool went up as a function tool.
    const round1 = upstreamWith('weather please t1')
    expect(round1).toHaveLength(1)
    expect(round1[0]?.body?.tools).toEqual([expect.objectContaining({ type: 'function', name: 'get_weather', parameters: weather.function.parameters })])

    messages.push(choice?.message as ChatCompletionMessageParam, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21C' })
    const second = await client.chat.completions.create({ model: 'codex-5', messages, tools: [weather] })
    expect(second.choices[0]?.finish_reason).toBe('stop')
    expect(second.choices[0]?.message.content).toBe('TOOL RESULT: sunny, 21C')
    const round2 = upstreamWith('weather please t1')
    expect(round2).toHaveLength(2)
    // The history came back as function_call + function_call_output items, not as text.
    expect(round2[1]?.body?.input?.slice(-2)).toEqual([
      expect.objectContaining({ type: 'function_call', call_id: call.id, name: 'get_weather', arguments: '{"q":"x"}' }),
      expect.objectContaining({ type: 'function_call_output', call_id: call.id, output: 'sunny, 21C' })
    ])
  })

  it('streams tool calls the SDK stream helper accumulates, with one tool_calls finish and no stop', async () => {
    const res = await postChat(h.app, { model: 'codex-5', stream: true, tools: [weather], messages: [{ role: 'user', content: 'stream tool t2 [tool:get_weather]' }] })
    const frames = res.frames as Array<Chunk & { choices: Array<{ delta: { tool_calls?: Array<{ index: number, id?: string, function: { name?: string, arguments: string } }> } }> }>
    const finishes = frames.flatMap((f) => f.choices.map((c) => c.finish_reason)).filter((r) => r !== null)
    expect(finishes).toEqual(['tool_calls'])
    const pieces = frames.flatMap((f) => f.choices[0]?.delta.tool_calls ?? [])
    expect(pieces[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), type: 'function', function: { name: 'get_weather' } })
    expect(pieces.map((p) => p.function.arguments).join('')).toBe('{"q":"x"}')
    expect(res.doneIndex).toBe(res.dataCount - 1)

    // The SDK's own stream helper puts the pieces back together.
    const runner = client.chat.completions.stream({ model: 'codex-5', tools: [weather], messages: [{ role: 'user', content: 'helper tool t3 [tool:get_weather]' }] })
    const final = await runner.finalChatCompletion()
    expect(final.choices[0]?.finish_reason).toBe('tool_calls')
    const call = final.choices[0]?.message.tool_calls?.[0]
    expect(call?.type === 'function' ? call.function : undefined).toEqual({ name: 'get_weather', arguments: '{"q":"x"}' })
  })

  it('returns parallel calls (two in one response) with indexes 0 and 1', async () => {
    const completion = await client.chat.completions.create({
      model: 'codex-5', tools: [weather], messages: [{ role: 'user', content: 'two cities t4 [tool:get_weather] [twice]' }]
    })
    const calls = completion.choices[0]?.message.tool_calls ?? []
    expect(calls.map((c) => (c.type === 'function' ? c.function.arguments : ''))).toEqual(['{"q":"x"}', '{"q":"y"}'])
    expect(new Set(calls.map((c) => c.id)).size).toBe(2)
    expect(upstreamWith('two cities t4')).toHaveLength(1)

    const res = await postChat(h.app, { model: 'codex-5', stream: true, tools: [weather], messages: [{ role: 'user', content: 'two streamed t5 [tool:get_weather] [twice]' }] })
    const indexes = (res.frames as Array<{ choices: Array<{ delta: { tool_calls?: Array<{ index: number, id?: string }> } }> }>)
      .flatMap((f) => f.choices[0]?.delta.tool_calls ?? []).filter((p) => p.id !== undefined).map((p) => p.index)
    expect(indexes).toEqual([0, 1])
  })

  it('honours parallel_tool_calls: false by returning only the first call', async () => {
    const completion = await client.chat.completions.create({
      model: 'codex-5', tools: [weather], parallel_tool_calls: false, messages: [{ role: 'user', content: 'one at a time t6 [tool:get_weather] [twice]' }]
    })
    expect(completion.choices[0]?.message.tool_calls).toHaveLength(1)
    expect(JSON.stringify(upstreamWith('one at a time t6')[0]?.body?.input)).toContain('Call at most one function per response.')
  })

  it('sends no tools for tool_choice none, and asks for a call for required or a named function', async () => {
    await client.chat.completions.create({ model: 'codex-5', tools: [weather], tool_choice: 'none', messages: [{ role: 'user', content: 'no tools t7' }] })
    expect(upstreamWith('no tools t7')[0]?.body?.tools ?? []).toEqual([])
    await client.chat.completions.create({ model: 'codex-5', tools: [weather], tool_choice: 'required', messages: [{ role: 'user', content: 'must call t8' }] })
    expect(JSON.stringify(upstreamWith('must call t8')[0]?.body?.input)).toContain('You must call one of the provided functions')
    await client.chat.completions.create({ model: 'codex-5', tools: [weather], tool_choice: { type: 'function', function: { name: 'get_weather' } }, messages: [{ role: 'user', content: 'named call t9' }] })
    expect(JSON.stringify(upstreamWith('named call t9')[0]?.body?.input)).toContain('You must call the function `get_weather`')
  })

  it('maps the legacy functions / function_call fields and answers in the legacy shape', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: { model: 'codex-5', functions: [weather.function], messages: [{ role: 'user', content: 'legacy t10 [tool:get_weather]' }] }
    })
    expect(res.statusCode).toBe(200)
    const choice = res.json().choices[0]
    expect(choice.finish_reason).toBe('function_call')
    expect(choice.message.function_call).toEqual({ name: 'get_weather', arguments: '{"q":"x"}' })
    const followUp = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: {
        model: 'codex-5',
        functions: [weather.function],
        messages: [
          { role: 'user', content: 'legacy t10 [tool:get_weather]' },
          { role: 'assistant', content: null, function_call: { name: 'get_weather', arguments: '{"q":"x"}' } },
          { role: 'function', name: 'get_weather', content: 'rainy' }
        ]
      }
    })
    expect(followUp.json().choices[0].message.content).toBe('TOOL RESULT: rainy')
  })

  it('runs an agent loop with the Vercel AI SDK: generateText and streamText with a tool', async () => {
    const provider = createOpenAICompatible({ name: 'codex', baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, includeUsage: true })
    const calls: string[] = []
    const tools = {
      get_weather: tool({
        description: 'Get the weather for a city',
        inputSchema: jsonSchema<{ q: string }>({ type: 'object', properties: { q: { type: 'string' } }, required: ['q'] }),
        execute: async ({ q }) => { calls.push(q); return `cloudy in ${q}` }
      })
    }
    const generated = await generateText({ model: provider('codex-5'), tools, stopWhen: stepCountIs(3), prompt: 'ai sdk gen t11 [tool:get_weather]' })
    expect(calls).toEqual(['x'])
    expect(generated.steps[0]?.finishReason).toBe('tool-calls')
    expect(generated.text).toBe('TOOL RESULT: cloudy in x')
    expect(generated.totalUsage.inputTokens).toBeGreaterThan(0)

    const streamed = streamText({ model: provider('codex-5'), tools, stopWhen: stepCountIs(3), prompt: 'ai sdk stream t12 [tool:get_weather]' })
    let text = ''
    for await (const delta of streamed.textStream) text += delta
    expect(calls).toEqual(['x', 'x'])
    expect(text).toBe('TOOL RESULT: cloudy in x')
    expect((await streamed.steps)[0]?.finishReason).toBe('tool-calls')
  })
})
