import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { prefetch } from '../../../src/turns/prefetch.js'
import { collect, rejectionOf, sleep } from '../support.js'

type Ev = { type: 'started' } | { type: 'text', text: string }
const meaningful = (e: Ev): boolean => e.type !== 'started'

/** A source that yields `script` entries: events, delays (numbers) or an error to throw. */
function source (script: Array<Ev | number | Error>, log: string[] = []): AsyncGenerator<Ev> {
  return (async function * () {
    try {
      for (const step of script) {
        if (typeof step === 'number') await sleep(step)
        else if (step instanceof Error) throw step
        else {
          log.push(`yield ${step.type === 'text' ? step.text : step.type}`)
          yield step
        }
      }
    } finally {
      log.push('finally')
    }
  })()
}

let unhandled: unknown[] = []
const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
beforeEach(() => {
  unhandled = []
  process.on('unhandledRejection', onUnhandled)
})
afterEach(() => { process.off('unhandledRejection', onUnhandled) })

describe('prefetch', () => {
  it('rejects when the source fails before its first meaningful event', async () => {
    const boom = new Error('busy')
    const err = await rejectionOf(prefetch(source([{ type: 'started' }, 5, boom]), 1000, meaningful))
    expect(err).toBe(boom)
  })

  it('replays the events read while waiting, then the rest, in order', async () => {
    const log: string[] = []
    const ready = await prefetch(source([{ type: 'started' }, { type: 'text', text: 'a' }, { type: 'text', text: 'b' }], log), 1000, meaningful)
    // It stopped reading at the first meaningful event.
    expect(log).toEqual(['yield started', 'yield a'])
    expect(await collect(ready)).toEqual([{ type: 'started' }, { type: 'text', text: 'a' }, { type: 'text', text: 'b' }])
    expect(log.at(-1)).toBe('finally')
  })

  it('handles a source that ends before any meaningful event', async () => {
    const ready = await prefetch(source([{ type: 'started' }]), 1000, meaningful)
    expect(await collect(ready)).toEqual([{ type: 'started' }])
  })

  it('resolves after waitMs for a slow first event, and the consumer still gets every event', async () => {
    const log: string[] = []
    const started = Date.now()
    const ready = await prefetch(source([{ type: 'started' }, 150, { type: 'text', text: 'late' }, 5, { type: 'text', text: 'later' }], log), 40, meaningful)
    expect(Date.now() - started).toBeGreaterThanOrEqual(35)
    // It gave up waiting before the slow event came.
    expect(log).toEqual(['yield started'])
    expect(await collect(ready)).toEqual([{ type: 'started' }, { type: 'text', text: 'late' }, { type: 'text', text: 'later' }])
  })

  it('delivers a rejection after the timeout to the consumer, without an unhandled rejection', async () => {
    const boom = new Error('upstream 429 after the headers')
    const ready = await prefetch(source([{ type: 'started' }, 30, boom]), 10, meaningful)
    // Nobody reads for a while: the pending read rejects in the meantime.
    await sleep(80)
    const iterator = ready[Symbol.asyncIterator]()
    expect(await iterator.next()).toEqual({ value: { type: 'started' }, done: false })
    expect(await rejectionOf(iterator.next())).toBe(boom)
    await sleep(10)
    expect(unhandled).toEqual([])
  })

  it('return() during a pending read closes the source once the read settles', async () => {
    const log: string[] = []
    const ready = await prefetch(source([30, { type: 'text', text: 'x' }, { type: 'text', text: 'y' }], log), 5, meaningful)
    const iterator = ready[Symbol.asyncIterator]()
    expect(await iterator.return?.()).toEqual({ value: undefined, done: true })
    await sleep(60)
    expect(log).toEqual(['yield x', 'finally'])
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
    expect(unhandled).toEqual([])
  })

  it('return() after the prefetch closes the source at once', async () => {
    const log: string[] = []
    const ready = await prefetch(source([{ type: 'text', text: 'x' }, { type: 'text', text: 'y' }], log), 100, meaningful)
    const iterator = ready[Symbol.asyncIterator]()
    await iterator.return?.()
    expect(log).toEqual(['yield x', 'finally'])
    expect(await iterator.next()).toEqual({ value: undefined, done: true })
  })
})
