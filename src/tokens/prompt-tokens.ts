import type { ContentPart, ConversationItem, ToolSpec } from '../backends/types.js'
import { imageTokens } from './image-tokens.js'
import { tokenCounter } from './tokenizer.js'

// The framing OpenAI's chat format adds around each message and before the reply (as in OpenAI's
// own token-counting cookbook); Codex's Responses requests frame items alike.
const PER_ITEM = 3
const REPLY_PRIMING = 3

/**
 * The input tokens of a conversation and its tools, counted with the tokenizer of the model that
 * will answer. Close to what the upstream reports, not equal: Codex adds its own framing, and
 * encrypted reasoning replayed upstream is opaque here.
 */
export async function countPromptTokens (items: readonly ConversationItem[], tools: readonly ToolSpec[] = []): Promise<number> {
  const count = await tokenCounter()
  const parts = (content: readonly ContentPart[]): number =>
    content.reduce((n, p) => n + (p.type === 'text' ? count(p.text) : imageTokens(p.url, p.detail)), 0)
  let tokens = REPLY_PRIMING
  for (const item of items) {
    tokens += PER_ITEM
    switch (item.type) {
      case 'message':
        tokens += count(item.role) + parts(item.content)
        break
      case 'tool_call':
        tokens += count(item.name) + count(item.arguments)
        break
      case 'tool_result':
        tokens += typeof item.output === 'string' ? count(item.output) : parts(item.output)
        break
      case 'reasoning':
        tokens += count(item.summary.join('\n\n'))
        break
    }
  }
  for (const tool of tools) {
    tokens += PER_ITEM + count(JSON.stringify({ name: tool.name, description: tool.description ?? '', parameters: tool.parameters }))
  }
  return tokens
}
