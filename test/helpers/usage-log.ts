import { createWriteStream } from 'node:fs'
import { once } from 'node:events'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { seeded } from './seeded.js'

export interface SyntheticLog {
  count: number
  /** Events spread evenly (with jitter) over [startMs, endMs), in time order, as a server writes them. */
  startMs: number
  endMs: number
  keys?: readonly string[]
  models?: readonly string[]
  routes?: readonly string[]
  seed?: number
}

export const SYNTHETIC_KEYS = ['default', 'alice', 'bob', 'ci', 'carol', 'dave']
export const SYNTHETIC_MODELS = ['gpt-5.5', 'gpt-5.6-codex', 'gpt-6-mini', 'gpt-5.5-high', 'gpt-6']
export const SYNTHETIC_ROUTES = ['/v1/chat/completions', '/v1/responses', '/v1/messages']

/** Picks with a skew (the first values much more often), as real teams' usage is. */
const skewed = <T>(values: readonly T[], r: number): T => values[Math.min(values.length - 1, Math.floor(values.length * r * r))] as T

/**
 * Usage events as a user's log holds them: several keys, models and routes (a few much busier than
 * the rest), real and estimated counts, cached and reasoning tokens, some errors and streams.
 */
export function * syntheticEvents (opts: SyntheticLog): Generator<UsageEvent> {
  const random = seeded(opts.seed ?? 1)
  const keys = opts.keys ?? SYNTHETIC_KEYS
  const models = opts.models ?? SYNTHETIC_MODELS
  const routes = opts.routes ?? SYNTHETIC_ROUTES
  const step = (opts.endMs - opts.startMs) / Math.max(1, opts.count)
  for (let i = 0; i < opts.count; i++) {
    const ts = Math.min(opts.endMs - 1, Math.floor(opts.startMs + i * step + random() * step))
    const estimated = random() < 0.1
    const prompt = Math.floor(200 + random() * 6000)
    const completion = Math.floor(20 + random() * 1500)
    const status = random() < 0.04 ? (random() < 0.5 ? 429 : 502) : 200
    const route = skewed(routes, random())
    const event: UsageEvent = {
      ts: new Date(ts).toISOString(),
      route,
      method: 'POST',
      requested_model: 'codex-5',
      effective_model: skewed(models, random()),
      stream: random() < 0.7,
      prompt_tokens_est: prompt,
      completion_tokens_est: completion,
      total_tokens_est: prompt + completion,
      duration_ms: Math.floor(300 + random() * 9000),
      status,
      user_agent: 'OpenAI/JS 6.49.0',
      dialect: route.includes('responses') ? 'responses' : route.includes('messages') ? 'messages' : 'chat',
      key_name: skewed(keys, random()),
      usage_source: estimated ? 'estimate' : 'codex',
      request_id: `req-${opts.seed ?? 1}-${i}`
    }
    if (!estimated) {
      event.cached_tokens = Math.floor(prompt * random() * 0.8)
      event.reasoning_tokens = Math.floor(completion * random() * 0.6)
    }
    yield event
  }
}

/** Writes events as NDJSON, streaming (a million events never sit in memory at once). */
export async function writeUsageLog (path: string, events: Iterable<UsageEvent>, flags = 'w'): Promise<number> {
  const out = createWriteStream(path, { flags })
  let n = 0
  for (const event of events) {
    n++
    if (!out.write(`${JSON.stringify(event)}\n`)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return n
}

export interface ReferenceQuery {
  start: Date
  end: Date
  group?: 'hour' | 'day' | undefined
  by?: 'key' | 'model' | 'route' | undefined
  keys?: readonly string[] | undefined
  models?: readonly string[] | undefined
  routes?: readonly string[] | undefined
}

type Sums = Record<string, number>
const FIELDS = ['prompt_tokens_est', 'completion_tokens_est', 'total_tokens_est', 'cached_tokens', 'reasoning_tokens', 'error_requests', 'estimated_requests', 'total_duration_ms'] as const

function add (into: Sums, e: UsageEvent): void {
  into.requests = (into.requests ?? 0) + 1
  const v: Record<typeof FIELDS[number], number> = {
    prompt_tokens_est: e.prompt_tokens_est,
    completion_tokens_est: e.completion_tokens_est,
    total_tokens_est: e.total_tokens_est,
    cached_tokens: e.cached_tokens ?? 0,
    reasoning_tokens: e.reasoning_tokens ?? 0,
    error_requests: e.status >= 400 ? 1 : 0,
    estimated_requests: e.usage_source === 'codex' ? 0 : 1,
    total_duration_ms: e.duration_ms
  }
  for (const f of FIELDS) into[f] = (into[f] ?? 0) + v[f]
}

const dimension = (e: UsageEvent, by: 'key' | 'model' | 'route'): string => by === 'key' ? e.key_name ?? 'default' : by === 'model' ? e.effective_model : e.route

/**
 * What `/v1/usage` must answer, computed the plain way (every event, one by one): the oracle the
 * rollups are checked against.
 */
export function referenceSummary (events: Iterable<UsageEvent>, q: ReferenceQuery): { totals: Sums, buckets: Map<string, Sums>, breakdown: Map<string, Sums> } {
  const totals: Sums = {}
  const buckets = new Map<string, Sums>()
  const breakdown = new Map<string, Sums>()
  for (const e of events) {
    const ms = Date.parse(e.ts)
    if (Number.isNaN(ms) || ms < q.start.getTime() || ms >= q.end.getTime()) continue
    if (q.keys !== undefined && !q.keys.includes(e.key_name ?? 'default')) continue
    if (q.models !== undefined && !q.models.includes(e.effective_model)) continue
    if (q.routes !== undefined && !q.routes.includes(e.route)) continue
    add(totals, e)
    if (q.group !== undefined) {
      const d = new Date(ms)
      d.setUTCMinutes(0, 0, 0)
      if (q.group === 'day') d.setUTCHours(0)
      const key = d.toISOString()
      const bucket = buckets.get(key) ?? {}
      add(bucket, e)
      buckets.set(key, bucket)
    }
    if (q.by !== undefined) {
      const name = dimension(e, q.by)
      const row = breakdown.get(name) ?? {}
      add(row, e)
      breakdown.set(name, row)
    }
  }
  return { totals, buckets, breakdown }
}
