import type { ConversationItem, TokenUsage, ToolSpec } from '../backends/types.js'

/** About four characters per token: the estimate used whenever Codex reports no counts. */
export function estimateTokens (chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4)
}

export function promptChars (items: readonly ConversationItem[], tools: readonly ToolSpec[] = []): number {
  let chars = 0
  for (const item of items) {
    switch (item.type) {
      case 'message':
        for (const part of item.content) chars += part.type === 'text' ? part.text.length : 0
        break
      case 'tool_call':
        chars += item.name.length + item.arguments.length
        break
      case 'tool_result':
        chars += item.output.length
        break
    }
  }
  for (const tool of tools) chars += JSON.stringify(tool).length
  return chars
}

export function estimatedUsage (promptCharCount: number, completionCharCount: number): TokenUsage {
  const promptTokens = estimateTokens(promptCharCount)
  const completionTokens = estimateTokens(completionCharCount)
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }
}
