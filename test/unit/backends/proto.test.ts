import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pino from 'pino'
import { loadConfig, type Config } from '../../../src/config.js'
import { ApiError } from '../../../src/errors.js'
import { liveChildren, type CodexChild } from '../../../src/backends/child-process.js'
import { ProtoBackend, protoArgs, protoUsage } from '../../../src/backends/proto.js'
import type { BackendEvent, CompletionRequest, ConversationItem } from '../../../src/backends/types.js'
import { shimPath, type ShimVariant } from '../../helpers/paths.js'
import { waitFor } from '../../helpers/wait.js'
import { fakeLogger, isAlive, rejectionOf, within } from '../support.js'

const log = pino({ level: 'silent' })
let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-proto-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

function config (variant: ShimVariant | string, env: Record<string, string> = {}): Config {
  return loadConfig({
    CODEX_BACKEND: 'proto',
    CODEX_BIN: variant.startsWith('/') ? variant : shimPath(variant as ShimVariant),
    CODEX_HOME: dir,
    PROXY_CODEX_WORKDIR: join(dir, 'work'),
    LOG_LEVEL: 'silent',
    ...env
  })
}

async function backend (variant: ShimVariant | string, env: Record<string, string> = {}): Promise<ProtoBackend> {
  const b = new ProtoBackend({ config: config(variant, env), log })
  await b.start()
  return b
}

const userMsg = (text: string): ConversationItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] })
const request = (items: ConversationItem[] = [userMsg('hello there')], extra: Partial<CompletionRequest> = {}): CompletionRequest => ({
  requestId: 'req-proto', model: undefined, effort: undefined, items, tools: [], toolChoice: 'none', parallelToolCalls: true, outputFormat: undefined, ...extra
})

interface Run { events: BackendEvent[], error: unknown, ms: number }

/** Runs one turn to its end (or error), failing fast if it hangs. */
async function run (b: ProtoBackend, req: CompletionRequest = request(), signal: AbortSignal = new AbortController().signal): Promise<Run> {
  const events: BackendEvent[] = []
  const t0 = Date.now()
  let error: unknown
  try {
    await within(10_000, (async () => { for await (const e of b.complete(req, signal)) events.push(e) })(), 'turn')
  } catch (err) {
    error = err
  }
  return { events, error, ms: Date.now() - t0 }
}

/** Reads what was already queued until the iterator throws; what it threw (undefined if it ended). */
async function errorAfterDraining (iterator: AsyncIterator<BackendEvent>): Promise<unknown> {
  for (;;) {
    try {
      const next = await within(3000, iterator.next(), 'next after abort')
      if (next.done === true) return undefined
    } catch (err) {
      return err
    }
  }
}

const text = (events: BackendEvent[]): string => events.map((e) => (e.type === 'text' ? e.text : '')).join('')

function expectError (error: unknown, status: number, code: string): ApiError {
  expect(error).toBeInstanceOf(ApiError)
  const e = error as ApiError
  expect({ status: e.statusCode, code: e.code }).toEqual({ status, code })
  return e
}

const ECHO_EVENTS: BackendEvent[] = [
  { type: 'started' },
  { type: 'text', itemId: 'msg_proto_0', text: 'echo: ' },
  { type: 'text', itemId: 'msg_proto_0', text: 'hello ' },
  { type: 'text', itemId: 'msg_proto_0', text: 'there' },
  // The shim counts ~4 characters a token of the prompt: the one user message, as written ('hello there').
  { type: 'usage', usage: { promptTokens: 3, completionTokens: 5, totalTokens: 8, cachedTokens: 0, reasoningTokens: 0 } },
  { type: 'done', finishReason: 'stop' }
]

