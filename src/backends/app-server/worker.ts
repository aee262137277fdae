import { serverError, type ApiError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { CodexChild, describeExit, lastStderrLine, startupError } from '../child-process.js'
import { spawnProblem } from '../codex-command.js'
import type { WorkerStatus } from '../types.js'
import type { RpcTimeoutError } from './rpc-client.js'
import { RpcClient } from './rpc-client.js'

/** Receives what app-server says about one thread. */
export interface ThreadListener {
  onNotification: (method: string, params: Record<string, unknown>) => void
  /** A server→client request about this thread (e.g. a dynamic tool call). */
  onServerRequest?: ((method: string, params: Record<string, unknown>) => unknown) | undefined
  /** The worker died or was stopped: the thread is gone. */
  onWorkerGone: (err: ApiError) => void
}

export interface WorkerOptions {
  id: number
  bin: string
  args: readonly string[]
  cwd: string
  env: NodeJS.ProcessEnv
  log: Logger
  /** How long an RPC call may take before the process is considered hung. */
  rpcTimeoutMs: number
  /** How long `initialize` may take (cold start). */
  startTimeoutMs: number
  clientVersion: string
}

interface RateLimitWindow {
  usedPercent?: number
  resetsAt?: number | null
}

interface RateLimitSnapshot {
  primary?: RateLimitWindow | null
  secondary?: RateLimitWindow | null
}

export interface AccountState {
  loggedIn: boolean
  /** Auth mode or plan, for logs. */
  detail?: string | undefined
}

/** Approval requests (v2 and legacy) are declined: nothing the model asks to run is approved. */
const DECLINE: Readonly<Record<string, unknown>> = {
  'item/commandExecution/requestApproval': { decision: 'decline' },
  'item/fileChange/requestApproval': { decision: 'decline' },
  'item/permissions/requestApproval': { decision: 'decline' },
  execCommandApproval: { decision: 'denied' },
  applyPatchApproval: { decision: 'denied' }
}

function threadIdOf (params: Record<string, unknown>): string | undefined {
  if (typeof params.threadId === 'string') return params.threadId
  const thread = params.thread as { id?: unknown } | undefined
  return typeof thread?.id === 'string' ? thread.id : undefined
}

/**
 * One long-lived `codex app-server` process: the JSON-RPC session, routing of notifications to
 * the threads running on it, and its health. It never restarts itself; the pool replaces it.
 */
export class AppServerWorker {
  readonly id: number
  readonly child: CodexChild
  readonly rpc: RpcClient
  readonly #opts: WorkerOptions
  readonly #log: Logger
  readonly #threads = new Map<string, ThreadListener>()
  #state: WorkerStatus['state'] = 'starting'
  #inFlight = 0
  #turns = 0
  /** Request ids of the turns running here, for the log line of a failure. */
  readonly #requests = new Map<symbol, string>()
  #failure: ApiError | undefined
  #rateLimits: RateLimitSnapshot | undefined

  constructor (opts: WorkerOptions) {
    this.#opts = opts
    this.id = opts.id
    this.child = new CodexChild({ bin: opts.bin, args: opts.args, cwd: opts.cwd, env: opts.env, log: opts.log })
    this.#log = opts.log.child({ worker: opts.id, pid: this.child.pid })
    this.rpc = new RpcClient({
      transport: this.child,
      log: this.#log,
      timeoutMs: opts.rpcTimeoutMs,
      onNotification: (method, params) => { this.#route(method, params) },
      onServerRequest: (method, params) => this.#serverRequest(method, params),
      onProtocolError: (problem) => {
        this.#fail(serverError(502, 'Codex app-server wrote output that is not JSON-RPC; the worker was recycled.', 'codex_protocol_error'))
        this.#log.error({ problem, ...this.#turnsHere() }, 'app-server protocol error; killing the worker')
        void this.child.kill()
      },
      onTimeout: (err: RpcTimeoutError) => {
        this.#fail(serverError(502, `Codex app-server stopped answering (${err.method}); the worker was replaced.`, 'codex_unresponsive'))
        this.#log.error({ method: err.method, ...this.#turnsHere() }, 'app-server stopped answering; killing the worker')
        // A process that stopped answering may be stopped (SIGSTOP) or wedged: no grace for it.
        this.child.killNow()
      }
    })
    this.child.onLine((line) => { this.rpc.handleLine(line) })
    void this.child.exited.then((exit) => {
      const err = this.#failure ?? this.#exitError()
      this.#state = this.#state === 'stopping' ? 'stopped' : 'failed'
      this.#failure = err
      this.rpc.close(err)
      // Its stderr may hold any client's text: it goes here, with the requests whose turns failed.
      if (exit.spawnError === undefined) this.#log.warn({ code: exit.code, signal: exit.signal, stderr: lastStderrLine(this.child.stderrTail()), ...this.#turnsHere() }, 'app-server exited')
      for (const listener of this.#threads.values()) listener.onWorkerGone(err)
      this.#threads.clear()
    })
  }

  get state (): WorkerStatus['state'] {
    return this.#state
  }

  get inFlight (): number {
    return this.#inFlight
  }

  /** Turns started on this worker since it was spawned. */
  get turnsStarted (): number {
    return this.#turns
  }

  /**
   * When the account's exhausted usage window resets (epoch seconds), from the latest
   * `account/rateLimits/updated`. Limits are per account, so the latest snapshot applies to every
   * turn on this worker even though the notification names no thread.
   */
  get usageLimitResetAt (): number | undefined {
    const windows = [this.#rateLimits?.primary, this.#rateLimits?.secondary].filter((w): w is RateLimitWindow => w !== null && w !== undefined)
    const exhausted = windows.filter((w) => (w.usedPercent ?? 0) >= 100 && typeof w.resetsAt === 'number')
    const resets = (exhausted.length > 0 ? exhausted : windows).map((w) => w.resetsAt).filter((r): r is number => typeof r === 'number')
    return resets.length === 0 ? undefined : Math.max(...resets)
  }

  /** Why the worker is unusable (set once it failed). */
  get failure (): ApiError | undefined {
    return this.#failure
  }

  status (restarts: number): WorkerStatus {
    return { id: this.id, pid: this.child.pid ?? null, state: this.#state, inFlight: this.#inFlight, restarts }
  }

  /** initialize + initialized; resolves when the worker can take threads. */
  async start (): Promise<void> {
    await this.rpc.request('initialize', {
      clientInfo: { name: 'codex_completions_api', title: 'codex-completions-api', version: this.#opts.clientVersion },
      capabilities: { experimentalApi: true }
    }, this.#opts.startTimeoutMs)
    this.rpc.notify('initialized')
    if (this.#state === 'starting') this.#state = 'ready'
  }

  /** Whether Codex has credentials for its provider (`account/read`). */
  async account (): Promise<AccountState> {
    const result = await this.rpc.request<{ account?: { type?: string, planType?: string } | null, requiresOpenaiAuth?: boolean }>('account/read', {})
    const account = result.account ?? null
    if (account === null) return { loggedIn: result.requiresOpenaiAuth !== true }
    return { loggedIn: true, detail: [account.type, account.planType].filter((x) => typeof x === 'string').join(' ') }
  }

  /**
   * Counts a turn against this worker (least-in-flight routing); the returned function ends it.
   * With the turn's request id, a failure of the worker names it in the log line that says why.
   */
  begin (requestId: string): () => void {
    this.#inFlight += 1
    this.#turns += 1
    const turn = Symbol('turn')
    this.#requests.set(turn, requestId)
    let done = false
    return () => {
      if (done) return
      done = true
      this.#inFlight -= 1
      this.#requests.delete(turn)
    }
  }

  /** The turns a failure of this worker cuts short, for its log line. */
  #turnsHere (): { turns: number, requests: string[] } {
    return { turns: this.#inFlight, requests: [...this.#requests.values()] }
  }

  listen (threadId: string, listener: ThreadListener): () => void {
    this.#threads.set(threadId, listener)
    return () => {
      if (this.#threads.get(threadId) === listener) this.#threads.delete(threadId)
    }
  }

  #route (method: string, params: Record<string, unknown>): void {
    const threadId = threadIdOf(params)
    const listener = threadId === undefined ? undefined : this.#threads.get(threadId)
    if (listener !== undefined) listener.onNotification(method, params)
    else if (method === 'error') this.#log.warn({ params }, 'app-server error outside a running turn')
    else if (method === 'account/rateLimits/updated') this.#rateLimits = params.rateLimits as RateLimitSnapshot | undefined
  }

  #serverRequest (method: string, params: Record<string, unknown>): unknown {
    const decline = DECLINE[method]
    if (decline !== undefined) {
      this.#log.warn({ method }, 'declined an approval request')
      return decline
    }
    const threadId = threadIdOf(params)
    const handler = threadId === undefined ? undefined : this.#threads.get(threadId)?.onServerRequest
    if (handler !== undefined) return handler(method, params)
    throw new Error(`${method} is not supported by this client`)
  }

  #fail (err: ApiError): void {
    if (this.#failure === undefined) this.#failure = err
    if (this.#state !== 'stopping' && this.#state !== 'stopped') this.#state = 'failed'
  }

  #exitError (): ApiError {
    const exit = this.child.exitInfo
    if (exit?.spawnError !== undefined) return serverError(503, spawnProblem(this.#opts.bin, exit.spawnError), 'codex_unavailable')
    const how = describeExit(this.child, 'stopped')
    // Before it was ready, no request had reached it: what it said is the operator's to see (/readyz).
    const why = this.#state === 'starting' ? startupError(this.child.stderrTail()) : undefined
    return serverError(502, `Codex app-server ${how}${why === undefined ? '; details in the server log' : ` while starting: ${why}`}`, 'codex_exited')
  }

  /** Whether the process still answers (a cheap call); one that does not in `timeoutMs` is killed. */
  async ping (timeoutMs: number): Promise<boolean> {
    if (this.#state !== 'ready') return false
    return await this.rpc.request('thread/loaded/list', {}, timeoutMs).then(() => true, () => false)
  }

  /** Closes stdin (app-server exits on EOF), then kills it if it lingers. */
  async stop (graceMs = 2000): Promise<void> {
    if (!this.child.running) return
    this.#state = 'stopping'
    this.#failure ??= serverError(503, 'The server is shutting down; the turn was interrupted.', 'shutting_down')
    this.rpc.close(this.#failure)
    this.child.endStdin()
    const timer = setTimeout(() => { void this.child.kill() }, graceMs)
    timer.unref()
    await this.child.exited
    clearTimeout(timer)
  }
}
