import type { Logger } from '../../logger.js'
import { commonPrefix, isPrefix, prefixDigests } from './conversation-key.js'
import type { ThreadSession } from './thread-session.js'

export interface ConversationLimits {
  /** Conversations held at most (each is a Codex thread, about 1 MB in the worker). */
  maxConversations: number
  /** Bytes of history (historyBytes) the held conversations may stand for; Codex keeps it in memory. */
  maxBytes: number
  /** An idle conversation is dropped after this long without a round. */
  ttlMs: number
  /** A conversation parked on tool calls is dropped (its turn interrupted) when their results do not come in this time. */
  toolCallTimeoutMs: number
}

/** Why a held conversation left before its next round came. */
export type GoneReason = 'expired' | 'evicted' | 'worker_gone'

/** Why a request did not continue a held conversation. */
export type FreshReason = 'none_held' | 'history_changed' | 'settings_changed' | 'busy' | GoneReason

export interface Held {
  readonly session: ThreadSession
  /** The API key's name: a conversation continues for the key that started it, never another. */
  readonly owner: string
  /** Model, effort, tools, instructions, output format: what a thread cannot change between rounds. */
  readonly fingerprint: string
  /** The conversation's keys: its history and the answer given to it (conversation-key.ts). */
  readonly keys: readonly string[]
  readonly bytes: number
}

interface Entry extends Held {
  busy: boolean
  timer: NodeJS.Timeout | undefined
}

export type Lookup = { held: Held } | { reason: FreshReason }

/**
 * The conversations held for continuation: which thread a request continues (the longest held
 * conversation whose keys are a prefix of the request's, for the same key name and settings),
 * taken by one request at a time, bounded by count, bytes and time — the least recently used go
 * first — and released (thread interrupted and unloaded) whenever they leave.
 */
export class Conversations {
  readonly #limits: ConversationLimits
  /** In least-recently-used order (a Map keeps insertion order; a round re-inserts). */
  readonly #entries = new Map<ThreadSession, Entry>()
  #bytes = 0
  /**
   * Why recently dropped conversations left, by the digest of their keys, oldest first, at most as
   * many as may be held: so that a round that comes after its conversation expired, was evicted or
   * lost its worker is counted under that reason rather than as `none_held`.
   */
  readonly #gone = new Map<string, { owner: string, reason: GoneReason }>()
  readonly #release: (session: ThreadSession) => void
  readonly #log: Logger

  constructor (limits: ConversationLimits, release: (session: ThreadSession) => void, log: Logger) {
    this.#limits = limits
    this.#release = release
    this.#log = log
  }

  get enabled (): boolean {
    return this.#limits.maxConversations > 0
  }

