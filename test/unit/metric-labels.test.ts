import { describe, expect, it } from 'vitest'
import { KeyLabels } from '../../src/metric-labels.js'

describe('KeyLabels', () => {
  it('uses configured names up to the cap, folds the rest into other, and no key into none', () => {
    const configured = new Set(['a', 'b', 'c', 'd'])
    const labels = new KeyLabels(2, (n) => configured.has(n))
    expect([labels.of('a'), labels.of('b'), labels.of('c'), labels.of('a')]).toEqual(['a', 'b', 'other', 'a'])
    expect(labels.of('invented-by-a-client')).toBe('other')
    expect([labels.of(null), labels.of(undefined), labels.of('anonymous')]).toEqual(['none', 'none', 'none'])
  })

  it('a name that is no longer configured is not taken up (a revoked key in an old log line)', () => {
    const labels = new KeyLabels(10, (n) => n === 'live')
    expect([labels.of('revoked'), labels.of('live')]).toEqual(['other', 'live'])
  })
})
