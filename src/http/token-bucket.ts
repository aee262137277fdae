/**
 * Token buckets by key: `ratePerSecond` refill, `burst` capacity. The map is bounded (oldest
 * keys forgotten first), so a flood of distinct keys cannot grow memory without end.
 */
export class TokenBuckets {
  readonly #rate: number
  readonly #burst: number
  readonly #maxKeys: number
  readonly #buckets = new Map<string, { tokens: number, at: number }>()

  constructor (ratePerSecond: number, burst: number, maxKeys = 10_000) {
    this.#rate = ratePerSecond
    this.#burst = burst
    this.#maxKeys = maxKeys
  }

  /** Takes one token; returns 0 when allowed, else the seconds until one is available. */
  take (key: string, now = Date.now()): number {
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now }
    bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) / 1000) * this.#rate)
    bucket.at = now
    // Re-insert so the map's order is least-recently-used first.
    this.#buckets.delete(key)
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return (1 - bucket.tokens) / this.#rate
  }
}
