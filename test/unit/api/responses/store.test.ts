import { describe, expect, it } from 'vitest'
import { MemoryResponseStore, type StoredResponse } from '../../../../src/api/responses/store.js'
import type { ResponseObject } from '../../../../src/api/responses/schemas.js'

const entry = (id: string, previousId?: string, keyName = 'alice', padding = ''): StoredResponse => ({
  id,
  keyName,
  previousId,
  response: { id, padding } as unknown as ResponseObject,
  inputItems: [],
  items: [{ type: 'message', role: 'user', content: [{ type: 'text', text: `in ${id}` }] }, { type: 'message', role: 'assistant', content: [{ type: 'text', text: `out ${id}` }] }]
})
const texts = (items: ReturnType<MemoryResponseStore['conversation']>): string[] => (items ?? []).map((i) => (i.type === 'message' && i.content[0]?.type === 'text' ? i.content[0].text : '?'))

describe('MemoryResponseStore', () => {
  it("gives a chain's conversation in order, only to its key", () => {
    const store = new MemoryResponseStore({ maxEntries: 10, maxBytes: 1e6, ttlMs: 1e6 })
    store.put(entry('r1'))
    store.put(entry('r2', 'r1'))
    store.put(entry('r3', 'r2'))
    expect(texts(store.conversation('r3', 'alice'))).toEqual(['in r1', 'out r1', 'in r2', 'out r2', 'in r3', 'out r3'])
    expect(store.conversation('r3', 'bob')).toBeUndefined()
    expect(store.get('r1', 'bob')).toBeUndefined()
    expect(store.delete('r1', 'bob')).toBe(false)
  })

  it('breaks a chain whose link was deleted or expired', () => {
    let now = 0
    const store = new MemoryResponseStore({ maxEntries: 10, maxBytes: 1e6, ttlMs: 100, now: () => now })
    store.put(entry('r1'))
    now = 50
    store.put(entry('r2', 'r1'))
    expect(store.delete('r1', 'alice')).toBe(true)
    expect(store.conversation('r2', 'alice')).toBeUndefined()
    now = 200
    expect(store.get('r2', 'alice')).toBeUndefined()
  })

  it('sweeps out every expired response, however recently it was used', () => {
    let now = 0
    const store = new MemoryResponseStore({ maxEntries: 10, maxBytes: 1e6, ttlMs: 100, now: () => now })
    store.put(entry('old'))
    now = 60
    store.put(entry('young'))
    // A lookup makes `old` the most recently used; it is still the oldest.
    expect(store.get('old', 'alice')).toBeDefined()
    now = 120
    store.sweep()
    expect(store.stats().entries).toBe(1)
    expect(store.get('young', 'alice')).toBeDefined()
  })

  it('is bounded by entries and bytes, least recently used first', () => {
    const store = new MemoryResponseStore({ maxEntries: 3, maxBytes: 1e6, ttlMs: 1e6 })
    for (const id of ['a', 'b', 'c']) store.put(entry(id))
    store.get('a', 'alice')
    store.put(entry('d'))
    expect(['a', 'b', 'c', 'd'].map((id) => store.get(id, 'alice') !== undefined)).toEqual([true, false, true, true])
    expect(store.stats().entries).toBe(3)
    const small = new MemoryResponseStore({ maxEntries: 100, maxBytes: 3000, ttlMs: 1e6 })
    for (let i = 0; i < 50; i++) small.put(entry(`r${i}`, undefined, 'alice', 'x'.repeat(500)))
    expect(small.stats().bytes).toBeLessThanOrEqual(3000)
    expect(small.get('r49', 'alice')).toBeDefined()
    expect(small.get('r0', 'alice')).toBeUndefined()
    // One response larger than the whole store is not kept.
    small.put(entry('huge', undefined, 'alice', 'x'.repeat(10_000)))
    expect(small.get('huge', 'alice')).toBeUndefined()
  })
})
