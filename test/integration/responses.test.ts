import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { usageFor } from '../fixtures/mock-upstream.mjs'
import { AUTH, TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectEnvelope, openStream, parseSse, postChat, readUsageLog } from '../helpers/http.js'
import { offlineFetch } from '../helpers/offline.js'

// POST /v1/responses end to end with the official openai SDK (6.49, the last major on Node 20),
// through the real Codex app-server and the mock upstream, whose request log shows what Codex sent.

let h: CodexUpstreamApp
let client: OpenAI
const net = offlineFetch()

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true, env: { PROXY_API_KEYS: 'bob=key-of-bob', SSE_KEEPALIVE_MS: '200' } })
  client = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, organization: null, project: null, maxRetries: 0, timeout: 20_000 })
})
afterAll(async () => {
  await h.close()
  expect(net.blocked()).toEqual([])
})

function upstreamFor (marker: string): MockRequest {
  const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(-1)
  if (found === undefined) throw new Error(`no upstream request with ${marker}`)
  return found
}
const texts = (req: MockRequest): string[] => (req.body?.input ?? []).map((item) => {
  const content = item.content as Array<{ text?: string }> | undefined
  return `${String(item.role ?? item.type)}: ${(content ?? []).map((c) => c.text ?? '').join('')}${typeof item.output === 'string' ? item.output : ''}`
})

