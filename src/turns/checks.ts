import { ApiError, type ErrorSubject } from '../errors.js'
import { partsOf, type CodexBackend, type CompletionRequest } from '../backends/types.js'

/**
 * A backend that cannot honour part of a request refuses it with a 400 naming `app-server`;
 * nothing is silently dropped. Checked by the turn pipeline for every dialect (each names the
 * part from the ErrorSubject), not by the parsers: counting a request's tokens needs no backend.
 */
export function assertSupported (request: CompletionRequest, backend: Pick<CodexBackend, 'kind' | 'capabilities'>): void {
  const refuse = (what: string, subject: ErrorSubject): never => {
    throw new ApiError(400, `${what} need CODEX_BACKEND=app-server; this server runs the ${backend.kind} backend, which cannot honour them.`, {
      kind: 'invalid_request', subject, code: 'unsupported_feature'
    })
  }
  if (request.tools.length > 0 && !backend.capabilities.tools) refuse('Tools (function calling)', 'tools')
  if (!backend.capabilities.images && request.items.some((item) => partsOf(item).some((p) => p.type === 'image'))) {
    refuse('Images', 'conversation')
  }
  if (request.outputFormat !== undefined && !backend.capabilities.structuredOutput) refuse('Structured output', 'output_format')
}
