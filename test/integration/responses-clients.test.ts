import { HumanMessage, SystemMessage, ToolMessage, type AIMessageChunk, type BaseMessage, type UsageMetadata } from '@langchain/core/messages'
import { tool as lcTool } from '@langchain/core/tools'
import { ChatOpenAI } from '@langchain/openai'
import { Agent, run, setDefaultOpenAIClient, setTracingDisabled, tool as agentTool } from '@openai/agents'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { completedItems, runCodexClient } from '../helpers/codex-client.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { readUsageLog } from '../helpers/http.js'
import { offlineFetch } from '../helpers/offline.js'

// The Responses API with the real clients that speak it (reference §A), offline, through the real
// Codex app-server and the mock upstream: LangChain's ChatOpenAI (codex-5 goes to /v1/responses),
// the way Obsidian Copilot builds it, the OpenAI Agents SDK, and Codex CLI 0.169 itself.

for (const name of ['LANGSMITH_TRACING', 'LANGCHAIN_TRACING_V2', 'LANGCHAIN_TRACING']) process.env[name] = 'false'
process.env.LANGCHAIN_CALLBACKS_BACKGROUND = 'false'
process.env.OPENAI_AGENTS_DISABLE_TRACING = '1'
setTracingDisabled(true)

let h: CodexUpstreamApp
let v1: string
const net = offlineFetch()

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true })
  v1 = `${baseUrl(h.app)}/v1`
})
afterAll(async () => {
  await h.close()
  // No client phoned home (telemetry, tracing, tokenizer downloads).
  expect(net.blocked()).toEqual([])
})

const upstreamFor = (marker: string): MockRequest | undefined => h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(-1)
/** Requests this server answered on /v1/responses since `since` lines of the usage log. */
async function responsesRequests (since: number): Promise<number> {
  await h.app.usage.flush()
  return (await readUsageLog(h.config.TOKEN_LOG_PATH)).slice(since).filter((e) => e.route === '/v1/responses').length
}
const logLength = async (): Promise<number> => { await h.app.usage.flush(); return (await readUsageLog(h.config.TOKEN_LOG_PATH)).length }
/** Reads a stream to its end (what a client does when it only wants the outcome). */
async function drain (stream: AsyncIterable<unknown>): Promise<void> {
  const iterator = stream[Symbol.asyncIterator]()
  while ((await iterator.next()).done !== true) { /* next */ }
}
const text = (m: BaseMessage): string => (typeof m.content === 'string' ? m.content : m.content.map((p) => ('text' in p ? String(p.text) : '')).join(''))

describe('@langchain/openai ChatOpenAI({ model: "codex-5" })', () => {
  const llm = (): ChatOpenAI => new ChatOpenAI({ model: 'codex-5', apiKey: TEST_KEY, configuration: { baseURL: v1 }, maxRetries: 0, timeout: 20_000 })
  const weather = lcTool(async ({ city }: { city: string }) => `sunny in ${city}`, {
    name: 'get_weather', description: 'Weather of a city', schema: z.object({ city: z.string() })
  })

  it('invokes through /v1/responses, the system message as the base instructions', async () => {
    const since = await logLength()
    const reply = await llm().invoke([new SystemMessage('Be brief.'), new HumanMessage('hello lc l1')])
    expect(text(reply)).toBe('ECHO: hello lc l1')
    expect(await responsesRequests(since)).toBe(1)
    const input = upstreamFor('hello lc l1')?.body?.input ?? []
    expect(input.map((i) => i.role)).toEqual(['developer', 'user'])
  })

  it('streams, with usage_metadata from response.completed', async () => {
    let all = ''
    const usages: UsageMetadata[] = []
    for await (const chunk of await llm().stream('stream lc l2')) {
      all += text(chunk)
      if (chunk.usage_metadata !== undefined) usages.push(chunk.usage_metadata)
    }
    expect(all).toBe('ECHO: stream lc l2')
    expect(usages.at(-1)?.input_tokens).toBeGreaterThan(100)
    expect(usages.at(-1)?.output_tokens).toBe(20)
  })

  it.each([false, true])('bindTools and a tool round (streamed: %s)', async (streamed) => {
    const bound = llm().bindTools([weather])
    const human = new HumanMessage(`Weather in Paris? [tool:get_weather:{"city":"Paris"}] lc l3 ${String(streamed)}`)
    const ask = async (messages: BaseMessage[]): Promise<AIMessageChunk> => {
      if (!streamed) return await bound.invoke(messages)
      let acc: AIMessageChunk | undefined
      for await (const chunk of await bound.stream(messages)) acc = acc === undefined ? chunk : acc.concat(chunk)
      return acc as AIMessageChunk
    }
    const ai = await ask([human])
    expect(ai.tool_calls).toHaveLength(1)
    const call = ai.tool_calls?.[0]
    expect(call).toMatchObject({ name: 'get_weather', args: { city: 'Paris' } })
    const result = await weather.invoke(call?.args as { city: string })
    const final = await ask([human, ai, new ToolMessage({ content: result, tool_call_id: call?.id ?? '' })])
    expect(text(final)).toBe('TOOL RESULT: sunny in Paris')
  })
})

