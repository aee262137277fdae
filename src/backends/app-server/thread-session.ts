import { invalidSubject, serverError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { raceAbort } from '../../race-abort.js'
import { AsyncQueue } from '../async-queue.js'
import { INCOMPLETE_RESPONSE, mapCodexText } from '../codex-error-text.js'
import { clientSafeText, mapCodexError, type CodexTurnError } from '../codex-errors.js'
import type { BackendEvent, ConversationDecision, CompletionRequest, ConversationItem, ReasoningItem, TokenUsage, ToolOutput } from '../types.js'
import { dynamicTools, planThread, planTurn, toResponsesHistory, toolingInstructions, type TurnItems } from './items.js'
import { RpcError } from './rpc-client.js'
import { StrictArguments } from './strict-arguments.js'
import { ToolNames } from './tool-names.js'
import type { AppServerWorker } from './worker.js'

export interface SessionOptions {
  cwd: string
  sandbox: string
  log: Logger
  /** Time allowed for the cleanup calls (interrupt, unsubscribe). */
  cleanupTimeoutMs: number
  /** How often a strict tool's call with bad arguments is sent back to the model before it goes out as it is. */
  strictRetries: number
}

interface Notice {
  method: string
  params: Record<string, unknown>
}

interface AppServerUsage {
  totalTokens?: number
  inputTokens?: number
  cachedInputTokens?: number
  outputTokens?: number
  reasoningOutputTokens?: number
}

function toTokenUsage (u: AppServerUsage | undefined): TokenUsage | undefined {
  if (u === undefined || typeof u.inputTokens !== 'number' || typeof u.outputTokens !== 'number') return undefined
  return {
    promptTokens: u.inputTokens,
    completionTokens: u.outputTokens,
    totalTokens: u.totalTokens ?? u.inputTokens + u.outputTokens,
    cachedTokens: u.cachedInputTokens,
    reasoningTokens: u.reasoningOutputTokens
  }
}

function addUsage (a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (a === undefined || b === undefined) return a ?? b
  const sum = (x: number | undefined, y: number | undefined): number | undefined => (x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0))
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    cachedTokens: sum(a.cachedTokens, b.cachedTokens),
    reasoningTokens: sum(a.reasoningTokens, b.reasoningTokens)
  }
}

/** An upstream reasoning item as app-server reports it (`item/completed`, or raw with encrypted_content). */
interface RawReasoning {
  type?: string
  id?: string
  summary?: Array<string | { text?: string }>
  encrypted_content?: string | null
}

function reasoningItem (raw: RawReasoning): ReasoningItem {
  const summary = (raw.summary ?? []).map((part) => (typeof part === 'string' ? part : part.text ?? ''))
  return {
    type: 'reasoning',
    id: raw.id,
    summary,
    encryptedContent: typeof raw.encrypted_content === 'string' && raw.encrypted_content.length > 0 ? raw.encrypted_content : undefined
  }
}

/**
 * A JSON-RPC error answering thread/start, inject_items or turn/start: Codex refused what the
 * request carried (a tool schema it cannot parse, …) — the client's mistake, a 400 saying why —
 * or failed as a turn can (a configuration it cannot load is a 503), mapped as turn errors are.
 * Anything else passes unchanged.
 */
function refusal (err: unknown, requestId: string, subject: 'tools' | 'conversation'): unknown {
  if (!(err instanceof RpcError)) return err
  const invalid = err.code === -32600 || err.code === -32602
  // A configuration Codex cannot load comes as an invalid request too: it is not the client's.
  if (invalid && !/failed to load configuration/i.test(err.message)) {
    return invalidSubject(`Codex refused the request: ${clientSafeText(err.message, 500) ?? 'invalid request'} (request ${requestId}).`, subject, 'codex_refused')
  }
  return mapCodexText(err.message, { requestId })
}

