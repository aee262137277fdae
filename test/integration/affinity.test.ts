import OpenAI from 'openai'
import { request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { lastUserText } from '../fixtures/mock-upstream.mjs'
import { DRIVERS, cacheKeys, clientsFor, grown, roundsMetric, unpairedOutputs, upstreamTranscript, type Clients, type ConversationOptions, type Driver, type Round, type ToolSpec } from '../helpers/affinity-drivers.js'
import { AUTH, TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { readUsageLog } from '../helpers/http.js'
import { expectOnlyHeldThreads } from '../helpers/threads.js'
import { waitFor } from '../helpers/wait.js'

// One Codex thread per conversation, on all three APIs, with the real Codex app-server and the
// mock upstream: the upstream's request log shows one prompt_cache_key (Codex sends its thread id)
// for the rounds of one conversation, and a new one whenever a round must not continue it. The same
// scenarios run on every API through a conversation driver (test/helpers/affinity-drivers.ts):
// chat completions and /v1/responses with the openai SDK (a previous_response_id chain, and the
// whole input each round as Codex and opencode send it), /v1/messages with the Anthropic SDK.

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam

let h: CodexUpstreamApp
let clients: Clients
let openai: OpenAI

beforeAll(async () => {
  // [slow] answers take 40 × 25 ms: long enough for two rounds to overlap, short enough for CI.
  h = await startCodexUpstreamApp({ listen: true, env: { PROXY_API_KEYS: 'bob=key-of-bob' }, mock: { slowDelayMs: 25 } })
  clients = clientsFor(h)
  openai = clients.openai.alice
})
afterAll(async () => { await h.close() })

/** The upstream requests made since now. */
const since = (): (() => MockRequest[]) => {
  const n = h.upstream.requests.length
  return () => h.upstream.requests.slice(n)
}
const inputText = (r: MockRequest | undefined): string => JSON.stringify(r?.body?.input ?? [])
const backend = (app: CodexUpstreamApp = h): AppServerBackend => app.app.codex as AppServerBackend
const weather: ToolSpec = { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }
const chatWeather: OpenAI.Chat.ChatCompletionTool = { type: 'function', function: { name: weather.name, parameters: weather.parameters } }
const lookup: ToolSpec = { name: 'lookup', strict: true, parameters: { type: 'object', properties: { q: { type: 'string', minLength: 2 }, n: { type: 'integer' } }, required: ['q', 'n'], additionalProperties: false } }
let tags = 0
/** A marker unique to one test, so that its upstream requests can be told apart. */
const tag = (): string => `a${++tags}`

async function metric (name: string): Promise<string> {
  const res = await request(`${baseUrl(h.app)}/metrics`, { headers: AUTH })
  return (await res.body.text()).split('\n').filter((l) => l.startsWith(name)).join('\n')
}

/** Waits for the rounds metric of the dialect to have grown by exactly this much since `before`. */
async function expectRounds (app: CodexUpstreamApp, api: Driver, before: Record<string, number>, expected: Record<string, number>): Promise<void> {
  await expect.poll(async () => grown(before, await roundsMetric(app, api.dialect)), { timeout: 3000 }).toEqual(expected)
}

/** One upstream request for the round, with the whole conversation in order, every tool output after its call. */
function expectWholeHistory (round: Round): MockRequest {
  expect(round.upstream).toHaveLength(1)
  const [r] = round.upstream as [MockRequest]
  expect(upstreamTranscript(r)).toEqual(round.sent)
  expect(unpairedOutputs(r)).toEqual([])
  return r
}

for (const api of DRIVERS) {
  describe(`${api.label}: one thread per conversation`, () => {
    const start = (opts: ConversationOptions = {}): ReturnType<Driver['start']> => api.start(h, clients, opts)

    for (const stream of [false, true]) {
      it(`five rounds of text and tool calls${stream ? ', streamed' : ''}: one upstream request each, one prompt_cache_key, the whole history in every request`, async () => {
        const t = tag()
        const before = await roundsMetric(h, api.dialect)
        // Streamed: each answer is rebuilt from the events (the SDKs' stream helpers; on /v1/responses
        // from output_item.done, as Codex does), and that is what goes back next round.
        const c = start({ system: `Be brief. ${t}`, tools: [weather], stream })
        const rounds: Round[] = []
        rounds.push(await c.say(`first ${t}`))
        expect(rounds[0]?.text).toBe(`ECHO: first ${t}`)
        rounds.push(await c.say(`second ${t}`))
        const call = await c.say(`weather? ${t} [reason] [tool:get_weather:{"city":"Oslo"}]`)
        rounds.push(call)
        expect(call.calls).toMatchObject([{ name: 'get_weather', arguments: '{"city":"Oslo"}' }])
        const result = await c.results([`sunny ${t}`])
        rounds.push(result)
        expect(result.text).toBe(`TOOL RESULT: sunny ${t}`)
        const last = await c.say(`thanks ${t}`)
        rounds.push(last)
        expect(last.text).toBe(`ECHO: thanks ${t}`)

        // Exactly one upstream request per round, each with everything so far in order (the model
        // still sees it all), all on one thread.
        const requests = rounds.map(expectWholeHistory)
        expect(new Set(cacheKeys(requests)).size).toBe(1)
        // The tool round continued the same turn: its result came back as the output of the model's call.
        expect(requests[3]?.body?.input?.at(-1)).toMatchObject({ type: 'function_call_output', call_id: `call_mock_${requests[2]?.seq ?? 0}_0`, output: `sunny ${t}` })
        await expectRounds(h, api, before, { 'fresh/none_held': 1, continued: 4 })
      })
    }

    it('starts fresh for an edited history, another key and other tools, says why, and the conversation itself goes on', async () => {
      const t = tag()
      const c = start({ system: `Be brief. ${t}`, tools: [weather] })
      const one = await c.say(`one ${t}`)
      const two = await c.say(`two ${t}`)
      const key = cacheKeys([...one.upstream, ...two.upstream])
      expect(new Set(key).size).toBe(1)
      const fresh = async (round: () => Promise<Round>, reason: string): Promise<void> => {
        const before = await roundsMetric(h, api.dialect)
        const r = await round()
        // A fresh thread, with the whole history: never wrong context.
        expect(cacheKeys([expectWholeHistory(r)])[0], reason).not.toBe(key[0])
        await expectRounds(h, api, before, { [`fresh/${reason}`]: 1 })
      }
      // An edit after the first message (the first exchange is kept).
      await fresh(async () => await c.fork({ back: 1 }).say(`two ${t} (edited)`), 'history_changed')
      // An edit of the first message: only the system prompt is shared, as with any other conversation.
      await fresh(async () => await c.fork({ back: 2 }).say(`one ${t} (edited)`), 'none_held')
      // Another API key, with the whole history (a previous_response_id chain: bob sends it as input).
      await fresh(async () => await c.fork({ as: 'bob' }).say(`three ${t}`), 'none_held')
      await fresh(async () => await c.fork({ tools: [weather, lookup] }).say(`three ${t}`), 'settings_changed')
      // None of that took the held conversation: its next round continues it.
      const before = await roundsMetric(h, api.dialect)
      const three = await c.say(`three ${t}`)
      expect(cacheKeys([expectWholeHistory(three)])).toEqual([key[0]])
      await expectRounds(h, api, before, { continued: 1 })
      // The same request again (a retry): nothing new follows what is held.
      await fresh(async () => await c.retry(), 'history_changed')
    })

    it('never mixes two requests that continue one conversation at once: one continues, the other gets its own thread', async () => {
      const t = tag()
      const c = start({ system: `Be brief. ${t}` })
      const first = await c.say(`race ${t}`)
      const key = cacheKeys(first.upstream)[0]
      const before = await roundsMetric(h, api.dialect)
      const upstream = since()
      const [left, right] = await Promise.all([c.fork().say(`[slow] left ${t}`), c.fork().say(`[slow] right ${t}`)])
      expect(left.text).toMatch(new RegExp(`^ECHO: \\[slow\\] left ${t}\\.*$`))
      expect(right.text).toMatch(new RegExp(`^ECHO: \\[slow\\] right ${t}\\.*$`))
      const requests = upstream()
      expect(requests).toHaveLength(2)
      expect(new Set(cacheKeys(requests)).size).toBe(2)
      expect(cacheKeys(requests)).toContain(key)
      // Each request carries its own round and nothing of the other's.
      for (const [round, side] of [[left, 'left'], [right, 'right']] as const) {
        const r = requests.find((q) => lastUserText(q.body?.input).includes(side))
        expect(upstreamTranscript(r)).toEqual(round.sent)
      }
      for (const r of requests) expect(inputText(r).includes(`left ${t}`) && inputText(r).includes(`right ${t}`)).toBe(false)
      await expectRounds(h, api, before, { continued: 1, 'fresh/busy': 1 })
    })

    it('answers parallel calls together, a call the client left out with a note, and tool results plus a new message in one request', async () => {
      const t = tag()
      const c = start({ tools: [weather] })
      const calls = await c.say(`two ${t} [tool:get_weather] [twice]`)
      expect(calls.calls).toHaveLength(2)
      // Only the first call's result comes back.
      const partial = await c.results([`sunny ${t}`])
      const outputs = (partial.upstream[0]?.body?.input ?? []).filter((i) => i.type === 'function_call_output')
      expect(outputs.map((o) => o.output)).toEqual([`sunny ${t}`, 'The client returned no result for this call.'])
      expect(partial.text).toBe(`TOOL RESULT: sunny ${t}; The client returned no result for this call.`)

      const more = start({ tools: [weather] })
      const one = await more.say(`one ${t} [tool:get_weather]`)
      const answer = await more.results([`rain ${t}`], `and Paris? ${t}`)
      expect(answer.text).toBe(`ECHO: and Paris? ${t}`)
      // One upstream request: the result, then the message, under the turn's cache key.
      expect(answer.upstream).toHaveLength(1)
      expect((answer.upstream[0]?.body?.input ?? []).slice(-2)).toMatchObject([{ type: 'function_call_output', output: `rain ${t}` }, { role: 'user' }])
      expect(cacheKeys(answer.upstream)).toEqual(cacheKeys(one.upstream))
    })

    for (const stream of [false, true]) {
      it(`keeps a strict tool strict${stream ? ', streamed' : ''}: a call that breaks the schema goes back to the model, the client gets only the valid one`, async () => {
        const t = tag()
        const before = await roundsMetric(h, api.dialect)
        // Streamed, the invalid call must not have reached the client either: the stream helper would
        // have assembled two calls, or one with both arguments.
        const c = start({ tools: [lookup], stream })
        const found = await c.say(`find ${t} [strictbad:lookup]`)
        expect(found.calls.map((call) => [call.name, JSON.parse(call.arguments) as unknown])).toEqual([['lookup', { q: 'good', n: 2 }]])
        expect(found.upstream).toHaveLength(2)
        const error = (found.upstream[1]?.body?.input ?? []).find((i) => i.type === 'function_call_output')
        expect(String(error?.output)).toMatch(/^Invalid arguments for lookup: .*must be string.*Call lookup again/)
        // The valid call's result continues the same turn, which still has the correction in it.
        const result = await c.results([`found ${t}`])
        expect(result.text).toBe(`TOOL RESULT: found ${t}`)
        expect(result.upstream).toHaveLength(1)
        expect(new Set(cacheKeys([...found.upstream, ...result.upstream])).size).toBe(1)
        expect(upstreamTranscript(result.upstream[0])).toEqual([
          `user: find ${t} [strictbad:lookup]`,
          'call lookup {"q":123,"extra":true}',
          expect.stringMatching(/^output Invalid arguments for lookup: /),
          'call lookup {"q":"good","n":2}',
          `output found ${t}`
        ])
        await expectRounds(h, api, before, { 'fresh/none_held': 1, continued: 1 })
      })
    }
  })
}

describe('an expired conversation starts fresh, on every API, and says so', () => {
  let short: CodexUpstreamApp
  let shortClients: Clients
  beforeAll(async () => {
    short = await startCodexUpstreamApp({ listen: true, env: { PROXY_CONVERSATION_TTL_MS: '400', PROXY_TOOL_CALL_TIMEOUT_MS: '400' } })
    shortClients = clientsFor(short)
  })
  afterAll(async () => { await short.close() })

  for (const api of DRIVERS) {
    it(`${api.label}: an idle conversation past its TTL`, async () => {
      const t = tag()
      const c = api.start(short, shortClients, { system: `Be brief. ${t}`, tools: [weather] })
      const first = await c.say(`one ${t}`)
      await waitFor(() => backend(short).health().conversations?.held === 0, 5000, 'the conversation to expire')
      await expectOnlyHeldThreads(backend(short))
      const before = await roundsMetric(short, api.dialect)
      const next = await c.say(`two ${t}`)
      expect(cacheKeys([expectWholeHistory(next)])).not.toEqual(cacheKeys(first.upstream))
      await expectRounds(short, api, before, { 'fresh/expired': 1 })
    })

    it(`${api.label}: tool results that come after their call timed out`, async () => {
      const t = tag()
      const c = api.start(short, shortClients, { tools: [weather] })
      const call = await c.say(`wait ${t} [tool:get_weather]`)
      expect(backend(short).health().conversations?.parked).toBe(1)
      await waitFor(() => backend(short).health().conversations?.held === 0, 5000, 'the parked call to time out')
      await expectOnlyHeldThreads(backend(short))
      const before = await roundsMetric(short, api.dialect)
      const late = await c.results([`late ${t}`])
      expect(late.text).toBe(`TOOL RESULT: late ${t}`)
      expect(cacheKeys([expectWholeHistory(late)])).not.toEqual(cacheKeys(call.upstream))
      await expectRounds(short, api, before, { 'fresh/expired': 1 })
    })
  }
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
      await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'wait i3 [tool:get_weather]' }], tools: [chatWeather] })
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
