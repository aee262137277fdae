// Black-box: the README-style curl commands against the built server, checked by their output.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import t from 'tap'
import { TEST_KEY, startServer } from '../helpers/blackbox-server.mjs'

const run = promisify(execFile)
// Spawning Node and a fake Codex per request is slow on a loaded CI machine: more than tap's 30 s.
t.setTimeout(120_000)
const server = await startServer()
t.teardown(async () => { await server.stop() })

/** Runs curl (no shell) and returns its stdout. */
async function curl (...args) {
  const { stdout } = await run('curl', ['--max-time', '20', ...args], { maxBuffer: 10 * 1024 * 1024 })
  return stdout
}

const chatArgs = (body) => [
  '-H', `Authorization: Bearer ${TEST_KEY}`,
  '-H', 'Content-Type: application/json',
  '-d', JSON.stringify(body),
  `${server.baseUrl}/v1/chat/completions`
]

t.test('curl -s /healthz', async (t) => {
  const out = await curl('-s', `${server.baseUrl}/healthz`)
  t.same(JSON.parse(out), { ok: true })
})

t.test('curl -s /readyz', async (t) => {
  const out = await curl('-s', `${server.baseUrl}/readyz`)
  t.same(JSON.parse(out), { ok: true, backend: 'proto', active: 0, queued: 0 })
})

t.test('curl -s /v1/models', async (t) => {
  const out = await curl('-s', `${server.baseUrl}/v1/models`)
  const body = JSON.parse(out)
  t.equal(body.object, 'list')
  t.same(body.data.map((m) => m.id).sort(), ['codex-5', 'codex-5-high', 'codex-5-low', 'codex-5-medium', 'codex-5-minimal'])
})

t.test('curl -s a chat completion', async (t) => {
  const out = await curl('-s', ...chatArgs({ model: 'codex-5', messages: [{ role: 'user', content: 'Say hello' }] }))
  const body = JSON.parse(out)
  t.equal(body.object, 'chat.completion')
  t.equal(body.choices[0].message.content, 'echo: Say hello')
  t.equal(body.choices[0].finish_reason, 'stop')
  t.ok(body.usage.total_tokens > 0)
})

t.test('curl -sN a streamed chat completion', async (t) => {
  const out = await curl('-sN', ...chatArgs({ model: 'codex-5', messages: [{ role: 'user', content: 'Stream a hello' }], stream: true, stream_options: { include_usage: true } }))
  t.ok(out.endsWith('data: [DONE]\n\n'), 'ends with data: [DONE]')
  const blocks = out.split('\n\n').filter((b) => b.length > 0)
  for (const block of blocks) t.match(block, /^(data: |: )/, 'every block is a data line or a comment')
  const data = blocks.filter((b) => b.startsWith('data: ')).map((b) => b.slice(6))
  t.equal(data.at(-1), '[DONE]')
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
  t.equal(chunks[0].choices[0].delta.role, 'assistant')
  t.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'echo: Stream a hello')
  t.same(chunks.at(-1).choices, [])
  t.ok(chunks.at(-1).usage.total_tokens > 0)
})

t.test('curl -si shows the SSE headers', async (t) => {
  const out = await curl('-si', ...chatArgs({ model: 'codex-5', messages: [{ role: 'user', content: 'headers' }], stream: true }))
  const head = out.slice(0, out.indexOf('\r\n\r\n')).toLowerCase()
  t.match(head, /^http\/1\.1 200/)
  t.match(head, /\r\ncontent-type: text\/event-stream/)
  t.match(head, /\r\ncache-control: no-cache/)
  t.match(head, /\r\nx-accel-buffering: no/)
})

t.test('curl without the key gets a 401 envelope', async (t) => {
  const out = await curl('-s', '-w', '\n%{http_code}', '-H', 'Content-Type: application/json', '-d', '{"model":"codex-5","messages":[{"role":"user","content":"hi"}]}', `${server.baseUrl}/v1/chat/completions`)
  const [body, status] = out.split('\n')
  t.equal(status, '401')
  const parsed = JSON.parse(body)
  t.equal(parsed.error.type, 'authentication_error')
  t.equal(parsed.error.code, 'invalid_api_key')
})

t.test('curl usage: /v1/usage/raw shows the requests made above', async (t) => {
  const out = await curl('-s', '-H', `x-api-key: ${TEST_KEY}`, `${server.baseUrl}/v1/usage/raw?limit=3`)
  const body = JSON.parse(out)
  t.equal(body.count, 3)
  t.ok(body.events.every((e) => e.route === '/v1/chat/completions'))
  t.ok(body.events.every((e) => e.user_agent.startsWith('curl/')))
  t.same(body.events.map((e) => e.stream), [false, true, true])
})
