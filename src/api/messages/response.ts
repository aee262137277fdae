import { randomBytes } from 'node:crypto'
import { NO_USAGE, type BackendEvent, type FinishReason, type ReasoningItem, type TokenUsage } from '../../backends/types.js'
import type { ContentBlock, Message, MessageUsage, StopReason } from './schemas.js'
import { THINKING_PART_SEPARATOR, thinkingText, type ThinkingSignatures } from './thinking-signature.js'

export interface MessageMeta {
  /** The model id the client asked for, echoed back. */
  model: string
  /** Reasoning is shown as signed thinking blocks (the client asked for thinking). */
  thinking: boolean
  signatures: ThinkingSignatures
  keyName: string
}

/** One Messages stream event (`type` is also its `event:` line). */
export type MessageEvent = { type: string } & Record<string, unknown>

export const newMessageId = (): string => `msg_${randomBytes(12).toString('hex')}`

/** Anthropic counts input without the cache reads, which it reports beside it. */
export function toMessageUsage (u: TokenUsage): MessageUsage {
  const cached = u.cachedTokens ?? 0
  return {
    input_tokens: Math.max(0, u.promptTokens - cached),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: u.completionTokens
  }
}

const stopReason = (finish: FinishReason, sawToolUse: boolean): StopReason => {
  if (sawToolUse || finish === 'tool_calls') return 'tool_use'
  return finish === 'length' ? 'max_tokens' : 'end_turn'
}

type Open =
  | { kind: 'text', itemId: string, index: number }
  | { kind: 'thinking', itemId: string, index: number, parts: string[], part: number | undefined }

/**
 * Turns a turn's events into the Messages stream (message_start, each block's
 * content_block_start → deltas → content_block_stop, message_delta with the stop reason and the
 * usage, message_stop) and, from the same events, the message object of a non-stream answer.
 * Reasoning becomes a thinking block signed over the upstream item once that item is complete.
 */
export class MessageAssembler {
  readonly #meta: MessageMeta
  readonly #id = newMessageId()
  readonly #content: ContentBlock[] = []
  #open: Open | undefined
  #usage: TokenUsage | undefined
  #finish: FinishReason = 'stop'
  #sawToolUse = false

  constructor (meta: MessageMeta) {
    this.#meta = meta
  }

