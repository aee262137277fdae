/**
 * Waits (up to `waitMs`) for the first event that `isFirst` accepts, so that a failure early in a
 * streamed turn (busy, not logged in, upstream 429) can still be answered with its real HTTP
 * status instead of a 200 and an error frame. Returns the events again, nothing lost.
 */
export async function prefetch<T> (source: AsyncIterable<T>, waitMs: number, isFirst: (event: T) => boolean): Promise<AsyncIterable<T>> {
  const iterator = source[Symbol.asyncIterator]()
  const buffered: T[] = []
  let pending: Promise<IteratorResult<T>> | undefined
  let finished = false
  const deadline = Date.now() + waitMs

  for (;;) {
    const next = iterator.next()
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => { resolve('timeout') }, Math.max(0, deadline - Date.now())) })
    const result = await Promise.race([next, timeout]).finally(() => { clearTimeout(timer) })
    if (result === 'timeout') {
      // Still running: hand the unsettled read to the consumer. It is observed here too, so a
      // rejection that nobody awaits (the client left first) cannot crash the process.
      next.catch(() => {})
      pending = next
      break
    }
    if (result.done === true) { finished = true; break }
    buffered.push(result.value)
    if (isFirst(result.value)) break
  }

  return {
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<T>> => {
        const value = buffered.shift()
        if (value !== undefined) return { value, done: false }
        if (pending !== undefined) {
          const p = pending
          pending = undefined
          return await p
        }
        if (finished) return { value: undefined, done: true }
        return await iterator.next()
      },
      return: async (): Promise<IteratorResult<T>> => {
        finished = true
        buffered.length = 0
        if (pending !== undefined) {
          // The source is mid-read: let that read settle, then close the source.
          const p = pending
          pending = undefined
          void p.then(async () => await iterator.return?.(), () => {})
          return { value: undefined, done: true }
        }
        return await (iterator.return?.() ?? Promise.resolve({ value: undefined, done: true }))
      }
    })
  }
}
