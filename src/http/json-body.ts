/**
 * Deepest nesting a JSON body may have. Codex parses its input with serde_json, whose recursion
 * limit is 128: a line nested deeper is dropped unanswered, so the turn would hang until the
 * acknowledgement timeout and the worker (with every turn on it) would be recycled as hung. Real
 * tool schemas are a few levels deep; 64 leaves room for the JSON-RPC envelope around them.
 */
export const MAX_JSON_DEPTH = 64

export interface JsonBodyProblem {
  message: string
  /** Where, as OpenAI names parameters (`messages[0].content`). */
  param: string | null
}

const ANY_SURROGATE = /[\uD800-\uDFFF]/
// In unicode mode a surrogate pair is one code point, so only unpaired surrogates are \p{Cs}.
const LONE_SURROGATE = /\p{Cs}/u

/** Whether a string holds a UTF-16 surrogate without its other half (not valid Unicode). */
export function hasLoneSurrogate (s: string): boolean {
  return ANY_SURROGATE.test(s) && LONE_SURROGATE.test(s)
}

interface Frame {
  value: unknown
  depth: number
  key: string | number | undefined
  parent: Frame | undefined
}

function pathOf (frame: Frame | undefined): string | null {
  const keys: Array<string | number> = []
  for (let f = frame; f?.key !== undefined; f = f.parent) keys.unshift(f.key)
  if (keys.length === 0) return null
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('')
}

const lone = (where: string | null, inKey = false): JsonBodyProblem => ({
  message: `Invalid request: ${inKey ? 'a key in ' : ''}${where ?? 'the body'} contains an unpaired UTF-16 surrogate (such as \\ud800), which is not valid Unicode; send well-formed text.`,
  param: where
})

/**
 * Why a parsed JSON body cannot be handed to Codex, or undefined: nested deeper than `maxDepth`,
 * or a string (value or key) with an unpaired surrogate, which Codex's strict JSON parser refuses
 * (as do OpenAI's and Anthropic's APIs) so that the request would never be answered. Iterative,
 * so no depth of nesting can overflow the stack here.
 */
export function jsonBodyProblem (body: unknown, maxDepth = MAX_JSON_DEPTH): JsonBodyProblem | undefined {
  const stack: Frame[] = [{ value: body, depth: 0, key: undefined, parent: undefined }]
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { value } = frame
    if (typeof value === 'string') {
      if (hasLoneSurrogate(value)) return lone(pathOf(frame))
      continue
    }
    if (typeof value !== 'object' || value === null) continue
    const depth = frame.depth + 1
    if (depth > maxDepth) {
      const top = pathOf(frame)?.split(/[.[]/, 1)[0] ?? null
      return { message: `Invalid request: the body is nested more than ${maxDepth} levels deep.`, param: top === '' ? null : top }
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i] as unknown, depth, key: i, parent: frame })
      continue
    }
    for (const [key, child] of Object.entries(value)) {
      // The key itself is not quoted back: it is the text that is not valid Unicode.
      if (hasLoneSurrogate(key)) return lone(pathOf(frame), true)
      stack.push({ value: child, depth, key, parent: frame })
    }
  }
  return undefined
}
