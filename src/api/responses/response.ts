import { NO_USAGE, type BackendEvent, type ConversationItem, type ReasoningItem, type TokenUsage } from '../../backends/types.js'
import type { ErrorEvent } from './errors.js'
import { newId, type EchoFields } from './request.js'
import type { CustomToolCallItem, FunctionCallItem, MessageItem, OutputItem, ReasoningOutputItem, ResponseObject, ResponseUsage } from './schemas.js'

/** A Responses stream event (without `sequence_number`, which the stream adds). */
export interface WireEvent {
  type: string
  [key: string]: unknown
}

export interface ResponseMeta {
  id: string
  createdAt: number
  /** The model id the client asked for, echoed back. */
  model: string
  echo: EchoFields
  customTools: ReadonlySet<string>
  includeEncrypted: boolean
}

export function toResponseUsage (u: TokenUsage): ResponseUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens ?? 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.totalTokens
  }
}

type Open =
  | { kind: 'message', index: number, item: MessageItem, text: string }
  | { kind: 'reasoning', index: number, item: ReasoningOutputItem, parts: string[], openPart: number | undefined, encrypted: string | undefined }

/**
 * Turns a turn's events into the Responses API's stream events and, at the same time, the
 * response object they describe: the non-stream answer folds the same events, and what is stored
 * for `GET /v1/responses/{id}` and `previous_response_id` is what was streamed. Items open and
 * close as the backend's item ids change: output_item.added, content or summary parts, deltas,
 * the `*.done` events, output_item.done.
 */
export class ResponseAssembler {
  readonly #meta: ResponseMeta
  readonly #output: OutputItem[] = []
  /** The output as neutral items, with what the client may not see (encrypted reasoning): a chain's history. */
  readonly #conversation: ConversationItem[] = []
  #open: Open | undefined
  #usage: TokenUsage | undefined
  #finish: 'stop' | 'length' | 'tool_calls' = 'stop'
  #status: ResponseObject['status'] = 'in_progress'
  #error: ResponseObject['error'] = null

  constructor (meta: ResponseMeta) {
    this.#meta = meta
  }