  start (): MessageEvent[] {
    return [{
      type: 'message_start',
      message: { id: this.#id, type: 'message', role: 'assistant', model: this.#meta.model, content: [], stop_reason: null, stop_sequence: null, usage: toMessageUsage(NO_USAGE) }
    }]
  }

  push (event: BackendEvent): MessageEvent[] {
    switch (event.type) {
      case 'text':
        return this.#text(event.itemId, event.text)
      case 'reasoning':
        return this.#meta.thinking ? this.#reasoning(event.itemId, event.summaryIndex, event.text) : []
      case 'reasoning_done':
        return this.#meta.thinking ? this.#reasoningDone(event.item) : []
      case 'tool_call':
        return [...this.#close(), ...this.#toolUse(event.id, event.name, event.arguments)]
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

  finish (): MessageEvent[] {
    const message = this.message()
    return [
      ...this.#close(),
      { type: 'message_delta', delta: { stop_reason: message.stop_reason, stop_sequence: null }, usage: message.usage },
      { type: 'message_stop' }
    ]
  }

  /** The message as it stands (whole once finished): the non-stream answer. */
  message (): Message {
    return {
      id: this.#id,
      type: 'message',
      role: 'assistant',
      model: this.#meta.model,
      content: [...this.#content],
      stop_reason: stopReason(this.#finish, this.#sawToolUse),
      stop_sequence: null,
      usage: toMessageUsage(this.#usage ?? NO_USAGE)
    }
  }

  #begin (block: ContentBlock): { index: number, event: MessageEvent } {
    const index = this.#content.length
    this.#content.push(block)
    return { index, event: { type: 'content_block_start', index, content_block: { ...block } } }
  }

  #text (itemId: string, text: string): MessageEvent[] {
    const events: MessageEvent[] = []
    let open = this.#open
    if (open?.kind !== 'text' || open.itemId !== itemId) {
      events.push(...this.#close())
      const begun = this.#begin({ type: 'text', text: '' })
      events.push(begun.event)
      open = { kind: 'text', itemId, index: begun.index }
      this.#open = open
    }
    const block = this.#content[open.index] as Extract<ContentBlock, { type: 'text' }>
    block.text += text
    events.push({ type: 'content_block_delta', index: open.index, delta: { type: 'text_delta', text } })
    return events
  }

  #openThinking (itemId: string): { events: MessageEvent[], open: Extract<Open, { kind: 'thinking' }> } {
    const open = this.#open
    if (open?.kind === 'thinking' && open.itemId === itemId) return { events: [], open }
    const events = this.#close()
    const begun = this.#begin({ type: 'thinking', thinking: '', signature: '' })
    events.push(begun.event)
    const opened = { kind: 'thinking' as const, itemId, index: begun.index, parts: [], part: undefined }
    this.#open = opened
    return { events, open: opened }
  }

  #thinkingDelta (open: Extract<Open, { kind: 'thinking' }>, text: string): MessageEvent {
    const block = this.#content[open.index] as Extract<ContentBlock, { type: 'thinking' }>
    block.thinking += text
    return { type: 'content_block_delta', index: open.index, delta: { type: 'thinking_delta', thinking: text } }
  }

  #reasoning (itemId: string, summaryIndex: number, text: string): MessageEvent[] {
    const { events, open } = this.#openThinking(itemId)
    if (open.part !== summaryIndex) {
      // Summary parts are one thinking text, a blank line apart, as the signature replays them.
      if (open.part !== undefined) events.push(this.#thinkingDelta(open, THINKING_PART_SEPARATOR))
      open.part = summaryIndex
      open.parts.push('')
    }
    open.parts[open.parts.length - 1] += text
    events.push(this.#thinkingDelta(open, text))
    return events
  }

  /**
   * The reasoning item is complete: its block gets the signature (over the item as the upstream
   * sent it, the summary being the text shown) and closes. A reasoning item with nothing in it
   * (no summary, no encrypted content) makes no block.
   */
  #reasoningDone (item: ReasoningItem): MessageEvent[] {
    const itemId = item.id ?? ''
    const streamed = this.#open?.kind === 'thinking' && this.#open.itemId === itemId
    if (!streamed && item.summary.length === 0 && item.encryptedContent === undefined) return []
    const { events, open } = this.#openThinking(itemId)
    // What was streamed is what the client keeps; a summary that came only with the item is sent now.
    const summary = streamed ? open.parts : item.summary
    if (!streamed && summary.length > 0) events.push(this.#thinkingDelta(open, thinkingText(summary)))
    const signature = this.#meta.signatures.sign({ ...item, summary }, this.#meta.keyName)
    const block = this.#content[open.index] as Extract<ContentBlock, { type: 'thinking' }>
    block.signature = signature
    events.push({ type: 'content_block_delta', index: open.index, delta: { type: 'signature_delta', signature } })
    events.push({ type: 'content_block_stop', index: open.index })
    this.#open = undefined
    return events
  }

  #toolUse (id: string, name: string, args: string): MessageEvent[] {
    this.#sawToolUse = true
    let input: unknown
    try {
      input = JSON.parse(args.length === 0 ? '{}' : args)
    } catch {
      input = {}
    }
    const begun = this.#begin({ type: 'tool_use', id, name, input: {} })
    ;(this.#content[begun.index] as Extract<ContentBlock, { type: 'tool_use' }>).input = input
    return [
      begun.event,
      { type: 'content_block_delta', index: begun.index, delta: { type: 'input_json_delta', partial_json: args.length === 0 ? '{}' : args } },
      { type: 'content_block_stop', index: begun.index }
    ]
  }

  /** Closes the open block. A thinking block closed before its item completed keeps an empty signature (it is dropped if sent back). */
  #close (): MessageEvent[] {
    const open = this.#open
    if (open === undefined) return []
    this.#open = undefined
    return [{ type: 'content_block_stop', index: open.index }]
  }
}
