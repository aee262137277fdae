import { isApiError, namingRequest, timeoutError, toApiError, type ApiError } from '../errors.js'
import type { BackendEvent, CodexBackend, CompletionRequest, ConversationDecision, FinishReason, TokenUsage } from '../backends/types.js'
import { raceAbort } from '../race-abort.js'
import { CompletionTally } from '../tokens/completion-tally.js'
import { countPromptTokens } from '../tokens/prompt-tokens.js'
import type { Admission } from './admission.js'

export interface TurnLimits {
  /** Whole request. */
  totalMs: number
  /** Until Codex acknowledges the turn (its first event). */
  ackMs: number
  /** Between events once the turn runs. */
  idleMs: number
}

/** How a turn ended, for the usage ledger, metrics and logs. */
export interface TurnOutcome {
  /** HTTP status the turn amounts to: 200, the error's status, or 499 when the client left. */
  status: number
  error: ApiError | undefined
  /** The model Codex said it ran, when it said. */
  model: string | undefined
  /** Whether the round continued a held conversation, or why not (backends that keep them). */
  conversation: ConversationDecision | undefined
  /** Codex's counts, else (once the turn ended) the tokenizer's estimate. */
  usage: TokenUsage | undefined
  usageSource: 'codex' | 'estimate'
  finishReason: FinishReason | undefined
  durationMs: number
  /** From the start of the request to the first text, reasoning or tool call. */
  firstTokenMs: number | undefined
  /** Time spent waiting for a turn slot. */
  queuedMs: number
}

export interface RunTurnOptions {
  backend: Pick<CodexBackend, 'complete'>
  admission: Admission
  limits: TurnLimits
  /** Aborts when the client is gone (or the server shuts down). */
  signal: AbortSignal
  onSettled?: ((outcome: TurnOutcome) => void) | undefined
}

const CLIENT_CLOSED = 499

/** Token counts for a turn Codex reported none for (legacy backends, a failed turn). */
async function estimatedUsage (request: CompletionRequest, tally: CompletionTally): Promise<TokenUsage> {
  const promptTokens = await countPromptTokens(request.items, request.tools)
  const completionTokens = await tally.tokens()
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
}

/**
 * One turn from admission to settlement: waits for a slot, runs the backend under the total,
 * acknowledgement and idle limits, and reports the outcome exactly once. The events pass through
 * unchanged, so streaming and non-streaming answers share this one path; a turn that ends without
 * Codex's counts gets a usage event with the tokenizer's estimate before its `done`, so that no
 * dialect has to estimate.
 */
export async function * runTurn (request: CompletionRequest, opts: RunTurnOptions): AsyncGenerator<BackendEvent> {
  const startedAt = performance.now()
  const outcome: TurnOutcome = {
    status: 200, error: undefined, model: undefined, conversation: undefined, usage: undefined, usageSource: 'codex', finishReason: undefined, durationMs: 0, firstTokenMs: undefined, queuedMs: 0
  }
  const tally = new CompletionTally()
  const estimate = async (): Promise<BackendEvent> => {
    outcome.usage = await estimatedUsage(request, tally)
    outcome.usageSource = 'estimate'
    return { type: 'usage', usage: outcome.usage }
  }
  const work = new AbortController()
  const onClientAbort = (): void => { work.abort(opts.signal.reason) }
  let release: (() => void) | undefined
  let totalTimer: NodeJS.Timeout | undefined
  let idleTimer: NodeJS.Timeout | undefined
  let source: AsyncIterator<BackendEvent> | undefined
  /** A read the backend never answered: closing the source would wait for it forever. */
  let stuck: Promise<unknown> | undefined
  const armIdle = (ms: number, what: string): void => {
    clearTimeout(idleTimer)
    if (ms > 0) idleTimer = setTimeout(() => { work.abort(timeoutError(`Codex ${what} for ${ms} ms; the turn was cancelled.`)) }, ms)
  }

  try {
    release = await opts.admission.acquire(opts.signal)
    outcome.queuedMs = performance.now() - startedAt
    opts.signal.throwIfAborted()
    opts.signal.addEventListener('abort', onClientAbort, { once: true })
    if (opts.limits.totalMs > 0) {
      const ms = opts.limits.totalMs
      totalTimer = setTimeout(() => { work.abort(timeoutError(`The request took longer than ${ms} ms (PROXY_TIMEOUT_MS); the turn was cancelled.`)) }, ms)
    }
    armIdle(opts.limits.ackMs, 'did not acknowledge the request')

    source = opts.backend.complete(request, work.signal)[Symbol.asyncIterator]()
    for (;;) {
      // Raced against the signal, so a timeout holds even if a backend ignored it.
      const pending = source.next()
      const next = await raceAbort(pending, work.signal).catch((err: unknown) => {
        if (work.signal.aborted) stuck = pending
        throw err
      })
      if (next.done === true) {
        if (outcome.usage === undefined) yield await estimate()
        break
      }
      // A slow reader is not a silent Codex: no silence is counted while the consumer holds an
      // event, only from when it asks for more.
      clearTimeout(idleTimer)
      const event = next.value
      tally.add(event)
      switch (event.type) {
        case 'text':
        case 'reasoning':
        case 'tool_call':
          outcome.firstTokenMs ??= performance.now() - startedAt
          break
        case 'usage':
          outcome.usage = event.usage
          break
        case 'done':
          outcome.finishReason = event.finishReason
          if (outcome.usage === undefined) yield await estimate()
          break
        case 'started':
          outcome.model = event.model ?? outcome.model
          outcome.conversation = event.conversation ?? outcome.conversation
          break
        case 'reasoning_done':
          break
      }
      yield event
      armIdle(opts.limits.idleMs, 'was silent')
    }
  } catch (err) {
    const reason: unknown = work.signal.aborted ? work.signal.reason : err
    if (opts.signal.aborted && !isApiError(reason)) {
      outcome.status = CLIENT_CLOSED
    } else {
      outcome.error = namingRequest(toApiError(isApiError(reason) ? reason : err), request.requestId)
      outcome.status = outcome.error.statusCode
    }
    throw outcome.error ?? err
  } finally {
    clearTimeout(totalTimer)
    clearTimeout(idleTimer)
    opts.signal.removeEventListener('abort', onClientAbort)
    if (!work.signal.aborted && outcome.finishReason === undefined && outcome.error === undefined) {
      // The consumer stopped early (its client is gone): cancel the work rather than let it run on.
      outcome.status = CLIENT_CLOSED
      work.abort(opts.signal.aborted ? opts.signal.reason : new Error('response abandoned'))
    }
    if (stuck === undefined) await source?.return?.()
    else void stuck.then(async () => await source?.return?.(), () => {})
    release?.()
    outcome.durationMs = performance.now() - startedAt
    if (outcome.usage === undefined) await estimate()
    opts.onSettled?.(outcome)
  }
}
