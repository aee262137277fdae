import type { Config } from '../config.js'
import { isOpenAIError, serverError, type OpenAIError } from '../errors.js'
import type { Logger } from '../logger.js'
import { LOGIN_HINT, mapCodexError } from './codex-errors.js'
import { CodexChild } from './child-process.js'
import { childExitError, childJsonLines } from './child-json-lines.js'
import { resolveCodexBinary, type CodexBinary } from './codex-command.js'
import { disposeCodexSetup, prepareCodex, type CodexSetup } from './codex-setup.js'
import { joinTranscript } from './transcript.js'
import type { BackendEvent, BackendHealth, CodexBackend, CodexModel, CompletionRequest, TokenUsage } from './types.js'

export interface ExecBackendOptions {
  config: Config
  log: Logger
}

/** `codex exec` arguments for one request: lean flags, the model and effort (checked values), prompt from stdin. */
export function execArgs (config: Config, lean: readonly string[], request: Pick<CompletionRequest, 'model' | 'effort'>): string[] {
  const args = ['exec', '--json', '--skip-git-repo-check', '--ephemeral', '-s', config.PROXY_SANDBOX_MODE, '-C', config.PROXY_CODEX_WORKDIR, ...lean]
  if (request.model !== undefined) args.push('-m', request.model)
  if (request.effort !== undefined) args.push('-c', `model_reasoning_effort="${request.effort}"`)
  // `-` reads the prompt from stdin: nothing a client wrote reaches the argument parser.
  args.push('-')
  return args
}

interface ExecUsage {
  input_tokens?: number
  cached_input_tokens?: number
  output_tokens?: number
  reasoning_output_tokens?: number
}

export function execUsage (u: ExecUsage | undefined): TokenUsage | undefined {
  if (u === undefined || typeof u.input_tokens !== 'number' || typeof u.output_tokens !== 'number') return undefined
  return {
    promptTokens: u.input_tokens,
    completionTokens: u.output_tokens,
    totalTokens: u.input_tokens + u.output_tokens,
    cachedTokens: u.cached_input_tokens,
    reasoningTokens: u.reasoning_output_tokens
  }
}

/** exec reports failures as text only; the common ones still get their proper status. */
function execFailure (message: string): OpenAIError {
  const m = message.toLowerCase()
  if (m.includes('usage limit')) return mapCodexError({ message, codexErrorInfo: 'usageLimitExceeded' })
  if (m.includes('rate limit') || m.includes('429')) return mapCodexError({ message, codexErrorInfo: 'rateLimitExceeded' })
  if (m.includes('401') || m.includes('unauthorized') || m.includes('not logged in')) return mapCodexError({ message, codexErrorInfo: 'unauthorized' })
  if (m.includes('context window') || m.includes('context_length')) return mapCodexError({ message, codexErrorInfo: 'contextWindowExceeded' })
  return serverError(502, `Codex failed: ${message}`, 'codex_error')
}

/**
 * `codex exec --json` per request (for users who want a process per request): the same lean
 * flags as app-server, the conversation as one prompt on stdin, `turn.completed.usage` as the
 * usage. exec prints the answer only when it is complete, so streams get it in one piece.
 */
export class ExecBackend implements CodexBackend {
  readonly kind = 'exec' as const
  readonly capabilities = { tools: false, images: false, structuredOutput: false }
  readonly #config: Config
  readonly #log: Logger
  readonly #binary: CodexBinary
  readonly #children = new Set<CodexChild>()
  #setup: CodexSetup | undefined
  #problem: OpenAIError | undefined
  #closed = false

  constructor (opts: ExecBackendOptions) {
    this.#config = opts.config
    this.#log = opts.log.child({ backend: 'exec' })
    this.#binary = resolveCodexBinary(opts.config)
  }

  async start (): Promise<void> {
    const setup = await prepareCodex(this.#config, this.#binary, this.#log)
    if (isOpenAIError(setup)) this.#problem = setup
    else this.#setup = setup
  }

  health (): BackendHealth {
    if (this.#closed) return { ready: false, reason: 'shutting down' }
    return this.#problem === undefined ? { ready: true } : { ready: false, reason: this.#problem.message }
  }

  async models (): Promise<readonly CodexModel[]> {
    return this.#setup?.models ?? []
  }

  async * complete (request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    if (this.#closed) throw serverError(503, 'The server is shutting down.', 'shutting_down')
    const setup = this.#setup
    if (setup === undefined) throw this.#problem ?? serverError(503, 'Codex is not set up yet.', 'codex_unavailable')
    signal.throwIfAborted()
    const child = new CodexChild({
      bin: this.#binary.path,
      args: execArgs(this.#config, setup.lean, request),
      cwd: this.#config.PROXY_CODEX_WORKDIR,
      env: setup.env,
      log: this.#log.child({ requestId: request.requestId })
    })
    this.#children.add(child)
    try {
      // As is: exec would keep a trailing newline as part of the prompt.
      child.endStdin(joinTranscript(request.items))
      let started = false
      for await (const event of childJsonLines(child, signal, 0)) {
        if (!started) {
          started = true
          yield { type: 'started' }
        }
        switch (event.type) {
          case 'item.completed': {
            const item = event.item as { type?: string, text?: string, message?: string } | undefined
            if (item?.type === 'agent_message' && typeof item.text === 'string' && item.text.length > 0) yield { type: 'text', text: item.text }
            else if (item?.type === 'reasoning' && typeof item.text === 'string' && item.text.length > 0) yield { type: 'reasoning', text: item.text }
            else if (item?.type === 'error') this.#log.debug({ message: item.message }, 'codex exec warning')
            break
          }
          case 'turn.completed': {
            const usage = execUsage(event.usage as ExecUsage | undefined)
            if (usage !== undefined) yield { type: 'usage', usage }
            yield { type: 'done', finishReason: 'stop' }
            return
          }
          case 'turn.failed': {
            const error = event.error as { message?: string } | undefined
            throw execFailure(error?.message ?? 'the turn failed')
          }
          case 'error':
            // "Reconnecting… n/5": Codex retrying on its own. Fail fast; the client's SDK retries.
            throw execFailure(typeof event.message === 'string' ? event.message : 'Codex reported an error')
          default:
            break
        }
      }
      throw this.#exitError(child)
    } finally {
      await child.kill()
      this.#children.delete(child)
    }
  }

  #exitError (child: CodexChild): OpenAIError {
    const err = childExitError(child, this.#binary.path)
    return /not logged in|login/i.test(err.message) ? serverError(503, `${err.message} ${LOGIN_HINT}`, 'codex_not_logged_in') : err
  }

  async close (): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#children].map(async (child) => await child.kill()))
    disposeCodexSetup(this.#setup)
  }
}