describe('POST /v1/responses with the openai SDK', () => {
  it('answers non-stream: the completed response object, output_text and the real usage', async () => {
    const response = await client.responses.create({ model: 'codex-5', instructions: 'Be brief.', input: 'hello responses r1' })
    expect(response.object).toBe('response')
    expect(response.id).toMatch(/^resp_/)
    expect(response.status).toBe('completed')
    expect(response.model).toBe('codex-5')
    expect(response.output_text).toBe('ECHO: hello responses r1')
    expect(response.instructions).toBe('Be brief.')
    const upstream = upstreamFor('hello responses r1')
    const expected = usageFor(upstream.seq)
    expect(response.usage).toEqual({
      input_tokens: expected.input_tokens,
      input_tokens_details: { cached_tokens: 7 },
      output_tokens: 20,
      output_tokens_details: { reasoning_tokens: 3 },
      total_tokens: expected.total_tokens
    })
    // instructions are the base instructions: the first developer message, then the user input.
    expect(texts(upstream)).toEqual(['developer: Be brief.', 'user: hello responses r1'])
  })

  it('streams raw events in order, each with a sequence_number, ending with response.completed', async () => {
    const stream = await client.responses.create({ model: 'codex-5', input: [{ role: 'user', content: 'stream raw r2' }], stream: true })
    const events = []
    for await (const event of stream) events.push(event)
    const types = events.map((e) => e.type)
    expect(types.slice(0, 4)).toEqual(['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added'])
    expect(types.slice(-4)).toEqual(['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed'])
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_e, i) => i))
    const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
    expect(deltas.join('')).toBe('ECHO: stream raw r2')
    const completed = events.at(-1)
    const output = completed?.type === 'response.completed' ? completed.response.output : []
    expect(output).toEqual([{ type: 'message', id: expect.stringMatching(/^msg_mock_/) as string, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'ECHO: stream raw r2', annotations: [], logprobs: [] }] }])
  })

  it('responses.stream().finalResponse() with reasoning summaries and encrypted content when included', async () => {
    const stream = client.responses.stream({
      model: 'codex-5', input: '[reason2] think r3', reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content']
    })
    const summaries: string[] = []
    stream.on('response.reasoning_summary_text.delta', (e) => { summaries.push(e.delta) })
    const final = await stream.finalResponse()
    expect(final.output_text).toBe('ECHO: [reason2] think r3')
    const [reasoning, message] = final.output
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Thinking about the echo.' }, { type: 'summary_text', text: 'Then answering it.' }] })
    expect((reasoning as { encrypted_content?: string }).encrypted_content).toMatch(/^enc_rs_mock_/)
    expect(message?.type).toBe('message')
    expect(summaries.join('')).toBe('Thinking about the echo.Then answering it.')
    expect((upstreamFor('think r3').body?.reasoning as { effort?: string, summary?: string })).toMatchObject({ effort: 'low', summary: 'auto' })
  })

  it('leaves encrypted content out unless `include` asks for it', async () => {
    const response = await client.responses.create({ model: 'codex-5', input: '[reason] plain r4', reasoning: { summary: 'auto' } })
    expect(response.output[0]).toMatchObject({ type: 'reasoning' })
    expect(response.output[0]).not.toHaveProperty('encrypted_content')
  })

  it('runs a strict function tool round: function_call out, function_call_output back', async () => {
    const tools: OpenAI.Responses.Tool[] = [{
      type: 'function',
      name: 'get_weather',
      description: 'Weather of a city',
      strict: true,
      parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false }
    }]
    const first = await client.responses.create({ model: 'codex-5', input: 'weather? [tool:get_weather] r5', tools })
    const call = first.output.find((o) => o.type === 'function_call')
    expect(call).toMatchObject({ type: 'function_call', name: 'get_weather', arguments: '{"q":"x"}', status: 'completed' })
    expect(call?.type === 'function_call' ? call.call_id : '').toMatch(/^call_mock_/)
    const second = await client.responses.create({
      model: 'codex-5',
      tools,
      input: [
        { role: 'user', content: 'weather? [tool:get_weather] r5' },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: call?.type === 'function_call' ? call.call_id : '', output: 'sunny' }
      ]
    })
    expect(second.output_text).toBe('TOOL RESULT: sunny')
    // The stream helper assembles the same call from the streamed events.
    const streamed = await client.responses.stream({ model: 'codex-5', input: 'weather? [tool:get_weather] r5s', tools }).finalResponse()
    expect(streamed.output.find((o) => o.type === 'function_call')).toMatchObject({ name: 'get_weather', arguments: '{"q":"x"}' })
  })

  it('continues with previous_response_id: the model sees the earlier input and output, chains of any length', async () => {
    const one = await client.responses.create({ model: 'codex-5', input: 'first r6' })
    const two = await client.responses.create({ model: 'codex-5', input: 'second r6', previous_response_id: one.id })
    const three = await client.responses.create({ model: 'codex-5', input: 'third r6', previous_response_id: two.id })
    expect(three.previous_response_id).toBe(two.id)
    expect(texts(upstreamFor('third r6'))).toEqual([
      'user: first r6', 'assistant: ECHO: first r6', 'user: second r6', 'assistant: ECHO: second r6', 'user: third r6'
    ])
  })

  it('replays stored reasoning in a chain, encrypted content included, even when the client did not ask to see it', async () => {
    const one = await client.responses.create({ model: 'codex-5', input: '[reason] chain reasoning r7', reasoning: { summary: 'auto' } })
    await client.responses.create({ model: 'codex-5', input: 'next r7', previous_response_id: one.id })
    const replayed = (upstreamFor('next r7').body?.input ?? []).find((item) => item.type === 'reasoning')
    expect(replayed?.encrypted_content).toMatch(/^enc_rs_mock_/)
  })

  it('refuses an unknown previous_response_id with 400 previous_response_not_found, before anything goes upstream', async () => {
    const before = h.upstream.requests.length
    const err = await client.responses.create({ model: 'codex-5', input: 'x', previous_response_id: 'resp_missing' }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(OpenAI.BadRequestError)
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).code).toBe('previous_response_not_found')
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('previous_response_id')
    expect(h.upstream.requests.length).toBe(before)
  })

  it('retrieves, lists the input items of, and deletes a stored response', async () => {
    const created = await client.responses.create({ model: 'codex-5', input: [{ role: 'user', content: 'keep me r8' }] })
    const got = await client.responses.retrieve(created.id)
    expect(got).toEqual(created)
    const items = await client.responses.inputItems.list(created.id)
    expect(items.data).toHaveLength(1)
    expect(items.data[0]).toMatchObject({ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'keep me r8' }] })
    expect(items.data[0]?.id).toMatch(/^msg_/)
    // Pages, newest first by default, as OpenAI's list does (the SDK sends limit as a query string).
    const three = await client.responses.create({ model: 'codex-5', input: [{ role: 'user', content: 'a r8' }, { role: 'user', content: 'b r8' }, { role: 'user', content: 'c r8' }] })
    const page = await client.responses.inputItems.list(three.id, { limit: 2 })
    expect(page.data.map((i) => (i as { content: Array<{ text: string }> }).content[0]?.text)).toEqual(['c r8', 'b r8'])
    expect(page.has_more).toBe(true)
    const asc = await client.responses.inputItems.list(three.id, { limit: 1, order: 'asc' })
    expect(asc.data.map((i) => (i as { content: Array<{ text: string }> }).content[0]?.text)).toEqual(['a r8'])
    await client.responses.delete(created.id)
    const gone = await client.responses.retrieve(created.id).then(() => undefined, (e: unknown) => e)
    expect(gone).toBeInstanceOf(OpenAI.NotFoundError)
    // A deleted response cannot be continued either.
    const cont = await client.responses.create({ model: 'codex-5', input: 'x', previous_response_id: created.id }).then(() => undefined, (e: unknown) => e)
    expect((cont as { code?: string }).code).toBe('previous_response_not_found')
  })

  it('stores nothing with store: false (Codex and opencode send it)', async () => {
    const created = await client.responses.create({ model: 'codex-5', input: 'ephemeral r9', store: false })
    expect((created as unknown as { store: boolean }).store).toBe(false)
    expect(await client.responses.retrieve(created.id).then(() => 'found', () => 'missing')).toBe('missing')
  })

  it('echoes the parameters it accepts and ignores, as OpenAI does', async () => {
    const ignored = {
      metadata: { team: 'a' },
      max_output_tokens: 500,
      temperature: 0.2,
      top_p: 0.9,
      truncation: 'auto' as const,
      service_tier: 'default' as const,
      prompt_cache_key: 'pck-1',
      user: 'u-1',
      safety_identifier: 's-1',
      text: { verbosity: 'low' as const }
    }
    const response = await client.responses.create({ model: 'codex-5', input: 'echo r10', ...ignored })
    expect(response).toMatchObject(ignored)
  })

  it('answers json_schema text formats through Codex\'s output schema', async () => {
    const response = await client.responses.create({
      model: 'codex-5',
      input: '[json] structured r11',
      text: { format: { type: 'json_schema', name: 'echo', strict: true, schema: { type: 'object', properties: { echo: { type: 'string' } }, required: ['echo'], additionalProperties: false } } }
    })
    expect(JSON.parse(response.output_text)).toEqual({ echo: 'structured r11' })
    expect((upstreamFor('structured r11').body?.text as { format?: { type?: string } } | undefined)?.format?.type).toBe('json_schema')
  })

  it('carries custom (grammar) tools as a function with one input and answers with custom_tool_call', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'custom', name: 'apply_patch', description: 'Apply a patch', format: { type: 'grammar', syntax: 'lark', definition: 'start: "*** Begin Patch" /(.|\\n)*/' } }]
    const response = await client.responses.create({ model: 'codex-5', input: 'patch it [custom:apply_patch] r12', tools })
    const call = response.output.find((o) => o.type === 'custom_tool_call')
    expect(call).toMatchObject({ type: 'custom_tool_call', input: '*** Begin Patch\n*** End Patch' })
    const sent = (upstreamFor('r12').body?.tools ?? []) as Array<{ type: string, name: string, parameters?: { properties?: Record<string, unknown> } }>
    expect(sent).toHaveLength(1)
    expect(sent[0]?.type).toBe('function')
    expect(Object.keys(sent[0]?.parameters?.properties ?? {})).toEqual(['input'])
    // Streamed: the custom tool call input events.
    const stream = await client.responses.create({ model: 'codex-5', input: 'patch it [custom:apply_patch] r12s', tools, stream: true })
    const types: string[] = []
    for await (const e of stream) types.push(e.type)
    expect(types).toContain('response.custom_tool_call_input.delta')
    expect(types).toContain('response.custom_tool_call_input.done')
  })

  it('drops hosted tools (web_search, file_search, …) and never sends them upstream', async () => {
    const response = await client.responses.create({
      model: 'codex-5', input: 'hosted r13', tools: [{ type: 'web_search' }, { type: 'file_search', vector_store_ids: ['vs_1'] }]
    })
    expect(response.status).toBe('completed')
    expect(upstreamFor('hosted r13').body?.tools ?? []).toEqual([])
  })

  it('refuses what it cannot do with a 400 naming the field', async () => {
    const bad = async (body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const res = await h.app.inject({ method: 'POST', url: '/v1/responses', headers: AUTH, payload: { model: 'codex-5', ...body } })
      expect(res.statusCode, JSON.stringify(body)).toBe(400)
      return expectEnvelope(res.json(), { type: 'invalid_request_error' })
    }
    expect((await bad({ input: [{ type: 'input_file_thing' }] })).param).toBe('input[0].type')
    expect((await bad({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] })).param).toBe('input[0].content[0].image_url')
    expect((await bad({ input: [{ role: 'robot', content: 'x' }] })).param).toBe('input[0].role')
    expect((await bad({ input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'function', name: 'f' }] })).param).toBe('tools[1].name')
    expect((await bad({ input: 'x', tool_choice: { type: 'function', name: 'nope' } })).param).toBe('tool_choice.name')
    expect((await bad({ input: 'x', reasoning: { effort: 'extreme' } })).param).toBe('reasoning.effort')
    expect((await bad({ input: [] })).param).toBe('input')
  })

  it('records each response in the usage log under /v1/responses with the real tokens', async () => {
    await client.responses.create({ model: 'codex-5-high', input: 'ledger r14' })
    await h.app.usage.flush()
    const line = (await readUsageLog(h.config.TOKEN_LOG_PATH)).filter((e) => e.route === '/v1/responses').at(-1)
    expect(line).toMatchObject({ route: '/v1/responses', dialect: 'responses', requested_model: 'codex-5-high', usage_source: 'codex', status: 200, key_name: 'default' })
    expect(line?.prompt_tokens_est).toBe(usageFor(upstreamFor('ledger r14').seq).input_tokens)
  })

  it('says response.incomplete when the upstream stops for length, with what was written', async () => {
    const response = await client.responses.create({ model: 'codex-5', input: 'long response [incomplete] r16' })
    expect(response).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } })
    expect(response.output_text).toBe('PARTIAL ANSWER CUT OFF')
    const stream = await client.responses.create({ model: 'codex-5', input: 'long response [incomplete] r16s', stream: true })
    const types: string[] = []
    for await (const e of stream) types.push(e.type)
    expect(types.at(-1)).toBe('response.incomplete')
  })

  it('is served at the root too, as chat completions are', async () => {
    const res = await h.app.inject({ method: 'POST', url: '/responses', headers: AUTH, payload: { model: 'codex-5', input: 'root r15' } })
    expect(res.statusCode).toBe(200)
    expect(res.json<{ status: string }>().status).toBe('completed')
  })
})

