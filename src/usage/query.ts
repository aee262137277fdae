import type { UsageBucket, UsageGroup, UsageSummary } from './summary-schema.js'

export interface UsageRange {
  start: Date
  end: Date
  group?: UsageGroup | undefined
}

const DAY_MS = 86_400_000
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS }

/** ISO text or epoch seconds/milliseconds; undefined when it is neither. */
export function parseTime (value: string): Date | undefined {
  const trimmed = value.trim()
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    const n = Number(trimmed)
    // Epoch seconds until the year 5138; anything larger is milliseconds.
    const d = new Date(n < 1e11 ? n * 1000 : n)
    return Number.isNaN(d.getTime()) ? undefined : d
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) return undefined
  const d = new Date(trimmed)
  return Number.isNaN(d.getTime()) ? undefined : d
}

function startOfUtcDay (d: Date): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
}

/**
 * Recognises a chat message that is exactly a usage query: `usage today`, `usage yesterday`,
 * `usage last 7d` (m/h/d/w), or `usage start=… end=… [group=hour|day]`. Anything else is a
 * normal prompt and goes to Codex.
 */
export function parseUsageQuery (text: string, now = new Date()): UsageRange | undefined {
  const t = text.trim().toLowerCase().replace(/\s+/g, ' ')
  if (!t.startsWith('usage')) return undefined
  if (t === 'usage today') {
    const start = startOfUtcDay(now)
    return { start, end: new Date(start.getTime() + DAY_MS), group: 'hour' }
  }
  if (t === 'usage yesterday') {
    const end = startOfUtcDay(now)
    return { start: new Date(end.getTime() - DAY_MS), end, group: 'hour' }
  }
  const last = /^usage last (\d{1,5}) ?([mhdw])$/.exec(t)
  if (last !== null) {
    const ms = Number(last[1]) * (UNIT_MS[last[2] ?? 'd'] ?? DAY_MS)
    return { start: new Date(now.getTime() - ms), end: now, group: ms > 2 * DAY_MS ? 'day' : 'hour' }
  }
  const kv = /^usage((?: [a-z]+=\S+)+)$/.exec(t)
  if (kv === null) return undefined
  const fields = new Map((kv[1] ?? '').trim().split(' ').map((pair) => pair.split('=', 2) as [string, string]))
  const start = fields.has('start') ? parseTime(fields.get('start') ?? '') : startOfUtcDay(now)
  const end = fields.has('end') ? parseTime(fields.get('end') ?? '') : now
  const group = fields.get('group')
  if (start === undefined || end === undefined) return undefined
  if ([...fields.keys()].some((k) => k !== 'start' && k !== 'end' && k !== 'group')) return undefined
  if (group !== undefined && group !== 'hour' && group !== 'day') return undefined
  return { start, end, group }
}

type Tokens = 'prompt_tokens_est' | 'completion_tokens_est' | 'total_tokens_est'

/** The answer to a usage query, as the assistant's text. */
export function formatUsageSummary (summary: Pick<UsageSummary, 'start' | 'end' | 'group' | 'total_requests' | Tokens> & {
  buckets?: ReadonlyArray<Pick<UsageBucket, 'ts' | 'requests' | Tokens>> | undefined
}): string {
  const lines = [
    `Usage from ${summary.start} to ${summary.end}: ${summary.total_requests} requests, ` +
    `${summary.prompt_tokens_est} prompt + ${summary.completion_tokens_est} completion = ${summary.total_tokens_est} tokens.`
  ]
  for (const b of summary.buckets ?? []) {
    lines.push(`- ${b.ts}: ${b.requests} requests, ${b.total_tokens_est} tokens (${b.prompt_tokens_est} prompt, ${b.completion_tokens_est} completion)`)
  }
  return lines.join('\n')
}
