import { NO_USAGE, type BackendEvent, type TokenUsage } from '../../backends/types.js'
import { SSE_DONE, sseData } from '../../http/sse.js'
import { toApiError } from '../../errors.js'
import { chatErrorEnvelope } from './errors.js'
import { finishReason, reasoningJoiner, toChatUsage, type ChatResponseMeta } from './response.js'
import type { ChatChunkDelta, ChatCompletionChunk } from './schemas.js'

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
  let usage: TokenUsage | undefined
  let toolIndex = 0
  let finished = false
  const joinReasoning = reasoningJoiner()
  for await (const event of events) {
    switch (event.type) {
      case 'text':
        if (opts.buffered) held += event.text
        else yield chunk({ content: event.text })
        break
      case 'reasoning':
        yield chunk({ reasoning_content: joinReasoning(event) })
        break
      case 'tool_call':
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
      case 'reasoning_done':
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
      usage: toChatUsage(usage ?? NO_USAGE)
    }
  }
}

/** SSE frames for a stream of JSON values, always ending in `[DONE]`; an error becomes one error frame. */
export async function * chatFrames (values: AsyncIterable<unknown>): AsyncGenerator<string> {
  try {
    for await (const value of values) yield sseData(value)
  } catch (err) {
    yield sseData(chatErrorEnvelope(toApiError(err)))
  }
  yield SSE_DONE
}

/** The chat stream of a turn, as SSE frames. */
export function chatSse (events: AsyncIterable<BackendEvent>, meta: ChatResponseMeta, opts: ChunkOptions): AsyncIterable<string> {
  return chatFrames(chatChunks(events, meta, opts))
}