describe('Obsidian Copilot\'s ChatOpenAI (useResponsesApi for every gpt-5* id)', () => {
  const copilot = (): ChatOpenAI => new ChatOpenAI({
    model: 'gpt-5.5',
    apiKey: TEST_KEY,
    useResponsesApi: true,
    streaming: true,
    maxRetries: 0,
    maxConcurrency: 3,
    timeout: 20_000,
    configuration: { baseURL: v1, defaultHeaders: { 'dangerously-allow-browser': 'true' } }
  })

  it('streams gpt-5.5 and runs a streamed bindTools round', async () => {
    let all = ''
    for await (const chunk of await copilot().stream([new SystemMessage('You are Obsidian Copilot.'), new HumanMessage('hello copilot o1')])) all += text(chunk)
    expect(all).toBe('ECHO: hello copilot o1')
    expect(upstreamFor('hello copilot o1')?.body?.model).toBe('gpt-5.5')
    const search = lcTool(async ({ query }: { query: string }) => `notes about ${query}`, { name: 'search_notes', description: 'Search the vault', schema: z.object({ query: z.string() }) })
    let acc: AIMessageChunk | undefined
    for await (const chunk of await copilot().bindTools([search]).stream([new HumanMessage('find [tool:search_notes:{"query":"cats"}] o2')])) acc = acc === undefined ? chunk : acc.concat(chunk)
    expect(acc?.tool_calls?.[0]).toMatchObject({ name: 'search_notes', args: { query: 'cats' } })
  })
})

describe('@openai/agents run()', () => {
  let executions = 0
  const weather = agentTool({
    name: 'get_weather',
    description: 'Weather of a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => { executions += 1; return `sunny in ${city}` }
  })
  const agent = (): Agent => new Agent({ name: 'Weather', instructions: 'You are terse.', tools: [weather], model: 'codex-5' })
  beforeAll(() => { setDefaultOpenAIClient(new OpenAI({ baseURL: v1, apiKey: TEST_KEY, organization: null, project: null, maxRetries: 0, timeout: 20_000 })) })

  it.each([false, true])('runs a tool and answers with exactly two requests, no retry loop (streamed: %s)', async (streamed) => {
    const since = await logLength()
    const before = executions
    const prompt = `Weather in Rome? [tool:get_weather:{"city":"Rome"}] agents a1 ${String(streamed)}`
    let final: unknown
    if (streamed) {
      const result = await run(agent(), prompt, { stream: true, maxTurns: 4 })
      await drain(result)
      await result.completed
      final = result.finalOutput
    } else {
      final = (await run(agent(), prompt, { maxTurns: 4 })).finalOutput
    }
    expect(final).toBe('TOOL RESULT: sunny in Rome')
    expect(executions - before).toBe(1)
    expect(await responsesRequests(since)).toBe(2)
  })
})

describe('Codex CLI 0.169 as a client (a provider with wire_api = "responses" pointing here)', () => {
  it('runs a text turn', async () => {
    const result = await runCodexClient(baseUrl(h.app), TEST_KEY, 'hello codex client c1')
    expect(result.code, result.stderr).toBe(0)
    expect(completedItems(result, 'agent_message').map((i) => i.text)).toEqual(['ECHO: hello codex client c1'])
    expect(result.events.some((e) => e.type === 'turn.completed')).toBe(true)
  }, 60_000)

  it('runs a reasoning turn', async () => {
    const result = await runCodexClient(baseUrl(h.app), TEST_KEY, 'think first [reason] c2')
    expect(result.code, result.stderr).toBe(0)
    expect(completedItems(result, 'reasoning').length).toBeGreaterThan(0)
    expect(completedItems(result, 'agent_message')[0]?.text).toBe('ECHO: think first [reason] c2')
  }, 60_000)

  it('runs a tool round with its own exec_command tool (which this server carries under an alias)', async () => {
    const result = await runCodexClient(baseUrl(h.app), TEST_KEY, 'run it [tool:exec_command:{"cmd":"echo hi-from-codex"}] c3')
    expect(result.code, result.stderr).toBe(0)
    const commands = completedItems(result, 'command_execution')
    expect(commands).toHaveLength(1)
    expect(String(commands[0]?.aggregated_output)).toContain('hi-from-codex')
    expect(String(completedItems(result, 'agent_message').at(-1)?.text)).toMatch(/^TOOL RESULT: .*hi-from-codex/s)
  }, 60_000)
})

describe('an upstream failure mid-answer: every client raises an error within seconds, none reports success, none loops', () => {
  it('the openai SDK', async () => {
    const client = new OpenAI({ baseURL: v1, apiKey: TEST_KEY, maxRetries: 0 })
    const started = Date.now()
    const err = await (async () => {
      const stream = await client.responses.create({ model: 'codex-5', input: 'fail sdk [failmid] e1', stream: true })
      await drain(stream)
    })().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.APIError)
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('LangChain', async () => {
    const err = await (async () => {
      await drain(await new ChatOpenAI({ model: 'codex-5', apiKey: TEST_KEY, configuration: { baseURL: v1 }, maxRetries: 0 }).stream('fail lc [failmid] e2'))
    })().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
  })

  it('the Agents SDK, with one request', async () => {
    const since = await logLength()
    const err = await (async () => {
      const result = await run(new Agent({ name: 'Fails', model: 'codex-5' }), 'fail agents [failmid] e3', { stream: true, maxTurns: 3 })
      await drain(result)
      await result.completed
      if (result.error instanceof Error) throw result.error
    })().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect(await responsesRequests(since)).toBe(1)
  })

  it('Codex CLI', async () => {
    const result = await runCodexClient(baseUrl(h.app), TEST_KEY, 'fail codex [failmid] e4')
    expect(result.code).not.toBe(0)
    expect(result.events.some((e) => e.type === 'turn.failed')).toBe(true)
    expect(result.ms).toBeLessThan(20_000)
  }, 60_000)
})
