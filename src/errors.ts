import { Type, type Static } from '@sinclair/typebox'

/** OpenAI's error envelope: every error this service answers has exactly this shape. */
export const ErrorEnvelopeSchema = Type.Object({
  error: Type.Object({
    message: Type.String(),
    type: Type.String(),
    param: Type.Union([Type.String(), Type.Null()]),
    code: Type.Union([Type.String(), Type.Null()])
  })
})
export type ErrorEnvelope = Static<typeof ErrorEnvelopeSchema>

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'insufficient_quota'
  | 'server_error'
  | 'timeout_error'

export interface OpenAIErrorInit {
  type: OpenAIErrorType
  code?: string | null | undefined
  param?: string | null | undefined
  /** Extra response headers (Retry-After, WWW-Authenticate). */
  headers?: Readonly<Record<string, string>> | undefined
  cause?: unknown
}

/**
 * The one error type that crosses layers: backends, translators and plugins throw it, the error
 * handler and the SSE writer render it. It carries the HTTP status and OpenAI's type/code/param.
 */
export class OpenAIError extends Error {
  readonly statusCode: number
  readonly type: OpenAIErrorType
  readonly code: string | null
  readonly param: string | null
  readonly headers: Readonly<Record<string, string>>

  constructor (statusCode: number, message: string, init: OpenAIErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'OpenAIError'
    this.statusCode = statusCode
    this.type = init.type
    this.code = init.code ?? null
    this.param = init.param ?? null
    this.headers = init.headers ?? {}
  }

  toEnvelope (): ErrorEnvelope {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }
  }
}

export function isOpenAIError (err: unknown): err is OpenAIError {
  return err instanceof OpenAIError
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null): OpenAIError =>
  new OpenAIError(400, message, { type: 'invalid_request_error', param, code })

export const unauthorized = (message = 'Incorrect or missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.'): OpenAIError =>
  new OpenAIError(401, message, {
    type: 'authentication_error',
    code: 'invalid_api_key',
    headers: { 'www-authenticate': 'Bearer realm=api' }
  })

export const notFound = (message: string, code: string | null = 'not_found', param: string | null = null): OpenAIError =>
  new OpenAIError(404, message, { type: 'not_found_error', code, param })

export const rateLimited = (message: string, retryAfterSeconds: number | undefined, code = 'rate_limit_exceeded'): OpenAIError =>
  new OpenAIError(429, message, {
    type: code === 'insufficient_quota' ? 'insufficient_quota' : 'rate_limit_error',
    code,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }
  })

export const serverError = (statusCode: number, message: string, code: string, cause?: unknown): OpenAIError =>
  new OpenAIError(statusCode, message, { type: 'server_error', code, cause })

export const timeoutError = (message: string, cause?: unknown): OpenAIError =>
  new OpenAIError(504, message, { type: 'timeout_error', code: 'timeout', cause })

/** Anything thrown, as an OpenAIError: unknown errors become a 500 whose message hides internals. */
export function toOpenAIError (err: unknown): OpenAIError {
  if (isOpenAIError(err)) return err
  return serverError(500, 'Internal server error.', 'internal_error', err)
}