describe('protoArgs', () => {
  it('sets the lean overrides, ending with proto', () => {
    expect(protoArgs(config('proto'), { model: undefined, effort: undefined })).toEqual([
      '-c', 'project_doc_max_bytes=0',
      '-c', 'history.persistence="none"',
      '-c', 'tools.web_search=false',
      '-c', 'sandbox_mode="read-only"',
      'proto'
    ])
  })

  it('maps model, effort, sandbox and provider', () => {
    const args = protoArgs(config('proto', { PROXY_SANDBOX_MODE: 'workspace-write', CODEX_FORCE_PROVIDER: 'my_provider' }), { model: 'gpt-5.5', effort: 'high' })
    expect(args.at(-1)).toBe('proto')
    expect(args.filter((a) => a === 'proto')).toHaveLength(1)
    expect(args).toContain('sandbox_mode="workspace-write"')
    expect(args).toContain('model_provider="my_provider"')
    expect(args).toContain('model="gpt-5.5"')
    expect(args).toContain('model_reasoning_effort="high"')
    expect(args).toContain('reasoning.effort="high"')
    // Every value travels behind its own -c.
    for (let i = 0; i < args.length - 1; i += 2) expect(args[i]).toBe('-c')
  })

  it('never contains the prompt', () => {
    const req = request([userMsg('SECRET-PROMPT-TEXT --help $(id)')], { model: 'gpt-5', effort: 'low' })
    const args = protoArgs(config('proto'), req)
    expect(args.join(' ')).not.toContain('SECRET-PROMPT-TEXT')
    expect(args.join(' ')).not.toContain('$(id)')
  })
})

describe('protoUsage', () => {
  it('reads the flat token_count shape', () => {
    expect(protoUsage({ type: 'token_count', input_tokens: 10, cached_input_tokens: 4, output_tokens: 3, reasoning_output_tokens: 1, total_tokens: 13 }))
      .toEqual({ promptTokens: 10, completionTokens: 3, totalTokens: 13, cachedTokens: 4, reasoningTokens: 1 })
  })
  it('reads the info.total_token_usage shape', () => {
    expect(protoUsage({ type: 'token_count', info: { total_token_usage: { input_tokens: 7, output_tokens: 2, total_tokens: 9, cached_input_tokens: null } } }))
      .toEqual({ promptTokens: 7, completionTokens: 2, totalTokens: 9, cachedTokens: undefined, reasoningTokens: undefined })
  })
  it('computes a missing total', () => {
    expect(protoUsage({ input_tokens: 7, output_tokens: 2 })?.totalTokens).toBe(9)
  })
  it('answers undefined without counts', () => {
    expect(protoUsage({ type: 'token_count', info: null })).toBeUndefined()
    expect(protoUsage({ type: 'token_count', info: {} })).toBeUndefined()
    expect(protoUsage({ type: 'token_count' })).toBeUndefined()
  })
})

