import { toApiError, type ApiError } from '../../errors.js'
import { sseEvent } from '../../http/sse.js'
import type { Dialect } from '../dialect.js'
import type { AnthropicError } from './schemas.js'

/** Anthropic's status for the overloaded API, which its clients back off from and retry. */
const OVERLOADED = 529

/** The Anthropic error type and status of an error (docs.claude.com/en/api/errors). */
function anthropicError (err: ApiError): { status: number, type: string } {
  if (err.statusCode === 413) return { status: 413, type: 'request_too_large' }
  switch (err.kind) {
    case 'invalid_request':
      return { status: err.statusCode, type: 'invalid_request_error' }
    case 'authentication':
      return { status: 401, type: 'authentication_error' }
    case 'permission':
      return { status: 403, type: 'permission_error' }
    case 'not_found':
      return { status: 404, type: 'not_found_error' }
    case 'rate_limit':
    case 'quota':
      return { status: 429, type: 'rate_limit_error' }
    case 'overloaded':
      return { status: OVERLOADED, type: 'overloaded_error' }
    case 'timeout':
      // A client too slow to send its request (408) is its own problem; Codex timing out is ours.
      return err.statusCode < 500 ? { status: err.statusCode, type: 'invalid_request_error' } : { status: err.statusCode, type: 'api_error' }
    case 'server':
      return { status: err.statusCode, type: 'api_error' }
  }
}

export function messagesErrorBody (err: ApiError): AnthropicError {
  return { type: 'error', error: { type: anthropicError(err).type, message: err.message } }
}

/** A stream that fails after it started: one `event: error` with the same body, as Anthropic's API does. */
export function messagesErrorFrame (error: unknown): string {
  return sseEvent('error', messagesErrorBody(toApiError(error)))
}

export const messagesDialect: Dialect = {
  name: 'messages',
  httpError: (err) => ({ status: anthropicError(err).status, body: messagesErrorBody(err), headers: err.headers }),
  closingFrames: messagesErrorFrame,
  keepaliveFrame: sseEvent('ping', { type: 'ping' })
}
