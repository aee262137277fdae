import { DIMENSION_CAPS } from './dimensions.js'
import { VALUE_COUNT } from './usage-values.js'

/** The columns of a table, as the sidecar stores them. */
export interface RollupColumns {
  rows: number
  hours: Int32Array
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

const cellKey = (hour: number, key: number, model: number, route: number): number =>
  ((hour * DIMENSION_CAPS.key + key) * DIMENSION_CAPS.model + model) * DIMENSION_CAPS.route + route

/**
 * The hourly rollup of one log file: one row per (hour, key, model, route) that had a request,
 * with the sums of USAGE_VALUES, in typed arrays (about 70 bytes a row, no object per row), so a
 * year of a busy log is a few hundred thousand rows that a query scans in milliseconds. For each
 * hour it also keeps the byte range of the file its events lie in: a query whose window starts or
 * ends inside an hour reads just those bytes for the exact answer.
 */
export class RollupTable {
  rows = 0
  hours: Int32Array
  keys: Uint16Array
  models: Uint16Array
  routes: Uint16Array
  values: Float64Array
  readonly spans = new Map<number, { start: number, end: number }>()
  /** Row of each cell key; built on the first add, so a table loaded only to be read costs no map. */
  #index: Map<number, number> | undefined

  constructor (capacity = 64) {
    this.hours = new Int32Array(capacity)
    this.keys = new Uint16Array(capacity)
    this.models = new Uint16Array(capacity)
    this.routes = new Uint16Array(capacity)
    this.values = new Float64Array(capacity * VALUE_COUNT)
  }

  static fromColumns (c: RollupColumns): RollupTable {
    const table = new RollupTable(0)
    table.rows = c.rows
    table.hours = c.hours
    table.keys = c.keys
    table.models = c.models
    table.routes = c.routes
    table.values = c.values
    for (let i = 0; i < c.spanHours.length; i++) {
      table.spans.set(c.spanHours[i] ?? 0, { start: c.spanStarts[i] ?? 0, end: c.spanEnds[i] ?? 0 })
    }
    return table
  }

  columns (): RollupColumns {
    const hours = [...this.spans.keys()]
    return {
      rows: this.rows,
      hours: this.hours.subarray(0, this.rows),
      keys: this.keys.subarray(0, this.rows),
      models: this.models.subarray(0, this.rows),
      routes: this.routes.subarray(0, this.rows),
      values: this.values.subarray(0, this.rows * VALUE_COUNT),
      spanHours: Int32Array.from(hours),
      spanStarts: Float64Array.from(hours, (h) => this.spans.get(h)?.start ?? 0),
      spanEnds: Float64Array.from(hours, (h) => this.spans.get(h)?.end ?? 0)
    }
  }

  /** Adds one event's values (VALUE_COUNT numbers from `values[at]`) and the bytes its line takes. */
  add (hour: number, key: number, model: number, route: number, values: Float64Array, line: { start: number, end: number }): void {
    const index = this.#index ?? this.#buildIndex()
    const cell = cellKey(hour, key, model, route)
    let row = index.get(cell)
    if (row === undefined) {
      if (this.rows === this.hours.length) this.#grow()
      row = this.rows++
      this.hours[row] = hour
      this.keys[row] = key
      this.models[row] = model
      this.routes[row] = route
      index.set(cell, row)
    }
    const base = row * VALUE_COUNT
    for (let i = 0; i < VALUE_COUNT; i++) this.values[base + i] = (this.values[base + i] ?? 0) + (values[i] ?? 0)
    const span = this.spans.get(hour)
    if (span === undefined) this.spans.set(hour, { start: line.start, end: line.end })
    else {
      if (line.start < span.start) span.start = line.start
      if (line.end > span.end) span.end = line.end
    }
  }

  #buildIndex (): Map<number, number> {
    const index = new Map<number, number>()
    for (let row = 0; row < this.rows; row++) {
      index.set(cellKey(this.hours[row] ?? 0, this.keys[row] ?? 0, this.models[row] ?? 0, this.routes[row] ?? 0), row)
    }
    this.#index = index
    return index
  }

  #grow (): void {
    const capacity = Math.max(64, this.hours.length * 2)
    const grow = <T extends Int32Array | Uint16Array | Float64Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(capacity * per)
      next.set(old.subarray(0, this.rows * per))
      return next
    }
    this.hours = grow(this.hours, (n) => new Int32Array(n))
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
