import type { Dimension, Dimensions } from './dimensions.js'
import type { RollupTable } from './rollup-table.js'
import type { UsageBucket, UsageBy, UsageGroup, UsageRow, UsageScope, UsageSummary } from './summary-schema.js'
import { HOUR_MS, VALUE_COUNT } from './usage-values.js'

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

/** Which ids of a dimension pass a filter (1) or not (0); undefined: all of them. */
type IdFilter = Uint8Array | undefined

function idFilter (dimension: Dimension, names: readonly string[] | undefined): IdFilter {
  if (names === undefined) return undefined
  const allowed = new Uint8Array(dimension.cap)
  // A value never logged has no id and matches nothing.
  for (const name of names) {
    const id = dimension.find(name)
    if (id !== undefined) allowed[id] = 1
  }
  return allowed
}

/** Buckets × breakdown values × sums above which the per-bucket breakdown is kept sparse. */
const DENSE_LIMIT = 4_000_000

const whole = (sums: Float64Array, i: number): number => Math.round(sums[i] ?? 0)

/** One row's sums as response fields, in USAGE_VALUES order (an object literal: one shape for all rows). */
const rowOf = (s: Float64Array, at: number): Omit<UsageRow, 'name'> => ({
  requests: whole(s, at),
  prompt_tokens_est: whole(s, at + 1),
  completion_tokens_est: whole(s, at + 2),
  total_tokens_est: whole(s, at + 3),
  cached_tokens: whole(s, at + 4),
  reasoning_tokens: whole(s, at + 5),
  error_requests: whole(s, at + 6),
  estimated_requests: whole(s, at + 7),
  total_duration_ms: whole(s, at + 8)
})

/**
 * Sums rollup rows and single events (the partial hours at a window's edges) into the response
 * of `/v1/usage`: totals, buckets per hour or day, and a breakdown by key, model or route. The
 * sums live in flat typed arrays indexed by bucket and breakdown id (the hours the data spans,
 * not the window asked for, so `start=0&group=hour` costs what the log holds): a year of
 * rollups is summed in a few milliseconds, with no object or map lookup per row.
 */
export class SummaryBuilder {
  readonly #query: UsageQuery
  readonly #dims: Dimensions
  readonly #key: IdFilter
  readonly #model: IdFilter
  readonly #route: IdFilter
  readonly #totals = new Float64Array(VALUE_COUNT)
  /** Hours per bucket. */
  readonly #width: number
  readonly #firstSlot: number
  readonly #slots: number
  readonly #buckets: Float64Array
  readonly #byCount: number
  readonly #byTotals: Float64Array
  /** Per bucket and breakdown id: dense when small enough, else by `slot * byCount + id`. */
  readonly #bucketBy: Float64Array | Map<number, Float64Array>

  /** `hours`: the first and last hour the data holds (buckets are only ever needed there). */
  constructor (query: UsageQuery, dims: Dimensions, hours: { min: number, max: number } = { min: 0, max: -1 }) {
    this.#query = query
    this.#dims = dims
    this.#key = idFilter(dims.key, query.keys)
    this.#model = idFilter(dims.model, query.models)
    this.#route = idFilter(dims.route, query.routes)
    this.#width = query.group === 'day' ? 24 : 1
    const from = Math.max(hours.min, Math.floor(query.start.getTime() / HOUR_MS))
    const to = Math.min(hours.max, Math.floor((query.end.getTime() - 1) / HOUR_MS))
    this.#firstSlot = Math.floor(from / this.#width)
    this.#slots = query.group === undefined || to < from ? 0 : Math.floor(to / this.#width) - this.#firstSlot + 1
    this.#buckets = new Float64Array(this.#slots * VALUE_COUNT)
    this.#byCount = query.by === undefined ? 0 : dims[query.by].names().length
    this.#byTotals = new Float64Array(this.#byCount * VALUE_COUNT)
    const dense = this.#slots * this.#byCount * VALUE_COUNT
    this.#bucketBy = dense <= DENSE_LIMIT ? new Float64Array(dense) : new Map()
  }