  stats (): { held: number, parked: number, bytes: number } {
    let parked = 0
    for (const e of this.#entries.keys()) if (e.parked) parked += 1
    return { held: this.#entries.size, parked, bytes: this.#bytes }
  }

  /**
   * The held conversation a request continues, taken (no other request gets it until it is held
   * again or dropped); otherwise why not.
   */
  take (owner: string, fingerprint: string, keys: readonly string[]): Lookup {
    let best: Entry | undefined
    type Live = Exclude<FreshReason, 'expired' | 'evicted'>
    let reason: Live = 'none_held'
    const rank: Readonly<Record<Live, number>> = { none_held: 0, history_changed: 1, settings_changed: 2, worker_gone: 3, busy: 4 }
    const worse = (r: Live): void => { if (rank[r] > rank[reason]) reason = r }
    for (const entry of this.#entries.values()) {
      if (entry.owner !== owner) continue
      // Something new must follow what is held: the same conversation again is a retry or an edit.
      if (entry.keys.length >= keys.length || !isPrefix(entry.keys, keys)) {
        // Only one that shares more than a first item (the system prompt every conversation of an
        // agent starts with) is this conversation, edited.
        if (commonPrefix(entry.keys, keys) >= Math.min(2, keys.length)) worse('history_changed')
        continue
      }
      if (entry.fingerprint !== fingerprint) { worse('settings_changed'); continue }
      if (entry.busy) { worse('busy'); continue }
      if (!entry.session.usable) { worse('worker_gone'); continue }
      if (best === undefined || entry.keys.length > best.keys.length) best = entry
    }
    if (best === undefined) {
      // A held conversation that this request extends explains more than one it only shares a start with.
      const gone = reason === 'none_held' || reason === 'history_changed' ? this.#whyGone(owner, keys) : undefined
      return { reason: gone ?? reason }
    }
    best.busy = true
    clearTimeout(best.timer)
    return { held: best }
  }

  /** Holds a session after a round (again, or for the first time), and applies the limits. */
  hold (held: Held): void {
    const old = this.#entries.get(held.session)
    if (old !== undefined) this.#remove(old)
    const entry: Entry = { ...held, busy: false, timer: undefined }
    this.#entries.set(held.session, entry)
    this.#bytes += held.bytes
    this.#arm(entry)
    this.#enforce()
  }

  /** A taken conversation that cannot be continued after all (the request did not fit its state): back, untouched. */
  giveBack (held: Held): void {
    const entry = this.#entries.get(held.session)
    if (entry === undefined) return
    entry.busy = false
    this.#arm(entry)
  }

  /** Drops a conversation (its round failed, …) and releases its thread; `reason` is remembered for its next round. */
  drop (session: ThreadSession, reason?: GoneReason): void {
    const entry = this.#entries.get(session)
    if (entry !== undefined) {
      this.#remove(entry)
      const whole = prefixDigests(entry.keys).at(-1)
      if (reason !== undefined && whole !== undefined) this.#remember(whole, { owner: entry.owner, reason })
    }
    this.#release(session)
  }

  /**
   * Drops the idle conversations whose thread lives on a worker that is being replaced or is gone.
   * One that a request is continuing right now is left to that round: it ends (cleanly on a
   * retiring worker, with an error on a dead one) and its request drops it then.
   */
  dropIdleWhere (predicate: (session: ThreadSession) => boolean): void {
    for (const entry of [...this.#entries.values()]) if (!entry.busy && predicate(entry.session)) this.drop(entry.session, 'worker_gone')
  }

  /** Everything, busy or not: the server is shutting down. */
  clear (): void {
    for (const session of [...this.#entries.keys()]) this.drop(session)
    this.#gone.clear()
  }

  #remember (digest: string, gone: { owner: string, reason: GoneReason }): void {
    this.#gone.delete(digest)
    this.#gone.set(digest, gone)
    const cap = Math.max(1, this.#limits.maxConversations)
    for (const key of this.#gone.keys()) {
      if (this.#gone.size <= cap) break
      this.#gone.delete(key)
    }
  }

  /** Why the longest dropped conversation this request extends left, if one did. */
  #whyGone (owner: string, keys: readonly string[]): GoneReason | undefined {
    const digests = prefixDigests(keys)
    // The last key is the request's own new input: what was held ends before it.
    for (let i = digests.length - 2; i >= 0; i--) {
      const gone = this.#gone.get(digests[i] ?? '')
      if (gone?.owner === owner) return gone.reason
    }
    return undefined
  }

  #arm (entry: Entry): void {
    clearTimeout(entry.timer)
    const parked = entry.session.parked
    const ms = parked ? this.#limits.toolCallTimeoutMs : this.#limits.ttlMs
    entry.timer = setTimeout(() => {
      if (entry.busy) return
      this.drop(entry.session, 'expired')
      this.#log.info({ held: this.#entries.size }, parked ? 'tool results did not come back in time: conversation dropped, its turn interrupted' : 'idle conversation expired')
    }, ms)
    entry.timer.unref()
  }

  #remove (entry: Entry): void {
    clearTimeout(entry.timer)
    this.#entries.delete(entry.session)
    this.#bytes -= entry.bytes
  }

  /** Least recently used first, busy ones excepted, until both limits hold. */
  #enforce (): void {
    let evicted = 0
    for (const entry of [...this.#entries.values()]) {
      if (this.#entries.size <= this.#limits.maxConversations && this.#bytes <= this.#limits.maxBytes) break
      if (entry.busy) continue
      this.drop(entry.session, 'evicted')
      evicted += 1
    }
    if (evicted > 0) this.#log.debug({ evicted, held: this.#entries.size, bytes: this.#bytes }, 'least recently used conversations dropped (PROXY_CONVERSATIONS_MAX / _MAX_BYTES)')
  }
}
