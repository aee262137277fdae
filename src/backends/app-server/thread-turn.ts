import { invalidSubject, serverError } from '../../errors.js'
import type { Logger } from '../../logger.js'
import { AsyncQueue } from '../async-queue.js'
import type { BackendEvent, CompletionRequest, ReasoningItem, TokenUsage } from '../types.js'
import { raceAbort } from '../../race-abort.js'
import { clientSafeText, mapCodexError, type CodexTurnError } from '../codex-errors.js'
import { dynamicTools, planThread, toolingInstructions } from './items.js'
import { RpcError } from './rpc-client.js'
import { ToolNames } from './tool-names.js'
import type { AppServerWorker } from './worker.js'

export interface TurnOptions {
  cwd: string
  sandbox: string
  log: Logger
  /** Time allowed for the cleanup calls (interrupt, unsubscribe). */
  cleanupTimeoutMs: number
}

/** How Codex reports an upstream `response.incomplete` (max_output_tokens): an error after the deltas. */
const INCOMPLETE = /^Incomplete response returned, reason: /

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

export function toTokenUsage (u: AppServerUsage | undefined): TokenUsage | undefined {
  if (u === undefined || typeof u.inputTokens !== 'number' || typeof u.outputTokens !== 'number') return undefined
  return {
    promptTokens: u.inputTokens,
    completionTokens: u.outputTokens,
    totalTokens: u.totalTokens ?? u.inputTokens + u.outputTokens,
    cachedTokens: u.cachedInputTokens,
    reasoningTokens: u.reasoningOutputTokens
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
 * or could not load its configuration (CODEX_HOME trouble, a 503). Anything else passes unchanged.
 */
function refusal (err: unknown, requestId: string, subject: 'tools' | 'conversation'): unknown {
  if (!(err instanceof RpcError)) return err
  if (/failed to load configuration/i.test(err.message)) {
    return serverError(503, `Codex cannot load its configuration from CODEX_HOME (request ${requestId}).`, 'codex_config_error', err)
  }
  if (err.code === -32600 || err.code === -32602) {
    return invalidSubject(`Codex refused the request: ${clientSafeText(err.message, 500) ?? 'invalid request'} (request ${requestId}).`, subject, 'codex_refused')
  }
  return serverError(502, `Codex failed (request ${requestId}).`, 'codex_error', err)
}

/**
 * One request as one ephemeral thread on a worker: start the thread (tools, base instructions),
 * inject the history, run one turn, translate its notifications into backend events, and
 * always clean up (interrupt if unfinished, unsubscribe). A thread is never reused.
 */
export async function * runThreadTurn (worker: AppServerWorker, request: CompletionRequest, signal: AbortSignal, opts: TurnOptions): AsyncGenerator<BackendEvent> {
  const names = new ToolNames(request.tools)
  const plan = planThread(request.items, names)
  const queue = new AsyncQueue<Notice>()
  const end = worker.begin()
  const onAbort = (): void => { queue.fail(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  const log = opts.log.child({ requestId: request.requestId, worker: worker.id })
  const hasTools = request.tools.length > 0
  // Raw events carry what the notifications leave out: function calls whole, and reasoning items
  // with their encrypted content.
  const rawEvents = hasTools || request.keepReasoning === true
  let threadId: string | undefined
  let turnId: string | undefined
  let turnStart: Promise<unknown> | undefined
  let finished = false
  let releaseToolCalls: (() => void) | undefined
  const toolCallsReleased = new Promise<void>((resolve) => { releaseToolCalls = resolve })
  let unlisten: (() => void) | undefined

  try {
    const threadParams: Record<string, unknown> = {
      cwd: opts.cwd,
      sandbox: opts.sandbox,
      approvalPolicy: 'never',
      ephemeral: true,
      // An empty string sends no developer message at all (the lean catalog's default is '' too).
      baseInstructions: plan.baseInstructions ?? '',
      experimentalRawEvents: rawEvents
    }
    if (request.model !== undefined) threadParams.model = request.model
    if (hasTools) threadParams.dynamicTools = dynamicTools(request.tools, names)
    const developer = toolingInstructions({
      toolChoice: request.toolChoice,
      parallelToolCalls: request.parallelToolCalls,
      hasTools,
      jsonMode: request.outputFormat?.type === 'json_object'
    })
    if (developer !== undefined) threadParams.developerInstructions = developer

    const startCall = worker.rpc.request<{ thread: { id: string }, model?: string }>('thread/start', threadParams)
    // If the client leaves while the thread is being created, the thread is still cleaned up.
    startCall.then((r) => { if (signal.aborted) void worker.rpc.request('thread/unsubscribe', { threadId: r.thread.id }).catch(() => {}) }, () => {})
    // thread/start carries the tools; inject_items and turn/start the conversation.
    const started = await raceAbort(startCall, signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'tools') })
    threadId = started.thread.id
    unlisten = worker.listen(threadId, {
      onNotification: (method, params) => { queue.push({ method, params }) },
      // A model's call to a client tool is handed back to the HTTP client, not answered here;
      // the answer goes out once the turn was interrupted, so it cannot start a second request.
      onServerRequest: async (method) => {
        if (method !== 'item/tool/call') throw new Error(`${method} is not supported by this client`)
        await toolCallsReleased
        return { contentItems: [{ type: 'inputText', text: 'The call was handed to the API client.' }], success: false }
      },
      onWorkerGone: (err) => { queue.fail(err) }
    })
    if (plan.history.length > 0) {
      await raceAbort(worker.rpc.request('thread/inject_items', { threadId, items: plan.history }), signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'conversation') })
    }

    const turnParams: Record<string, unknown> = { threadId, input: plan.input, summary: request.summary ?? 'auto' }
    if (request.effort !== undefined) turnParams.effort = request.effort
    if (request.outputFormat?.type === 'json_schema' && request.outputFormat.schema !== undefined) turnParams.outputSchema = request.outputFormat.schema
    turnStart = worker.rpc.request<{ turn: { id: string } }>('turn/start', turnParams)
    turnId = (await raceAbort(turnStart as Promise<{ turn: { id: string } }>, signal).catch((err: unknown) => { throw refusal(err, request.requestId, 'conversation') })).turn.id
    yield { type: 'started', model: typeof started.model === 'string' ? started.model : undefined }

    const calls: Array<{ id: string, itemId: string | undefined, name: string, arguments: string, namespace?: string }> = []
    const textItems = new Set<string>()
    const reasoningDone = new Set<string>()
    let sawSummary = false
    let failure: CodexTurnError | undefined
    // Usage is reported with the answer, not before: a failed turn can carry a bogus update
    // (a context-window overflow reports the whole window as used).
    let usage: TokenUsage | undefined
    const fail = (err: CodexTurnError): Error => {
      // The whole of Codex's error (the upstream's body, its URL) is for the operator, not the client.
      log.warn({ codexError: err }, 'Codex turn failed')
      return mapCodexError(err, { usageLimitResetAt: worker.usageLimitResetAt, requestId: request.requestId })
    }

    for await (const { method, params } of queue) {
      // Only this turn's notifications: with raw events, injected history is echoed back as
      // `rawResponseItem/completed` under a pseudo-turn (`auto-compact-0`), and is not the model's output.
      if (params.turnId !== undefined && params.turnId !== turnId) continue
      switch (method) {
        case 'item/agentMessage/delta': {
          const delta = params.delta
          if (typeof delta === 'string' && delta.length > 0) {
            const itemId = String(params.itemId)
            textItems.add(itemId)
            yield { type: 'text', itemId, text: delta }
          }
          break
        }
        case 'item/completed': {
          // Deltas are the normal path; a message that arrived whole is sent whole.
          const item = params.item as { type?: string, id?: string, text?: string } | undefined
          if (item?.type === 'agentMessage' && typeof item.text === 'string' && item.text.length > 0 && !textItems.has(String(item.id))) {
            textItems.add(String(item.id))
            yield { type: 'text', itemId: String(item.id), text: item.text }
          }
          // With raw events the whole item (encrypted content included) arrives as a raw event instead.
          if (item?.type === 'reasoning' && !rawEvents && !reasoningDone.has(String(item.id))) {
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
            const call = { id: item.call_id ?? `call_${calls.length}`, itemId: item.id, name: item.name, arguments: item.arguments ?? '{}' }
            calls.push(typeof item.namespace === 'string' ? { ...call, namespace: item.namespace } : call)
          } else if (item?.type === 'reasoning' && !reasoningDone.has(String(item.id))) {
            reasoningDone.add(String(item.id))
            yield { type: 'reasoning_done', item: reasoningItem(item as RawReasoning) }
          }
          break
        }
        case 'rawResponse/completed': {
          if (calls.length === 0) break
          // The model's response is complete and asks for client tools: hand the calls to the
          // client and stop the turn, so exactly one upstream request is made per round.
          const handed = request.parallelToolCalls ? calls : calls.slice(0, 1)
          for (const call of handed) {
            const own = names.fromCodex(call.name, call.namespace)
            yield { type: 'tool_call', id: call.id, itemId: call.itemId, arguments: call.arguments, name: own.name, ...(own.namespace === undefined ? {} : { namespace: own.namespace }) }
          }
          const responseUsage = toTokenUsage(params.usage as AppServerUsage | undefined)
          if (responseUsage !== undefined) yield { type: 'usage', usage: responseUsage }
          finished = true
          await worker.rpc.request('turn/interrupt', { threadId, turnId }, opts.cleanupTimeoutMs).catch(() => {})
          releaseToolCalls?.()
          yield { type: 'done', finishReason: 'tool_calls' }
          return
        }
        case 'thread/tokenUsage/updated':
          usage = toTokenUsage((params.tokenUsage as { total?: AppServerUsage } | undefined)?.total) ?? usage
          break
        case 'error': {
          const error = params.error as CodexTurnError | undefined
          // The upstream stopped for length (response.incomplete): what streamed is the answer.
          if (error !== undefined && INCOMPLETE.test(error.message ?? '')) {
            finished = true
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
          finished = true
          if (turn?.status === 'completed') {
            if (usage !== undefined) yield { type: 'usage', usage }
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
    signal.throwIfAborted()
    throw serverError(502, 'Codex app-server stopped sending events for this turn.', 'codex_error')
  } finally {
    signal.removeEventListener('abort', onAbort)
    releaseToolCalls?.()
    await cleanup()
    unlisten?.()
    end()
  }

  async function cleanup (): Promise<void> {
    if (threadId === undefined) return
    if (!finished && worker.child.running) {
      // Interrupted by the client, a timeout or an error: stop the model, then drop the thread.
      const id = turnId ?? (await (turnStart as Promise<{ turn: { id: string } }> | undefined)?.catch(() => undefined))?.turn.id
      if (id !== undefined) {
        await worker.rpc.request('turn/interrupt', { threadId, turnId: id }, opts.cleanupTimeoutMs).catch((err: unknown) => {
          log.debug({ err }, 'turn/interrupt failed')
        })
      }
    }
    if (worker.child.running) {
      await worker.rpc.request('thread/unsubscribe', { threadId }, opts.cleanupTimeoutMs).catch((err: unknown) => {
        log.debug({ err }, 'thread/unsubscribe failed')
      })
    }
  }
}
