import { describe, expect, it } from 'vitest'
import { AsyncQueue } from '../../../src/backends/async-queue.js'
import { collect, rejectionOf } from '../support.js'

describe('AsyncQueue', () => {
  it('delivers items pushed before and after the consumer waits, in order', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    q.push(2)
    expect(await q.next()).toEqual({ value: 1, done: false })
    expect(await q.next()).toEqual({ value: 2, done: false })
    const waiting = q.next()
    q.push(3)
    expect(await waiting).toEqual({ value: 3, done: false })
  })

  it('ends: pending waiter resolves done, queued items still come first', async () => {
    const q = new AsyncQueue<string>()
    const waiting = q.next()
    q.end()
    expect(await waiting).toEqual({ value: undefined, done: true })
    const q2 = new AsyncQueue<string>()
    q2.push('a')
    q2.end()
    q2.push('ignored')
    expect(q2.ended).toBe(true)
    expect(await collect(q2)).toEqual(['a'])
    expect(await q2.next()).toEqual({ value: undefined, done: true })
  })

  it('fails: queued items first, then the reason, for every later read', async () => {
    const q = new AsyncQueue<number>()
    q.push(1)
    const reason = new Error('child died')
    q.fail(reason)
    q.fail(new Error('second failure is ignored'))
    q.end()
    expect(q.ended).toBe(true)
    expect(await q.next()).toEqual({ value: 1, done: false })
    expect(await rejectionOf(q.next())).toBe(reason)
    expect(await rejectionOf(q.next())).toBe(reason)
  })

  it('rejects a pending waiter on fail', async () => {
    const q = new AsyncQueue<number>()
    const waiting = q.next()
    const reason = new Error('aborted')
    q.fail(reason)
    expect(await rejectionOf(waiting)).toBe(reason)
  })

  it('fails when the consumer falls more than `limit` items behind, after delivering what it kept', async () => {
    const q = new AsyncQueue<number>(3)
    for (let i = 0; i < 4; i++) q.push(i)
    expect(q.ended).toBe(true)
    expect([(await q.next()).value, (await q.next()).value, (await q.next()).value]).toEqual([0, 1, 2])
    const err = await rejectionOf(q.next())
    expect((err as Error).message).toBe('consumer fell more than 3 events behind')
  })

  it('never overflows while the consumer keeps up', async () => {
    const q = new AsyncQueue<number>(1)
    for (let i = 0; i < 10; i++) {
      const waiting = q.next()
      q.push(i)
      expect(await waiting).toEqual({ value: i, done: false })
    }
    expect(q.ended).toBe(false)
  })

  it('iterates with for await', async () => {
    const q = new AsyncQueue<number>()
    setTimeout(() => { q.push(1); q.push(2); q.end() }, 5)
    expect(await collect(q)).toEqual([1, 2])
  })
})