  /** The response object now (in progress, or final once finished or failed). */
  response (): ResponseObject {
    const meta = this.#meta
    const done = this.#status !== 'in_progress'
    const usage = this.#usage ?? (done ? NO_USAGE : undefined)
    return {
      id: meta.id,
      object: 'response',
      created_at: meta.createdAt,
      status: this.#status,
      background: false,
      error: this.#error,
      incomplete_details: this.#status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
      model: meta.model,
      output: done ? [...this.#output] : [],
      usage: usage === undefined || this.#status === 'failed' ? null : toResponseUsage(usage),
      ...meta.echo
    }
  }

  /** The output as neutral items, for a later request that continues this one. */
  conversation (): ConversationItem[] {
    return [...this.#conversation]
  }

  start (): WireEvent[] {
    const response = this.response()
    return [{ type: 'response.created', response }, { type: 'response.in_progress', response }]
  }

  push (event: BackendEvent): WireEvent[] {
    switch (event.type) {
      case 'text':
        return this.#text(event.itemId, event.text)
      case 'reasoning':
        return this.#reasoning(event.itemId, event.summaryIndex, event.text)
      case 'reasoning_done':
        return this.#reasoningDone(event.item)
      case 'tool_call':
        return [...this.#close(), ...this.#toolCall(event)]
      case 'usage':
        this.#usage = event.usage
        return []
      case 'done':
        this.#finish = event.finishReason
        return []
      case 'started':
        return []
    }
  }

  /** Closes what is open; the last event: response.completed, or response.incomplete after a length stop. */
  finish (): WireEvent[] {
    const events = this.#close()
    this.#status = this.#finish === 'length' ? 'incomplete' : 'completed'
    return [...events, { type: this.#status === 'incomplete' ? 'response.incomplete' : 'response.completed', response: this.response() }]
  }

  /** The turn failed after the stream started: response.failed, then `error` (both are needed, reference §A.4). */
  fail (error: ErrorEvent): WireEvent[] {
    this.#abandon()
    this.#status = 'failed'
    this.#error = { code: error.code, message: error.message }
    return [{ type: 'response.failed', response: this.response() }, { ...error }]
  }

  /** The item a failure cut off shows what was streamed of it (as `incomplete`), not an empty in-progress shell. */
  #abandon (): void {
    const open = this.#open
    this.#open = undefined
    if (open?.kind === 'message') {
      Object.assign(open.item, { status: 'incomplete', content: [{ type: 'output_text', text: open.text, annotations: [], logprobs: [] }] })
    } else if (open?.kind === 'reasoning') {
      open.item.summary = open.parts.map((text) => text ?? '').filter((text) => text.length > 0).map((text) => ({ type: 'summary_text' as const, text }))
    }
  }

  #text (itemId: string, delta: string): WireEvent[] {
    const events: WireEvent[] = []
    let open = this.#open
    if (open?.kind !== 'message' || open.item.id !== itemId) {
      events.push(...this.#close())
      const item: MessageItem = { type: 'message', id: itemId, status: 'in_progress', role: 'assistant', content: [] }
      open = { kind: 'message', index: this.#output.length, item, text: '' }
      this.#open = open
      this.#output.push(item)
      events.push(
        { type: 'response.output_item.added', output_index: open.index, item: { ...item, content: [] } },
        { type: 'response.content_part.added', item_id: itemId, output_index: open.index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } }
      )
    }
    open.text += delta
    events.push({ type: 'response.output_text.delta', item_id: itemId, output_index: open.index, content_index: 0, delta, logprobs: [] })
    return events
  }

  #openReasoning (itemId: string): { events: WireEvent[], open: Extract<Open, { kind: 'reasoning' }> } {
    const events = this.#close()
    const item: ReasoningOutputItem = { type: 'reasoning', id: itemId, summary: [] }
    const open = { kind: 'reasoning' as const, index: this.#output.length, item, parts: [], openPart: undefined, encrypted: undefined }
    this.#open = open
    this.#output.push(item)
    events.push({ type: 'response.output_item.added', output_index: open.index, item: { type: 'reasoning', id: itemId, summary: [] } })
    return { events, open }
  }

  #reasoning (itemId: string, summaryIndex: number, delta: string): WireEvent[] {
    const events: WireEvent[] = []
    let open = this.#open
    if (open?.kind !== 'reasoning' || open.item.id !== itemId) {
      const opened = this.#openReasoning(itemId)
      events.push(...opened.events)
      open = opened.open
    }
    if (open.openPart !== summaryIndex) {
      events.push(...this.#closePart(open))
      open.openPart = summaryIndex
      open.parts[summaryIndex] ??= ''
      events.push({ type: 'response.reasoning_summary_part.added', item_id: itemId, output_index: open.index, summary_index: summaryIndex, part: { type: 'summary_text', text: '' } })
    }
    open.parts[summaryIndex] = (open.parts[summaryIndex] ?? '') + delta
    events.push({ type: 'response.reasoning_summary_text.delta', item_id: itemId, output_index: open.index, summary_index: summaryIndex, delta })
    return events
  }

  #reasoningDone (done: ReasoningItem): WireEvent[] {
    const id = done.id ?? newId('rs')
    const events: WireEvent[] = []
    let open = this.#open
    if (open?.kind !== 'reasoning' || open.item.id !== id) {
      const opened = this.#openReasoning(id)
      events.push(...opened.events)
      open = opened.open
    }
    // The finished item's summary is the upstream's own; parts that never streamed still show.
    done.summary.forEach((text, i) => { if ((open.parts[i] ?? '').length === 0) open.parts[i] = text })
    open.encrypted = done.encryptedContent
    return [...events, ...this.#close()]
  }

  #closePart (open: Extract<Open, { kind: 'reasoning' }>): WireEvent[] {
    const i = open.openPart
    if (i === undefined) return []
    open.openPart = undefined
    const text = open.parts[i] ?? ''
    return [
      { type: 'response.reasoning_summary_text.done', item_id: open.item.id, output_index: open.index, summary_index: i, text },
      { type: 'response.reasoning_summary_part.done', item_id: open.item.id, output_index: open.index, summary_index: i, part: { type: 'summary_text', text } }
    ]
  }

  #close (): WireEvent[] {
    const open = this.#open
    if (open === undefined) return []
    this.#open = undefined
    if (open.kind === 'message') {
      const part = { type: 'output_text' as const, text: open.text, annotations: [], logprobs: [] }
      Object.assign(open.item, { status: 'completed', content: [part] })
      this.#conversation.push({ type: 'message', role: 'assistant', content: [{ type: 'text', text: open.text }] })
      return [
        { type: 'response.output_text.done', item_id: open.item.id, output_index: open.index, content_index: 0, text: open.text, logprobs: [] },
        { type: 'response.content_part.done', item_id: open.item.id, output_index: open.index, content_index: 0, part: { type: 'output_text', text: open.text, annotations: [] } },
        { type: 'response.output_item.done', output_index: open.index, item: open.item }
      ]
    }
    const events = this.#closePart(open)
    const summary = open.parts.map((text) => text ?? '').filter((text) => text.length > 0)
    open.item.summary = summary.map((text) => ({ type: 'summary_text' as const, text }))
    if (this.#meta.includeEncrypted && open.encrypted !== undefined) open.item.encrypted_content = open.encrypted
    this.#conversation.push({ type: 'reasoning', id: open.item.id, summary, encryptedContent: open.encrypted })
    return [...events, { type: 'response.output_item.done', output_index: open.index, item: open.item }]
  }

  #toolCall (call: Extract<BackendEvent, { type: 'tool_call' }>): WireEvent[] {
    const index = this.#output.length
    this.#conversation.push({ type: 'tool_call', id: call.id, name: call.name, arguments: call.arguments, itemId: call.itemId, namespace: call.namespace })
    if (this.#meta.customTools.has(call.name) && call.namespace === undefined) {
      const input = customInput(call.arguments)
      const item: CustomToolCallItem = { type: 'custom_tool_call', id: call.itemId ?? newId('ctc'), call_id: call.id, name: call.name, input, status: 'completed' }
      this.#output.push(item)
      return [
        { type: 'response.output_item.added', output_index: index, item: { ...item, input: '', status: 'in_progress' } },
        { type: 'response.custom_tool_call_input.delta', item_id: item.id, output_index: index, delta: input },
        { type: 'response.custom_tool_call_input.done', item_id: item.id, output_index: index, input },
        { type: 'response.output_item.done', output_index: index, item }
      ]
    }
    const item: FunctionCallItem = { type: 'function_call', id: call.itemId ?? newId('fc'), call_id: call.id, name: call.name, arguments: call.arguments, status: 'completed' }
    if (call.namespace !== undefined) item.namespace = call.namespace
    this.#output.push(item)
    return [
      // LangChain concatenates the added item's arguments with the deltas: it starts empty.
      { type: 'response.output_item.added', output_index: index, item: { ...item, arguments: '', status: 'in_progress' } },
      { type: 'response.function_call_arguments.delta', item_id: item.id, output_index: index, delta: call.arguments },
      { type: 'response.function_call_arguments.done', item_id: item.id, output_index: index, arguments: call.arguments },
      { type: 'response.output_item.done', output_index: index, item }
    ]
  }
}

/** A custom tool's input from the function arguments it was carried in (`{"input": "…"}`). */
function customInput (args: string): string {
  try {
    const parsed = JSON.parse(args) as { input?: unknown }
    if (typeof parsed.input === 'string') return parsed.input
  } catch {
    // Not the JSON the wrapper asked for: hand over what the model wrote.
  }
  return args
}
