import { describe, expect, it } from 'vitest'
import type { ConversationItem } from '../../../src/backends/types.js'
import { CompletionTally } from '../../../src/tokens/completion-tally.js'
import { UNKNOWN_IMAGE_TOKENS, imageTokens, imageTokensForSize } from '../../../src/tokens/image-tokens.js'
import { countPromptTokens } from '../../../src/tokens/prompt-tokens.js'
import { tokenCounter } from '../../../src/tokens/tokenizer.js'

// A 16 × 8 PNG header (IHDR), as a data URL.
const PNG_16_BY_8 = `data:image/png;base64,${Buffer.from('89504e470d0a1a0a0000000d4948445200000010000000080806000000', 'hex').toString('base64')}`

describe('tokenCounter (o200k_base)', () => {
  it('counts as the GPT-4o / GPT-5 encoding does', async () => {
    const count = await tokenCounter()
    expect(count('')).toBe(0)
    expect(count('Hello there, world!')).toBe(5)
    expect(count('hello world'.repeat(100))).toBe(200)
  })
  it('treats special-token text as text instead of throwing', async () => {
    const count = await tokenCounter()
    expect(count('<|endoftext|> hi')).toBeGreaterThan(1)
  })
})

describe('image tokens', () => {
  it('follows the published tile rule', () => {
    expect(imageTokensForSize(512, 512, 'high')).toBe(85 + 170)
    // 1024 × 1024 → 768 × 768 → 2 × 2 tiles
    expect(imageTokensForSize(1024, 1024, 'auto')).toBe(765)
    // 4096 × 2048 → 2048 × 1024 → 1536 × 768 → 3 × 2 tiles
    expect(imageTokensForSize(4096, 2048, undefined)).toBe(85 + 170 * 6)
    expect(imageTokensForSize(4096, 2048, 'low')).toBe(85)
  })
  it('reads the size from a data URL and falls back for anything else', () => {
    expect(imageTokens(PNG_16_BY_8, 'high')).toBe(85 + 170)
    expect(imageTokens('data:image/png;base64,AAAA', 'high')).toBe(UNKNOWN_IMAGE_TOKENS)
    expect(imageTokens('https://example.com/a.png', undefined)).toBe(UNKNOWN_IMAGE_TOKENS)
  })
})

describe('countPromptTokens', () => {
  it('counts every item with its framing, images by size, and the tools', async () => {
    const items: ConversationItem[] = [
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'Hello there, world!' }, { type: 'image', url: PNG_16_BY_8 }] },
      { type: 'tool_call', id: 'c1', name: 'fn', arguments: '{}' },
      { type: 'tool_result', callId: 'c1', output: 'ok' }
    ]
    const count = await tokenCounter()
    const base = 3 + (3 + count('user') + 5 + 255) + (3 + count('fn') + count('{}')) + (3 + count('ok'))
    expect(await countPromptTokens(items)).toBe(base)
    const tool = { name: 't', parameters: { type: 'object' } }
    expect(await countPromptTokens(items, [tool])).toBe(base + 3 + count(JSON.stringify({ name: 't', description: '', parameters: { type: 'object' } })))
  })
})

describe('CompletionTally', () => {
  it('counts what was produced, and extrapolates beyond what it keeps', async () => {
    const small = new CompletionTally()
    small.add({ type: 'text', itemId: 'm', text: 'Hello there,' })
    small.add({ type: 'text', itemId: 'm', text: ' world!' })
    small.add({ type: 'started' })
    expect(await small.tokens()).toBe(5)

    const big = new CompletionTally()
    for (let i = 0; i < 20_000; i++) big.add({ type: 'text', itemId: 'm', text: 'hello world ' })
    expect(big.chars).toBe(240_000)
    // 64 K characters are tokenized, the rest scaled: within a token or two of the exact 40,000.
    expect(Math.abs(await big.tokens() - 40_000)).toBeLessThanOrEqual(5)
  })
})
