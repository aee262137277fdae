import { rateLimited } from '../errors.js'

export interface AdmissionOptions {
  /** Turns that may run at once. */
  maxConcurrency: number
  /** Requests that may wait for a slot; one more is refused at once. */
  maxQueue: number
  /** Longest a request waits for a slot. */
  queueTimeoutMs: number
}

export interface AdmissionStats {
  active: number
  queued: number
  maxConcurrency: number
  maxQueue: number
}

type Release = () => void

interface Waiter {
  grant: (release: Release) => void
  reject: (err: unknown) => void
}

/**
 * A counting semaphore with a bounded FIFO queue. Beyond the queue, or after waiting too long,
 * a request is refused with a 429 and a Retry-After, so clients back off instead of hanging.
 */
export class Admission {
  readonly #opts: AdmissionOptions
  readonly #queue: Waiter[] = []
  #active = 0

  constructor (opts: AdmissionOptions) {
    this.#opts = opts
  }

  stats (): AdmissionStats {
    return { active: this.#active, queued: this.#queue.length, maxConcurrency: this.#opts.maxConcurrency, maxQueue: this.#opts.maxQueue }
  }

  /** Resolves with a release function once a slot is free; call it exactly when the turn ends. */
  async acquire (signal: AbortSignal): Promise<Release> {
    signal.throwIfAborted()
    if (this.#active < this.#opts.maxConcurrency && this.#queue.length === 0) return this.#grant()
    if (this.#queue.length >= this.#opts.maxQueue) {
      throw rateLimited(`The server is busy: ${this.#active} turns running and ${this.#queue.length} waiting. Retry shortly.`, this.#retryAfter())
    }
    return await new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => { cleanup(); resolve(release) },
        reject: (err) => { cleanup(); reject(err) }
      }
      const remove = (): void => {
        const at = this.#queue.indexOf(waiter)
        if (at !== -1) this.#queue.splice(at, 1)
      }
      const timer = setTimeout(() => {
        remove()
        waiter.reject(rateLimited(`The server is busy: no turn slot freed up within ${this.#opts.queueTimeoutMs} ms. Retry shortly.`, this.#retryAfter()))
      }, this.#opts.queueTimeoutMs)
      const onAbort = (): void => { remove(); waiter.reject(signal.reason) }
      const cleanup = (): void => { clearTimeout(timer); signal.removeEventListener('abort', onAbort) }
      signal.addEventListener('abort', onAbort, { once: true })
      this.#queue.push(waiter)
    })
  }

  #grant (): Release {
    this.#active += 1
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active -= 1
      const next = this.#queue.shift()
      if (next !== undefined) next.grant(this.#grant())
    }
  }

  #retryAfter (): number {
    return Math.max(1, Math.ceil(this.#queue.length / Math.max(1, this.#opts.maxConcurrency)))
  }
}
