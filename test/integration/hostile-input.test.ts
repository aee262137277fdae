import type * as NodeCrypto from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { checkKey, keyDigest } from '../../src/auth/key-ring.js'
import { liveChildren } from '../../src/backends/child-process.js'
import { leanArgs } from '../../src/backends/lean-config.js'
import { protoArgs } from '../../src/backends/proto.js'
import { MODEL_ID_PATTERN } from '../../src/config.js'
import { MAX_JSON_DEPTH } from '../../src/http/json-body.js'
import { AUTH, TEST_KEY, buildTestApp, startTestApp, type StartedTestApp } from '../helpers/build-test-app.js'
import { REPO_ROOT } from '../helpers/paths.js'
import { startFakeAppServerApp, type FakeAppServerApp } from '../helpers/fake-app-server.js'
import { OK_EVENTS, expectEnvelope, postChat, recordingBackend, sseData, userMessage, type Chunk, type RecordingBackend } from '../helpers/http.js'
import { captureLogs } from '../helpers/log-capture.js'

// Hostile input: fuzzed bodies and headers, argv injection, huge, deep and binary bodies, odd
// Unicode, keys in the wrong places, and the constant-time key comparison. The plain validation
// cases (each bad field → 400 with its param) are in errors.test.ts, the auth matrix in
// auth.test.ts.

// Every timingSafeEqual the code under test makes, with the byte lengths it compared: the
// structural proof that every presented key, whatever its length, is compared as a 32-byte digest.
const crypto = vi.hoisted(() => ({ compared: [] as Array<[number, number]> }))
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>()
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
    crypto.compared.push([a.byteLength, b.byteLength])
    return actual.timingSafeEqual(a, b)
  }
  return { ...actual, default: { ...actual, timingSafeEqual }, timingSafeEqual }
})

const CHAT = '/v1/chat/completions'
const RECORD_SHIM = join(REPO_ROOT, 'test/fixtures/codex-shim/codex-record.mjs')

/** A backend that accepts everything a request can carry (tools, images, structured output) and answers "ok". */
function permissiveBackend (): RecordingBackend {
  return recordingBackend({
    kind: 'app-server',
    capabilities: { tools: true, images: true, structuredOutput: true },
    models: [{ slug: 'gpt-x', displayName: 'GPT X', efforts: ['low', 'high'], defaultEffort: 'low', isDefault: true }],
    events: [...OK_EVENTS.slice(0, 2), { type: 'usage', usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 } }, { type: 'done', finishReason: 'stop' }]
  })
}

/** A response is either a success in OpenAI's shape or an error in the envelope; never a 5xx. */
function expectWellFormed (res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, what).toBeLessThan(500)
  const type = String(res.headers['content-type'] ?? '')
  if (res.statusCode >= 400) {
    expect(type, what).toMatch(/^application\/json/)
    expectEnvelope(res.json())
    if (res.statusCode === 401) expect(res.headers['www-authenticate']).toBe('Bearer realm=api')
    return
  }
  expect(res.statusCode, what).toBe(200)
  if (type.startsWith('text/event-stream')) {
    const data = sseData(res.body)
    expect(data.at(-1), what).toBe('[DONE]')
  } else {
    expect(res.json().object, what).toBe('chat.completion')
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 })
/** Lone surrogates, NUL, bidi controls, combining marks, astral characters, BOM, noncharacters. */
const oddUnicode = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-composite', maxLength: 40 }),
  fc.constantFrom('\ud800', '\udfff', 'a\ud83dz', '\u0000', 'nul\u0000inside', '\u202e\u2066rtl', 'e\u0301\u0302\u0303', '𝔘𝔫𝔦🎉', '\ufeff', '\uffff', '\u2028\u2029')
)
/** Nested arrays `n` levels deep, around a string. */
const nested = (n: number): unknown => {
  let value: unknown = 'core'
  for (let i = 0; i < n; i++) value = [value]
  return value
}
const DEEP = '__deep_nesting__:'
/** The payload with each `"__deep_nesting__:N"` string replaced by arrays nested N levels deep. */
const expandDeep = (payload: string): string =>
  payload.replace(new RegExp(`"${DEEP}(\\d+)"`, 'g'), (_m, n: string) => `${'['.repeat(Number(n))}"core"${']'.repeat(Number(n))}`)
const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  oddUnicode,
  fc.integer({ min: 0, max: 300_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 3 * MAX_JSON_DEPTH }).map(nested),
  // Far deeper than any JSON.stringify could write: spliced into the payload as text by expandDeep.
  fc.constantFrom(1000, 10_000, 100_000).map((n) => `${DEEP}${n}`),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(printable, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, '', [], {}, '--help', '$(touch /tmp/pwned)')
)

