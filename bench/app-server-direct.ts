import type { ChildProcess } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Lab } from './lab.js'
import { spawnTracked, stopTracked } from './processes.js'

// The baseline the proxy is measured against: a warm `codex app-server`, started with exactly the
// proxy's arguments, driven by the least JSON-RPC a client can get away with.

interface RpcMessage { id?: number, method?: string, params?: Record<string, unknown>, result?: unknown, error?: { message: string } }

export interface DirectTurn {
  /** thread/start sent → turn/start answered (what the proxy's backend reports as 'started'). */
  startedMs: number
  /** thread/start sent → first non-empty item/agentMessage/delta. */
  ttftMs: number | undefined
  /** thread/start sent → turn/completed. */
  doneMs: number
  /** thread/start sent → thread/unsubscribe answered (the proxy waits for this before [DONE]). */
  cleanupMs: number
  error: string | undefined
}

export class DirectAppServer {
  readonly pid: number
  readonly #child: ChildProcess
  readonly #cwd: string
  readonly #pending = new Map<number, { resolve: (m: RpcMessage) => void, reject: (e: Error) => void }>()
  readonly #threads = new Map<string, (method: string, params: Record<string, unknown>) => void>()
  #nextId = 1

  private constructor (child: ChildProcess, cwd: string) {
    this.#child = child
    this.#cwd = cwd
    this.pid = child.pid ?? -1
    if (child.stdout === null || child.stderr === null) throw new Error('app-server started without pipes')
    child.stderr.resume() // start-up noise; never let the pipe fill
    createInterface({ input: child.stdout }).on('line', (line) => { this.#onLine(line) })
    child.once('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`app-server exited (${code ?? signal ?? '?'})`))
      this.#pending.clear()
    })
  }

  static async start (lab: Pick<Lab, 'scratch' | 'codexBin' | 'codexEnv' | 'lean'>): Promise<DirectAppServer> {
    const cwd = join(lab.scratch, 'direct-work')
    await mkdir(cwd, { recursive: true })
    const child = spawnTracked(lab.codexBin, ['app-server', ...lab.lean], { cwd, env: lab.codexEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    const server = new DirectAppServer(child, cwd)
    try {
      await server.#request('initialize', { clientInfo: { name: 'cca_bench', title: 'bench', version: '0.0.0' }, capabilities: { experimentalApi: true } })
      server.#write({ method: 'initialized' })
    } catch (err) {
      await server.stop()
      throw err
    }
    return server
  }

  #write (msg: Record<string, unknown>): void {
    this.#child.stdin?.write(`${JSON.stringify(msg)}\n`)
  }

  async #request (method: string, params: unknown): Promise<Record<string, unknown>> {
    const id = this.#nextId++
    const reply = new Promise<RpcMessage>((resolve, reject) => { this.#pending.set(id, { resolve, reject }) })
    this.#write({ id, method, params })
    const msg = await reply
    if (msg.error !== undefined) throw new Error(`${method}: ${msg.error.message}`)
    return msg.result as Record<string, unknown>
  }

  #onLine (line: string): void {
    const msg = JSON.parse(line) as RpcMessage
    if (msg.method === undefined && msg.id !== undefined) {
      this.#pending.get(msg.id)?.resolve(msg)
      this.#pending.delete(msg.id)
      return
    }
    if (msg.method === undefined) return
    if (msg.id !== undefined) {
      // No server→client request is expected with the lean flags; refuse rather than hang.
      this.#write({ id: msg.id, error: { code: -32601, message: 'not supported' } })
      return
    }
    const threadId = msg.params?.threadId
    if (typeof threadId === 'string') this.#threads.get(threadId)?.(msg.method, msg.params ?? {})
  }

  /** One request as the proxy runs it: ephemeral thread, one turn, unsubscribe. */
  async turn (text: string, timeoutMs = 60_000): Promise<DirectTurn> {
    const t0 = performance.now()
    const out: DirectTurn = { startedMs: Number.NaN, ttftMs: undefined, doneMs: Number.NaN, cleanupMs: Number.NaN, error: undefined }
    let threadId: string | undefined
    try {
      const thread = await this.#request('thread/start', {
        cwd: this.#cwd, sandbox: 'read-only', approvalPolicy: 'never', ephemeral: true, baseInstructions: '', experimentalRawEvents: false
      })
      const id = (thread.thread as { id: string }).id
      threadId = id
      const completed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`no turn/completed within ${timeoutMs} ms`)) }, timeoutMs)
        this.#threads.set(id, (method, params) => {
          if (method === 'item/agentMessage/delta') {
            if (typeof params.delta === 'string' && params.delta.length > 0) out.ttftMs ??= performance.now() - t0
          } else if (method === 'turn/completed') {
            out.doneMs = performance.now() - t0
            const status = (params.turn as { status?: string } | undefined)?.status
            if (status !== 'completed') out.error = `turn ${status ?? 'ended'}`
            clearTimeout(timer)
            resolve()
          }
        })
      })
      await this.#request('turn/start', { threadId: id, input: [{ type: 'text', text, text_elements: [] }], summary: 'auto' })
      out.startedMs = performance.now() - t0
      await completed
    } catch (err) {
      out.error = (err as Error).message
    } finally {
      if (threadId !== undefined) {
        this.#threads.delete(threadId)
        await this.#request('thread/unsubscribe', { threadId }).catch(() => {})
        out.cleanupMs = performance.now() - t0
      }
    }
    return out
  }

  /** Threads the process still holds (`thread/loaded/list`). */
  async loadedThreads (): Promise<number> {
    const result = await this.#request('thread/loaded/list', {})
    return ((result.data ?? result.threads ?? []) as unknown[]).length
  }

  /** Any other call (diagnostics). */
  async call (method: string, params: unknown): Promise<Record<string, unknown>> {
    return await this.#request(method, params)
  }

  async stop (): Promise<void> {
    this.#child.stdin?.end()
    await stopTracked(this.#child, 3000)
  }
}
