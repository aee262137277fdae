import type { ConversationItem } from './types.js'

/**
 * Flattens a conversation into one prompt, a `[role] content` line per message, as the original
 * service did for `codex proto` / `codex exec`, which take a single user input.
 */
export function joinTranscript (items: readonly ConversationItem[]): string {
  const lines: string[] = []
  for (const item of items) {
    switch (item.type) {
      case 'message': {
        const text = item.content.map((part) => (part.type === 'text' ? part.text : '[image]')).join('\n')
        lines.push(`[${item.role}] ${text}`)
        break
      }
      case 'tool_call':
        lines.push(`[assistant] called ${item.name}(${item.arguments}) as ${item.id}`)
        break
      case 'tool_result':
        lines.push(`[tool] ${item.callId}: ${typeof item.output === 'string' ? item.output : item.output.map((p) => (p.type === 'text' ? p.text : '[image]')).join('\n')}`)
        break
      case 'reasoning':
        // Earlier reasoning can only be replayed upstream as the item itself (app-server).
        break
    }
  }
  return lines.join('\n')
}
