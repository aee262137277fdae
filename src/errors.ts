/**
 * What kind of failure an error is, in no API's vocabulary: each dialect renders it as its own
 * error type (OpenAI's `invalid_request_error`, Anthropic's `overloaded_error`, …).
 */
export type ErrorKind =
  | 'invalid_request'
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'rate_limit'
  | 'quota'
  | 'server'
  | 'timeout'
  | 'overloaded'

/**
 * The part of a request an error is about when the code that found it does not know the
 * dialect's field names (a backend refusing the conversation, a shared capability check). Each
 * dialect names it: the conversation is `messages` on chat completions, `input` on responses.
 */
export type ErrorSubject = 'conversation' | 'tools' | 'output_format' | 'model'

export interface ApiErrorInit {
  kind: ErrorKind
  code?: string | null | undefined
  /** The request field, as the dialect that raised it names it (`messages[0].content`). */
  param?: string | null | undefined
  /** The request part, when the raiser knows no dialect (see ErrorSubject). */
  subject?: ErrorSubject | undefined
  /** Extra response headers (Retry-After, WWW-Authenticate). */
  headers?: Readonly<Record<string, string>> | undefined
  cause?: unknown
}

/**
 * The one error value that crosses layers: backends, translators and plugins throw it; the error
 * handler and each dialect's stream render it. It carries the HTTP status and a neutral kind,
 * code and param; how it looks on the wire is the dialect's business (src/api/<dialect>/errors.ts).
 */
export class ApiError extends Error {
  readonly statusCode: number
  readonly kind: ErrorKind
  readonly code: string | null
  readonly param: string | null
  readonly subject: ErrorSubject | undefined
  readonly headers: Readonly<Record<string, string>>

  constructor (statusCode: number, message: string, init: ApiErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'ApiError'
    this.statusCode = statusCode
    this.kind = init.kind
    this.code = init.code ?? null
    this.param = init.param ?? null
    this.subject = init.subject
    this.headers = init.headers ?? {}
  }
}

export function isApiError (err: unknown): err is ApiError {
  return err instanceof ApiError
}

export const invalidRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, { kind: 'invalid_request', param, code })

/** A 400 about a part of the request named neutrally (the dialect names the field). */
export const invalidSubject = (message: string, subject: ErrorSubject, code: string | null = null): ApiError =>
  new ApiError(400, message, { kind: 'invalid_request', subject, code })

export const unauthorized = (message = 'Incorrect or missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.'): ApiError =>
  new ApiError(401, message, {
    kind: 'authentication',
    code: 'invalid_api_key',
    headers: { 'www-authenticate': 'Bearer realm=api' }
  })

export const notFound = (message: string, code: string | null = 'not_found', param: string | null = null): ApiError =>
  new ApiError(404, message, { kind: 'not_found', code, param })

export const rateLimited = (message: string, retryAfterSeconds: number | undefined, code = 'rate_limit_exceeded'): ApiError =>
  new ApiError(429, message, {
    kind: code === 'insufficient_quota' ? 'quota' : 'rate_limit',
    code,
    headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) }
  })

export const serverError = (statusCode: number, message: string, code: string, cause?: unknown): ApiError =>
  new ApiError(statusCode, message, { kind: 'server', code, cause })

export const timeoutError = (message: string, cause?: unknown): ApiError =>
  new ApiError(504, message, { kind: 'timeout', code: 'timeout', cause })

/** What a turn is cancelled with when the server shuts down; every dialect renders it. */
export const shuttingDown = (message = 'The server is shutting down.'): ApiError =>
  serverError(503, message, 'shutting_down')

/**
 * A 5xx as the client of `requestId` sees it: naming the request, so that the details (kept for
 * the log) can be found. Errors shared by several requests (a worker's death fails every turn on
 * it with one value) get the id here, where each request's own copy is made.
 */
export function namingRequest (err: ApiError, requestId: string): ApiError {
  if (err.statusCode < 500 || err.message.includes(requestId)) return err
  const message = `${err.message.replace(/\.$/, '')} (request ${requestId}).`
  return new ApiError(err.statusCode, message, { kind: err.kind, code: err.code, param: err.param, subject: err.subject, headers: err.headers, cause: err.cause ?? err })
}

/** Anything thrown, as an ApiError: unknown errors become a 500 whose message hides internals. */
export function toApiError (err: unknown): ApiError {
  if (isApiError(err)) return err
  return serverError(500, 'Internal server error.', 'internal_error', err)
}
