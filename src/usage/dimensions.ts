/** The value a dimension folds everything into once its dictionary is full. */
export const OTHER = 'other'

/**
 * A bounded dictionary of one dimension's values (key names, models, routes) → small integer ids,
 * so a rollup cell stores three small numbers instead of three strings. Past `cap` values every
 * new one becomes `other` (id 0): a log with endless distinct models cannot grow memory without
 * bound, and the counts stay whole (they are only less detailed).
 */
export class Dimension {
  readonly cap: number
  readonly #ids = new Map<string, number>([[OTHER, 0]])
  readonly #names: string[] = [OTHER]

  constructor (cap: number, names: readonly string[] = []) {
    this.cap = cap
    for (const name of names.slice(1)) this.id(name)
  }

  /** The id of a value, adding it while there is room. */
  id (name: string): number {
    const known = this.#ids.get(name)
    if (known !== undefined) return known
    if (this.#names.length >= this.cap) return 0
    const id = this.#names.length
    this.#names.push(name)
    this.#ids.set(name, id)
    return id
  }

  /** The id of a value already seen, or undefined (a filter on a value never logged matches nothing). */
  find (name: string): number | undefined {
    return this.#ids.get(name)
  }

  name (id: number): string {
    return this.#names[id] ?? OTHER
  }

  /** Every value, by id (index 0 is `other`): what the sidecar stores. */
  names (): readonly string[] {
    return this.#names
  }
}

/** The dimensions a usage cell is keyed by besides its hour. */
export interface Dimensions {
  key: Dimension
  model: Dimension
  route: Dimension
}

/** At most this many distinct values per dimension (ids must fit the cell key, see rollup-table.ts). */
export const DIMENSION_CAPS = { key: 1024, model: 256, route: 64 } as const

export function newDimensions (names?: { key: readonly string[], model: readonly string[], route: readonly string[] }): Dimensions {
  return {
    key: new Dimension(DIMENSION_CAPS.key, names?.key),
    model: new Dimension(DIMENSION_CAPS.model, names?.model),
    route: new Dimension(DIMENSION_CAPS.route, names?.route)
  }
}
