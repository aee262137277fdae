import { OTHER } from './usage/dimensions.js'

/** Label value for requests that carried no (valid) key; everything past the cap is `other`. */
export const NO_KEY_LABEL = 'none'
/** The key name the usage log records for a turn without one (auth/api-keys.ts reserves it). */
export const ANONYMOUS_KEY_NAME = 'anonymous'

/**
 * Bounded label values for the key-name label of the Prometheus series: a name is used as is only
 * while it is a configured key's name and fewer than `cap` names have been used; anything else is
 * `other`, so neither a stream of invented names nor a huge keys file can grow the series without
 * bound. Never the key itself: only names reach here.
 */
export class KeyLabels {
  readonly #cap: number
  readonly #isConfigured: (name: string) => boolean
  readonly #used = new Set<string>()

  constructor (cap: number, isConfigured: (name: string) => boolean) {
    this.#cap = cap
    this.#isConfigured = isConfigured
  }

  of (name: string | null | undefined): string {
    if (name === null || name === undefined || name === ANONYMOUS_KEY_NAME) return NO_KEY_LABEL
    if (this.#used.has(name)) return name
    if (this.#used.size >= this.#cap || !this.#isConfigured(name)) return OTHER
    this.#used.add(name)
    return name
  }
}
