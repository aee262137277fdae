import type { Config } from '../config.js'
import { isApiError, serverError, type ApiError } from '../errors.js'
import type { CodexChild } from './child-process.js'
import { childExitError } from './child-json-lines.js'
import { disposeCodexSetup, prepareCodex, type CodexSetup } from './codex-setup.js'
import { ProcessPerTurnBackend, type ProcessPerTurnOptions, type TurnProcess } from './process-per-turn.js'
import { joinTranscript } from './transcript.js'
import type { BackendEvent, CodexModel, CompletionRequest, TokenUsage } from './types.js'

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

/**
 * `codex exec --json` per request (for users who want a process per request): the same lean
 * flags as app-server, the conversation as one prompt on stdin, `turn.completed.usage` as the
 * usage. exec prints the answer only when it is complete, so streams get it in one piece.
 */
export class ExecBackend extends ProcessPerTurnBackend {
  readonly kind = 'exec' as const
  protected readonly idleMs = 0
  #setup: CodexSetup | undefined
  #problem: ApiError | undefined

  constructor (opts: ProcessPerTurnOptions) {
    super(opts, 'exec')
  }

  protected async prepare (): Promise<void> {
    if (this.#setup !== undefined) return
    const setup = await prepareCodex(this.config, this.binary, this.log)
    if (isApiError(setup)) this.#problem = setup
    else this.#setup = setup
  }

  async models (): Promise<readonly CodexModel[]> {
    return this.#setup?.models ?? []
  }

  protected setupProblem (): ApiError | undefined {
    return this.#setup === undefined ? this.#problem ?? serverError(503, 'Codex is not set up yet.', 'codex_unavailable') : undefined
  }

  protected process (request: CompletionRequest): TurnProcess {
    const setup = this.#setup as CodexSetup
    return {
      args: execArgs(this.config, setup.lean, request),
      env: setup.env,
      // As is: exec would keep a trailing newline as part of the prompt.
      feed: (child) => { child.endStdin(joinTranscript(request.items)) }
    }
  }

  protected async * events (lines: AsyncIterable<Record<string, unknown>>, child: CodexChild, request: CompletionRequest): AsyncGenerator<BackendEvent> {
    let started = false
    for await (const event of lines) {
      if (!started) {
        started = true
        yield { type: 'started' }
      }
      switch (event.type) {
        case 'item.completed': {
          const item = event.item as { id?: string, type?: string, text?: string, message?: string } | undefined
          const itemId = String(item?.id ?? 'item')
          if (item?.type === 'agent_message' && typeof item.text === 'string' && item.text.length > 0) {
            yield { type: 'text', itemId, text: item.text }
          } else if (item?.type === 'reasoning' && typeof item.text === 'string' && item.text.length > 0) {
            yield { type: 'reasoning', itemId, summaryIndex: 0, text: item.text }
            yield { type: 'reasoning_done', item: { type: 'reasoning', id: itemId, summary: [item.text], encryptedContent: undefined } }
          } else if (item?.type === 'error') {
            this.log.debug({ message: item.message }, 'codex exec warning')
          }
          break
        }
        case 'turn.completed': {
          const usage = execUsage(event.usage as ExecUsage | undefined)
          if (usage !== undefined) yield { type: 'usage', usage }
          yield { type: 'done', finishReason: 'stop' }
          return
        }
        case 'turn.failed':
        case 'error': {
          // exec prints the failure twice (`error`, then `turn.failed`); the first one ends the turn.
          // An `error` may also be "Reconnecting… n/5", Codex retrying on its own: fail fast, the
          // client's SDK retries.
          const message = event.type === 'error' ? event.message : (event.error as { message?: unknown } | undefined)?.message
          yield * this.failedTurn(typeof message === 'string' ? message : 'Codex reported an error', request)
          return
        }
        default:
          break
      }
    }
    throw childExitError(child, this.binary.path, this.log, request.requestId)
  }

  protected override dispose (): void {
    disposeCodexSetup(this.#setup)
  }
}
