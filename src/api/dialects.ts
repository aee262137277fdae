import { chatDialect } from './chat/errors.js'
import type { Dialect, DialectName } from './dialect.js'
import { responsesDialect } from './responses/errors.js'

const DIALECTS: ReadonlyMap<DialectName, Dialect> = new Map([['chat', chatDialect], ['responses', responsesDialect]])

/** The dialect of the routes under a path, for requests that matched no route. */
const BY_PATH: ReadonlyArray<[RegExp, Dialect]> = [[/^(\/v1)?\/responses(\/|$)/, responsesDialect]]

/**
 * The dialect a request's errors are rendered in: its route's `dialect` config, else (unknown
 * routes) the dialect its path belongs to, else OpenAI's envelope.
 */
export function dialectOf (configured: DialectName | undefined, path: string): Dialect {
  if (configured !== undefined) return DIALECTS.get(configured) ?? chatDialect
  return BY_PATH.find(([pattern]) => pattern.test(path))?.[1] ?? chatDialect
}
