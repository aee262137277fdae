/** What @fastify/rate-limit's stores report for a key. */
export interface RateLimitState {
  /** Requests counted against `max`: beyond it, the request is refused. */
  current: number
  /** Milliseconds until the key may send again (refused) or until its bucket is full (allowed). */
  ttl: number
}

type Callback = (err: Error | null, state: RateLimitState) => void

interface Bucket { tokens: number, at: number }

/**
 * A token-bucket store for @fastify/rate-limit, whose own stores count fixed windows: `max`
 * requests may come at once (the burst) and the bucket refills at `max / timeWindow`, which is
 * Traefik's average/burst model, so the in-app limit behaves like the edge's. The map is bounded
 * (least recently used keys forgotten first), so a flood of keys cannot grow memory without end.
 */
export class TokenBucketStore {
  readonly #maxKeys: number
  readonly #buckets = new Map<string, Bucket>()
  readonly #now: () => number

  constructor (opts: { maxKeys?: number, now?: () => number } = {}) {
    this.#maxKeys = opts.maxKeys ?? 10_000
    this.#now = opts.now ?? Date.now
  }

  #refilled (key: string, timeWindow: number, max: number): Bucket {
    const now = this.#now()
    const bucket = this.#buckets.get(key) ?? { tokens: max, at: now }
    bucket.tokens = Math.min(max, bucket.tokens + ((now - bucket.at) * max) / timeWindow)
    bucket.at = now
    return bucket
  }

  #state (bucket: Bucket, timeWindow: number, max: number, refused: boolean): RateLimitState {
    const msPerToken = timeWindow / max
    if (refused) return { current: max + 1, ttl: Math.ceil((1 - bucket.tokens) * msPerToken) }
    return { current: Math.min(max, Math.ceil(max - bucket.tokens)), ttl: Math.ceil((max - bucket.tokens) * msPerToken) }
  }

  incr (key: string, cb: Callback, timeWindow: number, max: number): void {
    const bucket = this.#refilled(key, timeWindow, max)
    // Re-inserted, so the map's order is least recently used first.
    this.#buckets.delete(key)
    this.#buckets.set(key, bucket)
    if (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    const refused = bucket.tokens < 1
    if (!refused) bucket.tokens -= 1
    cb(null, this.#state(bucket, timeWindow, max, refused))
  }

  read (key: string, cb: Callback, timeWindow: number, max: number): void {
    const bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      cb(null, { current: 0, ttl: 0 })
      return
    }
    const peek = { ...bucket }
    peek.tokens = Math.min(max, peek.tokens + ((this.#now() - peek.at) * max) / timeWindow)
    cb(null, this.#state(peek, timeWindow, max, false))
  }

  child (): TokenBucketStore {
    return new TokenBucketStore({ maxKeys: this.#maxKeys, now: this.#now })
  }
}
