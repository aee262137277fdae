import type { Config } from '../config.js'
import { serverError, shuttingDown, type ApiError } from '../errors.js'
import type { Logger } from '../logger.js'
import { CodexChild } from './child-process.js'
import { CodexHomeWatch } from './codex-home.js'
import { childJsonLines } from './child-json-lines.js'
import { resolveCodexBinary, type CodexBinary } from './codex-command.js'
import { INCOMPLETE_RESPONSE, mapCodexText } from './codex-error-text.js'
import type { BackendCapabilities, BackendEvent, BackendHealth, BackendKind, CodexBackend, CodexModel, CompletionRequest } from './types.js'

export interface ProcessPerTurnOptions {
  config: Config
  log: Logger
}

/** How one turn's child is started and fed. */
export interface TurnProcess {
  args: string[]
  env: NodeJS.ProcessEnv
  /** Writes the turn's input to the fresh child (its stdin; never its command line). */
  feed: (child: CodexChild) => void
}

/**
 * What the `exec` and `proto` backends share: one Codex child per turn, spawned for the request,
 * killed when the turn ends however it ends (answer, error, client gone, timeout), and every
 * child killed on close. A subclass says how to start and feed the child and how to read its
 * JSON lines; neither backend can honour tools, images or structured output.
 */
export abstract class ProcessPerTurnBackend implements CodexBackend {
  abstract readonly kind: BackendKind
  readonly capabilities: BackendCapabilities = { tools: false, images: false, structuredOutput: false }
  protected readonly config: Config
  protected readonly log: Logger
  protected readonly binary: CodexBinary
  readonly #children = new Set<CodexChild>()
  readonly #home: CodexHomeWatch
  #closed = false

  constructor (opts: ProcessPerTurnOptions, kind: BackendKind) {
    this.config = opts.config
    this.log = opts.log.child({ backend: kind })
    this.binary = resolveCodexBinary(opts.config)
    // A home that breaks while the server runs is refused (503); once it is fixed, setup runs again.
    this.#home = new CodexHomeWatch(opts.config.CODEX_HOME, opts.config.PROXY_HEALTH_CHECK_MS, (problem) => {
      if (problem !== undefined) this.log.error(problem)
      else if (!this.#closed) void this.prepare()
    })
  }

  async start (): Promise<void> {
    this.#home.start()
    await this.prepare()
  }

  /** Checks what the backend needs before a turn can run (and sets it up); called again when CODEX_HOME is fixed. */
  protected abstract prepare (): Promise<void>
  abstract models (): Promise<readonly CodexModel[]>
  /** Why no turn can run now (setup failed), or undefined. */
  protected abstract setupProblem (): ApiError | undefined

  #problem (): ApiError | undefined {
    const home = this.#home.problem
    return home === undefined ? this.setupProblem() : serverError(503, home, 'codex_home_unusable')
  }

  protected abstract process (request: CompletionRequest): TurnProcess
  /** Longest silence between the child's lines (0: none). */
  protected abstract readonly idleMs: number
  /** The turn's events, from the child's JSON lines; throws when the child ends without an answer. */
  protected abstract events (lines: AsyncIterable<Record<string, unknown>>, child: CodexChild, request: CompletionRequest): AsyncGenerator<BackendEvent>

  /**
   * The end of a turn the child reported failed, as text (Codex's message: the upstream's status,
   * body and URL). An upstream stop for length (response.incomplete) ends it with the text so far;
   * anything else is the HTTP error app-server's would be, the whole message for the log only.
   */
  protected * failedTurn (message: string, request: CompletionRequest): Generator<BackendEvent, void> {
    if (INCOMPLETE_RESPONSE.test(message)) {
      yield { type: 'done', finishReason: 'length' }
      return
    }
    this.log.warn({ requestId: request.requestId, codexError: message }, 'Codex turn failed')
    throw mapCodexText(message, { requestId: request.requestId })
  }

  health (): BackendHealth {
    if (this.#closed) return { ready: false, reason: 'shutting down' }
    const problem = this.#problem()
    return problem === undefined ? { ready: true } : { ready: false, reason: problem.message }
  }

  async * complete (request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    if (this.#closed) throw shuttingDown()
    const problem = this.#problem()
    if (problem !== undefined) throw problem
    signal.throwIfAborted()
    const turn = this.process(request)
    const child = new CodexChild({
      bin: this.binary.path,
      args: turn.args,
      cwd: this.config.PROXY_CODEX_WORKDIR,
      env: turn.env,
      log: this.log.child({ requestId: request.requestId })
    })
    this.#children.add(child)
    try {
      turn.feed(child)
      yield * this.events(childJsonLines(child, signal, this.idleMs), child, request)
    } finally {
      await child.kill()
      this.#children.delete(child)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#home.stop()
    await Promise.all([...this.#children].map(async (child) => await child.kill()))
    this.dispose()
  }

  /** Releases what start() prepared. */
  protected dispose (): void {}
}
