import type { FastifyInstance, InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { AUTH, TEST_KEY, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, recordingBackend, sharedTestApp, userMessage } from '../helpers/http.js'

const CHAT = '/v1/chat/completions'

/** After any bad request, a good one still gets its answer from the fake Codex. */
async function expectStillServing (app: FastifyInstance): Promise<void> {
  const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage('still there?') } })
  expect(res.statusCode).toBe(200)
  expect(res.json().choices[0].message.content).toBe('echo: still there?')
}

const chat = (payload: unknown, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: CHAT,
  headers: { ...AUTH, 'content-type': 'application/json', ...headers },
  payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
})

const BAD_BODIES: Array<[string, Record<string, unknown>, string]> = [
  ['messages missing', { model: 'codex-5' }, 'messages'],
  ['messages empty', { model: 'codex-5', messages: [] }, 'messages'],
  ['messages a string', { model: 'codex-5', messages: 'hello' }, 'messages'],
  ['messages an object', { model: 'codex-5', messages: { role: 'user', content: 'hi' } }, 'messages'],
  ['a message without role', { messages: [{ content: 'hi' }] }, 'messages[0].role'],
  ['a message with an unknown role', { messages: [{ role: 'wizard', content: 'hi' }] }, 'messages[0].role'],
  ['a role of the wrong type', { messages: [{ role: 7, content: 'hi' }] }, 'messages[0].role'],
  ['a second message with a bad role', { messages: [{ role: 'user', content: 'hi' }, { role: 'robot', content: 'x' }] }, 'messages[1].role'],
  ['numeric content', { messages: [{ role: 'user', content: 42 }] }, 'messages[0].content'],
  ['object content', { messages: [{ role: 'user', content: { text: 'hi' } }] }, 'messages[0].content'],
  ['boolean content', { messages: [{ role: 'user', content: true }] }, 'messages[0].content'],
  ['a user message with empty content', { messages: [{ role: 'user', content: '' }] }, 'messages[0].content'],
  ['no user message', { messages: [{ role: 'system', content: 'be brief' }] }, 'messages'],
  ['stream a string', { messages: userMessage('hi'), stream: 'yes' }, 'stream'],
  ['stream a number', { messages: userMessage('hi'), stream: 1 }, 'stream'],
  ['n > 1', { messages: userMessage('hi'), n: 2 }, 'n'],
  ['an unknown reasoning effort', { messages: userMessage('hi'), reasoning_effort: 'extreme' }, 'reasoning_effort'],
  // The proto backend cannot honour these: refused clearly, never silently dropped.
  ['tools on a backend without tools', { messages: userMessage('hi'), tools: [{ type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } }] }, 'tools'],
  ['an image on a backend without images', { messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] }, 'messages'],
  ['response_format json_schema on a backend without structured output', { messages: userMessage('hi'), response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } } }, 'response_format']
]

const BAD_MODELS: Array<[string, string]> = [
  ['spaces and shell characters', 'codex-5; rm -rf /'],
  ['a quote (TOML injection)', 'gpt-5" -c sandbox_mode="danger-full-access'],
  ['a leading dash (option injection)', '--help'],
  ['codex/ and a leading dash', 'codex/--help'],
  ['a newline', 'codex-5\nproto'],
  ['non-ASCII', 'gpt-5-ünïcode'],
  ['129 characters', `m${'x'.repeat(128)}`],
  ['300 characters', 'x'.repeat(300)]
]

