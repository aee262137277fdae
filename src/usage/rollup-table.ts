import { DIMENSION_CAPS } from './dimensions.js'
import { VALUE_COUNT } from './usage-values.js'

/** The columns of an hourly table, as the sidecar stores them. */
export interface RollupColumns {
  rows: number
  periods: Int32Array
  keys: Uint16Array
  models: Uint16Array
  routes: Uint16Array
  /** VALUE_COUNT numbers per row. */
  values: Float64Array
  /** Hours with events, and the byte range of the file their lines lie in. */
  spanHours: Int32Array
  spanStarts: Float64Array
  spanEnds: Float64Array
}

const cellKey = (period: number, key: number, model: number, route: number): number =>
  ((period * DIMENSION_CAPS.key + key) * DIMENSION_CAPS.model + model) * DIMENSION_CAPS.route + route

/**
 * The rollup of one log file at one resolution (hours, or days for long windows): one row per
 * (period, key, model, route) that had a request, with the sums of USAGE_VALUES, in typed arrays
 * (about 70 bytes a row, no object per row), so a year of a busy log is a few hundred thousand
 * hourly rows and a few ten thousand daily ones. The rows of each period are listed, so a
 * query reads only the periods it needs. An hourly table also keeps, for each hour, the byte
 * range of the file its events lie in: a window that starts or ends inside an hour reads just
 * those bytes for the exact answer.
 */
export class RollupTable {
  rows = 0
  periods: Int32Array
  keys: Uint16Array
  models: Uint16Array
  routes: Uint16Array
  values: Float64Array
  readonly spans = new Map<number, { start: number, end: number }>()
  /** The first and last period with a row (Infinity / -Infinity while empty). */
  minPeriod = Number.POSITIVE_INFINITY
  maxPeriod = Number.NEGATIVE_INFINITY
  /** The rows of each period. */
  readonly #rowsOf = new Map<number, number[]>()
  /** Row of each cell key; built on the first add, so a table loaded only to be read costs no map. */
  #index: Map<number, number> | undefined

  constructor (capacity = 64) {
    this.periods = new Int32Array(capacity)
    this.keys = new Uint16Array(capacity)
    this.models = new Uint16Array(capacity)
    this.routes = new Uint16Array(capacity)
    this.values = new Float64Array(capacity * VALUE_COUNT)
  }

  static fromColumns (c: RollupColumns): RollupTable {
    const table = new RollupTable(0)
    table.rows = c.rows
    table.periods = c.periods
    table.keys = c.keys
    table.models = c.models
    table.routes = c.routes
    table.values = c.values
    for (let i = 0; i < c.spanHours.length; i++) table.spans.set(c.spanHours[i] ?? 0, { start: c.spanStarts[i] ?? 0, end: c.spanEnds[i] ?? 0 })
    for (let row = 0; row < table.rows; row++) table.#listRow(row)
    return table
  }

  /** The same sums by day (period / 24) instead of by hour. */
  daily (): RollupTable {
    const days = new RollupTable(Math.max(64, this.rows >> 3))
    for (let row = 0; row < this.rows; row++) {
      days.add(Math.floor((this.periods[row] ?? 0) / 24), this.keys[row] ?? 0, this.models[row] ?? 0, this.routes[row] ?? 0, this.values, undefined, row * VALUE_COUNT)
    }
    return days
  }

  /** The rows of one period. */
  rowsOf (period: number): readonly number[] {
    return this.#rowsOf.get(period) ?? []
  }

  #listRow (row: number): void {
    const period = this.periods[row] ?? 0
    const rows = this.#rowsOf.get(period)
    if (rows === undefined) this.#rowsOf.set(period, [row])
    else rows.push(row)
    if (period < this.minPeriod) this.minPeriod = period
    if (period > this.maxPeriod) this.maxPeriod = period
  }

  /**
   * A copy of the columns, taken at once: the table may go on growing while the copy is being
   * written, and the sidecar must hold exactly what its `indexed` offset says.
   */
  columns (): RollupColumns {
    const hours = [...this.spans.keys()]
    return {
      rows: this.rows,
      periods: this.periods.slice(0, this.rows),
      keys: this.keys.slice(0, this.rows),
      models: this.models.slice(0, this.rows),
      routes: this.routes.slice(0, this.rows),
      values: this.values.slice(0, this.rows * VALUE_COUNT),
      spanHours: Int32Array.from(hours),
      spanStarts: Float64Array.from(hours, (h) => this.spans.get(h)?.start ?? 0),
      spanEnds: Float64Array.from(hours, (h) => this.spans.get(h)?.end ?? 0)
    }
  }

  /** Adds VALUE_COUNT sums from `values[at]` to a cell, and (for an hourly table) the bytes the event's line takes. */
  add (period: number, key: number, model: number, route: number, values: Float64Array, line?: { start: number, end: number } | undefined, at = 0): void {
    const index = this.#index ?? this.#buildIndex()
    const cell = cellKey(period, key, model, route)
    let row = index.get(cell)
    if (row === undefined) {
      if (this.rows === this.periods.length) this.#grow()
      row = this.rows++
      this.periods[row] = period
      this.keys[row] = key
      this.models[row] = model
      this.routes[row] = route
      index.set(cell, row)
      this.#listRow(row)
    }
    const base = row * VALUE_COUNT
    for (let i = 0; i < VALUE_COUNT; i++) this.values[base + i] = (this.values[base + i] ?? 0) + (values[at + i] ?? 0)
    if (line === undefined) return
    const span = this.spans.get(period)
    if (span === undefined) this.spans.set(period, { start: line.start, end: line.end })
    else {
      if (line.start < span.start) span.start = line.start
      if (line.end > span.end) span.end = line.end
    }
  }

  #buildIndex (): Map<number, number> {
    const index = new Map<number, number>()
    for (let row = 0; row < this.rows; row++) {
      index.set(cellKey(this.periods[row] ?? 0, this.keys[row] ?? 0, this.models[row] ?? 0, this.routes[row] ?? 0), row)
    }
    this.#index = index
    return index
  }

  #grow (): void {
    const capacity = Math.max(64, this.periods.length * 2)
    const grow = <T extends Int32Array | Uint16Array | Float64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(capacity * per)
      next.set(old.subarray(0, this.rows * per))
      return next
    }
    this.periods = grow(this.periods, (n) => new Int32Array(n))
    this.keys = grow(this.keys, (n) => new Uint16Array(n))
    this.models = grow(this.models, (n) => new Uint16Array(n))
    this.routes = grow(this.routes, (n) => new Uint16Array(n))
    this.values = grow(this.values, (n) => new Float64Array(n), VALUE_COUNT)
  }

  /** Drops the add-index of a table that will not grow any more (a rotated file): memory back. */
  freeze (): void {
    this.#index = undefined
  }
}
