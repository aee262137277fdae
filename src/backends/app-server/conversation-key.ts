import { createHash } from 'node:crypto'
import type { ContentPart, ConversationItem, ToolOutput } from '../types.js'

/*
 * A conversation as a list of item keys, for recognising a continuation: a request continues a
 * held thread when that thread's keys (its history plus the answer this server gave) are a prefix
 * of the request's. Keys cover what the model sees and are the same however the client re-sends
 * it (a chat `tool_calls` array, Responses `function_call` items or Anthropic `tool_use` blocks);
 * reasoning items are left out, because clients keep or drop them as they like while the thread
 * has them anyway.
 */

const hash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('base64url').slice(0, 22)

const partKey = (p: ContentPart): string => (p.type === 'text' ? `t:${p.text}` : `i:${hash(p.url)}`)

function outputKey (output: ToolOutput): string[] {
  if (typeof output === 'string') return [`t:${output}`]
  // Text parts in a row read as one text, as clients that flatten tool output send them.
  const keys: string[] = []
  for (const p of output) {
    const last = keys.at(-1)
    if (p.type === 'text' && last?.startsWith('t:') === true) keys[keys.length - 1] = last + p.text
    else keys.push(partKey(p))
  }
  return keys
}

/** Arguments as JSON with no insignificant whitespace (Anthropic clients send them as an object, re-serialized). */
function canonicalArguments (text: string): string {
  try {
    return JSON.stringify(JSON.parse(text))
  } catch {
    return text
  }
}

export interface ConversationKeys {
  keys: string[]
  /** For each key, the index of the item it ends at: where the items after a prefix begin. */
  ends: number[]
}

/**
 * The keys of a conversation. Consecutive assistant messages are one key (chat clients send the
 * text of several answer items as one message); empty ones count for nothing.
 */
export function conversationKeys (items: readonly ConversationItem[]): ConversationKeys {
  const shapes: unknown[] = []
  const ends: number[] = []
  let assistantText: string | undefined
  items.forEach((item, index) => {
    if (item.type === 'message' && item.role === 'assistant') {
      const text = item.content.map((p) => (p.type === 'text' ? p.text : `[image ${hash(p.url)}]`)).join('')
      if (text.length === 0) return
      if (assistantText !== undefined) {
        assistantText += text
        shapes[shapes.length - 1] = ['assistant', assistantText]
        ends[ends.length - 1] = index
        return
      }
      assistantText = text
      shapes.push(['assistant', text])
      ends.push(index)
      return
    }
    if (item.type === 'reasoning') return
    assistantText = undefined
    switch (item.type) {
      case 'message':
        shapes.push([item.role, item.content.map(partKey)])
        break
      case 'tool_call':
        shapes.push(['call', item.id, item.namespace ?? '', item.name, canonicalArguments(item.arguments)])
        break
      case 'tool_result':
        shapes.push(['result', item.callId, outputKey(item.output)])
        break
    }
    ends.push(index)
  })
  return { keys: shapes.map(hash), ends }
}

/**
 * The keys of `items` followed by `more`, given the keys of `items`: only `more` is hashed, unless
 * `items` ends in assistant text that `more` would run on into (consecutive assistant messages
 * are one key), when the whole is keyed again. A round's history is keyed once, its answer added.
 */
export function extendKeys (keys: readonly string[], items: readonly ConversationItem[], more: readonly ConversationItem[]): string[] {
  const counts = (item: ConversationItem): boolean => item.type !== 'reasoning' &&
    !(item.type === 'message' && item.role === 'assistant' && item.content.every((p) => p.type === 'text' && p.text.length === 0))
  const last = items.findLast(counts)
  if (last?.type === 'message' && last.role === 'assistant') return conversationKeys([...items, ...more]).keys
  return [...keys, ...conversationKeys(more).keys]
}

/**
 * What a history stands for in memory: its texts, image URLs, call arguments, results and
 * encrypted reasoning, counted as UTF-8. A walk over the strings, not a JSON copy of them: a
 * history with images runs to megabytes, and this is counted every round.
 */
export function historyBytes (items: readonly ConversationItem[]): number {
  const size = (text: string): number => Buffer.byteLength(text)
  const parts = (content: readonly ContentPart[]): number => content.reduce((n, p) => n + size(p.type === 'text' ? p.text : p.url), 0)
  let bytes = 0
  for (const item of items) {
    switch (item.type) {
      case 'message':
        bytes += parts(item.content)
        break
      case 'tool_call':
        bytes += size(item.id) + size(item.name) + size(item.arguments)
        break
      case 'tool_result':
        bytes += size(item.callId) + (typeof item.output === 'string' ? size(item.output) : parts(item.output))
        break
      case 'reasoning':
        bytes += item.summary.reduce((n, s) => n + size(s), 0) + size(item.encryptedContent ?? '')
        break
    }
  }
  return bytes
}

/** A digest of each prefix of a key list: one string for "this conversation up to here". */
export function prefixDigests (keys: readonly string[]): string[] {
  let digest = ''
  return keys.map((key) => (digest = hash([digest, key])))
}

/** How many leading keys two conversations share. */
export function commonPrefix (a: readonly string[], b: readonly string[]): number {
  let n = 0
  while (n < a.length && n < b.length && a[n] === b[n]) n += 1
  return n
}

/** How many leading keys of `request` equal `held`'s, when all of `held` is a prefix of it. */
export function isPrefix (held: readonly string[], request: readonly string[]): boolean {
  if (held.length > request.length) return false
  for (let i = 0; i < held.length; i++) if (held[i] !== request[i]) return false
  return true
}
