/** One `family=model id` of PROXY_CLAUDE_MODELS. */
export interface ClaudeFamily {
  family: string
  target: string
}

/** PROXY_CLAUDE_MODELS, already checked against its pattern by the config schema. */
export function parseClaudeModels (text: string): ClaudeFamily[] {
  return text.split(',').map((pair) => {
    const at = pair.indexOf('=')
    return { family: pair.slice(0, at), target: pair.slice(at + 1) }
  })
}

/**
 * The model id a `claude-*` id runs as: the target of the first family whose name it contains
 * (`claude-opus-5-5` → the `opus` entry); undefined for ids that are not Claude's, which run as
 * they are (`gpt-5.5`, `codex-5`).
 */
export function claudeTarget (requested: string, families: readonly ClaudeFamily[]): string | undefined {
  const id = requested.toLowerCase()
  if (!id.startsWith('claude')) return undefined
  return families.find((f) => id.includes(f.family))?.target
}
