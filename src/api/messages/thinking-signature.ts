import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { ReasoningItem } from '../../backends/types.js'

/** What a signature carries: the upstream reasoning item, so that it can be replayed. */
interface Payload {
  v: 1
  id: string | null
  summary: string[]
  enc: string | null
}

const VERSION = 1
/** Summary parts are shown as one thinking text, a blank line apart. */
export const THINKING_PART_SEPARATOR = '\n\n'

export const thinkingText = (summary: readonly string[]): string => summary.join(THINKING_PART_SEPARATOR)

/**
 * Signs the reasoning of a turn for a `thinking` block, and reads it back when a client returns
 * the block: `base64url(item) "." base64url(HMAC-SHA256(secret, key name, item))`. The item
 * (id, summary, encrypted content) travels with the client, so nothing is held here; a block this
 * server did not sign, signed for another API key, or altered (its text or signature) is not
 * accepted, and is then dropped rather than forwarded. Without a configured secret a random one
 * is made per process: signatures then last until a restart (older thinking is dropped, not an
 * error), and replicas need the same PROXY_THINKING_SIGNATURE_SECRET.
 */
export class ThinkingSignatures {
  readonly #secret: Buffer

  constructor (secret: string | undefined) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret, 'utf8')
  }

  #mac (keyName: string, body: string): Buffer {
    return createHmac('sha256', this.#secret).update(keyName).update('\0').update(body).digest()
  }

  sign (item: ReasoningItem, keyName: string): string {
    const payload: Payload = { v: VERSION, id: item.id ?? null, summary: item.summary, enc: item.encryptedContent ?? null }
    const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
    return `${body}.${this.#mac(keyName, body).toString('base64url')}`
  }

  /** The reasoning item a thinking block stands for, or undefined when its signature does not hold. */
  verify (signature: string, thinking: string, keyName: string): ReasoningItem | undefined {
    const dot = signature.indexOf('.')
    if (dot <= 0) return undefined
    const body = signature.slice(0, dot)
    const given = Buffer.from(signature.slice(dot + 1), 'base64url')
    const expected = this.#mac(keyName, body)
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
    let payload: Payload
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Payload
    } catch {
      return undefined
    }
    if (payload.v !== VERSION || !Array.isArray(payload.summary) || thinkingText(payload.summary) !== thinking) return undefined
    return { type: 'reasoning', id: payload.id ?? undefined, summary: payload.summary, encryptedContent: payload.enc ?? undefined }
  }
}
