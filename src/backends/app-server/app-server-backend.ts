import { createHash } from 'node:crypto'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../../config.js'
import { isApiError, serverError, type ApiError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { resolveCodexBinary, type CodexBinary } from '../codex-command.js'
import { CodexHomeWatch } from '../codex-home.js'
import { disposeCodexSetup, prepareCodex, type CodexSetup } from '../codex-setup.js'
import { isReasoningEffort, type BackendEvent, type BackendHealth, type CodexBackend, type CodexModel, type CompletionRequest, type ConversationDecision, type ConversationItem, type ReasoningEffort } from '../types.js'
import { LOGIN_HINT } from '../codex-errors.js'
import { conversationKeys, extendKeys, historyBytes } from './conversation-key.js'
import { Conversations, type Held } from './conversations.js'
import { ThreadSession, type SessionOptions } from './thread-session.js'
import { AppServerWorker } from './worker.js'

export interface AppServerBackendOptions {
  config: Config
  log: Logger
  /** Version reported to Codex as clientInfo (appears in the upstream User-Agent). */
  version?: string | undefined
}

const BACKOFF_MIN_MS = 500
const BACKOFF_MAX_MS = 30_000
/** A worker that stayed up this long resets the backoff. */
const STABLE_MS = 60_000
const AUTH_RECHECK_MS = 15_000
/** How long a request waits for a starting worker before it is refused. */
const READY_WAIT_MS = 30_000

interface Slot {
  index: number
  worker: AppServerWorker | undefined
  /** Workers replaced after PROXY_APP_SERVER_MAX_TURNS, finishing their turns before they stop. */
  retiring: Set<AppServerWorker>
  restarts: number
  /** Planned replacements (PROXY_APP_SERVER_MAX_TURNS), not counted as restarts. */
  recycled: number
  backoffMs: number
  timer: NodeJS.Timeout | undefined
  startedAt: number
}

interface ModelListEntry {
  model?: string
  id?: string
  displayName?: string
  supportedReasoningEfforts?: Array<{ reasoningEffort?: string }>
  defaultReasoningEffort?: string
  isDefault?: boolean
  hidden?: boolean
}

/**
 * The default backend: a small pool of long-lived `codex app-server` processes. Requests go to
 * the ready worker with the fewest turns in flight; a worker that exits or stops answering fails
 * its turns at once and is replaced with backoff. Startup problems (no binary, CODEX_HOME missing
 * or read-only, not logged in) keep the backend "not ready" with a reason an operator can act on.
 */
export class AppServerBackend implements CodexBackend {
  readonly kind = 'app-server' as const
  readonly capabilities = { tools: true, images: true, structuredOutput: true }
  readonly #config: Config
  readonly #log: Logger
  readonly #binary: CodexBinary
  readonly #version: string
  readonly #slots: Slot[] = []
  readonly #readyWaiters = new Set<() => void>()
  #args: string[] = []
  #setup: CodexSetup | undefined
  #models: CodexModel[] = []
  #problem: ApiError | undefined
  #loggedIn: boolean | undefined
  #authTimer: NodeJS.Timeout | undefined
  #authFileMtime = 0
  #pingTimer: NodeJS.Timeout | undefined
  readonly #home: CodexHomeWatch
  readonly #conversations: Conversations
  readonly #sessionOptions: SessionOptions
  #closed = false

  constructor (opts: AppServerBackendOptions) {
    const config = opts.config
    this.#config = config
    this.#log = opts.log.child({ backend: 'app-server' })
    this.#binary = resolveCodexBinary(config)
    this.#version = opts.version ?? '0.0.0'
    this.#home = new CodexHomeWatch(config.CODEX_HOME, config.PROXY_HEALTH_CHECK_MS, (problem) => { this.#homeChanged(problem) })
    this.#conversations = new Conversations({
      maxConversations: config.PROXY_CONVERSATION_AFFINITY ? config.PROXY_CONVERSATIONS_MAX : 0,
      maxBytes: config.PROXY_CONVERSATIONS_MAX_BYTES,
      ttlMs: config.PROXY_CONVERSATION_TTL_MS,
      toolCallTimeoutMs: config.PROXY_TOOL_CALL_TIMEOUT_MS
    }, (session) => { void session.release() }, this.#log)
    this.#sessionOptions = {
      cwd: config.PROXY_CODEX_WORKDIR,
      sandbox: config.PROXY_SANDBOX_MODE,
      log: this.#log,
      cleanupTimeoutMs: Math.max(1000, Math.min(5000, config.PROXY_IDLE_TIMEOUT_MS)),
      strictRetries: config.PROXY_STRICT_TOOL_RETRIES
    }
  }

  async start (): Promise<void> {
    this.#home.start()
    const every = this.#config.PROXY_HEALTH_CHECK_MS
    if (every > 0) {
      // A worker that stops answering (frozen, wedged) is found by its ping within two intervals;
      // its turns fail at once and it is replaced, instead of waiting for the stream-idle limit.
      this.#pingTimer = setInterval(() => { for (const worker of this.#readyWorkers()) void worker.ping(Math.max(1000, every)) }, every)
      this.#pingTimer.unref()
    }
    await this.#setUp()
  }

  /** Prepares Codex and spawns the pool; a failure (CODEX_HOME unusable, …) is kept as the reason and retried when the home is fixed. */
  async #setUp (): Promise<void> {
    const setup = await prepareCodex(this.#config, this.#binary, this.#log)
    if (isApiError(setup)) {
      this.#problem = setup
      return
    }
    this.#problem = undefined
    this.#setup = setup
    this.#models = setup.models
    this.#args = ['app-server', ...setup.lean]
    for (let index = 0; index < this.#config.PROXY_APP_SERVER_WORKERS; index++) {
      const slot: Slot = { index, worker: undefined, retiring: new Set(), restarts: 0, recycled: 0, backoffMs: BACKOFF_MIN_MS, timer: undefined, startedAt: 0 }
      this.#slots.push(slot)
      this.#spawn(slot)
    }
  }

  #spawn (slot: Slot): void {
    if (this.#closed) return
    slot.timer = undefined
    slot.startedAt = Date.now()
    const worker = new AppServerWorker({
      id: slot.index,
      bin: this.#binary.path,
      args: this.#args,
      cwd: this.#config.PROXY_CODEX_WORKDIR,
      env: this.#setup?.env ?? {},
      log: this.#log,
      // A little longer than the request's own acknowledgement limit: the client gets its 504 first,
      // and a worker that then still has not answered is recycled as hung.
      rpcTimeoutMs: Math.max(2000, this.#config.PROXY_IDLE_TIMEOUT_MS + 1000),
      startTimeoutMs: Math.max(30_000, this.#config.PROXY_IDLE_TIMEOUT_MS),
      clientVersion: this.#version
    })
    slot.worker = worker
    void worker.child.exited.then((exit) => {
      // Its threads are gone with it: the next round of each of its conversations starts fresh.
      this.#conversations.dropIdleWhere((session) => session.worker === worker)
      if (slot.worker === worker) this.#scheduleRestart(slot, exit.spawnError !== undefined)
    })
    void (async () => {
      try {
        await worker.start()
        await this.#afterStart(worker)
        this.#wakeWaiters()
      } catch (err) {
        this.#log.error({ err, worker: slot.index }, 'app-server worker failed to start')
        await worker.child.kill()
      }
    })()
  }

  #homeChanged (problem: string | undefined): void {
    if (this.#closed) return
    if (problem !== undefined) {
      this.#log.error(problem)
      return
    }
    this.#log.info('CODEX_HOME is usable again')
    if (this.#setup === undefined) {
      void this.#setUp()
      return
    }
    // Workers that ran while the home was gone hold stale state (open files of a deleted home).
    for (const slot of this.#slots) void slot.worker?.stop()
  }

  /** Login state and the model list, from the first worker that comes up. */
  async #afterStart (worker: AppServerWorker): Promise<void> {
    const account = await worker.account()
    this.#loggedIn = account.loggedIn
    this.#problem = undefined
    this.#authFileMtime = this.#authMtime()
    if (!account.loggedIn) {
      this.#log.error(`Codex is not logged in. ${LOGIN_HINT}`)
      this.#watchForLogin()
    } else {
      this.#log.info({ worker: worker.id, pid: worker.child.pid, account: account.detail }, 'app-server worker ready')
    }
    try {
      const list = await worker.rpc.request<{ data?: ModelListEntry[] }>('model/list', {})
      const models = (list.data ?? []).filter((m) => m.hidden !== true).map(toCodexModel).filter((m): m is CodexModel => m !== undefined)
      if (models.length > 0) this.#models = models
    } catch (err) {
      this.#log.warn({ err }, 'model/list failed; using the catalog written at startup')
    }
  }

  #authMtime (): number {
    try {
      return statSync(join(this.#config.CODEX_HOME, 'auth.json')).mtimeMs
    } catch {
      return 0
    }
  }

  /** After `codex login` writes auth.json, recycle the workers so they pick the credentials up. */
  #watchForLogin (): void {
    if (this.#authTimer !== undefined || this.#closed) return
    this.#authTimer = setInterval(() => {
      const mtime = this.#authMtime()
      if (mtime === this.#authFileMtime) return
      this.#authFileMtime = mtime
      this.#log.info('auth.json changed: restarting app-server workers')
      clearInterval(this.#authTimer)
      this.#authTimer = undefined
      for (const slot of this.#slots) void slot.worker?.stop()
    }, AUTH_RECHECK_MS)
    this.#authTimer.unref()
  }

  #scheduleRestart (slot: Slot, spawnFailed: boolean): void {
    if (this.#closed) return
    slot.restarts += 1
    if (Date.now() - slot.startedAt > STABLE_MS) slot.backoffMs = BACKOFF_MIN_MS
    const delay = slot.backoffMs
    slot.backoffMs = Math.min(BACKOFF_MAX_MS, slot.backoffMs * 2)
    if (spawnFailed) this.#problem ??= slot.worker?.failure
    this.#log.warn({ worker: slot.index, delayMs: delay, restarts: slot.restarts }, 'replacing app-server worker')
    slot.timer = setTimeout(() => { this.#spawn(slot) }, delay)
    slot.timer.unref()
  }

  /** Ready workers; retiring ones only while their replacement is not ready yet. */
  #readyWorkers (): AppServerWorker[] {
    return this.#slots.flatMap((s) => {
      if (s.worker?.state === 'ready') return [s.worker]
      return [...s.retiring].filter((w) => w.state === 'ready')
    })
  }

  /**
   * A worker that has run PROXY_APP_SERVER_MAX_TURNS turns is replaced: Codex's own memory grows
   * by a few KB per turn however threads are unloaded. The replacement starts first; the old one
   * keeps serving until it is ready, then finishes its turns and stops.
   */
  #retireIfWorn (worker: AppServerWorker): void {
    const max = this.#config.PROXY_APP_SERVER_MAX_TURNS
    const slot = this.#slots.find((s) => s.worker === worker)
    if (max === 0 || worker.turnsStarted < max || slot === undefined || this.#closed) return
    slot.retiring.add(worker)
    slot.recycled += 1
    this.#conversations.dropIdleWhere((session) => session.worker === worker)
    this.#log.info({ worker: slot.index, pid: worker.child.pid, turns: worker.turnsStarted }, 'recycling app-server worker after PROXY_APP_SERVER_MAX_TURNS turns')
    this.#spawn(slot)
    const timer = setInterval(() => {
      const replaced = slot.worker?.state !== 'starting'
      if ((replaced && worker.inFlight === 0) || !worker.child.running) {
        clearInterval(timer)
        void worker.stop().finally(() => { slot.retiring.delete(worker) })
      }
    }, 100)
    timer.unref()
  }

  #wakeWaiters (): void {
    for (const wake of this.#readyWaiters) wake()
  }

  health (): BackendHealth {
    const workers = this.#slots.map((s) => (s.worker === undefined
      ? { id: s.index, pid: null, state: 'starting' as const, inFlight: 0, restarts: s.restarts }
      : s.worker.status(s.restarts)))
    const conversations = this.#conversations.stats()
    const notReady = (reason: string): BackendHealth => ({ ready: false, reason, workers, conversations, loggedIn: this.#loggedIn })
    const refusal = this.#refusal()
    if (refusal !== undefined) return notReady(refusal.message)
    if (this.#readyWorkers().length === 0) {
      // A worker that failed to start says why (its `Error: …` line): a config it cannot load, …
      const failed = this.#slots.map((s) => s.worker?.failure?.message).find((m) => m?.includes('while starting') === true)
      return notReady(failed ?? 'no app-server worker is ready yet')
    }
    return { ready: true, workers, conversations, loggedIn: this.#loggedIn }
  }

  async models (): Promise<readonly CodexModel[]> {
    return this.#models
  }

  /**
   * What refuses every turn, a fresh thread or a held one (shutting down, no usable home, a setup
   * problem, no login); /readyz gives its message as the reason.
   */
  #refusal (): ApiError | undefined {
    if (this.#closed) return serverError(503, 'The server is shutting down.', 'shutting_down')
    const home = this.#home.problem
    if (home !== undefined) return serverError(503, home, 'codex_home_unusable')
    if (this.#problem !== undefined) return this.#problem
    if (this.#loggedIn === false) return serverError(503, `Codex is not logged in on this server. ${LOGIN_HINT}`, 'codex_not_logged_in')
    return undefined
  }

  #assertServing (): void {
    const refusal = this.#refusal()
    if (refusal !== undefined) throw refusal
  }

  /** The ready worker with the fewest turns in flight, waiting (bounded) for one to come up. */
  async #pick (signal: AbortSignal): Promise<AppServerWorker> {
    const deadline = Date.now() + READY_WAIT_MS
    for (;;) {
      this.#assertServing()
      const ready = this.#readyWorkers()
      if (ready.length > 0) {
        const worker = ready.reduce((a, b) => (b.inFlight < a.inFlight ? b : a))
        this.#retireIfWorn(worker)
        return worker
      }
      const wait = deadline - Date.now()
      if (wait <= 0) throw serverError(503, 'No Codex app-server worker is ready; it is starting or being replaced. Retry shortly.', 'codex_unavailable')
      await new Promise<void>((resolve, reject) => {
        const done = (): void => { clearTimeout(timer); this.#readyWaiters.delete(done); signal.removeEventListener('abort', aborted); resolve() }
        const aborted = (): void => { done(); reject(signal.reason) }
        const timer = setTimeout(done, Math.min(wait, 250))
        this.#readyWaiters.add(done)
        signal.addEventListener('abort', aborted, { once: true })
      })
    }
  }

  /**
   * One round of a conversation: on the held thread it continues, when there is one (same key,
   * same settings, its history and answer a prefix of this request's, free, on a live worker),
   * else on a fresh thread of the least busy worker. Afterwards the thread is held for the next
   * round, unless affinity is off or the round did not end cleanly.
   */
  async * complete (request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    this.#assertServing()
    const affinity = this.#conversations.enabled
    const owner = request.owner ?? ''
    const fingerprint = affinity ? settingsFingerprint(request) : ''
    const keys = affinity ? conversationKeys(request.items) : undefined
    let session: ThreadSession | undefined
    let items: readonly ConversationItem[] = request.items
    let decision: ConversationDecision | undefined
    if (keys !== undefined) {
      const found = this.#conversations.take(owner, fingerprint, keys.keys)
      if ('held' in found) {
        const rest = request.items.slice((keys.ends[found.held.keys.length - 1] ?? -1) + 1)
        if (continues(found.held, rest)) {
          session = found.held.session
          items = rest
          decision = { continued: true }
          // A continued round counts towards its worker's recycling like a fresh one.
          this.#retireIfWorn(session.worker)
        } else {
          this.#conversations.giveBack(found.held)
          decision = { continued: false, reason: 'history_changed' }
        }
      } else {
        decision = { continued: false, reason: found.reason }
      }
    }
    if (decision !== undefined) this.#log.debug({ requestId: request.requestId, ...decision, held: this.#conversations.stats().held }, 'conversation round')
    session ??= new ThreadSession(await this.#pick(signal), request, this.#sessionOptions)
    let clean = false
    try {
      yield * session.round(request, items, signal, decision)
      clean = true
    } finally {
      // `keys` is there exactly when affinity is on.
      const keep = clean && keys !== undefined && session.usable
      if (keep && !this.#retiring(session.worker)) {
        // The request's history was keyed for the lookup above: only the answer is new.
        const whole = extendKeys(keys.keys, request.items, session.answer)
        this.#conversations.hold({ session, owner, fingerprint, keys: whole, bytes: historyBytes(request.items) + historyBytes(session.answer) })
      } else {
        this.#conversations.drop(session, keep ? 'worker_gone' : undefined)
      }
    }
  }

  #retiring (worker: AppServerWorker): boolean {
    return this.#slots.some((s) => s.retiring.has(worker))
  }

  /**
   * Threads each running worker still holds (`thread/loaded/list`); 0 between requests, or the
   * worker's memory grows with every request. For diagnostics and tests.
   */
  async loadedThreadCounts (): Promise<number[]> {
    return await Promise.all(this.#readyWorkers().map(async (worker) => {
      const result = await worker.rpc.request<{ data?: unknown[], threads?: unknown[] }>('thread/loaded/list', {})
      return (result.data ?? result.threads ?? []).length
    }))
  }

  /** pids of the running workers, for diagnostics and tests. */
  workerPids (): number[] {
    return this.#slots.flatMap((s) => (s.worker?.child.running === true && s.worker.child.pid !== undefined ? [s.worker.child.pid] : []))
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#conversations.clear()
    this.#home.stop()
    clearInterval(this.#pingTimer)
    clearInterval(this.#authTimer)
    for (const slot of this.#slots) clearTimeout(slot.timer)
    await Promise.all(this.#slots.flatMap((slot) => [slot.worker, ...slot.retiring]).map(async (worker) => await worker?.stop()))
    this.#wakeWaiters()
    disposeCodexSetup(this.#setup)
  }
}

/** What a thread cannot change between rounds: a request with other settings starts a fresh thread. */
function settingsFingerprint (request: CompletionRequest): string {
  const settings = [request.model, request.effort, request.summary, request.outputFormat, request.keepReasoning === true, request.tools, request.toolChoice, request.parallelToolCalls]
  return createHash('sha256').update(JSON.stringify(settings)).digest('base64url')
}

/**
 * Whether what a request adds to a held conversation can go on its thread: new messages for an
 * idle thread; for a parked one, results of the calls it handed out (and any new messages).
 * Anything else (an assistant turn the client wrote, results of other calls) starts fresh.
 */
function continues (held: Held, rest: readonly ConversationItem[]): boolean {
  const items = rest.filter((item) => item.type !== 'reasoning')
  if (items.length === 0) return false
  const message = (item: ConversationItem): boolean => item.type === 'message' && item.role !== 'assistant'
  if (!held.session.parked) return items.every(message)
  const handed = new Set(held.session.handed)
  let results = 0
  for (const item of items) {
    if (item.type === 'tool_result' && handed.has(item.callId)) results += 1
    else if (!message(item)) return false
  }
  return results > 0
}

function toCodexModel (m: ModelListEntry): CodexModel | undefined {
  const slug = m.model ?? m.id
  if (typeof slug !== 'string') return undefined
  const efforts = (m.supportedReasoningEfforts ?? []).map((e) => e.reasoningEffort).filter((e): e is ReasoningEffort => isReasoningEffort(e))
  return {
    slug,
    displayName: m.displayName ?? slug,
    efforts,
    defaultEffort: isReasoningEffort(m.defaultReasoningEffort) ? m.defaultReasoningEffort : undefined,
    isDefault: m.isDefault === true
  }
}
