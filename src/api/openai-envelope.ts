import { Type, type Static } from '@sinclair/typebox'
import type { ApiError, ErrorKind, ErrorSubject } from '../errors.js'

/** OpenAI's error envelope, used by both OpenAI dialects (chat completions and responses). */
export const ErrorEnvelopeSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()])
  })
})
export type ErrorEnvelope = Static<typeof ErrorEnvelopeSchema>

const OPENAI_TYPE: Readonly<Record<ErrorKind, string>> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  rate_limit: 'rate_limit_error',
  quota: 'insufficient_quota',
  server: 'server_error',
  timeout: 'timeout_error',
  overloaded: 'server_error'
}

export function openAIErrorType (kind: ErrorKind): string {
  return OPENAI_TYPE[kind]
}

/** The envelope of an error; a neutral subject becomes the dialect's own field name. */
export function openAIEnvelope (err: ApiError, params: Readonly<Record<ErrorSubject, string>>): ErrorEnvelope {
  const param = err.param ?? (err.subject === undefined ? null : params[err.subject])
  return { error: { message: err.message, type: openAIErrorType(err.kind), param, code: err.code } }
}
