import type { ContentPart, ConversationItem, TokenUsage, ToolSpec } from '../backends/types.js'

const textLength = (parts: readonly ContentPart[]): number => parts.reduce((n, p) => n + (p.type === 'text' ? p.text.length : 0), 0)

/** About four characters per token: the estimate used whenever Codex reports no counts. */
export function estimateTokens (chars: number): number {
  return chars <= 0 ? 0 : Math.ceil(chars / 4)
}

export function promptChars (items: readonly ConversationItem[], tools: readonly ToolSpec[] = []): number {
  let chars = 0
  for (const item of items) {
    switch (item.type) {
      case 'message':
        chars += textLength(item.content)
        break
      case 'tool_call':
        chars += item.name.length + item.arguments.length
        break
      case 'tool_result':
        chars += typeof item.output === 'string' ? item.output.length : textLength(item.output)
        break
      case 'reasoning':
        chars += item.summary.reduce((n, s) => n + s.length, 0)
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
