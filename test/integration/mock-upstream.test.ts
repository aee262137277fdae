// Proves the REAL Codex binary runs offline against test/fixtures/mock-upstream.mjs, and pins the
// error mapping of Codex 0.169 that the backends rely on (report §2.6; re-run when Codex changes).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startMockUpstream, usageFor, type MockUpstream } from '../fixtures/mock-upstream.mjs'
import { makeCodexHome, type CodexHome } from '../helpers/codex-home.js'

const CODEX = resolve(import.meta.dirname, '../../node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex')

let mock: MockUpstream
let home: CodexHome
let workdir: string
const children = new Set<ChildProcessWithoutNullStreams>()

/** A minimal environment: nothing from the developer's shell (API keys, RUST_LOG) leaks in. */
const childEnv = (): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, CODEX_HOME: home.dir })

function spawnCodex (args: string[]): ChildProcessWithoutNullStreams {
  const child = spawn(CODEX, args, { cwd: workdir, env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  child.stderr.resume() // startup noise ("could not create PATH aliases", bubblewrap); never fill the pipe
  return child
}

const killAll = (): void => {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

beforeAll(async () => {
  mock = await startMockUpstream()
  home = await makeCodexHome({ upstreamUrl: mock.url })
  workdir = await mkdtemp(join(tmpdir(), 'codex-work-'))
})

afterAll(async () => {
  killAll()
  await mock.close()
  await home.cleanup()
  await rm(workdir, { recursive: true, force: true })
})

beforeEach(() => mock.reset())

describe('codex exec --json against the mock', () => {
  afterEach(killAll)

  interface ExecResult { code: number | null, events: Array<Record<string, unknown>>, ms: number }

  async function runExec (prompt: string): Promise<ExecResult> {
    const started = Date.now()
    const child = spawnCodex(['exec', '--json', '--skip-git-repo-check', '--ephemeral', '-s', 'read-only',
      '--disable', 'unbounded_connection_retries', '-C', workdir, '-'])
    const events: Array<Record<string, unknown>> = []
    createInterface({ input: child.stdout }).on('line', (line) => events.push(JSON.parse(line) as Record<string, unknown>))
    child.stdin.end(prompt)
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    return { code, events, ms: Date.now() - started }
  }

  it('echoes the prompt with the mock usage', async () => {
    const { code, events } = await runExec('hello from exec')
    expect(code).toBe(0)
    const message = events.find((e) => e.type === 'item.completed' && (e.item as { type?: string }).type === 'agent_message')
    expect((message?.item as { text?: string } | undefined)?.text).toBe('ECHO: hello from exec')
    const [request] = mock.requests
    expect(mock.requests).toHaveLength(1)
    expect(request?.path).toBe('/v1/responses')
    expect(request?.headers.authorization).toBeUndefined()
    const u = usageFor(request?.seq ?? 0)
    expect(events.find((e) => e.type === 'turn.completed')?.usage).toEqual({
      input_tokens: u.input_tokens,
      cached_input_tokens: 7,
      cache_write_input_tokens: 0,
      output_tokens: 20,
      reasoning_output_tokens: 3
    })
  })

  it('fails the turn quickly on an upstream 500 (no retries)', async () => {
    const { code, events, ms } = await runExec('[fail500] boom')
    expect(code).toBe(1)
    expect(events.some((e) => e.type === 'turn.failed')).toBe(true)
    expect(mock.requests).toHaveLength(1)
    expect(ms).toBeLessThan(5000)
  })
})

interface RpcMessage { id?: number, method?: string, params?: Record<string, unknown>, result?: unknown, error?: { code: number, message: string } }

/** Just enough JSON-RPC over stdio for these tests (the project's real client lives in src/). */
class TinyRpc {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (msg: RpcMessage) => void, reject: (err: Error) => void }>()
  private readonly listeners = new Set<(msg: RpcMessage) => void>()
  private readonly child: ChildProcessWithoutNullStreams

  constructor (child: ChildProcessWithoutNullStreams) {
    this.child = child
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as RpcMessage
      if (msg.id !== undefined && msg.method === undefined) {
        this.pending.get(msg.id)?.resolve(msg)
        this.pending.delete(msg.id)
      } else {
        for (const listener of this.listeners) listener(msg)
      }
    })
    // A dead server must fail the test at once, not at the test timeout.
    child.once('exit', (code, signal) => {
      for (const { reject } of this.pending.values()) reject(new Error(`codex app-server exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  async request (method: string, params: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++
    const reply = new Promise<RpcMessage>((resolve, reject) => this.pending.set(id, { resolve, reject }))
    this.child.stdin.write(`${JSON.stringify({ id, method, params })}\n`)
    const msg = await reply
    if (msg.error) throw new Error(`${method}: ${msg.error.message}`)
    return msg.result as Record<string, unknown>
  }

  notify (method: string): void {
    this.child.stdin.write(`${JSON.stringify({ method })}\n`)
  }

  /** Notifications of one thread until `turn/completed` (server requests are not expected here). */
  async collectTurn (threadId: string, timeoutMs = 10_000): Promise<RpcMessage[]> {
    const seen: RpcMessage[] = []
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.listeners.delete(listener); reject(new Error(`no turn/completed in ${timeoutMs} ms`)) }, timeoutMs)
      const listener = (msg: RpcMessage): void => {
        if (msg.params?.threadId !== threadId) return
        seen.push(msg)
        if (msg.method !== 'turn/completed') return
        clearTimeout(timer)
        this.listeners.delete(listener)
        resolve(seen)
      }
      this.listeners.add(listener)
    })
  }
}

describe('codex app-server against the mock', () => {
  let rpc: TinyRpc
  let child: ChildProcessWithoutNullStreams

  afterAll(() => { child.kill('SIGKILL') })

  beforeAll(async () => {
    child = spawnCodex(['app-server', '--disable', 'unbounded_connection_retries', '-c', 'thread_unload_delay_secs=0'])
    rpc = new TinyRpc(child)
    await rpc.request('initialize', { clientInfo: { name: 'mock_upstream_test', title: 'test', version: '0.0.0' }, capabilities: { experimentalApi: true } })
    rpc.notify('initialized')
  })

  /** One ephemeral thread, one turn; resolves with the notifications and the turn/start elapsed time. */
  async function runTurn (text: string, onStarted?: (threadId: string, turnId: string) => Promise<void>): Promise<{ msgs: RpcMessage[], ms: number }> {
    const thread = await rpc.request('thread/start', { cwd: workdir, sandbox: 'read-only', approvalPolicy: 'never', ephemeral: true })
    const threadId = (thread.thread as { id: string }).id
    const started = Date.now()
    const done = rpc.collectTurn(threadId)
    void done.catch(() => {}) // awaited below; keeps a throwing onStarted from leaving it unhandled
    const turn = await rpc.request('turn/start', { threadId, input: [{ type: 'text', text, text_elements: [] }] })
    await onStarted?.(threadId, (turn.turn as { id: string }).id)
    const msgs = await done
    return { msgs, ms: Date.now() - started }
  }

  const params = (msgs: RpcMessage[], method: string): Array<Record<string, unknown>> =>
    msgs.filter((m) => m.method === method).map((m) => m.params ?? {})

  it('streams reasoning and text deltas and reports the upstream usage unchanged', async () => {
    const { msgs } = await runTurn('[reason] hello app-server')
    expect(params(msgs, 'item/reasoning/summaryTextDelta').map((p) => p.delta).join('')).toBe('Thinking about the echo.')
    const deltas = params(msgs, 'item/agentMessage/delta').map((p) => p.delta)
    expect(deltas.length).toBeGreaterThan(1)
    expect(deltas.join('')).toBe('ECHO: [reason] hello app-server')
    expect((params(msgs, 'turn/completed')[0]?.turn as { status?: string }).status).toBe('completed')

    const seq = mock.requests[0]?.seq ?? 0
    const usage = params(msgs, 'thread/tokenUsage/updated')[0]?.tokenUsage as { last?: unknown }
    expect(usage.last).toEqual({
      totalTokens: 120 + seq,
      inputTokens: 100 + seq,
      cachedInputTokens: 7,
      cacheWriteInputTokens: 0,
      outputTokens: 20,
      reasoningOutputTokens: 3
    })
  })

  // What each error marker becomes; the message is matched loosely, the codexErrorInfo exactly.
  it.each([
    ['[fail500]', 'internalServerError', /high demand/],
    ['[fail429]', { responseTooManyFailedAttempts: { httpStatusCode: 429 } }, /429 Too Many Requests/],
    ['[usagelimit]', 'usageLimitExceeded', /usage limit.*try again at/],
    ['[ratelimit]', 'rateLimitExceeded', /try again in 7s/],
    ['[overloaded]', 'serverOverloaded', /capacity/],
    ['[context]', 'contextWindowExceeded', /context window/],
    // The same failures after part of the answer was streamed.
    ['[failmid:context]', 'contextWindowExceeded', /context window/],
    ['[failmid:ratelimit]', 'rateLimitExceeded', /try again in 7s/],
    ['[unauthorized]', { httpConnectionFailed: { httpStatusCode: 401 } }, /401 Unauthorized/]
  ])('%s → codexErrorInfo %j', async (marker, info, message) => {
    const { msgs, ms } = await runTurn(`${marker} please fail`)
    const errors = params(msgs, 'error')
    expect(errors).toHaveLength(1)
    expect(errors[0]?.willRetry).toBe(false)
    const error = errors[0]?.error as { codexErrorInfo?: unknown, message?: string }
    expect(error.codexErrorInfo).toEqual(info)
    expect(error.message).toMatch(message)
    const turn = params(msgs, 'turn/completed')[0]?.turn as { status?: string, error?: { codexErrorInfo?: unknown } }
    expect(turn.status).toBe('failed')
    expect(turn.error?.codexErrorInfo).toEqual(info)
    expect(mock.requests).toHaveLength(1)
    expect(ms).toBeLessThan(3000)
  })

  it('closes the upstream stream promptly on turn/interrupt', async () => {
    let interruptedAt = 0
    const { msgs } = await runTurn('[hang] wait forever', async (threadId, turnId) => {
      const [request] = await mock.waitForRequests(1, 5000)
      interruptedAt = Date.now()
      await rpc.request('turn/interrupt', { threadId, turnId })
      expect(await request?.ended).toBe('closedEarly')
      expect(Date.now() - interruptedAt).toBeLessThan(2000)
    })
    expect((params(msgs, 'turn/completed')[0]?.turn as { status?: string }).status).toBe('interrupted')
    expect(mock.requests[0]?.closedEarly).toBe(true)
  })
})