describe('a failure after the stream started, on the wire', () => {
  it.each([
    { marker: '[failmid]', code: 'server_error', type: 'server_error', param: null },
    { marker: '[failmid:context]', code: 'context_length_exceeded', type: 'invalid_request_error', param: 'input' },
    { marker: '[failmid:ratelimit]', code: 'rate_limit_exceeded', type: 'rate_limit_error', param: null }
  ])('$marker: the partial answer, then response.failed with code $code, then error, and no [DONE]', async ({ marker, code, type, param }) => {
    const res = await postChat(h.app, { model: 'codex-5', input: `cut off ${marker} f1`, stream: true }, { path: '/v1/responses' })
    expect(res.status).toBe(200)
    expect(String(res.headers['content-type'])).toMatch(/^text\/event-stream/)
    expect(res.raw).not.toContain('[DONE]')
    const blocks = parseSse(res.raw).filter((b) => b.data !== undefined)
    const events = blocks.map((b) => ({ name: b.event, data: JSON.parse(b.data ?? '{}') as Record<string, unknown> }))
    const names = events.map((e) => e.name)
    expect(names).toContain('response.output_text.delta')
    expect(names.slice(-2)).toEqual(['response.failed', 'error'])
    expect(names).not.toContain('response.completed')
    expect(events.map((e) => e.data.type)).toEqual(names)
    expect(events.map((e) => e.data.sequence_number)).toEqual(events.map((_e, i) => i))
    const failed = events.at(-2)?.data.response as { status: string, error: { code: string, message: string }, usage: unknown }
    expect(failed.status).toBe('failed')
    expect(failed.error.code).toBe(code)
    expect(failed.usage).toBeNull()
    const error = events.at(-1)?.data as { code: string, message: string, param: unknown, error: Record<string, unknown> }
    expect(error).toMatchObject({ type: 'error', code, message: failed.error.message, param })
    expect(error.error).toEqual({ type, code, message: failed.error.message, param })
  })
})