const BASES: Array<Record<string, unknown>> = [
  { model: 'codex-5', messages: [{ role: 'user', content: 'hi' }] },
  {
    model: 'gpt-x-high',
    stream: true,
    stream_options: { include_usage: true },
    messages: [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'result' },
      { role: 'user', content: 'again' }
    ],
    tools: [{ type: 'function', function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
    tool_choice: 'auto',
    response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
    reasoning: { effort: 'low' },
    temperature: 0.2,
    max_tokens: 100,
    user: 'u'
  }
]
const PATHS: Array<Array<string | number>> = [
  ['model'], ['messages'], ['messages', 0], ['messages', 0, 'role'], ['messages', 0, 'content'], ['messages', 1, 'content'],
  ['messages', 1, 'content', 0], ['messages', 1, 'content', 0, 'type'], ['messages', 1, 'content', 0, 'text'],
  ['messages', 1, 'content', 1, 'image_url'], ['messages', 1, 'content', 1, 'image_url', 'url'], ['messages', 0, 'name'],
  ['messages', 2, 'tool_calls'], ['messages', 2, 'tool_calls', 0, 'function', 'arguments'], ['messages', 3, 'tool_call_id'],
  ['stream'], ['stream_options'], ['stream_options', 'include_usage'], ['tools'], ['tools', 0], ['tools', 0, 'function', 'name'],
  ['tools', 0, 'function', 'parameters'], ['tool_choice'], ['functions'], ['function_call'], ['response_format'],
  ['response_format', 'json_schema', 'schema'], ['reasoning'], ['reasoning', 'effort'], ['reasoning_effort'], ['n'],
  ['max_tokens'], ['temperature'], ['metadata'], ['seed'], ['stop'], ['logit_bias'], ['parallel_tool_calls'], ['an_extra_field']
]

/** Sets `value` at `path` in a deep copy of `base` (creating what is missing on the way). */
function mutate (base: Record<string, unknown>, path: ReadonlyArray<string | number>, value: unknown): unknown {
  const copy = structuredClone(base)
  let node: Record<string | number, unknown> = copy
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value
      break
    }
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = typeof path[i + 1] === 'number' ? [] : {}
    node = node[key] as Record<string | number, unknown>
  }
  return copy
}

/** Strings are the right type for most fields, so these often pass validation and reach the backend. */
const strings = fc.oneof(oddUnicode, printable, fc.integer({ min: 0, max: 300_000 }).map((n) => 'y'.repeat(n)))
const mutation = fc.tuple(fc.constantFrom(...PATHS), fc.oneof(weird, strings))
const nearValid = fc.tuple(fc.constantFrom(...BASES), fc.array(mutation, { minLength: 1, maxLength: 2 }))
  .map(([base, mutations]) => mutations.reduce<unknown>((body, [path, value]) => mutate(body as Record<string, unknown>, path, value), base))

