import type * as O200k from 'gpt-tokenizer/encoding/o200k_base'

// o200k_base, the encoding of the GPT-4o and GPT-5 families that Codex runs. Loading its ranks
// costs ~0.4 s of CPU, so the module is imported on first use (and warmed at start by whoever
// needs it soon), not at every process start.

type Encoding = typeof O200k

let loading: Promise<Encoding> | undefined

function encoding (): Promise<Encoding> {
  loading ??= import('gpt-tokenizer/encoding/o200k_base')
  return loading
}

/** Special tokens in user text are text, as the upstream treats them, never an error. */
const AS_TEXT = { disallowedSpecial: new Set<string>() }

/** Starts loading the encoding without waiting for it. */
export function warmTokenizer (): void {
  void encoding()
}

/** Counts texts' tokens with o200k_base. */
export async function tokenCounter (): Promise<(text: string) => number> {
  const { countTokens } = await encoding()
  return (text) => (text.length === 0 ? 0 : countTokens(text, AS_TEXT))
}
