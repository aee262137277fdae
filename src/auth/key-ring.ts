import { createHash, timingSafeEqual } from 'node:crypto'

/** Every key, whatever its length, becomes a 32-byte SHA-256 digest before it is compared. */
export const keyDigest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * The one comparison of a presented key (undefined when none was sent) with an expected key's
 * digest. Both sides are always 32 bytes, so timingSafeEqual never sees a length difference and
 * takes the same time for every wrong key; a missing key is compared too (as ''), so it takes the
 * same path.
 */
export function checkKey (presented: string | undefined, expected: Buffer): { ok: boolean, digest: Buffer } {
  const digest = keyDigest(presented ?? '')
  return { ok: timingSafeEqual(digest, expected) && presented !== undefined, digest }
}

export interface NamedKey {
  /** What the usage log, metrics and stored state are recorded under; never the key itself. */
  name: string
  key: string
}

/**
 * The API keys this server accepts, each with a name. A presented key is compared with every key
 * (no early exit), so the time taken says nothing about which key, if any, it matched.
 */
export class KeyRing {
  #keys: Array<{ name: string, digest: Buffer }> = []

  constructor (keys: readonly NamedKey[]) {
    this.replace(keys)
  }

  /** Swaps the whole set at once (a reloaded keys file): requests see the old set or the new one. */
  replace (keys: readonly NamedKey[]): void {
    this.#keys = keys.map((k) => ({ name: k.name, digest: keyDigest(k.key) }))
  }

  get size (): number {
    return this.#keys.length
  }

  names (): string[] {
    return this.#keys.map((k) => k.name)
  }

  /** The name of the key presented, or undefined when it is missing or matches none. */
  match (presented: string | undefined): string | undefined {
    // Hashed once, compared with every key: the cost does not grow with a hash per key.
    const digest = keyDigest(presented ?? '')
    let name: string | undefined
    for (const key of this.#keys) {
      if (timingSafeEqual(digest, key.digest) && presented !== undefined) name ??= key.name
    }
    return name
  }
}
