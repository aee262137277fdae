import type { UsageScope } from './summary-schema.js'

/** What one caller may see of the usage log: every key's usage, or the named keys' only. */
export interface UsageViewer {
  scope: UsageScope
  /** With scope `own`: the caller's key name. */
  keys?: readonly string[] | undefined
}

export const EVERYONE: UsageViewer = { scope: 'all' }
/** A caller nobody vouched for sees no key's usage. */
const NOBODY: UsageViewer = { scope: 'own', keys: [] }
/** In-flight requests remembered at most; the oldest is forgotten first (it then sees nothing). */
const MAX_REQUESTS = 10_000

/**
 * Who is asking, by request id, for the code that answers a usage query inside a turn ("usage
 * today" in a chat), which knows the request id but not the key. The HTTP layer registers each
 * authenticated request and forgets it when the response is sent. Once `required` is set (the
 * server does), an unregistered request sees nothing; a ledger used on its own sees everything.
 */
export class UsageViewers {
  required = false
  readonly #byRequest = new Map<string, UsageViewer>()

  set (requestId: string, viewer: UsageViewer): void {
    this.#byRequest.delete(requestId)
    this.#byRequest.set(requestId, viewer)
    if (this.#byRequest.size > MAX_REQUESTS) {
      const oldest = this.#byRequest.keys().next()
      if (oldest.done !== true) this.#byRequest.delete(oldest.value)
    }
  }

  delete (requestId: string): void {
    this.#byRequest.delete(requestId)
  }

  of (requestId: string): UsageViewer {
    return this.#byRequest.get(requestId) ?? (this.required ? NOBODY : EVERYONE)
  }
}
