// Black-box: the built server as a real process, driven by the official `openai` SDK.
import OpenAI from 'openai'
import t from 'tap'
import { TEST_KEY, startServer } from '../helpers/blackbox-server.mjs'

// Spawning Node and a fake Codex per request is slow on a loaded CI machine: more than tap's 30 s.
t.setTimeout(120_000)
const server = await startServer()
t.teardown(async () => { await server.stop() })

const client = new OpenAI({ apiKey: TEST_KEY, baseURL: `${server.baseUrl}/v1`, maxRetries: 0, timeout: 20_000 })
const user = (content) => [{ role: 'user', content }]

t.test('models.list() includes codex-5 and its effort variants', async (t) => {
  const ids = []
  for await (const model of client.models.list()) {
    t.equal(model.object, 'model')
    t.type(model.created, 'number')
    t.type(model.owned_by, 'string')
    ids.push(model.id)
  }
  for (const id of ['codex-5', 'codex-5-minimal', 'codex-5-low', 'codex-5-medium', 'codex-5-high']) t.ok(ids.includes(id), `lists ${id}`)
  const one = await client.models.retrieve('codex-5-high')
  t.equal(one.id, 'codex-5-high')
})

t.test('a non-streaming completion returns the echo', async (t) => {
  const completion = await client.chat.completions.create({ model: 'codex-5', messages: user('hello from the sdk') })
  t.match(completion.id, /^chatcmpl-/)
  t.equal(completion.object, 'chat.completion')
  t.equal(completion.model, 'codex-5')
  t.equal(completion.choices.length, 1)
  t.equal(completion.choices[0].message.role, 'assistant')
  t.equal(completion.choices[0].message.content, 'echo: hello from the sdk')
  t.equal(completion.choices[0].finish_reason, 'stop')
  t.ok(completion.usage.prompt_tokens > 0)
  t.ok(completion.usage.completion_tokens > 0)
  t.equal(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens)
})

t.test('a completion with history, a system prompt and client-only parameters', async (t) => {
  const completion = await client.chat.completions.create({
    model: 'codex-5-low',
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: 'ok' },
      { role: 'user', content: 'second' }
    ],
    temperature: 0.3,
    max_completion_tokens: 100,
    user: 'someone'
  })
  t.equal(completion.choices[0].message.content, 'echo: second')
  t.equal(completion.model, 'codex-5-low')
})

t.test('streaming with include_usage: role first, content joins, one stop, a final usage chunk', async (t) => {
  const stream = await client.chat.completions.create({
    model: 'codex-5',
    messages: user('stream this to me please'),
    stream: true,
    stream_options: { include_usage: true }
  })
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  t.ok(chunks.length >= 4, `got ${chunks.length} chunks`)
  t.equal(chunks[0].choices[0].delta.role, 'assistant')
  const ids = new Set(chunks.map((c) => c.id))
  t.equal(ids.size, 1, 'one id for every chunk')
  t.equal(new Set(chunks.map((c) => c.created)).size, 1, 'one created for every chunk')
  const content = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')
  t.equal(content, 'echo: stream this to me please')
  const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((r) => r !== null && r !== undefined)
  t.same(finishes, ['stop'])
  const last = chunks.at(-1)
  t.same(last.choices, [])
  t.ok(last.usage.prompt_tokens > 0)
  t.ok(last.usage.completion_tokens > 0)
  t.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens)
  t.equal(chunks.filter((c) => c.choices.length === 0).length, 1, 'only the last chunk has no choices')
})

t.test('streaming reasoning arrives as delta.reasoning_content', async (t) => {
  const stream = await client.chat.completions.create({ model: 'codex-5-high', messages: user('[reason] go'), stream: true })
  let reasoning = ''
  let content = ''
  for await (const chunk of stream) {
    reasoning += chunk.choices[0]?.delta?.reasoning_content ?? ''
    content += chunk.choices[0]?.delta?.content ?? ''
  }
  t.equal(reasoning, 'Thinking about the echo.')
  t.equal(content, 'echo: [reason] go')
})

t.test('the stream helper: finalChatCompletion()', async (t) => {
  const runner = client.chat.completions.stream({ model: 'codex-5', messages: user('helper stream'), stream_options: { include_usage: true } })
  const deltas = []
  runner.on('content', (delta) => { deltas.push(delta) })
  const final = await runner.finalChatCompletion()
  t.equal(final.choices[0].message.content, 'echo: helper stream')
  t.equal(final.choices[0].finish_reason, 'stop')
  t.equal(deltas.join(''), 'echo: helper stream')
  t.ok(final.usage.total_tokens > 0)
})

t.test('a wrong key is an AuthenticationError (401)', async (t) => {
  const wrong = new OpenAI({ apiKey: 'not-the-key', baseURL: `${server.baseUrl}/v1`, maxRetries: 0 })
  const err = await wrong.chat.completions.create({ model: 'codex-5', messages: user('hi') }).then(() => undefined, (e) => e)
  t.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}`)
  t.equal(err.status, 401)
  t.equal(err.type, 'authentication_error')
  t.equal(err.code, 'invalid_api_key')
  t.equal(err.headers.get('www-authenticate'), 'Bearer realm=api')
})

t.test('a bad request is a BadRequestError (400) naming the param', async (t) => {
  const err = await client.chat.completions.create({ model: 'codex-5', messages: [] }).then(() => undefined, (e) => e)
  t.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}`)
  t.equal(err.status, 400)
  t.equal(err.param, 'messages')
})

t.test('an unknown model is a NotFoundError (404)', async (t) => {
  const err = await client.models.retrieve('no-such-model').then(() => undefined, (e) => e)
  t.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}`)
  t.equal(err.code, 'model_not_found')
})

t.test('a raw fetch of the SSE stream ends with data: [DONE]', async (t) => {
  const res = await fetch(`${server.baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'codex-5', messages: user('raw fetch'), stream: true })
  })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  t.equal(res.headers.get('cache-control'), 'no-cache')
  t.equal(res.headers.get('x-accel-buffering'), 'no')
  const text = await res.text()
  const data = text.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6))
  t.equal(data.at(-1), '[DONE]')
  t.equal(data.filter((d) => d === '[DONE]').length, 1)
  t.ok(text.endsWith('data: [DONE]\n\n'))
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
  t.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'echo: raw fetch')
})

t.test('the server exits cleanly on SIGTERM and logs JSON lines without the key', async (t) => {
  const exit = await server.stop()
  t.same(exit, { code: 0, signal: null })
  const output = server.output()
  t.notOk(output.includes(TEST_KEY), 'the key is not in the logs')
  const lines = output.split('\n').filter((l) => l.trim().length > 0)
  t.ok(lines.length > 0)
  const notJson = lines.filter((line) => {
    try { JSON.parse(line); return false } catch { return true }
  })
  t.same(notJson, [], 'every log line is JSON')
})
