import type * as NodeCrypto from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import { KeyRing, keyDigest } from '../../../src/auth/key-ring.js'

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>()
  const timingSafeEqual = vi.fn(actual.timingSafeEqual)
  return { ...actual, default: { ...actual, timingSafeEqual }, timingSafeEqual }
})
const crypto = await import('node:crypto')

describe('KeyRing', () => {
  const ring = new KeyRing([{ name: 'alice', key: 'key-a' }, { name: 'bob', key: 'key-b' }, { name: 'ci', key: 'key-c' }])

  it('names the key presented, and nothing for a wrong or missing one', () => {
    expect(ring.match('key-a')).toBe('alice')
    expect(ring.match('key-c')).toBe('ci')
    expect(ring.match('key-d')).toBeUndefined()
    expect(ring.match(undefined)).toBeUndefined()
    expect(ring.match('')).toBeUndefined()
    expect(ring.names()).toEqual(['alice', 'bob', 'ci'])
  })

  it('compares with every key, 32 bytes each, whichever key (if any) matches', () => {
    const compare = vi.mocked(crypto.timingSafeEqual)
    for (const presented of ['key-a', 'key-c', 'wrong', undefined]) {
      compare.mockClear()
      ring.match(presented)
      expect(compare.mock.calls.map(([a, b]) => [(a as Buffer).length, (b as Buffer).length]), String(presented)).toEqual([[32, 32], [32, 32], [32, 32]])
    }
  })

  it('swaps the whole set at once', () => {
    const r = new KeyRing([{ name: 'old', key: 'k1' }])
    r.replace([{ name: 'new', key: 'k2' }])
    expect([r.match('k1'), r.match('k2'), r.size]).toEqual([undefined, 'new', 1])
    expect(keyDigest('x')).toHaveLength(32)
  })
})
