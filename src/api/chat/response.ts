import { randomUUID } from 'node:crypto'
import { NO_USAGE, type BackendEvent, type FinishReason, type TokenUsage } from '../../backends/types.js'
import type { ChatCompletion, ChatUsage } from './schemas.js'

/** What every chunk or completion of one response shares. */
export interface ChatResponseMeta {
  id: string
  created: number
  /** The model id the client asked for, echoed back. */
  model: string
  legacyFunctions: boolean
}

export function newChatResponseMeta (model: string, legacyFunctions: boolean): ChatResponseMeta {
  return { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model, legacyFunctions }
}

export function toChatUsage (usage: TokenUsage): ChatUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens ?? 0 }
  }
}

/**
 * Chat has one `reasoning_content` string: summary parts (of one reasoning item or several) are
 * joined with a blank line, as ChatGPT shows them. Returns the text to append for a delta.
 */
export function reasoningJoiner (): (event: { itemId: string, summaryIndex: number, text: string }) => string {
  let last: string | undefined
  return (event) => {
    const key = `${event.itemId}:${event.summaryIndex}`
    const separator = last !== undefined && key !== last ? '\n\n' : ''
    last = key
    return separator + event.text
  }
}

export function finishReason (reason: FinishReason, sawToolCalls: boolean, legacy: boolean): string {
  // A `stop` after tool calls makes agents drop the calls: tool calls always finish as tool_calls.
  if (sawToolCalls || reason === 'tool_calls') return legacy ? 'function_call' : 'tool_calls'
  return reason
}

/** Folds a turn's events into one `chat.completion` (the non-streaming answer). */
export async function foldChatCompletion (events: AsyncIterable<BackendEvent>, meta: ChatResponseMeta): Promise<ChatCompletion> {
  let text = ''
  let reasoning = ''
  let usage: TokenUsage | undefined
  let finish: FinishReason = 'stop'
  const calls: Array<{ id: string, name: string, arguments: string }> = []
  const joinReasoning = reasoningJoiner()
  for await (const event of events) {
    switch (event.type) {
      case 'text': text += event.text; break
      case 'reasoning': reasoning += joinReasoning(event); break
      case 'tool_call': calls.push({ id: event.id, name: event.name, arguments: event.arguments }); break
      case 'usage': usage = event.usage; break
      case 'done': finish = event.finishReason; break
      case 'started':
      case 'reasoning_done':
        break
    }
  }
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text.length === 0 && calls.length > 0 ? null : text,
    refusal: null
  }
  if (reasoning.length > 0) message.reasoning_content = reasoning
  if (calls.length > 0) {
    const first = calls[0]
    if (meta.legacyFunctions && first !== undefined) message.function_call = { name: first.name, arguments: first.arguments }
    else message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }))
  }
  return {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(finish, calls.length > 0, meta.legacyFunctions) }],
    usage: toChatUsage(usage ?? NO_USAGE)
  }
}
