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

/** The HTTP status inside the structured variants (`{httpConnectionFailed:{httpStatusCode}}`). */
function statusInside (info: unknown): { kind: string, status: number | undefined } | undefined {
  if (typeof info !== 'object' || info === null) return undefined
  const [kind, value] = Object.entries(info)[0] ?? []
  if (kind === undefined) return undefined
  const status = (value as { httpStatusCode?: unknown } | null)?.httpStatusCode
  return { kind, status: typeof status === 'number' ? status : undefined }
}

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi
const SECRET_RE = /\b(sk|pk|rk|sess|key)[-_][A-Za-z0-9_-]{2,}|\bBearer\s+\S+/g
// eslint-disable-next-line no-control-regex -- ANSI escapes are what is removed
const ANSI_RE = /\u001b\[[0-9;?]*[A-Za-z]/g

/**
 * Text from the upstream (an error message) in a form a client may see: no URLs, no key
 * fragments, no markup or control characters, one short line. Bodies that are not a plain
 * message (HTML pages, JSON) are not shown at all.
 */
export function clientSafeText (text: string, max = 300): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what is removed
  const line = text.replace(ANSI_RE, '').replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim()
  if (line.length === 0 || /^[<{[]/.test(line)) return undefined
  const safe = line.replace(URL_RE, '<url>').replace(SECRET_RE, '<redacted>')
  return safe.length > max ? `${safe.slice(0, max - 1)}…` : safe
}

/**
 * What the upstream said, out of Codex's message: the `error.message` of a JSON body Codex passed
 * on whole ("other"), or the part between the status and the URL of
 * "unexpected status 403 Forbidden: <message>, url: <upstream>".
 */
function upstreamMessage (message: string): { text: string | undefined, code: string | undefined, type: string | undefined } {
  try {
    const body = JSON.parse(message) as { error?: { message?: unknown, code?: unknown, type?: unknown } }
    const e = body.error
    return {
      text: typeof e?.message === 'string' ? clientSafeText(e.message) : undefined,
      code: typeof e?.code === 'string' ? e.code : undefined,
      type: typeof e?.type === 'string' ? e.type : undefined
    }
  } catch {
    const status = /^unexpected status \d{3}[^:]*: (.*?)(?:, url: \S+)?$/s.exec(message)
    return { text: clientSafeText(status?.[1] ?? message), code: undefined, type: undefined }
  }
}

export interface ErrorHints {
  /** When the account's usage window resets (epoch seconds), if Codex said. */
  usageLimitResetAt?: number | undefined
  now?: Date | undefined
  /** Named in every message, so that a user can find the details in the server log. */
  requestId?: string | undefined
}

/**
 * Maps Codex's `codexErrorInfo` to the HTTP error a client of a model API expects: who must act
 * (the caller: 4xx; the server or upstream: 5xx) and when to come back (Retry-After). Messages
 * are this server's own, with the request id; what the upstream said is shown only when it is a
 * plain message about the request itself (a 400's, a 403's), cleaned of URLs and key fragments.
 * The whole of Codex's error is for the log.
 */
export function mapCodexError (err: CodexTurnError, hints: ErrorHints = {}): ApiError {
  const message = err.message ?? ''
  const ref = hints.requestId === undefined ? '' : ` (request ${hints.requestId})`
  const said = (prefix: string, detail: string | undefined): string => `${prefix}${detail === undefined ? '' : `: ${detail}`}${ref}.`
  const info = err.codexErrorInfo
  switch (info) {
    case 'unauthorized':
      return new ApiError(401, `Codex is not authorized by the upstream model API${ref}. ${LOGIN_HINT}`, { kind: 'authentication', code: 'codex_unauthorized' })
    case 'usageLimitExceeded': {
      const now = hints.now ?? new Date()
      const reset = hints.usageLimitResetAt === undefined ? undefined : hints.usageLimitResetAt - now.getTime() / 1000
      const wait = reset !== undefined && reset > 0 ? reset : retryAfterSeconds(detailsText(err), now)
      return rateLimited(`The Codex account's usage limit is reached${wait === undefined ? '' : `; it resets in about ${Math.ceil(wait / 60)} min`}${ref}.`, wait, 'usage_limit_exceeded')
    }
    case 'rateLimitExceeded': {
      const wait = retryAfterSeconds(detailsText(err))
      return rateLimited(`The upstream model API's rate limit is reached${wait === undefined ? '' : `; retry in ${wait} s`}${ref}.`, wait)
    }
    case 'contextWindowExceeded':
      return invalidSubject(`The conversation is too long for the model's context window${ref}.`, 'conversation', 'context_length_exceeded')
    case 'modelNotFound':
      return notFound(`The upstream model API does not know this model${ref}.`, 'model_not_found', 'model')
    case 'badRequest':
      return invalidRequest(said('The upstream model API refused the request', upstreamMessage(message).text), null, 'upstream_bad_request')
    case 'serverOverloaded':
      return new ApiError(503, `The upstream model API is overloaded${ref}; retry shortly.`, { kind: 'overloaded', code: 'upstream_overloaded', headers: { 'retry-after': String(retryAfterSeconds(detailsText(err)) ?? 5) } })
    case 'internalServerError':
      return serverError(502, `The upstream model API failed${ref}.`, 'upstream_error')
    case 'sandboxError':
    case undefined:
    case null:
      return serverError(502, `Codex failed${ref}.`, 'codex_error')
    case 'other':
      return otherError(message, said, ref)
  }
  const inside = statusInside(info)
  if (inside === undefined) return serverError(502, `Codex failed${ref}.`, 'codex_error')
  const status = inside.status
  const detail = upstreamMessage(message).text
  switch (status) {
    case undefined:
      return serverError(503, `The upstream model API could not be reached${ref}.`, 'upstream_unreachable')
    case 400:
    case 422:
      return new ApiError(status, said(`The upstream model API refused the request (HTTP ${status})`, detail), { kind: 'invalid_request', code: 'upstream_bad_request' })
    case 401:
      return mapCodexError({ ...err, codexErrorInfo: 'unauthorized' }, hints)
    case 403:
      return new ApiError(403, said('The upstream model API refused access (HTTP 403)', detail), { kind: 'permission', code: 'upstream_forbidden' })
    case 404:
    case 405:
      // No such endpoint at the provider's base_url: this server's configuration, which no client
      // can fix. A 404 would read to a client as "no such model" or "no such route here".
      return serverError(502, `The upstream model API answered ${status}: check the model provider's base_url${ref}.`, 'upstream_not_found')
    case 413:
      return new ApiError(413, `The request is too large for the upstream model API${ref}.`, { kind: 'invalid_request', code: 'request_too_large' })
    case 429:
      // Codex keeps the upstream's Retry-After to itself (0.169): none is better than a made-up one.
      return rateLimited(`The upstream model API's rate limit is reached (HTTP 429)${ref}.`, undefined)
  }
  if (status >= 400 && status < 500) return upstreamClientError(status, ref)
  return serverError(502, `The upstream model API failed (HTTP ${status})${ref}.`, 'upstream_error')
}

/**
 * The other upstream 4xx, with their status kept (a client's SDK knows what a 402, 408, 409 or
 * 451 means, and retries the 408 and 409) and this server's words: their bodies are not known to
 * be about the request, so none of the upstream's text is shown.
 */
function upstreamClientError (status: number, ref: string): ApiError {
  switch (status) {
    case 402:
      return new ApiError(402, `The upstream model API wants payment (HTTP 402): check the Codex account's plan or credits${ref}.`, { kind: 'invalid_request', code: 'upstream_payment_required' })
    case 408:
      return new ApiError(408, `The upstream model API timed out (HTTP 408); retry${ref}.`, { kind: 'timeout', code: 'upstream_timeout' })
    case 409:
      return new ApiError(409, `The upstream model API reported a conflict (HTTP 409); retry${ref}.`, { kind: 'invalid_request', code: 'upstream_conflict' })
    case 451:
      return new ApiError(451, `The upstream model API is not available here for legal reasons (HTTP 451)${ref}.`, { kind: 'permission', code: 'upstream_unavailable_for_legal_reasons' })
    default:
      return new ApiError(status, `The upstream model API refused the request (HTTP ${status})${ref}.`, { kind: 'invalid_request', code: 'upstream_refused' })
  }
}

/**
 * "other": Codex passes the upstream's 400 body on whole, and words its own failures: an early
 * end of the stream, an invalid prompt (response.failed), a configuration it cannot load.
 */
function otherError (message: string, said: (prefix: string, detail: string | undefined) => string, ref: string): ApiError {
  const upstream = upstreamMessage(message)
  if (upstream.code === 'insufficient_quota') return rateLimited(`The upstream account's quota is exhausted${ref}.`, undefined, 'insufficient_quota')
  if (upstream.type === 'invalid_request_error' || /^bad request/i.test(message)) {
    return invalidRequest(said('The upstream model API refused the request (HTTP 400)', upstream.text), null, 'upstream_bad_request')
  }
  // response.failed with invalid_prompt: the upstream's words about the request, passed on verbatim.
  if (/^invalid prompt\b/i.test(message)) return invalidRequest(said('The upstream model API refused the prompt', clientSafeText(message)), null, 'upstream_bad_request')
  if (/^stream disconnected before completion/i.test(message)) return serverError(502, `The upstream model API ended the response early${ref}.`, 'upstream_error')
  if (/failed to load configuration/i.test(message)) return serverError(503, `Codex cannot load its configuration (CODEX_HOME)${ref}.`, 'codex_config_error')
  return serverError(502, `Codex failed${ref}.`, 'codex_error')
}
