import { ApiError } from '../errors.js'
import { listOf } from '../http/browser-policy.js'
import type { UsageScope } from './summary-schema.js'

/** What one caller may see of the usage log: every key's usage, or the named keys' only. */
export interface UsageViewer {
  scope: UsageScope
  /** With scope `own`: the caller's key name. */
  keys?: readonly string[] | undefined
}

const EVERYONE: UsageViewer = { scope: 'all' }

/** The key names of PROXY_ADMIN_KEY_NAMES. */
export const adminNames = (setting: string): ReadonlySet<string> => new Set(listOf(setting))

/** An admin key sees every key's usage; any other key only its own. */
export function viewerFor (keyName: string | null, admins: ReadonlySet<string>): UsageViewer {
  if (keyName !== null && admins.has(keyName)) return EVERYONE
  return { scope: 'own', keys: keyName === null ? [] : [keyName] }
}

/**
 * The key names a query may be about: what it asked for, within what the caller may see. A key
 * that is not an admin asking for another key's usage is refused with a 403 that names no other
 * key and reads the same whether that key exists or not; asking for nothing means its own.
 */
export function visibleKeys (viewer: UsageViewer, requested: readonly string[] | undefined): readonly string[] | undefined {
  if (viewer.scope === 'all') return requested
  const own = viewer.keys ?? []
  if (requested === undefined) return own
  if (requested.some((k) => !own.includes(k))) {
    throw new ApiError(403, 'This API key sees only its own usage: `key` may only name the key this request was made with. Keys listed in PROXY_ADMIN_KEY_NAMES see every key.', {
      kind: 'permission', code: 'usage_not_visible', param: 'key'
    })
  }
  return requested
}