/** The answer to Codex's `item/tool/call`: what the tool returned, as the model will read it. */
interface ToolAnswer {
  contentItems: Array<{ type: 'inputText', text: string } | { type: 'inputImage', imageUrl: string }>
  success: boolean
}

const textAnswer = (text: string, success = true): ToolAnswer => ({ contentItems: [{ type: 'inputText', text }], success })

function toolAnswer (output: ToolOutput): ToolAnswer {
  if (typeof output === 'string') return textAnswer(output)
  return { contentItems: output.map((p) => (p.type === 'text' ? { type: 'inputText' as const, text: p.text } : { type: 'inputImage' as const, imageUrl: p.url })), success: true }
}

const CANCELLED = textAnswer('The tool call was cancelled: its result did not come back.', false)
const NO_RESULT = textAnswer('The client returned no result for this call.', false)
const NOT_RUN_ONE_CALL = textAnswer('Not run: call at most one function per response.', false)
const NOT_RUN_OTHER_INVALID = textAnswer('Not run, because another call of this response had invalid arguments; make this call again together with the corrected one.', false)

type State = 'new' | 'running' | 'idle' | 'parked' | 'broken' | 'released'

interface Call { id: string, itemId: string | undefined, name: string, arguments: string, namespace?: string | undefined }

/**
 * One Codex thread on one worker, for one conversation: created by its first round, then either
 * released after it (no affinity, or a round that failed) or held for the next round. A round
 * runs a turn — or, when the thread is parked on tool calls, continues the same turn by answering
 * them — and translates its notifications into backend events. A round that hands tool calls to
 * the client leaves Codex's `item/tool/call` requests unanswered (the thread is parked) until the
 * client's results arrive in the next round, so the turn goes on with exactly one more upstream
 * request under the same prompt cache key.
 */
export class ThreadSession {
  readonly worker: AppServerWorker
  readonly #opts: SessionOptions
  readonly #log: Logger
  readonly #names: ToolNames
  readonly #strict: StrictArguments
  readonly #rawEvents: boolean
  readonly #parallel: boolean
  #state: State = 'new'
  #threadId: string | undefined
  #turnId: string | undefined
  #turnStarting: Promise<{ turn: { id: string } }> | undefined
  #model: string | undefined
  #queue: AsyncQueue<Notice> | undefined
  #unlisten: (() => void) | undefined
  /** Codex's `item/tool/call` requests waiting for an answer, by call id. */
  readonly #pending = new Map<string, (answer: ToolAnswer) => void>()
  /** Answers given before Codex asked (a fast client), by call id; only for calls this session knows. */
  readonly #early = new Map<string, ToolAnswer>()
  /** The calls the last round handed to the client: what a continuation answers. */
  #handed: string[] = []
  /** What the model answered in the last round (text and tool calls), as the client will send it back. */
  answer: ConversationItem[] = []

  constructor (worker: AppServerWorker, request: CompletionRequest, opts: SessionOptions) {
    this.worker = worker
    this.#opts = opts
    this.#log = opts.log.child({ worker: worker.id })
    this.#names = new ToolNames(request.tools)
    this.#strict = new StrictArguments(request.tools, this.#log)
    // Raw events carry what the notifications leave out: function calls whole, and reasoning items
    // with their encrypted content.
    this.#rawEvents = request.tools.length > 0 || request.keepReasoning === true
    this.#parallel = request.parallelToolCalls
  }

  /** Waiting for the results of the calls it handed out. */
  get parked (): boolean {
    return this.#state === 'parked'
  }

