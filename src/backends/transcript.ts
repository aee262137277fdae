import type { ContentPart, ConversationItem } from './types.js'

const textOf = (parts: readonly ContentPart[]): string => parts.map((part) => (part.type === 'text' ? part.text : '[image]')).join('\n')

/** Every way a model may read a line break: a lone CR or a Unicode separator starts a line too. */
const LINE_BREAK = /\r\n|[\n\r\u0085\u2028\u2029]/

/** One entry: `[role] first line`, every further line indented, so content can never start a line with a role tag. */
const entry = (label: string, text: string): string => `[${label}] ${text.split(LINE_BREAK).join('\n  ')}`

/**
 * Flattens a conversation into the one prompt `codex proto` / `codex exec` take. A conversation
 * of one user message is that message as it was written. Longer ones are a `[role] content`
 * entry per item, as the original service wrote them; lines after an entry's first are indented
 * by two spaces, so a client's text containing "\n[system] …" stays inside its own entry.
 */
export function joinTranscript (items: readonly ConversationItem[]): string {
  const only = items.length === 1 ? items[0] : undefined
  if (only?.type === 'message' && only.role === 'user' && only.content.every((p) => p.type === 'text')) return textOf(only.content)
  const entries: string[] = []
  for (const item of items) {
    switch (item.type) {
      case 'message':
        entries.push(entry(item.role, textOf(item.content)))
        break
      case 'tool_call':
        entries.push(entry('assistant', `called ${item.name}(${item.arguments}) as ${item.id}`))
        break
      case 'tool_result':
        entries.push(entry('tool', `${item.callId}: ${typeof item.output === 'string' ? item.output : textOf(item.output)}`))
        break
      case 'reasoning':
        // Earlier reasoning can only be replayed upstream as the item itself (app-server).
        break
    }
  }
  return entries.join('\n')
}