describe('bad requests are refused before any turn runs', () => {
  const backend = recordingBackend()
  const shared = sharedTestApp({ backend })

  it.each(BAD_BODIES)('%s → 400 param %s', async (_name, payload, param) => {
    const before = backend.requests.length
    for (const stream of [undefined, true]) {
      const body = stream === undefined || 'stream' in payload ? payload : { ...payload, stream }
      const res = await shared().app.inject(chat(body))
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expectEnvelope(res.json(), { type: 'invalid_request_error', param })
    }
    expect(backend.requests.length).toBe(before)
  })

  it.each(BAD_MODELS)('a model id with %s is a 400 param model and reaches no backend', async (_name, model) => {
    const before = backend.requests.length
    for (const stream of [false, true]) {
      const res = await shared().app.inject(chat({ model, messages: userMessage('hi'), stream }))
      expect(res.statusCode).toBe(400)
      expectEnvelope(res.json(), { type: 'invalid_request_error', param: 'model' })
    }
    expect(backend.requests.length).toBe(before)
    // The same request with a valid id does reach the backend.
    const ok = await shared().app.inject(chat({ model: 'codex-5', messages: userMessage('hi') }))
    expect(ok.statusCode).toBe(200)
    expect(backend.requests.length).toBe(before + 1)
  })

  it('a bad field deep inside a union names that field, not the union (image_url.detail "ultra")', async () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'ultra' } }] }]
    const res = await shared().app.inject(chat({ messages }))
    expect(res.statusCode).toBe(400)
    const error = expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_value', param: 'messages[0].content[1].image_url.detail' })
    expect(error.message).toBe('Invalid request: messages[0].content[1].image_url.detail must be one of: auto, low, high.')
    expect(error.message).not.toMatch(/must be string/)
  })

  it.each([
    ['reasoning_effort', (effort: string) => ({ reasoning_effort: effort })],
    ['reasoning.effort', (effort: string) => ({ reasoning: { effort } })]
  ])('a 10,000-character %s is a 400 that does not echo it back', async (param, field) => {
    const effort = 'e'.repeat(10_000)
    const res = await shared().app.inject(chat({ messages: userMessage('hi'), ...field(effort) }))
    expect(res.statusCode).toBe(400)
    const error = expectEnvelope(res.json(), { type: 'invalid_request_error', param })
    expect(res.body.length).toBeLessThan(400)
    expect(error.message).not.toContain('e'.repeat(33))
    // Within the schema's 64 characters, an unknown effort is quoted, shortened to 32.
    const quoted = await shared().app.inject(chat({ messages: userMessage('hi'), ...field('f'.repeat(64)) }))
    const message = expectEnvelope(quoted.json(), { param, code: 'invalid_value' }).message
    expect(message).toContain(`\`${'f'.repeat(32)}\``)
    expect(message).not.toContain('f'.repeat(33))
  })

  it('a 128-character model id is accepted and reaches the backend as it is', async () => {
    const model = `m${'x'.repeat(127)}`
    const res = await shared().app.inject(chat({ model, messages: userMessage('hi') }))
    expect(res.statusCode).toBe(200)
    expect(res.json().model).toBe(model)
    expect(backend.requests.at(-1)?.model).toBe(model)
  })

  it.each([
    ['no key', {}],
    ['a wrong bearer key', { authorization: 'Bearer wrong-key' }],
    ['a wrong x-api-key', { 'x-api-key': 'wrong-key' }],
    ['an empty bearer', { authorization: 'Bearer ' }]
  ])('%s is a 401 with WWW-Authenticate', async (_name, headers) => {
    const before = backend.requests.length
    const res = await shared().app.inject({ method: 'POST', url: CHAT, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify({ messages: userMessage('hi') }) })
    expect(res.statusCode).toBe(401)
    expect(res.headers['www-authenticate']).toBe('Bearer realm=api')
    expectEnvelope(res.json(), { type: 'authentication_error', code: 'invalid_api_key' })
    expect(res.body).not.toContain(TEST_KEY)
    expect(backend.requests.length).toBe(before)
  })

  it('auth is checked before the body: a bad body without a key is a 401', async () => {
    const res = await shared().app.inject({ method: 'POST', url: CHAT, headers: { 'content-type': 'application/json' }, payload: '{bad' })
    expect(res.statusCode).toBe(401)
    expectEnvelope(res.json(), { type: 'authentication_error' })
  })

  it('an unknown route is a 404', async () => {
    for (const url of ['/nope', '/v1/nope', '/v1/chat/completion', '/v2/chat/completions']) {
      const res = await shared().app.inject({ method: 'GET', url, headers: AUTH })
      expect(res.statusCode, url).toBe(404)
      expectEnvelope(res.json(), { type: 'not_found_error', code: 'unknown_url' })
    }
    const post = await shared().app.inject({ method: 'POST', url: '/v1/completions', headers: AUTH, payload: {} })
    expect(post.statusCode).toBe(404)
    expectEnvelope(post.json(), { type: 'not_found_error' })
  })

  it.each([
    ['GET', CHAT, 'POST'],
    ['PUT', CHAT, 'POST'],
    ['DELETE', '/v1/models', 'GET'],
    ['POST', '/v1/models', 'GET'],
    ['POST', '/healthz', 'GET'],
    ['DELETE', '/v1/usage', 'GET']
  ] as const)('%s %s is a 405 with an allow header', async (method, url, allowed) => {
    const res = await shared().app.inject({ method, url, headers: AUTH })
    expect(res.statusCode).toBe(405)
    const allow = String(res.headers.allow ?? '').split(',').map((m) => m.trim())
    expect(allow).toContain(allowed)
    expect(allow).not.toContain(method)
    expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'method_not_allowed' })
  })
})

