import type { ConversationItem } from '../../backends/types.js'
import type { ResponseObject } from './schemas.js'

/** A stored response (`store` not false), visible only to the API key that created it. */
export interface StoredResponse {
  id: string
  keyName: string
  response: ResponseObject
  /** Its input as Responses items with ids (`GET /v1/responses/{id}/input_items`). */
  inputItems: Array<Record<string, unknown>>
  /** Its own input and output as neutral items (no instructions: OpenAI does not carry them over). */
  items: ConversationItem[]
  previousId: string | undefined
}

/** Where responses are kept. In memory by default; another store implements the same five calls. */
export interface ResponseStore {
  get: (id: string, keyName: string) => StoredResponse | undefined
  put: (entry: StoredResponse) => void
  delete: (id: string, keyName: string) => boolean
  /**
   * The conversation a `previous_response_id` continues: every predecessor's items, then this
   * response's own; undefined when it (or a link of its chain) is unknown, expired or deleted.
   */
  conversation: (id: string, keyName: string) => ConversationItem[] | undefined
  stats: () => { entries: number, bytes: number }
}

export interface MemoryStoreLimits {
  maxEntries: number
  maxBytes: number
  ttlMs: number
  now?: () => number
}

interface Held {
  entry: StoredResponse
  bytes: number
  storedAt: number
}

/**
 * An in-memory response store bounded three ways: entries, bytes (as serialized) and age. Least
 * recently used responses go first; a lookup (a chain being continued) refreshes every link.
 */
export class MemoryResponseStore implements ResponseStore {
  readonly #limits: MemoryStoreLimits
  readonly #held = new Map<string, Held>()
  readonly #now: () => number
  #bytes = 0

  constructor (limits: MemoryStoreLimits) {
    this.#limits = limits
    this.#now = limits.now ?? Date.now
  }

  #live (id: string, keyName: string): Held | undefined {
    const held = this.#held.get(id)
    if (held === undefined) return undefined
    if (this.#now() - held.storedAt > this.#limits.ttlMs) {
      this.#remove(id, held)
      return undefined
    }
    // Another key's response is as good as missing: it does not exist for this caller.
    if (held.entry.keyName !== keyName) return undefined
    this.#held.delete(id)
    this.#held.set(id, held)
    return held
  }

  get (id: string, keyName: string): StoredResponse | undefined {
    return this.#live(id, keyName)?.entry
  }

  put (entry: StoredResponse): void {
    const bytes = Buffer.byteLength(JSON.stringify(entry))
    const old = this.#held.get(entry.id)
    if (old !== undefined) this.#remove(entry.id, old)
    // One response larger than the whole store is not kept (a later continuation gets a 400).
    if (bytes > this.#limits.maxBytes) return
    this.#held.set(entry.id, { entry, bytes, storedAt: this.#now() })
    this.#bytes += bytes
    this.#evict()
  }

  delete (id: string, keyName: string): boolean {
    const held = this.#live(id, keyName)
    if (held === undefined) return false
    this.#remove(id, held)
    return true
  }

  conversation (id: string, keyName: string): ConversationItem[] | undefined {
    const chain: StoredResponse[] = []
    for (let next: string | undefined = id; next !== undefined; next = chain.at(-1)?.previousId) {
      // A chain is never longer than the store (and cannot loop past it).
      if (chain.length > this.#held.size) return undefined
      const held = this.#live(next, keyName)
      if (held === undefined) return undefined
      chain.push(held.entry)
    }
    return chain.reverse().flatMap((entry) => entry.items)
  }

  stats (): { entries: number, bytes: number } {
    return { entries: this.#held.size, bytes: this.#bytes }
  }

  /**
   * Drops every expired response. Lookups and writes drop what they meet; this is for a server
   * that goes quiet, whose expired responses would otherwise stay in memory until the caps push
   * them out. The order is least recently used, not age, so every entry is looked at.
   */
  sweep (): void {
    const now = this.#now()
    for (const [id, held] of this.#held) if (now - held.storedAt > this.#limits.ttlMs) this.#remove(id, held)
  }

  #remove (id: string, held: Held): void {
    this.#held.delete(id)
    this.#bytes -= held.bytes
  }

  #evict (): void {
    const now = this.#now()
    for (const [id, held] of this.#held) {
      const expired = now - held.storedAt > this.#limits.ttlMs
      if (!expired && this.#held.size <= this.#limits.maxEntries && this.#bytes <= this.#limits.maxBytes) break
      this.#remove(id, held)
    }
  }
}
