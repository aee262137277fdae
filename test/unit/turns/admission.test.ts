import { describe, expect, it } from 'vitest'
import { Admission } from '../../../src/turns/admission.js'
import { ApiError } from '../../../src/errors.js'
import { rejectionOf, sleep } from '../support.js'

const never = (): AbortSignal => new AbortController().signal

describe('Admission', () => {
  it('grants up to maxConcurrency at once, then queues', async () => {
    const a = new Admission({ maxConcurrency: 2, maxQueue: 5, queueTimeoutMs: 10_000 })
    const r1 = await a.acquire(never())
    const r2 = await a.acquire(never())
    let third = false
    const p3 = a.acquire(never()).then((r) => { third = true; return r })
    await sleep(5)
    expect(third).toBe(false)
    expect(a.stats()).toEqual({ active: 2, queued: 1, maxConcurrency: 2, maxQueue: 5 })
    r1()
    const r3 = await p3
    expect(third).toBe(true)
    expect(a.stats()).toEqual({ active: 2, queued: 0, maxConcurrency: 2, maxQueue: 5 })
    r2()
    r3()
    expect(a.stats().active).toBe(0)
  })

  it('serves waiters in FIFO order', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 10, queueTimeoutMs: 10_000 })
    const first = await a.acquire(never())
    const order: number[] = []
    const waiters = [1, 2, 3, 4].map(async (n) => {
      const release = await a.acquire(never())
      order.push(n)
      await sleep(1)
      release()
    })
    await sleep(5)
    expect(a.stats().queued).toBe(4)
    first()
    await Promise.all(waiters)
    expect(order).toEqual([1, 2, 3, 4])
    expect(a.stats()).toMatchObject({ active: 0, queued: 0 })
  })

  it('does not let a newcomer jump a non-empty queue', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 10, queueTimeoutMs: 10_000 })
    const r = await a.acquire(never())
    const order: string[] = []
    const queued = a.acquire(never()).then((rel) => { order.push('queued'); rel() })
    r()
    // The slot went straight to the waiter; a newcomer waits behind it.
    const late = a.acquire(never()).then((rel) => { order.push('late'); rel() })
    await Promise.all([queued, late])
    expect(order).toEqual(['queued', 'late'])
  })

  it('refuses with a 429 rate_limit_exceeded and retry-after when the queue is full', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 2, queueTimeoutMs: 10_000 })
    const r = await a.acquire(never())
    const controller = new AbortController()
    const q1 = a.acquire(controller.signal)
    const q2 = a.acquire(controller.signal)
    const err = await rejectionOf(a.acquire(never()))
    expect(err).toBeInstanceOf(ApiError)
    const e = err as ApiError
    expect(e.statusCode).toBe(429)
    expect(e.kind).toBe('rate_limit')
    expect(e.code).toBe('rate_limit_exceeded')
    expect(e.headers).toEqual({ 'retry-after': '2' })
    expect(e.message).toContain('1 turns running and 2 waiting')
    controller.abort(new Error('cleanup'))
    await Promise.allSettled([q1, q2])
    r()
  })

  it('refuses at once with maxQueue 0', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 0, queueTimeoutMs: 10_000 })
    const r = await a.acquire(never())
    expect(((await rejectionOf(a.acquire(never()))) as ApiError).statusCode).toBe(429)
    r()
    const r2 = await a.acquire(never())
    r2()
  })

  it('refuses with a 429 after waiting queueTimeoutMs, and forgets the waiter', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 5, queueTimeoutMs: 40 })
    const r = await a.acquire(never())
    const started = Date.now()
    const err = await rejectionOf(a.acquire(never()))
    expect(Date.now() - started).toBeGreaterThanOrEqual(35)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).statusCode).toBe(429)
    expect((err as ApiError).code).toBe('rate_limit_exceeded')
    expect((err as ApiError).headers['retry-after']).toBe('1')
    expect((err as ApiError).message).toContain('within 40 ms')
    expect(a.stats().queued).toBe(0)
    r()
    expect(a.stats().active).toBe(0)
  })

  it('removes an aborted waiter and rejects with the signal\'s reason', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 5, queueTimeoutMs: 10_000 })
    const r = await a.acquire(never())
    const controller = new AbortController()
    const waiting = a.acquire(controller.signal)
    const other = a.acquire(never())
    await sleep(1)
    expect(a.stats().queued).toBe(2)
    const reason = new Error('client left')
    controller.abort(reason)
    expect(await rejectionOf(waiting)).toBe(reason)
    expect(a.stats().queued).toBe(1)
    // The slot goes to the remaining waiter, not to the aborted one.
    r()
    const r2 = await other
    expect(a.stats()).toMatchObject({ active: 1, queued: 0 })
    r2()
    expect(a.stats().active).toBe(0)
  })

  it('rejects an already-aborted signal at once', async () => {
    const a = new Admission({ maxConcurrency: 1, maxQueue: 5, queueTimeoutMs: 10_000 })
    const reason = new Error('gone')
    expect(await rejectionOf(a.acquire(AbortSignal.abort(reason)))).toBe(reason)
    expect(a.stats()).toMatchObject({ active: 0, queued: 0 })
  })

  it('makes release idempotent', async () => {
    const a = new Admission({ maxConcurrency: 2, maxQueue: 5, queueTimeoutMs: 10_000 })
    const r1 = await a.acquire(never())
    const r2 = await a.acquire(never())
    r1()
    r1()
    r1()
    expect(a.stats().active).toBe(1)
    r2()
    expect(a.stats().active).toBe(0)
  })
})