const contentTypes = fc.oneof(
  { weight: 4, arbitrary: fc.constant('application/json') },
  { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1', 'application/json;;', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'application/vnd.api+json', 'application/json, text/plain', '*/*', 'application/jsonx', 'json') },
  { weight: 1, arbitrary: printable }
)
const authorizations = fc.oneof(
  { weight: 4, arbitrary: fc.constant(`Bearer ${TEST_KEY}`) },
  { weight: 1, arbitrary: printable },
  { weight: 1, arbitrary: printable.map((s) => `Bearer ${s}`) },
  { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'bearer\t' + TEST_KEY, `Basic ${Buffer.from(`u:${TEST_KEY}`).toString('base64')}`, TEST_KEY, `Bearer ${TEST_KEY} extra`, `Bearer ${TEST_KEY.toUpperCase()}`) }
)

// ---------------------------------------------------------------------------------------------

describe('fuzzing /v1/chat/completions (fast-check)', () => {
  let app: FastifyInstance
  let close: () => Promise<void>
  beforeAll(async () => {
    const started = await startTestApp({ backend: permissiveBackend(), env: { PROXY_IMAGE_FETCH_TIMEOUT_MS: '200' } })
    app = started.app
    close = started.close
  })
  afterAll(async () => { await close() })

  const runs = { numRuns: 200, interruptAfterTimeLimit: 20_000 }
  const send = async (payload: string | Buffer, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json', ...headers }, payload })

  it('any JSON value as the body: never a 5xx, errors always in the envelope', async () => {
    await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (value) => {
      expectWellFormed(await send(JSON.stringify(value) ?? 'null'), JSON.stringify(value).slice(0, 200))
    }), runs)
  })

  it('near-valid requests with mutated fields (wrong types, huge or odd strings, NUL, deep nesting, extra fields)', async () => {
    const statuses = new Map<number, number>()
    await fc.assert(fc.asyncProperty(nearValid, async (body) => {
      const payload = expandDeep(JSON.stringify(body))
      const res = await send(payload)
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      expectWellFormed(res, payload.slice(0, 300))
    }), runs)
    // Not everything is refused at the door: a good share gets through validation to the backend.
    expect(statuses.get(200) ?? 0).toBeGreaterThan(10)
  })

  it('random bytes, truncated JSON, random content types and Authorization values', async () => {
    const payloads = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
      fc.tuple(nearValid, fc.nat()).map(([body, cut]) => { const s = expandDeep(JSON.stringify(body)); return s.slice(0, cut % (s.length + 1)) }),
      nearValid.map((b) => expandDeep(JSON.stringify(b)))
    )
    await fc.assert(fc.asyncProperty(payloads, contentTypes, fc.option(authorizations, { nil: undefined }), fc.option(printable, { nil: undefined }), async (payload, contentType, authorization, apiKey) => {
      const headers: Record<string, string> = { 'content-type': contentType }
      if (authorization !== undefined) headers.authorization = authorization
      if (apiKey !== undefined) headers['x-api-key'] = apiKey
      const res = await app.inject({ method: 'POST', url: CHAT, headers, payload })
      expectWellFormed(res, `${contentType} | ${authorization ?? '-'} | ${String(payload).slice(0, 200)}`)
    }), runs)
  })

  it('the server still answers afterwards', async () => {
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ ok: true })
    const res = await send(JSON.stringify({ model: 'codex-5', messages: userMessage('still here') }))
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('ok')
  })
})

// ---------------------------------------------------------------------------------------------

/** Strings that would do harm if any of them reached a shell or Codex's argument parser. */
const INJECTIONS = [
  '--help',
  '-c model_provider="x"',
  '-c',
  'model_provider="evil"',
  '--config sandbox_mode="danger-full-access"',
  '\n--config\nsandbox_mode="danger-full-access"',
  '--dangerously-bypass-approvals-and-sandbox',
  '; rm -rf / ;',
  '| cat /etc/passwd',
  '&& curl http://127.0.0.1:9/x',
  '$' + '{IFS}--version',
  'proto',
  'app-server',
  "'; DROP TABLE x; --",
  '"quoted" \'single\' \\back\\slash'
]

describe('argv injection: nothing from a request reaches a command line', () => {
  const saved = process.env.SHIM_RECORD_DIR
  let record = ''
  let pwned = ''
  beforeAll(async () => {
    record = await mkdtemp(join(tmpdir(), 'cca-argv-'))
    pwned = join(record, 'pwned')
    process.env.SHIM_RECORD_DIR = record
  })
  afterAll(async () => {
    if (saved === undefined) delete process.env.SHIM_RECORD_DIR
    else process.env.SHIM_RECORD_DIR = saved
    await rm(record, { recursive: true, force: true })
  })
  afterEach(async () => {
    for (const f of await readdir(record)) await rm(join(record, f), { force: true })
  })

  /** argv and stdin of every recording-shim child started since the last cleanup. */
  async function children (): Promise<Array<{ argv: string[], stdin: string }>> {
    const files = (await readdir(record)).filter((f) => f.endsWith('.argv.json'))
    return await Promise.all(files.map(async (f) => {
      const pid = f.replace('.argv.json', '')
      const stdin = existsSync(join(record, `${pid}.stdin`)) ? await readFile(join(record, `${pid}.stdin`), 'utf8') : ''
      return { argv: JSON.parse(await readFile(join(record, f), 'utf8')) as string[], stdin }
    }))
  }

  const shell = (): string[] => [`$(touch ${pwned})`, `\`touch ${pwned}\``, `; touch ${pwned}`, `\n touch ${pwned}`]

  it('proto: message contents (user, system, assistant) go to stdin intact, never to argv', async () => {
    const { app, config } = await buildTestApp({ env: { CODEX_BIN: RECORD_SHIM } })
    // One child per request, all at once (each is a Node process: sequentially this is slow).
    await Promise.all([...INJECTIONS, ...shell()].map(async (text) => {
      const res = await app.inject({
        method: 'POST',
        url: CHAT,
        headers: AUTH,
        payload: { model: 'codex-5', messages: [{ role: 'system', content: text }, { role: 'assistant', content: text }, { role: 'user', content: text }] }
      })
      expect(res.statusCode, text).toBe(200)
      expect(res.json().choices[0].message.content, text).toBe(`echo: ${text}`)
    }))
    const started = await children()
    expect(started).toHaveLength(INJECTIONS.length + shell().length)
    const fixed = protoArgs(config, { model: undefined, effort: undefined })
    for (const child of started) {
      // Exactly the fixed flags: nothing of the request.
      expect(child.argv).toEqual(fixed)
      const submission = JSON.parse(child.stdin.trim()) as { op: { items: Array<{ text: string }> } }
      const prompt = submission.op.items[0]?.text ?? ''
      // Intact: each entry's further lines are indented, so the text cannot forge another role.
      const entry = (t: string): string => t.split('\n').join('\n  ')
      expect([...INJECTIONS, ...shell()].some((t) => prompt === `[system] ${entry(t)}\n[assistant] ${entry(t)}\n[user] ${entry(t)}`)).toBe(true)
    }
    expect(existsSync(pwned)).toBe(false)
  })

  it('proto: headers never reach argv', async () => {
    const { app, config } = await buildTestApp({ env: { CODEX_BIN: RECORD_SHIM } })
    const values = INJECTIONS.filter((v) => !v.includes('\n'))
    await Promise.all(values.map(async (value) => {
      const res = await app.inject({
        method: 'POST',
        url: CHAT,
        headers: { ...AUTH, 'user-agent': value, 'x-request-id': value, 'openai-organization': value, 'x-stainless-lang': value, 'x-codex-model': value },
        payload: { model: 'codex-5', messages: userMessage('headers') }
      })
      expect(res.statusCode, value).toBe(200)
    }))
    expect(await children()).toHaveLength(values.length)
    const fixed = protoArgs(config, { model: undefined, effort: undefined })
    for (const child of await children()) expect(child.argv).toEqual(fixed)
  })

  it('proto: a model id outside the safe set is a 400 and starts no process; a safe one is the only request value in argv', async () => {
    const { app, config } = await buildTestApp({ env: { CODEX_BIN: RECORD_SHIM } })
    const unsafe = [...INJECTIONS, ...shell(), 'codex/--help', 'codex/-c', 'gpt"x', 'a b', 'ünï', '-gpt', `m${'x'.repeat(128)}`].filter((m) => !new RegExp(MODEL_ID_PATTERN).test(m))
    expect(unsafe.length).toBeGreaterThan(INJECTIONS.length)
    for (const model of unsafe) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model, messages: userMessage('x') } })
      expect(res.statusCode, model).toBe(400)
      expectEnvelope(res.json(), { type: 'invalid_request_error', param: 'model' })
    }
    expect(await children()).toHaveLength(0)
    // Ids in the safe set (even `proto` or `app-server`) only ever appear quoted, as a -c value.
    const fixed = protoArgs(config, { model: undefined, effort: undefined })
    expect(fixed.at(-1)).toBe('proto')
    for (const [model, slug] of [['gpt-5.5', 'gpt-5.5'], ['codex/my.model:v1/x', 'my.model:v1/x'], ['proto', 'proto'], ['app-server', 'app-server']] as const) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model, messages: userMessage('x') } })
      expect(res.statusCode, model).toBe(200)
      const [child] = await children()
      // The fixed flags with one addition: the validated id, quoted, as the value of a -c.
      expect(child?.argv).toEqual([...fixed.slice(0, -1), '-c', `model="${slug}"`, 'proto'])
      for (const f of await readdir(record)) await rm(join(record, f), { force: true })
    }
  })

  it('app-server: workers keep their start-up argv; contents, headers and models arrive as JSON-RPC data only', async () => {
    const h = await startFakeAppServerApp('ok')
    try {
      const pid = await h.readyWorker()
      const argv = await h.argv(pid)
      // The fixed flags only: the lean config and the catalog the backend wrote at start.
      const catalog = argv.find((a) => a.startsWith('model_catalog_json='))?.slice('model_catalog_json='.length)
      expect(argv).toEqual(['app-server', ...leanArgs({ catalogPath: JSON.parse(catalog ?? 'null') as string, sandbox: 'read-only' })])
      for (const text of [...INJECTIONS, ...shell()]) {
        const res = await postChat(h.app, { model: 'fake-model', messages: userMessage(text) }, { headers: { 'user-agent': text.replace(/\n/g, ' '), 'x-request-id': text.replace(/\n/g, ' ') } })
        expect(res.status, text).toBe(200)
        expect(JSON.parse(res.raw).choices[0].message.content).toBe(`ECHO: ${text}`)
      }
      for (const model of ['--help', 'fake-model --help', '-c model="x"', '$(id)']) {
        const res = await postChat(h.app, { model, messages: userMessage('x') })
        expect(res.status, model).toBe(400)
      }
      // No other process was started, and the worker's argv is what it was.
      expect(h.backend.workerPids()).toEqual([pid])
      expect((await readdir(h.scratch)).filter((f) => f.endsWith('.argv.json'))).toEqual([`${pid}.argv.json`])
      const received = await h.received()
      const inputs = received.filter((m) => m.method === 'turn/start').map((m) => (m.params?.input as Array<{ text: string }>)[0]?.text)
      expect(inputs).toEqual([...INJECTIONS, ...shell()])
      expect(received.filter((m) => m.method === 'thread/start').every((m) => m.params?.model === 'fake-model')).toBe(true)
      expect(existsSync(pwned)).toBe(false)
    } finally {
      await h.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------

describe('huge, deep and binary bodies', () => {
  let h: StartedTestApp
  beforeAll(async () => { h = await startTestApp({ listen: true, env: { PROXY_BODY_LIMIT_BYTES: String(64 * 1024) } }) })
  afterAll(async () => { await h.close() })

  /** POSTs raw bytes over a real socket and reads the status line and body, however the server ends it. */
  async function rawPost (body: Buffer, headers: Record<string, string>): Promise<{ status: number, body: string }> {
    const { port } = h.app.server.address() as { port: number }
    const head = [`POST ${CHAT} HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${TEST_KEY}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n')
    return await new Promise((resolve, reject) => {
      const socket = new Socket()
      let raw = ''
      socket.setEncoding('latin1')
      socket.on('data', (chunk: string) => { raw += chunk })
      // The server may answer (and close) before it read everything: a write error is expected then.
      socket.on('error', () => {})
      socket.on('close', () => {
        const match = /^HTTP\/1\.1 (\d{3})/.exec(raw)
        if (match?.[1] === undefined) { reject(new Error(`no HTTP response: ${raw.slice(0, 200)}`)); return }
        const rest = raw.slice(raw.indexOf('\r\n\r\n') + 4)
        resolve({ status: Number(match[1]), body: /transfer-encoding: chunked/i.test(raw) ? dechunk(rest) : rest })
      })
      socket.connect(port, '127.0.0.1', () => {
        socket.write(head, 'latin1')
        if (headers['transfer-encoding'] === 'chunked') {
          for (let at = 0; at < body.length; at += 16 * 1024) {
            const piece = body.subarray(at, at + 16 * 1024)
            socket.write(`${piece.length.toString(16)}\r\n`)
            socket.write(piece)
            socket.write('\r\n')
          }
          socket.end('0\r\n\r\n')
        } else {
          socket.end(body)
        }
      })
    })
  }
  const dechunk = (text: string): string => {
    let out = ''
    for (let at = 0; ;) {
      const nl = text.indexOf('\r\n', at)
      const size = parseInt(text.slice(at, nl), 16)
      if (!(size > 0)) return out
      out += text.slice(nl + 2, nl + 2 + size)
      at = nl + 2 + size + 2
    }
  }
  const json = (obj: unknown): Buffer => Buffer.from(JSON.stringify(obj))
  const big = json({ model: 'codex-5', messages: userMessage('z'.repeat(1024 * 1024)) })

  it('over PROXY_BODY_LIMIT_BYTES: 413 with a content-length, and 413 when streamed in chunks', async () => {
    const declared = await rawPost(big, { 'content-type': 'application/json', 'content-length': String(big.length) })
    expect(declared.status).toBe(413)
    expectEnvelope(JSON.parse(declared.body), { code: 'request_too_large' })
    const chunked = await rawPost(big, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    expect(chunked.status).toBe(413)
    expectEnvelope(JSON.parse(chunked.body), { code: 'request_too_large' })
    expect((await postChat(h.app, { model: 'codex-5', messages: userMessage('fine') })).status).toBe(200)
  })

  it('binary bytes: 400 invalid_json as application/json (gzip-encoded too), 415 as application/octet-stream', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256))
    const asJson = await rawPost(bytes, { 'content-type': 'application/json', 'content-length': String(bytes.length) })
    expect(asJson.status).toBe(400)
    expectEnvelope(JSON.parse(asJson.body), { code: 'invalid_json' })
    const octets = await rawPost(bytes, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) })
    expect(octets.status).toBe(415)
    expectEnvelope(JSON.parse(octets.body), { code: 'unsupported_media_type' })
    const { gzipSync } = await import('node:zlib')
    const gz = gzipSync(json({ model: 'codex-5', messages: userMessage('zipped') }))
    const zipped = await rawPost(gz, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': String(gz.length) })
    // Bodies are not decompressed: gzip bytes are just JSON that does not parse.
    expect(zipped.status).toBe(400)
    expectEnvelope(JSON.parse(zipped.body), { code: 'invalid_json' })
  })

  it('prototype-pollution keys (__proto__, constructor.prototype) are a 400 invalid_json', async () => {
    for (const payload of [
      '{"model":"codex-5","messages":[{"role":"user","content":"x"}],"__proto__":{"stream":true}}',
      '{"model":"codex-5","messages":[{"role":"user","content":"x","__proto__":{"role":"system"}}]}',
      '{"model":"codex-5","messages":[{"role":"user","content":"x"}],"constructor":{"prototype":{"polluted":1}}}'
    ]) {
      const res = await rawPost(Buffer.from(payload), { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) })
      expect(res.status, payload).toBe(400)
      expectEnvelope(JSON.parse(res.body), { code: 'invalid_json' })
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('10,000 and 100,000 levels of nesting anywhere in the body (1,000,000 as a bare array): 400, never a stack overflow', async () => {
    const deep = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`
    const { app } = await buildTestApp({ env: { PROXY_BODY_LIMIT_BYTES: String(4 * 1024 * 1024) } })
    const bare = await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json' }, payload: deep(1_000_000) })
    expect(bare.statusCode).toBe(400)
    expectEnvelope(bare.json(), { code: 'invalid_value', param: null })
    for (const n of [10_000, 100_000]) {
      for (const [where, payload] of [
        ['messages', `{"model":"codex-5","messages":${deep(n)}}`],
        ['messages', `{"model":"codex-5","messages":[{"role":"user","content":${deep(n)}}]}`],
        ['metadata', `{"model":"codex-5","messages":[{"role":"user","content":"hi"}],"metadata":{"a":${deep(n)}}}`],
        ['an_extra_field', `{"model":"codex-5","messages":[{"role":"user","content":"hi"}],"an_extra_field":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`],
        [null, deep(n)]
      ] as const) {
        const res = await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json' }, payload })
        expect(res.statusCode, `${n} ${String(where)}`).toBe(400)
        const error = expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_value' })
        expect(error.message).toMatch(/nested more than 64 levels/)
        expect(error.param).toBe(where)
      }
    }
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
  })

  it('app-server: a deep tool schema or response_format schema is refused before Codex sees it (64 levels pass)', async () => {
    const h2 = await startFakeAppServerApp('ok', { env: { PROXY_BODY_LIMIT_BYTES: String(4 * 1024 * 1024) } })
    try {
      const withTool = (depth: number): string => {
        // root, tools, the tool, function, parameters: five levels before the nested arrays.
        const body = JSON.stringify({ model: 'codex-5', messages: userMessage(`tool depth ${depth}`), tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', x: 'DEEP' } } }] })
        return body.replace('"DEEP"', `${'['.repeat(depth - 5)}${']'.repeat(depth - 5)}`)
      }
      const withSchema = (depth: number): string => {
        // root, response_format, json_schema, schema: four levels.
        const body = JSON.stringify({ model: 'codex-5', messages: userMessage(`schema depth ${depth}`), response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object', x: 'DEEP' } } } })
        return body.replace('"DEEP"', `${'['.repeat(depth - 4)}${']'.repeat(depth - 4)}`)
      }
      const send = async (payload: string): Promise<LightMyRequestResponse> =>
        await h2.app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json' }, payload })
      for (const [make, param] of [[withTool, 'tools'], [withSchema, 'response_format']] as const) {
        expect((await send(make(MAX_JSON_DEPTH))).statusCode).toBe(200)
        for (const depth of [MAX_JSON_DEPTH + 1, 130, 10_000, 100_000]) {
          const res = await send(make(depth))
          expect(res.statusCode, `${param} ${depth}`).toBe(400)
          expectEnvelope(res.json(), { code: 'invalid_value', param })
        }
      }
      const starts = (await h2.received()).filter((m) => m.method === 'turn/start').map((m) => (m.params?.input as Array<{ text: string }>)[0]?.text)
      expect(starts).toEqual([`tool depth ${MAX_JSON_DEPTH}`, `schema depth ${MAX_JSON_DEPTH}`])
    } finally {
      await h2.close()
    }
  })
})

// ---------------------------------------------------------------------------------------------

/** Text that is valid Unicode but odd: it must come back exactly as sent. */
const ROUND_TRIP: Array<[string, string]> = [
  ['emoji with ZWJ and skin tones', '👩‍👩‍👧‍👦 🎉 👍🏽 🏳️‍🌈'],
  ['right-to-left scripts', 'שלום עולם · مرحبا بالعالم'],
  ['bidi overrides', 'abc\u202edcba\u202c \u2066isolated\u2069'],
  ['combining marks', 'Z\u0351\u0352\u0353a\u0301e\u0308\u0323'],
  ['astral plane', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀𠀁 \u{10FFFD}'],
  ['NUL and control characters', 'a\u0000b\u0001c\u001fd\u007f'],
  ['line and paragraph separators', 'x\u2028y\u2029z'],
  ['BOM and noncharacters', '\ufeffbom \uffff\ufffe'],
  ['newlines and tabs', 'line one\nline two\r\n\tindented']
]
const LONE: Array<[string, string]> = [['a lone high surrogate', 'x\ud800y'], ['a lone low surrogate', 'x\udfffy'], ['a reversed pair', '\udc00\ud800']]

describe('Unicode and NUL bytes in content', () => {
  it(`proto shim: ${ROUND_TRIP.map(([name]) => name).join(', ')}: all round-trip intact`, async () => {
    const { app } = await buildTestApp()
    await Promise.all(ROUND_TRIP.map(async ([name, text]) => {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
      expect(res.statusCode, name).toBe(200)
      expect(res.json().choices[0].message.content, name).toBe(`echo: ${text}`)
    }))
  })

  it('unpaired surrogates are refused with a 400 before any backend sees them', async () => {
    const baseline = liveChildren().size
    const backend = recordingBackend()
    const { app } = await buildTestApp({ backend })
    for (const [name, text] of LONE) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
      expect(res.statusCode, name).toBe(400)
      expectEnvelope(res.json(), { code: 'invalid_value', param: 'messages[0].content' })
    }
    expect(backend.requests).toHaveLength(0)
    expect(liveChildren().size).toBe(baseline)
  })

  describe('app-server (fake worker)', () => {
    let h: FakeAppServerApp
    beforeAll(async () => { h = await startFakeAppServerApp('ok') })
    afterAll(async () => { await h.close() })

    it('every case round-trips intact, streaming and not, through JSON-RPC', async () => {
      for (const [name, text] of ROUND_TRIP) {
        const plain = await postChat(h.app, { model: 'codex-5', messages: userMessage(text) })
        expect(plain.status, name).toBe(200)
        expect(JSON.parse(plain.raw).choices[0].message.content, name).toBe(`ECHO: ${text}`)
        const stream = await postChat(h.app, { model: 'codex-5', stream: true, messages: userMessage(text) })
        expect((stream.frames as Chunk[]).map((c) => c.choices[0]?.delta.content ?? '').join(''), name).toBe(`ECHO: ${text}`)
      }
      const inputs = (await h.received()).filter((m) => m.method === 'turn/start').map((m) => (m.params?.input as Array<{ text: string }>)[0]?.text)
      expect(inputs).toEqual(ROUND_TRIP.flatMap(([, text]) => [text, text]))
    })

    it('unpaired surrogates are refused with a 400 naming the field, and never reach Codex', async () => {
      const before = (await h.received()).length
      for (const [name, text] of LONE) {
        for (const body of [
          { messages: userMessage(text) },
          { messages: [{ role: 'system', content: text }, { role: 'user', content: 'hi' }] },
          { messages: [{ role: 'user', content: [{ type: 'text', text: 'ok' }, { type: 'text', text }] }] }
        ]) {
          const res = await postChat(h.app, { model: 'codex-5', ...body })
          expect(res.status, name).toBe(400)
          const error = expectEnvelope(JSON.parse(res.raw), { type: 'invalid_request_error', code: 'invalid_value' })
          expect(error.param).toMatch(/^messages\[[01]\]\.content/)
          expect(error.message).toMatch(/unpaired UTF-16 surrogate/)
        }
      }
      const key = await postChat(h.app, { model: 'codex-5', messages: [{ role: 'user', content: 'x', '\ud800': 1 }] })
      expect(key.status).toBe(400)
      expect(expectEnvelope(JSON.parse(key.raw)).param).toBe('messages[0]')
      expect((await h.received()).slice(before).filter((m) => m.method === 'thread/start')).toHaveLength(0)
    })
  })

  it('a raw (unescaped) NUL byte inside a JSON string is a 400 invalid_json; invalid UTF-8 becomes U+FFFD', async () => {
    const { app } = await buildTestApp()
    const send = async (payload: Buffer): Promise<LightMyRequestResponse> =>
      await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'content-type': 'application/json' }, payload })
    const nul = await send(Buffer.from('{"model":"codex-5","messages":[{"role":"user","content":"a\u0000b"}]}'))
    expect(nul.statusCode).toBe(400)
    expectEnvelope(nul.json(), { code: 'invalid_json' })
    const invalid = await send(Buffer.concat([Buffer.from('{"model":"codex-5","messages":[{"role":"user","content":"a'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('b"}]}')]))
    expect(invalid.statusCode).toBe(200)
    expect(invalid.json().choices[0].message.content).toBe('echo: a\ufffd\ufffd(b')
  })
})

// ---------------------------------------------------------------------------------------------

describe('API keys never appear in logs or error messages', () => {
  const WRONG = {
    bearer: 'sk-wrong-bearer-7Hq2',
    header: 'sk-wrong-x-api-key-9Zt4',
    malformed: 'sk-wrong-malformed-3Kp8',
    body: 'sk-wrong-in-body-5Rm1',
    query: 'sk-wrong-in-query-2Lx6'
  }
  const basic = Buffer.from(`user:${TEST_KEY}`).toString('base64')

  it('at trace level, whatever a client does with the right key and wrong ones', async () => {
    const logs = captureLogs('trace')
    const { app } = await buildTestApp({ logger: logs.options })
    const chat = (headers: Record<string, string>, payload: unknown = { model: 'codex-5', messages: userMessage('hello') }, url = CHAT): InjectOptions =>
      ({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(payload) })
    const bearer = { authorization: `Bearer ${TEST_KEY}` }
    const cases: Array<[string, InjectOptions, number]> = [
      ['the right key', chat(bearer), 200],
      ['the right key as x-api-key', chat({ 'x-api-key': TEST_KEY }), 200],
      ['the right key, streaming', chat(bearer, { model: 'codex-5', stream: true, messages: userMessage('s') }), 200],
      ['the right key and a bad body', chat(bearer, { model: 'codex-5', messages: [{ role: 'user', content: 7 }] }), 400],
      ['the right key and an invalid model', chat(bearer, { model: `--${TEST_KEY}`, messages: userMessage('x') }), 400],
      ['the right key on an unknown route', { method: 'GET', url: '/v1/nope', headers: bearer }, 404],
      ['the right key with the wrong method', { method: 'GET', url: CHAT, headers: bearer }, 405],
      ['the right key also in the query string', chat(bearer, undefined, `${CHAT}?api_key=${TEST_KEY}&key=${WRONG.query}`), 200],
      ['a wrong bearer key', chat({ authorization: `Bearer ${WRONG.bearer}` }), 401],
      ['a wrong x-api-key', chat({ 'x-api-key': WRONG.header }), 401],
      ['the key without a scheme', chat({ authorization: TEST_KEY }), 401],
      ['the key glued to the scheme', chat({ authorization: `Bearer${TEST_KEY}` }), 401],
      ['the key in Basic credentials', chat({ authorization: `Basic ${basic}` }), 401],
      ['a malformed wrong key', chat({ authorization: `Bearer ${WRONG.malformed} trailing junk` }), 401],
      ['a wrong key and a bad body', chat({ authorization: `Bearer ${WRONG.bearer}` }, '{bad json'), 401],
      ['a wrong key in the message body', chat(bearer, { model: 'codex-5', messages: userMessage(`my key is ${WRONG.body}`) }), 200],
      ['the usage endpoints', { method: 'GET', url: '/v1/usage/raw', headers: bearer }, 200],
      ['the metrics', { method: 'GET', url: '/metrics', headers: bearer }, 200]
    ]
    const bodies: string[] = []
    for (const [name, opts, status] of cases) {
      const res = await app.inject(opts)
      expect(res.statusCode, name).toBe(status)
      const text = `${res.body}\n${JSON.stringify(res.headers)}`
      // The shim echoes the prompt: the key put in a message may come back in that answer only.
      bodies.push(name === 'a wrong key in the message body' ? text.replaceAll(WRONG.body, '<echoed>') : text)
    }
    await app.usage.flush()
    const lines = logs.lines()
    // The trace logger really logged: requests, completions, the Codex child.
    expect(lines.length).toBeGreaterThan(cases.length * 2)
    expect(lines.some((l) => l.includes('"msg":"incoming request"'))).toBe(true)
    const secrets = [TEST_KEY, basic, ...Object.values(WRONG)]
    for (const secret of secrets) {
      for (const line of lines) expect(line, `log line leaks ${secret}`).not.toContain(secret)
      for (const body of bodies) expect(body, `response leaks ${secret}`).not.toContain(secret)
    }
    const usage = await readFile(app.config.TOKEN_LOG_PATH, 'utf8')
    for (const secret of secrets) expect(usage).not.toContain(secret)
  })
})

describe('the key comparison is constant-time by construction', () => {
  const expected = keyDigest(TEST_KEY)
  const lengths: Array<[string, string]> = [
    ['empty', ''],
    ['1 character', 'x'],
    ['31 characters', 'k'.repeat(31)],
    ['32 characters', 'k'.repeat(32)],
    ['33 characters', 'k'.repeat(33)],
    ['the key length, one character off', `${TEST_KEY.slice(0, -1)}X`],
    ['a prefix of the key', TEST_KEY.slice(0, 5)],
    ['the key plus one character', `${TEST_KEY}x`],
    ['10 kB', 'z'.repeat(10 * 1024)],
    ['unicode', 'ключ-🔑-鍵-\u0301']
  ]

  it.each(lengths)('a wrong key (%s) is hashed to 32 bytes and compared without throwing', (_name, key) => {
    expect(keyDigest(key)).toHaveLength(32)
    crypto.compared.length = 0
    const result = checkKey(key, expected)
    expect(result.ok).toBe(false)
    expect(result.digest).toHaveLength(32)
    expect(crypto.compared).toEqual([[32, 32]])
  })

  it('the right key and a missing key take the same path (one 32-byte comparison)', () => {
    crypto.compared.length = 0
    expect(checkKey(TEST_KEY, expected).ok).toBe(true)
    expect(checkKey(undefined, expected).ok).toBe(false)
    // '' would hash to the digest of an empty key: a missing key must still be refused.
    expect(checkKey(undefined, keyDigest('')).ok).toBe(false)
    expect(crypto.compared).toEqual([[32, 32], [32, 32], [32, 32]])
  })

  it('every request to a protected route makes exactly one 32-byte comparison, whatever key it carries', async () => {
    const { app } = await buildTestApp({ backend: recordingBackend() })
    // Header values are bytes: a unicode key arrives as its UTF-8 bytes read as latin1.
    const headerSafe = (key: string): string => Buffer.from(key, 'utf8').toString('latin1')
    const variants: Array<[string, Record<string, string>, number]> = [
      ['none', {}, 401],
      ['the right key', { authorization: `Bearer ${TEST_KEY}` }, 200],
      ...lengths.filter(([, key]) => key !== '').map(([name, key]): [string, Record<string, string>, number] => [name, { authorization: `Bearer ${headerSafe(key)}` }, 401]),
      ...lengths.filter(([, key]) => key !== '').map(([name, key]): [string, Record<string, string>, number] => [`x-api-key ${name}`, { 'x-api-key': headerSafe(key) }, 401])
    ]
    for (const [name, headers, status] of variants) {
      crypto.compared.length = 0
      const res = await app.inject({ method: 'GET', url: '/v1/usage/raw', headers })
      expect(res.statusCode, name).toBe(status)
      expect(crypto.compared, name).toEqual([[32, 32]])
    }
  })
})