  /** Whether a cell of these dimension ids passes the filters. */
  matches (key: number, model: number, route: number): boolean {
    return (this.#key === undefined || this.#key[key] === 1) && (this.#model === undefined || this.#model[model] === 1) && (this.#route === undefined || this.#route[route] === 1)
  }

  /**
   * Adds the rows of a table (those listed, or all) whose period is in [from, to) and that pass
   * the filters; a period is `hoursPer` hours long (1, or 24 for a daily table).
   */
  addRows (t: RollupTable, rows: readonly number[] | undefined, from: number, to: number, hoursPer: number): void {
    const n = rows === undefined ? t.rows : rows.length
    for (let i = 0; i < n; i++) {
      const row = rows === undefined ? i : rows[i] ?? 0
      const period = t.periods[row] ?? 0
      if (period < from || period >= to) continue
      const key = t.keys[row] ?? 0
      const model = t.models[row] ?? 0
      const route = t.routes[row] ?? 0
      if (this.matches(key, model, route)) this.add(period * hoursPer, key, model, route, t.values, row * VALUE_COUNT)
    }
  }

  /** Adds VALUE_COUNT sums from `values[at]` of one hour and dimension ids (already filtered). */
  add (hour: number, key: number, model: number, route: number, values: Float64Array, at: number): void {
    const totals = this.#totals
    for (let i = 0; i < VALUE_COUNT; i++) totals[i] = (totals[i] ?? 0) + (values[at + i] ?? 0)
    const by = this.#query.by
    const byId = by === 'key' ? key : by === 'model' ? model : route
    if (by !== undefined) addAt(this.#byTotals, byId * VALUE_COUNT, values, at)
    if (this.#slots === 0) return
    const slot = Math.floor(hour / this.#width) - this.#firstSlot
    if (slot < 0 || slot >= this.#slots) return
    addAt(this.#buckets, slot * VALUE_COUNT, values, at)
    if (by === undefined) return
    const cell = slot * this.#byCount + byId
    if (this.#bucketBy instanceof Float64Array) addAt(this.#bucketBy, cell * VALUE_COUNT, values, at)
    else {
      let sums = this.#bucketBy.get(cell)
      if (sums === undefined) {
        sums = new Float64Array(VALUE_COUNT)
        this.#bucketBy.set(cell, sums)
      }
      addAt(sums, 0, values, at)
    }
  }

  /** The breakdown rows with requests, largest first. */
  #rows (sumsOf: (id: number) => [Float64Array, number] | undefined): UsageRow[] {
    const by = this.#query.by
    if (by === undefined) return []
    const dimension = this.#dims[by]
    const rows: UsageRow[] = []
    for (let id = 0; id < this.#byCount; id++) {
      const found = sumsOf(id)
      if (found !== undefined && (found[0][found[1]] ?? 0) > 0) rows.push({ name: dimension.name(id), ...rowOf(found[0], found[1]) })
    }
    return rows.sort((a, b) => b.total_tokens_est - a.total_tokens_est || b.requests - a.requests || a.name.localeCompare(b.name))
  }

  #bucketRows (slot: number): UsageRow[] {
    const bucketBy = this.#bucketBy
    return this.#rows((id) => {
      const cell = slot * this.#byCount + id
      if (bucketBy instanceof Float64Array) return [bucketBy, cell * VALUE_COUNT]
      const sums = bucketBy.get(cell)
      return sums === undefined ? undefined : [sums, 0]
    })
  }

  result (): UsageSummary {
    const q = this.#query
    const { requests, ...totals } = rowOf(this.#totals, 0)
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
      const buckets: UsageBucket[] = []
      for (let slot = 0; slot < this.#slots; slot++) {
        if ((this.#buckets[slot * VALUE_COUNT] ?? 0) === 0) continue
        buckets.push({
          ts: new Date((this.#firstSlot + slot) * this.#width * HOUR_MS).toISOString(),
          ...rowOf(this.#buckets, slot * VALUE_COUNT),
          ...(q.by === undefined ? {} : { breakdown: this.#bucketRows(slot) })
        })
      }
      summary.buckets = buckets
    }
    if (q.by !== undefined) summary.breakdown = this.#rows((id) => [this.#byTotals, id * VALUE_COUNT])
    return summary
  }
}

function addAt (into: Float64Array, base: number, values: Float64Array, at: number): void {
  for (let i = 0; i < VALUE_COUNT; i++) into[base + i] = (into[base + i] ?? 0) + (values[at + i] ?? 0)
}
