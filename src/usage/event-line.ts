import type { UsageEvent } from './ledger.js'

/**
 * One line of the usage log as an event, or undefined for anything that is not one (a torn line,
 * a stray message). Counts that are missing or not numbers read as 0, so one odd line can never
 * turn a total into NaN.
 */
export function parseEvent (line: string): UsageEvent | undefined {
  try {
    const value = JSON.parse(line) as unknown
    if (typeof value !== 'object' || value === null || typeof (value as { ts?: unknown }).ts !== 'string') return undefined
    // A fresh object nobody else holds: normalised in place, not copied (the index parses a million lines).
    const e = value as UsageEvent
    e.prompt_tokens_est = Number(e.prompt_tokens_est) || 0
    e.completion_tokens_est = Number(e.completion_tokens_est) || 0
    e.total_tokens_est = Number(e.total_tokens_est) || 0
    return e
  } catch {
    return undefined
  }
}

/** Events logged before keys had names were made with the one key there was: `default`. */
export const eventKeyName = (event: UsageEvent): string => event.key_name ?? 'default'
