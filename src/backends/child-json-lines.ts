import { serverError, timeoutError, type ApiError } from '../errors.js'
import type { Logger } from '../logger.js'
import { describeExit, lastStderrLine, type CodexChild } from './child-process.js'
import { spawnProblem } from './codex-command.js'
import { LOGIN_HINT } from './codex-errors.js'

/**
 * The JSON objects a per-request Codex child prints, one per line. Ends when the child exits;
 * throws at once when the signal aborts, when the child is silent for `idleMs` (0: never), or
 * when a line is not a JSON object (the child is then not to be trusted: the caller kills it).
 */
export async function * childJsonLines (child: CodexChild, signal: AbortSignal, idleMs: number): AsyncGenerator<Record<string, unknown>> {
  const lines = child.lines()
  const onAbort = (): void => { lines.fail(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  let idleTimer: NodeJS.Timeout | undefined
  const armIdle = (): void => {
    clearTimeout(idleTimer)
    if (idleMs > 0) idleTimer = setTimeout(() => { lines.fail(timeoutError(`Codex was silent for ${idleMs} ms; the turn was cancelled.`)) }, idleMs)
  }
  try {
    signal.throwIfAborted()
    armIdle()
    for await (const line of lines) {
      armIdle()
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        throw serverError(502, 'Codex wrote output that is not protocol JSON.', 'codex_protocol_error')
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw serverError(502, 'Codex wrote an event this proxy does not understand.', 'codex_protocol_error')
      }
      yield value as Record<string, unknown>
    }
    signal.throwIfAborted()
  } finally {
    clearTimeout(idleTimer)
    signal.removeEventListener('abort', onAbort)
  }
}

/** Why a per-request child ended before finishing its answer; what it said on stderr goes to the log. */
export function childExitError (child: CodexChild, bin: string, log: Logger, requestId: string): ApiError {
  const exit = child.exitInfo
  if (exit?.spawnError !== undefined) return serverError(503, spawnProblem(bin, exit.spawnError), 'codex_unavailable')
  if (child.protocolError !== undefined) return serverError(502, `${child.protocolError.message} (request ${requestId}).`, 'codex_protocol_error')
  const how = describeExit(child, 'closed its output')
  const stderr = lastStderrLine(child.stderrTail())
  log.warn({ pid: child.pid, exit, stderr }, `Codex ${how} before finishing the answer`)
  // Read here, not shown: stderr may hold any client's text.
  if (/not logged in/i.test(stderr ?? '')) return serverError(503, `Codex is not logged in on this server (request ${requestId}). ${LOGIN_HINT}`, 'codex_not_logged_in')
  return serverError(502, `Codex ${how} before finishing the answer (request ${requestId}; details in the server log).`, 'codex_exited')
}
