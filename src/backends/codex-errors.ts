import { ApiError, invalidRequest, invalidSubject, notFound, rateLimited, serverError } from '../errors.js'

/** The `error` object of app-server's `error` notification and of a failed turn. */
export interface CodexTurnError {
  message?: string | undefined
  codexErrorInfo?: unknown
  additionalDetails?: unknown
}

export const LOGIN_HINT = 'Log Codex in on the server: `CODEX_HOME=<its CODEX_HOME> npx codex login` (or `codex login --device-auth` on a headless machine).'

/** Seconds until the next local occurrence of a clock time ("try again at 3:05 PM"). */
function secondsUntilClock (text: string, now: Date): number | undefined {
  const match = /\bat (\d{1,2}):(\d{2})\s*([ap]\.?m\.?)?/i.exec(text)
  if (match === null) return undefined
  let hours = Number(match[1])
  const minutes = Number(match[2])
  const meridiem = match[3]?.toLowerCase().replace(/\./g, '')
  if (hours > 23 || minutes > 59 || (meridiem !== undefined && (hours < 1 || hours > 12))) return undefined
  if (meridiem === 'pm' && hours !== 12) hours += 12
  if (meridiem === 'am' && hours === 12) hours = 0
  const at = new Date(now)
  at.setHours(hours, minutes, 0, 0)
  if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1)
  return Math.ceil((at.getTime() - now.getTime()) / 1000)
}

/** Seconds to wait, when Codex's message says so ("try again in 7s", "resets in 2 minutes", "try again at 3:05 PM"). */
export function retryAfterSeconds (text: string, now = new Date()): number | undefined {
  const clock = secondsUntilClock(text, now)
  if (clock !== undefined) return clock
  const match = /(?:try again|retry|resets?)\D{0,20}?(\d+(?:\.\d+)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)\b/i.exec(text)
  if (match === null) return undefined
  const n = Number(match[1])
  const unit = (match[2] ?? 's').toLowerCase()
  if (unit.startsWith('ms') || unit.startsWith('milli')) return Math.max(1, Math.ceil(n / 1000))
  if (unit.startsWith('h')) return Math.ceil(n * 3600)
  if (unit.startsWith('m')) return Math.ceil(n * 60)
  return Math.ceil(n)
}

function detailsText (err: CodexTurnError): string {
  const details = typeof err.additionalDetails === 'string' ? err.additionalDetails : ''
  return [err.message ?? '', details].join(' ')
}

/** The HTTP status inside the structured variants (`{responseStreamDisconnected:{httpStatusCode}}`). */
function statusInside (info: unknown): { kind: string, status: number | undefined } | undefined {
  if (typeof info !== 'object' || info === null) return undefined
  const [kind, value] = Object.entries(info)[0] ?? []
  if (kind === undefined) return undefined
  const status = (value as { httpStatusCode?: unknown } | null)?.httpStatusCode
  return { kind, status: typeof status === 'number' ? status : undefined }
}

export interface ErrorHints {
  /** When the account's usage window resets (epoch seconds), if Codex said. */
  usageLimitResetAt?: number | undefined
  now?: Date | undefined
}

/**
 * Maps Codex's `codexErrorInfo` to the HTTP error a client of an OpenAI API expects: who must act
 * (the caller: 4xx; the server or upstream: 5xx) and when to come back (Retry-After).
 */
export function mapCodexError (err: CodexTurnError, hints: ErrorHints = {}): ApiError {
  const message = err.message ?? 'Codex reported an error.'
  const text = detailsText(err)
  const info = err.codexErrorInfo
  switch (info) {
    case 'unauthorized':
      return new ApiError(401, `Codex is not authorized upstream: ${message} ${LOGIN_HINT}`, { kind: 'authentication', code: 'codex_unauthorized' })
    case 'usageLimitExceeded': {
      const now = hints.now ?? new Date()
      const reset = hints.usageLimitResetAt === undefined ? undefined : hints.usageLimitResetAt - now.getTime() / 1000
      return rateLimited(`Codex usage limit reached: ${message}`, reset !== undefined && reset > 0 ? reset : retryAfterSeconds(text, now), 'usage_limit_exceeded')
    }
    case 'rateLimitExceeded':
      return rateLimited(`Upstream rate limit: ${message}`, retryAfterSeconds(text) ?? 1)
    case 'contextWindowExceeded':
      return invalidSubject(`The conversation is too long for the model's context window: ${message}`, 'conversation', 'context_length_exceeded')
    case 'modelNotFound':
      return notFound(`The model was not found upstream: ${message}`, 'model_not_found', 'model')
    case 'badRequest':
      return invalidRequest(`The upstream model API refused the request: ${message}`, null, 'upstream_bad_request')
    case 'serverOverloaded':
      return new ApiError(503, `The upstream model API is overloaded: ${message}`, { kind: 'overloaded', code: 'upstream_overloaded', headers: { 'retry-after': String(retryAfterSeconds(text) ?? 5) } })
    case 'internalServerError':
      return serverError(502, `The upstream model API failed: ${message}`, 'upstream_error')
    case 'sandboxError':
    case 'other':
    case undefined:
    case null:
      return serverError(502, `Codex failed: ${message}`, 'codex_error')
  }
  const inside = statusInside(info)
  if (inside !== undefined) {
    const status = inside.status
    if (status === 401 || status === 403) return mapCodexError({ ...err, codexErrorInfo: 'unauthorized' }, hints)
    if (status === 429) return mapCodexError({ ...err, codexErrorInfo: 'rateLimitExceeded' }, hints)
    if (status === 400) return mapCodexError({ ...err, codexErrorInfo: 'badRequest' }, hints)
    if (status === undefined) return serverError(503, `The upstream model API could not be reached: ${message}`, 'upstream_unreachable')
    return serverError(502, `The upstream model API failed (HTTP ${status}): ${message}`, 'upstream_error')
  }
  return serverError(502, `Codex failed: ${message}`, 'codex_error')
}