  /** Can take another round: idle or parked, on a worker that still runs. */
  get usable (): boolean {
    return (this.#state === 'idle' || this.#state === 'parked') && this.worker.state === 'ready' && this.worker.child.running
  }

  /** The calls a continuation of a parked thread answers. */
  get handed (): readonly string[] {
    return this.#handed
  }

  /**
   * One round. A new session starts its thread with the whole conversation; an idle one gets
   * `items` (what is new since its last round) and a new turn; a parked one answers its handed
   * calls with the tool results among `items`, after adding the messages among them (added first,
   * so that the model reads them with the results instead of answering twice).
   */
  async * round (request: CompletionRequest, items: readonly ConversationItem[], signal: AbortSignal, decision: ConversationDecision | undefined): AsyncGenerator<BackendEvent> {
    const from = this.#state
    if (from !== 'new' && from !== 'idle' && from !== 'parked') throw new Error(`a ${from} thread cannot take a round`)
    const queue = new AsyncQueue<Notice>()
    this.#queue = queue
    this.#state = 'running'
    const end = this.worker.begin(request.requestId)
    const onAbort = (): void => { queue.fail(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
    const log = this.#log.child({ requestId: request.requestId })
    this.answer = []
    try {
      if (from === 'parked') {
        await this.#answerHanded(items, request.requestId, signal)
      } else if (from === 'new') {
        const plan = planThread(items, this.#names)
        await this.#startThread(request, plan.baseInstructions, signal)
        await this.#startTurn(request, plan, signal)
      } else {
        await this.#startTurn(request, planTurn(items, this.#names), signal)
      }
      yield { type: 'started', model: this.#model, ...(decision === undefined ? {} : { conversation: decision }) }
      yield * this.#events(queue, request, log)
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.#queue = undefined
      // Anything but a round that ended cleanly (failed, aborted, cut short) leaves the thread in
      // an unknown state: it is not used again.
      if (this.#state === 'running') this.#state = 'broken'
      end()
    }
  }

  async #startThread (request: CompletionRequest, baseInstructions: string | undefined, signal: AbortSignal): Promise<void> {
    const hasTools = request.tools.length > 0
    const params: Record<string, unknown> = {
      cwd: this.#opts.cwd,
      sandbox: this.#opts.sandbox,
      approvalPolicy: 'never',
      ephemeral: true,
      // An empty string sends no developer message at all (the lean catalog's default is '' too).
      baseInstructions: baseInstructions ?? '',
      experimentalRawEvents: this.#rawEvents
    }
    if (request.model !== undefined) params.model = request.model
    if (hasTools) params.dynamicTools = dynamicTools(request.tools, this.#names)
    const developer = toolingInstructions({
      toolChoice: this.#names.codexChoice(request.toolChoice),
      parallelToolCalls: request.parallelToolCalls,
      hasTools,
      jsonMode: request.outputFormat?.type === 'json_object'
    })
    if (developer !== undefined) params.developerInstructions = developer
    const call = this.worker.rpc.request<{ thread: { id: string }, model?: string }>('thread/start', params)
    // If the client leaves while the thread is being created, the thread is still cleaned up.
    call.then((r) => { if (signal.aborted) void this.worker.rpc.request('thread/unsubscribe', { threadId: r.thread.id }).catch(() => {}) }, () => {})
    const started = await raceAbort(call, signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'tools') })
    this.#threadId = started.thread.id
    this.#model = typeof started.model === 'string' ? started.model : undefined
    this.#unlisten = this.worker.listen(this.#threadId, {
      onNotification: (method, params) => { this.#queue?.push({ method, params }) },
      onServerRequest: async (method, params) => await this.#toolCall(method, params),
      onWorkerGone: (err) => {
        this.#queue?.fail(err)
        if (this.#state !== 'released') this.#state = 'broken'
        this.#settlePending(CANCELLED)
      }
    })
  }

  /**
   * A model's call to a client tool: answered when the client's result comes (a later round), or
   * at once when the result came first; never by this server itself.
   */
  async #toolCall (method: string, params: Record<string, unknown>): Promise<ToolAnswer> {
    if (method !== 'item/tool/call') throw new Error(`${method} is not supported by this client`)
    const callId = String(params.callId)
    const early = this.#early.get(callId)
    if (early !== undefined) {
      this.#early.delete(callId)
      return early
    }
    if (this.#state === 'released' || this.#state === 'broken') return CANCELLED
    return await new Promise<ToolAnswer>((resolve) => { this.#pending.set(callId, resolve) })
  }

  #answer (callId: string, answer: ToolAnswer): void {
    const resolve = this.#pending.get(callId)
    if (resolve !== undefined) {
      this.#pending.delete(callId)
      resolve(answer)
    } else {
      this.#early.set(callId, answer)
    }
  }

  #settlePending (answer: ToolAnswer): void {
    for (const resolve of this.#pending.values()) resolve(answer)
    this.#pending.clear()
    this.#early.clear()
  }

  async #startTurn (request: CompletionRequest, plan: TurnItems, signal: AbortSignal): Promise<void> {
    const threadId = this.#threadId as string
    if (plan.history.length > 0) {
      await raceAbort(this.worker.rpc.request('thread/inject_items', { threadId, items: plan.history }), signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'conversation') })
    }
    const params: Record<string, unknown> = { threadId, input: plan.input, summary: request.summary ?? 'auto' }
    if (request.effort !== undefined) params.effort = request.effort
    if (request.outputFormat?.type === 'json_schema' && request.outputFormat.schema !== undefined) params.outputSchema = request.outputFormat.schema
    const call = this.worker.rpc.request<{ turn: { id: string } }>('turn/start', params)
    // Kept until answered: a client that leaves meanwhile still gets its turn interrupted by release().
    this.#turnStarting = call
    this.#turnId = (await raceAbort(call, signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'conversation') })).turn.id
    this.#turnStarting = undefined
  }

  /** Continues a parked turn: the new messages first, then every handed call answered (in call order). */
  async #answerHanded (items: readonly ConversationItem[], requestId: string, signal: AbortSignal): Promise<void> {
    const results = new Map<string, ToolOutput>()
    const messages: ConversationItem[] = []
    for (const item of items) {
      if (item.type === 'tool_result') results.set(item.callId, item.output)
      else if (item.type === 'message') messages.push(item)
    }
    if (messages.length > 0) {
      const threadId = this.#threadId as string
      await raceAbort(this.worker.rpc.request('thread/inject_items', { threadId, items: toResponsesHistory(messages, this.#names) }), signal)
        .catch((err: unknown) => { throw refusal(err, requestId, 'conversation') })
    }
    // Codex goes on once every call of the response is answered: a call without a result says so.
    for (const callId of this.#handed) {
      const output = results.get(callId)
      this.#answer(callId, output === undefined ? NO_RESULT : toolAnswer(output))
    }
    this.#handed = []
  }

  /** The turn's notifications as backend events, until the turn completes or hands out tool calls. */
  async * #events (queue: AsyncQueue<Notice>, request: CompletionRequest, log: Logger): AsyncGenerator<BackendEvent> {
    let calls: Call[] = []
    const textItems = new Set<string>()
    const reasoningDone = new Set<string>()
    const texts = new Map<string, string>()
    let sawSummary = false
    let failure: CodexTurnError | undefined
    let retries = 0
    // Usage is the round's own (the thread's total counts every round), reported with the answer,
    // not before: a failed turn can carry a bogus update (a context overflow reports the whole
    // window as used). With raw events each upstream response reports its usage; without them,
    // each `thread/tokenUsage/updated` does as `last`.
    let usage: TokenUsage | undefined
    const fail = (err: CodexTurnError): Error => {
      // The whole of Codex's error (the upstream's body, its URL) is for the operator, not the client.
      log.warn({ codexError: err }, 'Codex turn failed')
      return mapCodexError(err, { usageLimitResetAt: this.worker.usageLimitResetAt, requestId: request.requestId })
    }
    const text = (itemId: string, delta: string): BackendEvent => {
      texts.set(itemId, (texts.get(itemId) ?? '') + delta)
      return { type: 'text', itemId, text: delta }
    }

    for await (const { method, params } of queue) {
      // Only this turn's notifications: with raw events, injected history is echoed back as
      // `rawResponseItem/completed` under a pseudo-turn (`auto-compact-0`), and is not the model's output.
      if (params.turnId !== undefined && params.turnId !== this.#turnId) continue
      switch (method) {
        case 'item/agentMessage/delta': {
          const delta = params.delta
          if (typeof delta === 'string' && delta.length > 0) {
            const itemId = String(params.itemId)
            textItems.add(itemId)
            yield text(itemId, delta)
          }
          break
        }
        case 'item/completed': {
          // Deltas are the normal path; a message that arrived whole is sent whole.
          const item = params.item as { type?: string, id?: string, text?: string } | undefined
          if (item?.type === 'agentMessage' && typeof item.text === 'string' && item.text.length > 0 && !textItems.has(String(item.id))) {
            textItems.add(String(item.id))
            yield text(String(item.id), item.text)
          }
          // With raw events the whole item (encrypted content included) arrives as a raw event instead.
          if (item?.type === 'reasoning' && !this.#rawEvents && !reasoningDone.has(String(item.id))) {
            reasoningDone.add(String(item.id))
            yield { type: 'reasoning_done', item: reasoningItem(item as RawReasoning) }
          }
          break
        }
        case 'item/reasoning/summaryTextDelta': {
          const delta = params.delta
          if (typeof delta !== 'string' || delta.length === 0) break
          sawSummary = true
          yield { type: 'reasoning', itemId: String(params.itemId), summaryIndex: Number(params.summaryIndex ?? 0), text: delta }
          break
        }
        case 'item/reasoning/textDelta':
          // Raw reasoning text (models without summaries) is shown the way summaries are.
          if (!sawSummary && typeof params.delta === 'string' && params.delta.length > 0) {
            yield { type: 'reasoning', itemId: String(params.itemId), summaryIndex: Number(params.contentIndex ?? 0), text: params.delta }
          }
          break
        case 'rawResponseItem/completed': {
          const item = params.item as { type?: string, id?: string, call_id?: string, name?: string, arguments?: string, namespace?: string } | undefined
          if (item?.type === 'function_call' && typeof item.name === 'string') {
            calls.push({ id: item.call_id ?? `call_${calls.length}`, itemId: item.id, name: item.name, arguments: item.arguments ?? '{}', namespace: item.namespace })
          } else if (item?.type === 'reasoning' && !reasoningDone.has(String(item.id))) {
            reasoningDone.add(String(item.id))
            yield { type: 'reasoning_done', item: reasoningItem(item as RawReasoning) }
          }
          break
        }
        case 'rawResponse/completed': {
          usage = addUsage(usage, toTokenUsage(params.usage as AppServerUsage | undefined))
          if (calls.length === 0) break
          const own = calls.map((call) => ({ call, ...this.#names.fromCodex(call.name, call.namespace) }))
          // A strict tool's call that breaks its schema goes back to the model (bounded), not out.
          const invalid = own.map((c) => this.#strict.problem(c.name, c.namespace, c.call.arguments))
          if (invalid.some((p) => p !== undefined)) {
            if (retries < this.#opts.strictRetries) {
              retries += 1
              own.forEach((c, i) => {
                const problem = invalid[i]
                this.#answer(c.call.id, problem === undefined
                  ? NOT_RUN_OTHER_INVALID
                  : textAnswer(`Invalid arguments for ${c.name}: ${problem}. Call ${c.name} again with arguments that match its JSON schema.`, false))
              })
              log.info({ tools: own.filter((_c, i) => invalid[i] !== undefined).map((c) => c.name), retry: retries }, 'strict tool call broke its schema; sent back to the model')
              calls = []
              break
            }
            log.warn({ tools: own.filter((_c, i) => invalid[i] !== undefined).map((c) => c.name) }, 'strict tool call still breaks its schema after the retries; passed on as it is')
          }
          // The model's response is complete and asks for client tools: hand the calls to the
          // client; the turn waits (parked) for their results.
          const handed = this.#parallel ? own : own.slice(0, 1)
          for (const extra of own.slice(handed.length)) this.#answer(extra.call.id, NOT_RUN_ONE_CALL)
          for (const value of texts.values()) this.answer.push({ type: 'message', role: 'assistant', content: [{ type: 'text', text: value }] })
          for (const c of handed) {
            const event: BackendEvent = { type: 'tool_call', id: c.call.id, itemId: c.call.itemId, arguments: c.call.arguments, name: c.name, ...(c.namespace === undefined ? {} : { namespace: c.namespace }) }
            this.answer.push({ type: 'tool_call', id: c.call.id, name: c.name, arguments: c.call.arguments, itemId: c.call.itemId, namespace: c.namespace })
            yield event
          }
          this.#handed = handed.map((c) => c.call.id)
          if (usage !== undefined) yield { type: 'usage', usage }
          this.#state = 'parked'
          yield { type: 'done', finishReason: 'tool_calls' }
          return
        }
        case 'thread/tokenUsage/updated':
          if (!this.#rawEvents) usage = addUsage(usage, toTokenUsage((params.tokenUsage as { last?: AppServerUsage } | undefined)?.last))
          break
        case 'error': {
          const error = params.error as CodexTurnError | undefined
          // The upstream stopped for length (response.incomplete): what streamed is the answer.
          // The thread is not used again: how Codex ends such a turn is not something to build on.
          if (error !== undefined && INCOMPLETE_RESPONSE.test(error.message ?? '')) {
            yield { type: 'done', finishReason: 'length' }
            return
          }
          failure = error ?? { message: 'Codex reported an error.' }
          // Codex would retry on its own (for the built-in provider we cannot turn that off):
          // fail fast instead and let the client's SDK retry.
          if (params.willRetry === true) throw fail(failure)
          break
        }
        case 'turn/completed': {
          const turn = params.turn as { status?: string, error?: CodexTurnError | null } | undefined
          if (turn?.status === 'completed') {
            for (const value of texts.values()) this.answer.push({ type: 'message', role: 'assistant', content: [{ type: 'text', text: value }] })
            if (usage !== undefined) yield { type: 'usage', usage }
            this.#state = 'idle'
            this.#turnId = undefined
            yield { type: 'done', finishReason: 'stop' }
            return
          }
          if (turn?.status === 'failed') throw fail(turn.error ?? failure ?? {})
          throw serverError(502, `Codex ended the turn unexpectedly (${turn?.status ?? 'unknown status'}).`, 'codex_error')
        }
        default:
          break
      }
    }
    throw serverError(502, 'Codex app-server stopped sending events for this turn.', 'codex_error')
  }

  /**
   * Ends the thread: a running or parked turn is interrupted (so that Codex unloads the thread),
   * calls still waiting are answered as cancelled (Codex ignores late answers), the thread is
   * unsubscribed. Idempotent.
   */
  async release (): Promise<void> {
    if (this.#state === 'released') return
    const active = this.#state !== 'idle' && this.#state !== 'new'
    this.#state = 'released'
    const threadId = this.#threadId
    if (threadId !== undefined && this.worker.child.running) {
      const turnId = this.#turnId ?? (await this.#turnStarting?.catch(() => undefined))?.turn.id
      if (active && turnId !== undefined) {
        await this.worker.rpc.request('turn/interrupt', { threadId, turnId }, this.#opts.cleanupTimeoutMs).catch((err: unknown) => {
          this.#log.debug({ err }, 'turn/interrupt failed')
        })
      }
      this.#settlePending(CANCELLED)
      await this.worker.rpc.request('thread/unsubscribe', { threadId }, this.#opts.cleanupTimeoutMs).catch((err: unknown) => {
        this.#log.debug({ err }, 'thread/unsubscribe failed')
      })
    }
    this.#settlePending(CANCELLED)
    this.#unlisten?.()
  }
}
