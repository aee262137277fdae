import type { ApiError } from '../errors.js'

/** The HTTP APIs this server speaks. */
export type DialectName = 'chat' | 'responses' | 'messages'

export interface HttpErrorAnswer {
  status: number
  body: unknown
  headers: Readonly<Record<string, string>>
}

/**
 * How one HTTP API shows errors: the answer before a response started, and the frames that end a
 * stream the server has to close (shutdown, a producer that failed). Each dialect's `errors.ts`
 * provides one; the error handler and the SSE plugin choose it by the route's `dialect` config.
 */
export interface Dialect {
  readonly name: DialectName
  httpError: (err: ApiError) => HttpErrorAnswer
  closingFrames: (err: ApiError) => string
  /** What an idle stream sends every SSE_KEEPALIVE_MS (a comment, or Anthropic's `ping` event). */
  keepaliveFrame: string
}

/** The route each dialect's turns are recorded under in the usage log, wherever they were served. */
export const DIALECT_ROUTE: Readonly<Record<DialectName, string>> = {
  chat: '/v1/chat/completions',
  responses: '/v1/responses',
  messages: '/v1/messages'
}
