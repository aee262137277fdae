import { randomUUID } from 'node:crypto'
import type { BackendEvent, FinishReason, TokenUsage } from '../backends/types.js'
import { estimatedUsage } from '../usage/estimate.js'
import type { ChatChunkDelta, ChatCompletion, ChatCompletionChunk, ChatUsage } from './chat-schemas.js'

/** What every chunk or completion of one response shares. */
export interface ChatResponseMeta {
  id: string
  created: number
  /** The model id the client asked for, echoed back. */
  model: string
  /** Prompt size, for the usage estimate when Codex reports no counts. */
  promptChars: number
  legacyFunctions: boolean
}

export function newChatResponseMeta (model: string, promptChars: number, legacyFunctions: boolean): ChatResponseMeta {
  return { id: `chatcmpl-${randomUUID().replaceAll('-', '')}`, created: Math.floor(Date.now() / 1000), model, promptChars, legacyFunctions }
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

function finishReason (reason: FinishReason, sawToolCalls: boolean, legacy: boolean): string {
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
  for await (const event of events) {
    switch (event.type) {
      case 'text': text += event.text; break
      case 'reasoning': reasoning += event.text; break
      case 'tool_call': calls.push({ id: event.id, name: event.name, arguments: event.arguments }); break
      case 'usage': usage = event.usage; break
      case 'done': finish = event.finishReason; break
      case 'started': break
    }
  }
  const completionChars = text.length + reasoning.length + calls.reduce((n, c) => n + c.name.length + c.arguments.length, 0)
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
    usage: toChatUsage(usage ?? estimatedUsage(meta.promptChars, completionChars))
  }
}

export interface ChunkOptions {
  includeUsage: boolean
  /** Hold the text back and send it as one chunk at the end (PROXY_STREAM_MODE=buffered). */
  buffered: boolean
}

/**
 * A turn's events as `chat.completion.chunk`s: the role first, deltas, exactly one chunk with a
 * finish_reason, and with include_usage a last chunk with `choices: []` and the usage.
 */
export async function * chatChunks (events: AsyncIterable<BackendEvent>, meta: ChatResponseMeta, opts: ChunkOptions): AsyncGenerator<ChatCompletionChunk> {
  const chunk = (delta: ChatChunkDelta, finish: string | null = null): ChatCompletionChunk => {
    const c: ChatCompletionChunk = {
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }]
    }
    if (opts.includeUsage) c.usage = null
    return c
  }

  yield chunk({ role: 'assistant', content: '' })
  let held = ''
  let completionChars = 0
  let usage: TokenUsage | undefined
  let toolIndex = 0
  let finished = false
  for await (const event of events) {
    switch (event.type) {
      case 'text':
        completionChars += event.text.length
        if (opts.buffered) held += event.text
        else yield chunk({ content: event.text })
        break
      case 'reasoning':
        completionChars += event.text.length
        yield chunk({ reasoning_content: event.text })
        break
      case 'tool_call':
        completionChars += event.name.length + event.arguments.length
        if (meta.legacyFunctions) {
          // The legacy API carries one call; later ones have nowhere to go.
          if (toolIndex === 0) {
            yield chunk({ function_call: { name: event.name, arguments: '' } })
            yield chunk({ function_call: { arguments: event.arguments } })
          }
        } else {
          yield chunk({ tool_calls: [{ index: toolIndex, id: event.id, type: 'function', function: { name: event.name, arguments: '' } }] })
          if (event.arguments.length > 0) yield chunk({ tool_calls: [{ index: toolIndex, function: { arguments: event.arguments } }] })
        }
        toolIndex += 1
        break
      case 'usage':
        usage = event.usage
        break
      case 'done':
        if (held.length > 0) yield chunk({ content: held })
        held = ''
        if (!finished) yield chunk({}, finishReason(event.finishReason, toolIndex > 0, meta.legacyFunctions))
        finished = true
        break
      case 'started':
        break
    }
  }
  if (!finished) {
    if (held.length > 0) yield chunk({ content: held })
    yield chunk({}, finishReason('stop', toolIndex > 0, meta.legacyFunctions))
  }
  if (opts.includeUsage) {
    yield {
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      choices: [],
      usage: toChatUsage(usage ?? estimatedUsage(meta.promptChars, completionChars))
    }
  }
}
