import { toApiError, type ApiError, type ErrorSubject } from '../../errors.js'
import { sseEvent } from '../../http/sse.js'
import type { Dialect } from '../dialect.js'
import { openAIEnvelope, openAIErrorType, type ErrorEnvelope } from '../openai-envelope.js'

/** The Responses API's names for the parts of a request that shared code reports neutrally. */
const PARAMS: Readonly<Record<ErrorSubject, string>> = {
  conversation: 'input',
  tools: 'tools',
  output_format: 'text.format',
  model: 'model'
}

export function responsesErrorEnvelope (err: ApiError): ErrorEnvelope {
  return openAIEnvelope(err, PARAMS)
}

/**
 * The code of a failed response: the ones Codex and the SDKs act on are kept
 * (context_length_exceeded, rate_limit_exceeded, insufficient_quota; any other 429 is one of the
 * last two by its kind), the rest are OpenAI's generic invalid_prompt (the request) or
 * server_error (everything else).
 */
export function failureCode (err: ApiError): string {
  const code = err.code ?? ''
  switch (code) {
    case 'context_length_exceeded':
    case 'rate_limit_exceeded':
    case 'insufficient_quota':
      return code
    case 'usage_limit_exceeded':
      return 'insufficient_quota'
    default:
      break
  }
  if (err.kind === 'quota') return 'insufficient_quota'
  if (err.kind === 'rate_limit') return 'rate_limit_exceeded'
  return err.statusCode >= 400 && err.statusCode < 500 && err.statusCode !== 429 ? 'invalid_prompt' : 'server_error'
}

/** The `error` event of a failed stream, nested and flat: so every client raises it (reference §A.4). */
export interface ErrorEvent {
  type: 'error'
  code: string
  message: string
  param: string | null
  error: { type: string, code: string, message: string, param: string | null }
}

export function errorEvent (error: unknown): ErrorEvent {
  const err = toApiError(error)
  const param = responsesErrorEnvelope(err).error.param
  const code = failureCode(err)
  return { type: 'error', code, message: err.message, param, error: { type: openAIErrorType(err.kind), code, message: err.message, param } }
}

export const responsesDialect: Dialect = {
  name: 'responses',
  httpError: (err) => ({ status: err.statusCode, body: responsesErrorEnvelope(err), headers: err.headers }),
  // Without the stream's state (it has its own closing frames): the nested `error` event alone.
  closingFrames: (err) => sseEvent('error', errorEvent(err)),
  keepaliveFrame: ': keepalive\n\n'
}
