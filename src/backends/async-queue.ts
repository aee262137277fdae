/**
 * A single-consumer async queue: producers push from callbacks (child stdout, JSON-RPC
 * notifications), the consumer iterates. Bounded: a consumer that falls `limit` items behind
 * fails the queue instead of letting memory grow without end.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = []
  readonly #limit: number
  #waiter: { resolve: (r: IteratorResult<T>) => void, reject: (e: unknown) => void } | undefined
  #ended = false
  #error: { reason: unknown } | undefined

  constructor (limit = 100_000) {
    this.#limit = limit
  }

  get ended (): boolean {
    return this.#ended || this.#error !== undefined
  }

  push (item: T): void {
    if (this.ended) return
    const waiter = this.#waiter
    if (waiter !== undefined) {
      this.#waiter = undefined
      waiter.resolve({ value: item, done: false })
      return
    }
    if (this.#items.length >= this.#limit) {
      this.fail(new Error(`consumer fell more than ${this.#limit} events behind`))
      return
    }
    this.#items.push(item)
  }

  end (): void {
    if (this.ended) return
    this.#ended = true
    this.#settleWaiter()
  }

  /** Ends the queue with an error; items already queued are still delivered first. */
  fail (reason: unknown): void {
    if (this.ended) return
    this.#error = { reason }
    this.#settleWaiter()
  }

  #settleWaiter (): void {
    const waiter = this.#waiter
    if (waiter === undefined) return
    this.#waiter = undefined
    if (this.#error !== undefined) waiter.reject(this.#error.reason)
    else waiter.resolve({ value: undefined, done: true })
  }

  async next (): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) return { value: this.#items.shift() as T, done: false }
    if (this.#error !== undefined) throw this.#error.reason
    if (this.#ended) return { value: undefined, done: true }
    return await new Promise((resolve, reject) => { this.#waiter = { resolve, reject } })
  }

  [Symbol.asyncIterator] (): AsyncIterator<T> {
    return { next: async () => await this.next() }
  }
}
