import { chatDialect } from './chat/errors.js'
import type { Dialect, DialectName } from './dialect.js'
import { messagesDialect } from './messages/errors.js'
import { responsesDialect } from './responses/errors.js'

const DIALECTS: ReadonlyMap<DialectName, Dialect> = new Map([['chat', chatDialect], ['responses', responsesDialect], ['messages', messagesDialect]])

/** The dialect of the routes under a path, for requests that matched no route. */
const BY_PATH: ReadonlyArray<[RegExp, Dialect]> = [
  [/^(\/v1)?\/responses(\/|\?|$)/, responsesDialect],
  [/^(\/v1)?\/messages(\/|\?|$)/, messagesDialect]
]

/**
 * The dialect a request's errors are rendered in: its route's `dialect` config, else the dialect
 * its path belongs to (unknown routes), else Anthropic's for a shared route (`/v1/models`) asked
 * by an Anthropic client (it sends `anthropic-version`), else OpenAI's envelope.
 */
export function dialectOf (configured: DialectName | undefined, path: string, anthropicClient = false): Dialect {
  if (configured !== undefined) return DIALECTS.get(configured) ?? chatDialect
  return BY_PATH.find(([pattern]) => pattern.test(path))?.[1] ?? (anthropicClient ? messagesDialect : chatDialect)
}