describe('stored responses belong to the key that created them', () => {
  it('another key sees them as missing: retrieve, input_items, delete, previous_response_id', async () => {
    const bob = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: 'key-of-bob', maxRetries: 0 })
    const mine = await client.responses.create({ model: 'codex-5', input: 'private k1' })
    expect(await bob.responses.retrieve(mine.id).then(() => 'seen', (e: unknown) => (e instanceof OpenAI.NotFoundError ? 'missing' : 'other'))).toBe('missing')
    expect(await bob.responses.inputItems.list(mine.id).then(() => 'seen', (e: unknown) => (e instanceof OpenAI.NotFoundError ? 'missing' : 'other'))).toBe('missing')
    expect(await bob.responses.delete(mine.id).then(() => 'deleted', (e: unknown) => (e instanceof OpenAI.NotFoundError ? 'missing' : 'other'))).toBe('missing')
    const cont = await bob.responses.create({ model: 'codex-5', input: 'x', previous_response_id: mine.id }).then(() => undefined, (e: unknown) => e)
    expect((cont as { code?: string }).code).toBe('previous_response_not_found')
    // And it is still there for its owner.
    expect((await client.responses.retrieve(mine.id)).id).toBe(mine.id)
  })
})

describe('the operator\'s kit on /v1/responses', () => {
  it('sends keepalive comments on an idle stream (the SDK ignores them), none with X-No-Keepalive', async () => {
    const withKeepalive = await openStream(h.app, { model: 'codex-5', input: 'slow one k2 [slow]', stream: true }, (t) => t.includes(': keepalive'), {}, '/v1/responses')
    withKeepalive.controller.abort()
    const quiet = await openStream(h.app, { model: 'codex-5', input: 'quiet one k3 [slow]', stream: true }, (t) => t.includes('response.completed'), { 'x-no-keepalive': '1' }, '/v1/responses')
    expect(await quiet.rest).not.toContain(': keepalive')
  }, 20_000)

  it('interrupts the turn when the client goes away: the upstream request is closed', async () => {
    const stream = await openStream(h.app, { model: 'codex-5', input: 'walk away k4 [slow]', stream: true }, (t) => t.includes('output_text.delta'), {}, '/v1/responses')
    const upstream = upstreamFor('walk away k4')
    stream.controller.abort()
    expect(await upstream.ended).toBe('closedEarly')
  })

  it('labels the turn metrics with the dialect', async () => {
    await client.responses.create({ model: 'codex-5', input: 'metrics k5' })
    const metrics = (await h.app.inject({ method: 'GET', url: '/metrics', headers: AUTH })).body
    expect(metrics).toMatch(/codex_api_turns_total\{dialect="responses",status="200"\} [1-9]/)
  })
})
