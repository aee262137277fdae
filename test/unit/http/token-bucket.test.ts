import { describe, expect, it } from 'vitest'
import { TokenBucketStore, type RateLimitState } from '../../../src/http/token-bucket.js'

function take (store: TokenBucketStore, key: string, windowMs: number, max: number): RateLimitState {
  let state: RateLimitState | undefined
  store.incr(key, (_err, s) => { state = s }, windowMs, max)
  return state as RateLimitState
}

describe('TokenBucketStore (average/burst, as Traefik)', () => {
  it('allows a burst of max, then one request per refilled token', () => {
    let now = 0
    const store = new TokenBucketStore({ now: () => now })
    // burst 2, average 1/s: the bucket refills 2 tokens in 2000 ms.
    expect(take(store, 'k', 2000, 2).current).toBeLessThanOrEqual(2)
    expect(take(store, 'k', 2000, 2).current).toBeLessThanOrEqual(2)
    const refused = take(store, 'k', 2000, 2)
    expect(refused.current).toBe(3)
    expect(refused.ttl).toBe(1000)
    now = 1000
    expect(take(store, 'k', 2000, 2).current).toBeLessThanOrEqual(2)
    expect(take(store, 'k', 2000, 2).current).toBe(3)
  })

  it('keeps keys apart and forgets the least recently used beyond its bound', () => {
    const now = 0
    const store = new TokenBucketStore({ now: () => now, maxKeys: 2 })
    take(store, 'a', 1000, 1)
    expect(take(store, 'a', 1000, 1).current).toBe(2)
    expect(take(store, 'b', 1000, 1).current).toBe(1)
    take(store, 'c', 1000, 1)
    // 'a' was forgotten, so it starts with a full bucket again.
    expect(take(store, 'a', 1000, 1).current).toBe(1)
  })

  it('reads without taking', () => {
    const store = new TokenBucketStore({ now: () => 0 })
    let seen: RateLimitState | undefined
    store.read('x', (_e, s) => { seen = s }, 1000, 5)
    expect(seen).toEqual({ current: 0, ttl: 0 })
    take(store, 'x', 1000, 5)
    store.read('x', (_e, s) => { seen = s }, 1000, 5)
    expect(seen?.current).toBe(1)
    store.read('x', (_e, s) => { seen = s }, 1000, 5)
    expect(seen?.current).toBe(1)
  })
})
