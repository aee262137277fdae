import { toApiError, type ApiError, type ErrorSubject } from '../../errors.js'
import { SSE_DONE, sseData } from '../../http/sse.js'
import type { Dialect } from '../dialect.js'
import { openAIEnvelope, type ErrorEnvelope } from '../openai-envelope.js'

/** Chat Completions' names for the parts of a request that shared code reports neutrally. */
const PARAMS: Readonly<Record<ErrorSubject, string>> = {
  conversation: 'messages',
  tools: 'tools',
  output_format: 'response_format',
  model: 'model'
}

export function chatErrorEnvelope (err: ApiError): ErrorEnvelope {
  return openAIEnvelope(err, PARAMS)
}

/**
 * An error after the stream started cannot change the status any more: one `data: {"error":…}`
 * frame, then `[DONE]`. Unknown errors are hidden behind a 500.
 */
export function chatErrorFrames (err: unknown): string {
  return sseData(chatErrorEnvelope(toApiError(err))) + SSE_DONE
}

/** OpenAI's envelope; also what every route outside the three dialects answers with. */
export const chatDialect: Dialect = {
  name: 'chat',
  httpError: (err) => ({ status: err.statusCode, body: chatErrorEnvelope(err), headers: err.headers }),
  closingFrames: chatErrorFrames,
  keepaliveFrame: ': keepalive\n\n'
}