describe('ProtoBackend', () => {
  it('describes itself', async () => {
    const b = await backend('proto')
    expect(b.kind).toBe('proto')
    expect(b.capabilities).toEqual({ tools: false, images: false, structuredOutput: false })
    expect(await b.models()).toEqual([])
    expect(b.health()).toEqual({ ready: true })
  })

  it('streams the echo shim: started, text deltas, usage, done; no child left', async () => {
    const before = liveChildren().size
    const r = await run(await backend('proto'))
    expect(r.error).toBeUndefined()
    expect(r.events).toEqual(ECHO_EVENTS)
    expect(liveChildren().size).toBe(before)
  })

  it('answers the last user message of a conversation', async () => {
    const r = await run(await backend('proto'), request([
      { type: 'message', role: 'system', content: [{ type: 'text', text: 'be nice' }] },
      userMsg('first question'),
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
      userMsg('second question')
    ]))
    expect(r.error).toBeUndefined()
    expect(text(r.events)).toBe('echo: second question')
  })

  it('streams reasoning deltas', async () => {
    const r = await run(await backend('proto'), request([userMsg('[reason] why')]))
    expect(r.events.filter((e) => e.type === 'reasoning')).toEqual([
      { type: 'reasoning', itemId: 'rs_proto_0', summaryIndex: 0, text: 'Thinking about ' },
      { type: 'reasoning', itemId: 'rs_proto_0', summaryIndex: 0, text: 'the echo.' }
    ])
    expect(text(r.events)).toBe('echo: [reason] why')
  })

  it('denies what the model asks to run, and reads the flat token_count', async () => {
    const r = await run(await backend('proto'), request([userMsg('[approval]')]))
    expect(r.error).toBeUndefined()
    expect(r.events).toEqual([
      { type: 'started' },
      { type: 'text', itemId: 'msg_proto_0', text: 'approval denied' },
      { type: 'usage', usage: { promptTokens: 3, completionTokens: 4, totalTokens: 7, cachedTokens: 0, reasoningTokens: 0 } },
      { type: 'done', finishReason: 'stop' }
    ])
  })

  it('never puts the prompt on the child\'s command line', async () => {
    const b = await backend('never-complete', { PROXY_PROTO_IDLE_MS: '60000' })
    const before = new Set<CodexChild>(liveChildren())
    const controller = new AbortController()
    const iterator = b.complete(request([userMsg('TOP-SECRET-PROMPT')]), controller.signal)[Symbol.asyncIterator]()
    await iterator.next()
    const child = [...liveChildren()].find((c) => !before.has(c))
    expect(child?.pid).toBeDefined()
    const cmdline = (await readFile(`/proc/${String(child?.pid)}/cmdline`, 'utf8')).split('\0')
    expect(cmdline.at(-2)).toBe('proto')
    expect(cmdline.join(' ')).not.toContain('TOP-SECRET-PROMPT')
    const reason = new Error('done looking')
    controller.abort(reason)
    expect(await errorAfterDraining(iterator)).toBe(reason)
  })

  it('hang: a silent Codex fails with a 504 after PROXY_PROTO_IDLE_MS and is killed', async () => {
    const before = liveChildren().size
    const r = await run(await backend('hang', { PROXY_PROTO_IDLE_MS: '200' }))
    expectError(r.error, 504, 'timeout')
    expect(r.events).toEqual([])
    expect(r.ms).toBeGreaterThanOrEqual(190)
    expect(r.ms).toBeLessThan(3000)
    expect(liveChildren().size).toBe(before)
  })

  it('crash: a child that exits mid-stream fails with a 502 naming its exit; its stderr goes to the log only', async () => {
    const before = liveChildren().size
    const { log, calls } = fakeLogger()
    const b = new ProtoBackend({ config: config('crash'), log })
    await b.start()
    const r = await run(b)
    const e = expectError(r.error, 502, 'codex_exited')
    expect(e.message).toContain('exited with code 101')
    expect(e.message).not.toContain('simulated crash')
    expect(JSON.stringify(calls.warn)).toContain('simulated crash in the middle of a stream')
    expect(r.events).toEqual([{ type: 'started' }, { type: 'text', itemId: 'msg_proto_0', text: 'echo: ' }, { type: 'text', itemId: 'msg_proto_0', text: 'hello ' }])
    expect(liveChildren().size).toBe(before)
  })

  it('a child that says on stderr it is not logged in is a 503 naming the login, without its stderr', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cca-nologin-'))
    const bin = join(dir, 'codex')
    await writeFile(bin, '#!/bin/sh\necho "Error: Not logged in. client text 123" >&2\nexit 1\n', { mode: 0o755 })
    try {
      const e = expectError((await run(await backend(bin))).error, 503, 'codex_not_logged_in')
      expect(e.message).toContain('codex login')
      expect(e.message).not.toContain('client text 123')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('never-complete: a stream that stalls fails with a 504 after the idle limit', async () => {
    const before = liveChildren().size
    const r = await run(await backend('never-complete', { PROXY_PROTO_IDLE_MS: '1500' }))
    expectError(r.error, 504, 'timeout')
    expect(r.events).toEqual(ECHO_EVENTS.slice(0, 4))
    expect(liveChildren().size).toBe(before)
  })

  it('slow: gaps shorter than the idle limit are not a timeout', async () => {
    const before = liveChildren().size
    const r = await run(await backend('slow', { PROXY_PROTO_IDLE_MS: '2000' }))
    expect(r.error).toBeUndefined()
    expect(r.events).toEqual(ECHO_EVENTS)
    expect(r.ms).toBeGreaterThanOrEqual(500)
    expect(liveChildren().size).toBe(before)
  })

  it('garbage: output that is not JSON fails with a 502 codex_protocol_error', async () => {
    const before = liveChildren().size
    const r = await run(await backend('garbage'))
    expectError(r.error, 502, 'codex_protocol_error')
    expect(r.events).toEqual([])
    expect(liveChildren().size).toBe(before)
  })

  it('noisy: a flood of stderr does not disturb the answer', async () => {
    const before = liveChildren().size
    const r = await run(await backend('noisy'))
    expect(r.error).toBeUndefined()
    expect(r.events).toEqual(ECHO_EVENTS)
    expect(liveChildren().size).toBe(before)
  })

  it('an aborted signal mid-stream kills the child promptly and throws the signal\'s reason', async () => {
    const before = liveChildren().size
    const known = new Set<CodexChild>(liveChildren())
    const b = await backend('never-complete', { PROXY_PROTO_IDLE_MS: '60000' })
    const controller = new AbortController()
    const iterator = b.complete(request(), controller.signal)[Symbol.asyncIterator]()
    expect((await iterator.next()).value).toEqual({ type: 'started' })
    expect((await iterator.next()).value).toEqual({ type: 'text', itemId: 'msg_proto_0', text: 'echo: ' })
    const child = [...liveChildren()].find((c) => !known.has(c))
    const pid = child?.pid ?? -1
    expect(isAlive(pid)).toBe(true)
    const reason = new Error('client disconnected')
    const t0 = Date.now()
    controller.abort(reason)
    expect(await errorAfterDraining(iterator)).toBe(reason)
    expect(Date.now() - t0).toBeLessThan(1500)
    await waitFor(() => !isAlive(pid), 2000)
    expect(liveChildren().size).toBe(before)
  })

  it('an already-aborted signal starts no child', async () => {
    const before = liveChildren().size
    const reason = new Error('gone already')
    const r = await run(await backend('proto'), request(), AbortSignal.abort(reason))
    expect(r.error).toBe(reason)
    expect(r.events).toEqual([])
    expect(liveChildren().size).toBe(before)
  })

  it('a missing binary is a 503 codex_unavailable', async () => {
    const before = liveChildren().size
    const r = await run(await backend('/nonexistent/bin/codex'))
    const e = expectError(r.error, 503, 'codex_unavailable')
    expect(e.message).toContain('/nonexistent/bin/codex')
    expect(liveChildren().size).toBe(before)
  })

  it('a missing CODEX_HOME makes it unready and every turn a 503', async () => {
    const { log: fake, calls } = fakeLogger()
    const b = new ProtoBackend({ config: config('proto', { CODEX_HOME: join(dir, 'does-not-exist') }), log: fake })
    await b.start()
    expect(b.health().ready).toBe(false)
    expect(b.health().reason).toContain('does not exist')
    expect(calls.error).toHaveLength(1)
    expectError((await run(b)).error, 503, 'codex_home_unusable')
  })

  it('close() kills in-flight children and refuses new turns', async () => {
    const before = liveChildren().size
    const b = await backend('never-complete', { PROXY_PROTO_IDLE_MS: '60000' })
    const iterator = b.complete(request(), new AbortController().signal)[Symbol.asyncIterator]()
    await iterator.next()
    const pending = (async () => { for (;;) { const n = await iterator.next(); if (n.done === true) return } })()
    await within(5000, b.close(), 'close')
    const err = await within(5000, rejectionOf(pending), 'in-flight turn')
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).statusCode).toBeGreaterThanOrEqual(500)
    expect(liveChildren().size).toBe(before)
    expect(b.health()).toEqual({ ready: false, reason: 'shutting down' })
    expectError((await run(b)).error, 503, 'shutting_down')
  })
})
