import type { ApiError } from '../errors.js'
import { mapCodexError, type CodexTurnError, type ErrorHints } from './codex-errors.js'

/*
 * `codex exec --json` and `codex proto` report a failed turn as text only; app-server adds the
 * structured `codexErrorInfo`. The text is the same in all three (Codex 0.169, measured against
 * the mock upstream: test/integration/exec.test.ts pins it), so the structured kind can be read
 * back from it, and every backend maps an upstream failure to the same HTTP error.
 */

/** Codex's wording (0.169) of each structured kind whose message does not carry a status. */
const KINDS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^you[’']ve hit your usage limit|usage limit (?:has been )?reached/i, 'usageLimitExceeded'],
  [/^rate limit exceeded\b/i, 'rateLimitExceeded'],
  [/context window/i, 'contextWindowExceeded'],
  [/^we[’']re currently experiencing high demand/i, 'internalServerError'],
  [/^selected model is at capacity/i, 'serverOverloaded'],
  [/\bnot logged in\b/i, 'unauthorized']
]

/** How Codex reports an upstream `response.incomplete` (max_output_tokens): an error after the text. */
export const INCOMPLETE_RESPONSE = /^Incomplete response returned, reason: /

/**
 * The error app-server would have reported for Codex's message: an HTTP status where the text
 * names one ("unexpected status 403 Forbidden: …, url: …", "exceeded retry limit, last status:
 * 429 …"), a kind where the wording is Codex's own, else "other" (an upstream body passed on
 * whole, an early end of the stream, an invalid prompt), which mapCodexError reads further.
 */
export function codexErrorFromText (message: string): CodexTurnError {
  const status = /^unexpected status (\d{3})\b/.exec(message)
  if (status !== null) return { message, codexErrorInfo: { httpConnectionFailed: { httpStatusCode: Number(status[1]) } } }
  const retried = /^exceeded retry limit, last status: (\d{3})\b/.exec(message)
  if (retried !== null) return { message, codexErrorInfo: { responseTooManyFailedAttempts: { httpStatusCode: Number(retried[1]) } } }
  const kind = KINDS.find(([pattern]) => pattern.test(message))?.[1]
  return { message, codexErrorInfo: kind ?? 'other' }
}

/** A failure exec or proto reported as text, as the HTTP error app-server's would be. */
export function mapCodexText (message: string, hints: ErrorHints = {}): ApiError {
  return mapCodexError(codexErrorFromText(message), hints)
}
