import { chatDialect } from './chat/errors.js'
import type { Dialect, DialectName } from './dialect.js'

const DIALECTS: ReadonlyMap<DialectName, Dialect> = new Map([['chat', chatDialect]])

/**
 * The dialect a request's errors are rendered in: its route's `dialect` config, else (unknown
 * routes) the dialect its path belongs to, else OpenAI's envelope.
 */
export function dialectOf (configured: DialectName | undefined, _path: string): Dialect {
  return (configured === undefined ? undefined : DIALECTS.get(configured)) ?? chatDialect
}
