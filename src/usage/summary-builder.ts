import type { Dimension, Dimensions } from './dimensions.js'
import type { UsageBucket, UsageBy, UsageGroup, UsageRow, UsageScope, UsageSummary } from './summary-schema.js'
import { HOUR_MS, USAGE_VALUES, VALUE_COUNT } from './usage-values.js'

export interface UsageQuery {
  /** Inclusive. */
  start: Date
  /** Exclusive. */
  end: Date
  group?: UsageGroup | undefined
  by?: UsageBy | undefined
  /** Only these key names / models Codex ran / routes (any of each list). */
  keys?: readonly string[] | undefined
  models?: readonly string[] | undefined
  routes?: readonly string[] | undefined
  scope?: UsageScope | undefined
}

/** A filter on one dimension: the ids it lets through, or undefined for everything. */
type IdFilter = Set<number> | undefined

function idFilter (dimension: Dimension, names: readonly string[] | undefined): IdFilter {
  if (names === undefined) return undefined
  // A value never logged has no id and matches nothing.
  return new Set(names.map((n) => dimension.find(n)).filter((id): id is number => id !== undefined))
}

type Sums = Float64Array

const addInto = (into: Sums, values: Float64Array, at: number): void => {
  for (let i = 0; i < VALUE_COUNT; i++) into[i] = (into[i] ?? 0) + (values[at + i] ?? 0)
}

const rowOf = (sums: Sums): Omit<UsageRow, 'name'> => {
  const out: Record<string, number> = {}
  for (let i = 0; i < VALUE_COUNT; i++) out[USAGE_VALUES[i] ?? ''] = Math.round(sums[i] ?? 0)
  return out as Omit<UsageRow, 'name'>
}

/**
 * Sums rollup cells and single events (the partial hours at a window's edges) into the response
 * of `/v1/usage`: totals, buckets per hour or day, and a breakdown by key, model or route.
 */
export class SummaryBuilder {
  readonly #query: UsageQuery
  readonly #dims: Dimensions
  readonly #filters: { key: IdFilter, model: IdFilter, route: IdFilter }
  readonly #totals = new Float64Array(VALUE_COUNT)
  readonly #buckets = new Map<number, { sums: Sums, by: Map<number, Sums> }>()
  readonly #breakdown = new Map<number, Sums>()
  /** Hours per bucket. */
  readonly #width: number

  constructor (query: UsageQuery, dims: Dimensions) {
    this.#query = query
    this.#dims = dims
    this.#filters = { key: idFilter(dims.key, query.keys), model: idFilter(dims.model, query.models), route: idFilter(dims.route, query.routes) }
    this.#width = query.group === 'day' ? 24 : 1
  }

  /** Whether a cell of these dimension ids passes the filters. */
  matches (key: number, model: number, route: number): boolean {
    const f = this.#filters
    return (f.key === undefined || f.key.has(key)) && (f.model === undefined || f.model.has(model)) && (f.route === undefined || f.route.has(route))
  }

  /** Adds VALUE_COUNT sums from `values[at]` of one hour and dimension ids (already filtered). */
  add (hour: number, key: number, model: number, route: number, values: Float64Array, at: number): void {
    addInto(this.#totals, values, at)
    const by = this.#query.by
    const byId = by === 'key' ? key : by === 'model' ? model : route
    if (by !== undefined) addInto(this.#sumsOf(this.#breakdown, byId), values, at)
    if (this.#query.group === undefined) return
    const slot = Math.floor(hour / this.#width)
    let bucket = this.#buckets.get(slot)
    if (bucket === undefined) {
      bucket = { sums: new Float64Array(VALUE_COUNT), by: new Map() }
      this.#buckets.set(slot, bucket)
    }
    addInto(bucket.sums, values, at)
    if (by !== undefined) addInto(this.#sumsOf(bucket.by, byId), values, at)
  }

  #sumsOf (map: Map<number, Sums>, id: number): Sums {
    let sums = map.get(id)
    if (sums === undefined) {
      sums = new Float64Array(VALUE_COUNT)
      map.set(id, sums)
    }
    return sums
  }

  #rows (map: Map<number, Sums>): UsageRow[] {
    const by = this.#query.by
    if (by === undefined) return []
    const dimension = this.#dims[by]
    return [...map.entries()]
      .map(([id, sums]) => ({ name: dimension.name(id), ...rowOf(sums) }))
      .sort((a, b) => b.total_tokens_est - a.total_tokens_est || b.requests - a.requests || a.name.localeCompare(b.name))
  }

  result (): UsageSummary {
    const q = this.#query
    const { requests, ...totals } = rowOf(this.#totals)
    const summary: UsageSummary = { start: q.start.toISOString(), end: q.end.toISOString(), total_requests: requests, ...totals }
    if (q.group !== undefined) summary.group = q.group
    if (q.by !== undefined) summary.by = q.by
    if (q.scope !== undefined) summary.scope = q.scope
    const filters: NonNullable<UsageSummary['filters']> = {}
    if (q.keys !== undefined) filters.key = [...q.keys]
    if (q.models !== undefined) filters.model = [...q.models]
    if (q.routes !== undefined) filters.route = [...q.routes]
    if (Object.keys(filters).length > 0) summary.filters = filters
    if (q.group !== undefined) {
      summary.buckets = [...this.#buckets.entries()].sort(([a], [b]) => a - b).map(([slot, bucket]): UsageBucket => ({
        ts: new Date(slot * this.#width * HOUR_MS).toISOString(),
        ...rowOf(bucket.sums),
        ...(q.by === undefined ? {} : { breakdown: this.#rows(bucket.by) })
      }))
    }
    if (q.by !== undefined) summary.breakdown = this.#rows(this.#breakdown)
    return summary
  }
}
