import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { afterAll, beforeAll, expect } from 'vitest'
import { liveChildren } from '../../src/backends/child-process.js'
import type { BackendCapabilities, BackendEvent, BackendKind, CodexBackend, CodexModel, CompletionRequest } from '../../src/backends/types.js'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { AUTH, baseUrl, startTestApp, type StartedTestApp, type TestAppOptions } from './build-test-app.js'
import { waitFor } from './wait.js'

/** What every error response of the service looks like. */
export interface Envelope {
  error: { message: string, type: string, param: string | null, code: string | null }
}

/** Asserts an OpenAI error envelope with exactly the four keys, and returns it. */
export function expectEnvelope (body: unknown, expected: Partial<Envelope['error']> = {}): Envelope['error'] {
  expect(body).toBeTypeOf('object')
  const envelope = body as Envelope
  expect(Object.keys(envelope)).toEqual(['error'])
  expect(Object.keys(envelope.error).sort()).toEqual(['code', 'message', 'param', 'type'])
  expect(envelope.error.message).toBeTypeOf('string')
  expect(envelope.error.message.length).toBeGreaterThan(0)
  expect(envelope.error).toMatchObject(expected)
  return envelope.error
}

/** One SSE event block: its `event:` name, its `data:` payload (joined) and any comment lines. */
export interface SseBlock {
  event: string | undefined
  data: string | undefined
  comments: string[]
}

/** Splits a raw SSE body into blocks (separated by a blank line). */
export function parseSse (raw: string): SseBlock[] {
  const blocks: SseBlock[] = []
  for (const block of raw.split(/\r?\n\r?\n/)) {
    if (block.trim().length === 0) continue
    const data: string[] = []
    const comments: string[] = []
    let event: string | undefined
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) comments.push(line)
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
      else if (line.startsWith('event:') && event === undefined) event = line.slice(6).trim()
      else throw new Error(`unexpected SSE line: ${JSON.stringify(line)}`)
    }
    blocks.push({ event, data: data.length === 0 ? undefined : data.join('\n'), comments })
  }
  return blocks
}

/** The `data:` payloads of an SSE body, in order (comments dropped). */
export function sseData (raw: string): string[] {
  return parseSse(raw).flatMap((b) => (b.data === undefined ? [] : [b.data]))
}

/** A streamed chunk as the tests read it. */
export interface Chunk {
  id: string
  object: string
  created: number
  model: string
  choices: Array<{
    index: number
    delta: { role?: string, content?: string, reasoning_content?: string }
    logprobs: null
    finish_reason: string | null
  }>
  usage?: {
    prompt_tokens: number
    completion_tokens: number
    total_tokens: number
    prompt_tokens_details?: { cached_tokens: number }
    completion_tokens_details?: { reasoning_tokens: number }
  } | null
}

export interface StreamResult {
  status: number
  headers: Record<string, string | string[] | undefined>
  raw: string
  /** Every `data:` payload except `[DONE]`, parsed. */
  frames: unknown[]
  /** Index of `[DONE]` among the data payloads, -1 when missing. */
  doneIndex: number
  dataCount: number
}

/** POSTs a chat request to a listening app over a real socket and reads the whole body. */
export async function postChat (
  app: FastifyInstance,
  body: unknown,
  opts: { headers?: Record<string, string>, path?: string, signal?: AbortSignal } = {}
): Promise<StreamResult> {
  const res = await request(`${baseUrl(app)}${opts.path ?? '/v1/chat/completions'}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', ...opts.headers },
    body: JSON.stringify(body),
    ...(opts.signal === undefined ? {} : { signal: opts.signal })
  })
  const raw = await res.body.text()
  const contentType = String(res.headers['content-type'] ?? '')
  const data = contentType.startsWith('text/event-stream') ? sseData(raw) : []
  return {
    status: res.statusCode,
    headers: res.headers,
    raw,
    frames: data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as unknown),
    doneIndex: data.indexOf('[DONE]'),
    dataCount: data.length
  }
}

/** Opens a stream (by default a chat completion) and returns once `until` matches the text read so far. */
export async function openStream (
  app: FastifyInstance,
  body: unknown,
  until: (soFar: string) => boolean,
  headers: Record<string, string> = {},
  path = '/v1/chat/completions'
): Promise<{ status: number, controller: AbortController, soFar: () => string, rest: Promise<string> }> {
  const controller = new AbortController()
  const res = await request(`${baseUrl(app)}${path}`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: controller.signal
  })
  let text = ''
  let matched: () => void = () => {}
  const reached = new Promise<void>((resolve) => { matched = resolve })
  res.body.setEncoding('utf8')
  const rest = (async () => {
    try {
      for await (const chunk of res.body) {
        text += String(chunk)
        if (until(text)) matched()
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err
    } finally {
      matched()
    }
    return text
  })()
  rest.catch(() => {})
  await reached
  return { status: res.statusCode, controller, soFar: () => text, rest }
}

/** Waits (up to 2 s) until no Codex child beyond `baseline` is alive. */
export async function expectChildrenBackTo (baseline: number, timeoutMs = 2000): Promise<void> {
  await waitFor(() => liveChildren().size === baseline, timeoutMs, `liveChildren().size to return to ${baseline} (now ${liveChildren().size})`)
  expect(liveChildren().size).toBe(baseline)
}

/** The usage log as written on disk: every line parsed. */
export async function readUsageLog (path: string): Promise<UsageEvent[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    return []
  }
  return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as UsageEvent)
}

/** A fake backend that records the requests it receives and answers with fixed events ("ok"). */
export interface RecordingBackend extends CodexBackend {
  readonly requests: CompletionRequest[]
}

export interface RecordingBackendOptions {
  events?: readonly BackendEvent[] | undefined
  kind?: BackendKind | undefined
  capabilities?: BackendCapabilities | undefined
  models?: CodexModel[] | undefined
}

export const OK_EVENTS: readonly BackendEvent[] = [
  { type: 'started' },
  { type: 'text', itemId: 'msg_ok', text: 'ok' },
  { type: 'done', finishReason: 'stop' }
]

export function recordingBackend (o: RecordingBackendOptions = {}): RecordingBackend {
  const requests: CompletionRequest[] = []
  const events = o.events ?? OK_EVENTS
  const models = o.models ?? []
  return {
    kind: o.kind ?? 'proto',
    capabilities: o.capabilities ?? { tools: false, images: false, structuredOutput: false },
    requests,
    async start () {},
    health: () => ({ ready: true }),
    async models () { return models },
    async * complete (req: CompletionRequest) {
      requests.push(req)
      for (const event of events) yield event
    },
    async close () {}
  }
}

export const userMessage = (content: string): Array<{ role: 'user', content: string }> => [{ role: 'user', content }]

/**
 * One app for every test of the enclosing describe block (built in beforeAll, closed in
 * afterAll), for tests that neither change nor depend on the app's state: building an app per
 * test is most of the cost of a quick test.
 */
export function sharedTestApp (opts: TestAppOptions = {}): () => StartedTestApp {
  let started: StartedTestApp | undefined
  beforeAll(async () => { started = await startTestApp(opts) })
  afterAll(async () => { await started?.close() })
  return () => {
    if (started === undefined) throw new Error('the shared test app is not built yet')
    return started
  }
}
