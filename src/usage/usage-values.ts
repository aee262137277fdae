import type { UsageEvent } from './ledger.js'

/**
 * What every rollup cell, bucket and breakdown row sums, in this order. The names are the
 * response's field names: the first four are the original service's (`requests` is
 * `total_requests` at the top level); the counts are Codex's own whenever it reported them.
 * `prompt_tokens_est` includes `cached_tokens` and `completion_tokens_est` includes
 * `reasoning_tokens`, as in OpenAI's usage objects.
 */
export const USAGE_VALUES = [
  'requests',
  'prompt_tokens_est',
  'completion_tokens_est',
  'total_tokens_est',
  'cached_tokens',
  'reasoning_tokens',
  'error_requests',
  'estimated_requests',
  'total_duration_ms'
] as const
export const VALUE_COUNT = USAGE_VALUES.length

const count = (value: unknown): number => {
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : 0
}

/** Writes one event's contribution to `out[at … at + VALUE_COUNT)`. */
export function eventValues (event: UsageEvent, out: Float64Array, at = 0): void {
  out[at] = 1
  out[at + 1] = count(event.prompt_tokens_est)
  out[at + 2] = count(event.completion_tokens_est)
  out[at + 3] = count(event.total_tokens_est)
  out[at + 4] = count(event.cached_tokens)
  out[at + 5] = count(event.reasoning_tokens)
  out[at + 6] = event.status >= 400 ? 1 : 0
  out[at + 7] = event.usage_source === 'codex' ? 0 : 1
  out[at + 8] = count(event.duration_ms)
}

export const HOUR_MS = 3_600_000
/** Hours since the epoch that a cell key can hold (until the year 2200); events outside are not counted. */
export const MAX_HOUR = 2_000_000

/** The hour (since the epoch) of an event, or undefined when its time is not one a cell can hold. */
export function eventHour (event: UsageEvent): number | undefined {
  const ms = Date.parse(event.ts)
  if (Number.isNaN(ms)) return undefined
  const hour = Math.floor(ms / HOUR_MS)
  return hour < 0 || hour >= MAX_HOUR ? undefined : hour
}
