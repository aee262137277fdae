#!/usr/bin/env node
// Live check of a running server (not part of `npm test`: it needs a server, and a real Codex
// login for real answers).
//
//   LIVE_BASE_URL=http://127.0.0.1:11435 npm run test:live
//
// Key: KEY, else PROXY_API_KEY from the environment, else PROXY_API_KEY from .env / .env.secret.
// Model: LIVE_MODEL (default codex-5). Timeout per request: LIVE_TIMEOUT_MS (default 180000).
// Checks /healthz, /readyz, /v1/models, a non-stream chat completion with non-empty content, and
// a streamed one: role-first chunk, content, one id throughout, exactly one finish_reason, and
// `data: [DONE]` last. Plain Node fetch, no dependencies. The key is never printed.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseEnv } from './launch-lib.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function keyFromEnvFiles () {
  let key
  for (const name of ['.env', '.env.secret']) {
    const path = join(root, name)
    if (!existsSync(path)) continue
    const value = parseEnv(readFileSync(path, 'utf8')).vars.PROXY_API_KEY
    if (value !== undefined && value !== '') key = value
  }
  return key
}

const base = (process.env.LIVE_BASE_URL || 'http://127.0.0.1:11435').replace(/\/+$/, '')
const key = process.env.KEY || process.env.PROXY_API_KEY || keyFromEnvFiles()
const model = process.env.LIVE_MODEL || 'codex-5'
const timeoutMs = Number(process.env.LIVE_TIMEOUT_MS || 180_000)
const auth = key ? { authorization: `Bearer ${key}` } : {}

let passed = 0
let failed = 0
const results = []

async function check (name, fn) {
  try {
    const note = await fn()
    passed++
    results.push(`PASS  ${name}${note ? ` — ${note}` : ''}`)
  } catch (err) {
    failed++
    results.push(`FAIL  ${name} — ${err instanceof Error ? err.message : String(err)}`)
  }
  process.stdout.write(`${results.at(-1)}\n`)
}

function assert (cond, msg) {
  if (!cond) throw new Error(msg)
}

async function get (path, headers = {}) {
  return await fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(15_000) })
}

async function chat (body) {
  return await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ model, ...body }),
    signal: AbortSignal.timeout(timeoutMs)
  })
}

/** Throws with the start of the body when the status is not the expected one. */
async function expectStatus (res, status) {
  if (res.status !== status) throw new Error(`status ${res.status}: ${(await res.text()).slice(0, 300)}`)
}

process.stdout.write(`test:live against ${base} (model ${model}, key ${key ? 'set' : 'NOT set'})\n`)

await check('GET /healthz → 200 {ok:true}', async () => {
  const res = await get('/healthz')
  assert(res.status === 200, `status ${res.status}`)
  const body = await res.json()
  assert(body.ok === true, `body ${JSON.stringify(body)}`)
})

await check('GET /readyz → 200', async () => {
  const res = await get('/readyz')
  const body = await res.json().catch(() => ({}))
  assert(res.status === 200, `status ${res.status}${body.reason ? `: ${body.reason}` : ''}`)
  return `backend ${body.backend}`
})

await check('GET /v1/models lists codex-5', async () => {
  const res = await get('/v1/models', auth)
  await expectStatus(res, 200)
  const body = await res.json()
  assert(body.object === 'list' && Array.isArray(body.data), 'not an OpenAI list')
  const ids = body.data.map((m) => m.id)
  assert(ids.includes('codex-5'), `ids: ${ids.join(', ')}`)
  return `${ids.length} models`
})

await check('POST /v1/chat/completions (non-stream) → content', async () => {
  const res = await chat({ messages: [{ role: 'user', content: 'Reply with the single word: pong' }] })
  await expectStatus(res, 200)
  const body = await res.json()
  assert(body.object === 'chat.completion', `object ${body.object}`)
  const choice = body.choices?.[0]
  assert(choice !== undefined, 'no choices')
  const content = choice.message?.content
  assert(typeof content === 'string' && content.trim() !== '', `empty content (finish_reason ${choice.finish_reason})`)
  assert(choice.finish_reason === 'stop', `finish_reason ${choice.finish_reason}`)
  return JSON.stringify(content.slice(0, 60))
})

await check('POST /v1/chat/completions (stream) → role, content, one finish_reason, [DONE]', async () => {
  const res = await chat({
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Count from 1 to 5, separated by spaces.' }]
  })
  await expectStatus(res, 200)
  const type = res.headers.get('content-type') ?? ''
  assert(type.startsWith('text/event-stream'), `content-type ${type}`)
  const text = await res.text()
  const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim())
  assert(data.length > 0, 'no data lines')
  assert(data.at(-1) === '[DONE]', `last data line is ${JSON.stringify(data.at(-1))}, not [DONE]`)
  assert(data.filter((d) => d === '[DONE]').length === 1, 'more than one [DONE]')
  const chunks = data.slice(0, -1).map((d) => JSON.parse(d))
  const errors = chunks.filter((c) => c.error !== undefined)
  assert(errors.length === 0, `error frame: ${JSON.stringify(errors[0])}`)
  const first = chunks[0]
  assert(first?.choices?.[0]?.delta?.role === 'assistant', `first chunk has no role: ${JSON.stringify(first)}`)
  const ids = new Set(chunks.map((c) => c.id))
  assert(ids.size === 1, `${ids.size} different ids`)
  const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('')
  assert(content.trim() !== '', 'no content')
  const finishes = chunks.flatMap((c) => (c.choices ?? []).map((ch) => ch.finish_reason)).filter((f) => f !== null && f !== undefined)
  assert(finishes.length === 1, `${finishes.length} finish_reason values: ${finishes.join(', ')}`)
  const usage = chunks.filter((c) => Array.isArray(c.choices) && c.choices.length === 0)
  assert(usage.length <= 1 && (usage.length === 0 || usage[0] === chunks.at(-1)), 'a choices:[] chunk that is not the final usage chunk')
  return `${chunks.length} chunks, finish_reason ${finishes[0]}, ${JSON.stringify(content.slice(0, 40))}`
})

process.stdout.write(`test:live: ${passed} passed, ${failed} failed\n`)
process.exitCode = failed > 0 ? 1 : 0