describe('bad bodies', () => {
  const shared = sharedTestApp()

  it('malformed JSON is a 400 invalid_json', async () => {
    for (const body of ['{"model": "codex-5", "messages": [', '{bad json}', 'null x']) {
      const res = await shared().app.inject(chat(body))
      expect(res.statusCode).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_json', param: null })
    }
  })

  it('an empty JSON body is a 400', async () => {
    const res = await shared().app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json' }, payload: '' })
    expect(res.statusCode).toBe(400)
    expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_json' })
  })

  it('text/plain and form bodies are a 415', async () => {
    const body = JSON.stringify({ model: 'codex-5', messages: userMessage('hi') })
    for (const contentType of ['text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const payload = contentType.startsWith('application/x-www') ? 'model=codex-5&messages=hi' : body
      const res = await shared().app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': contentType }, payload })
      expect(res.statusCode, contentType).toBe(415)
      expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'unsupported_media_type', param: null })
    }
  })

  it('after every kind of bad request the same server still answers', async () => {
    const { app } = shared()
    for (const [name, payload, param] of BAD_BODIES) {
      const res = await app.inject(chat(payload))
      expect(res.statusCode, name).toBe(400)
      expect(res.json().error.param, name).toBe(param)
    }
    for (const [, model] of BAD_MODELS) expect((await app.inject(chat({ model, messages: userMessage('x') }))).statusCode).toBe(400)
    expect((await app.inject(chat('{bad'))).statusCode).toBe(400)
    expect((await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'text/plain' }, payload: 'x' })).statusCode).toBe(415)
    await expectStillServing(app)
  })

  it('the fields OpenAI clients send and Codex cannot honour are accepted and ignored', async () => {
    const res = await shared().app.inject(chat({
      model: 'codex-5',
      messages: userMessage('extra fields'),
      temperature: 0.2,
      top_p: 0.9,
      user: 'user-1234',
      stream: false,
      stream_options: { include_usage: true },
      metadata: { session: 'abc' },
      max_tokens: 256,
      max_completion_tokens: 512,
      seed: 42,
      store: false,
      logprobs: false,
      top_logprobs: null,
      frequency_penalty: 0.5,
      presence_penalty: 0.1,
      stop: ['\n\n'],
      logit_bias: { 50256: -100 },
      n: 1,
      parallel_tool_calls: true,
      service_tier: 'auto',
      prompt_cache_key: 'k',
      something_new: { nested: [1, 2, 3] }
    }))
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('echo: extra fields')
  })

  it('message fields clients add (name, null content on an assistant turn, text parts) are accepted', async () => {
    const res = await shared().app.inject(chat({
      model: 'codex-5',
      messages: [
        { role: 'system', content: 'be brief', name: 'sys' },
        { role: 'user', content: 'first', name: 'alice' },
        { role: 'assistant', content: null },
        { role: 'user', content: [{ type: 'text', text: 'second' }] }
      ]
    }))
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('echo: second')
  })
})

describe('PROXY_BODY_LIMIT_BYTES', () => {
  it('a body over the limit is a 413', async () => {
    const { app } = await buildTestApp({ env: { PROXY_BODY_LIMIT_BYTES: '2048' } })
    const res = await app.inject(chat({ model: 'codex-5', messages: userMessage('x'.repeat(4096)) }))
    expect(res.statusCode).toBe(413)
    expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'request_too_large', param: null })
    // Just under the limit is fine.
    const ok = await app.inject(chat({ model: 'codex-5', messages: userMessage('y'.repeat(1500)) }))
    expect(ok.statusCode).toBe(200)
    expect(ok.json().choices[0].message.content).toBe(`echo: ${'y'.repeat(1500)}`)
  })
})
