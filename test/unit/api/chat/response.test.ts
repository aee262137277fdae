import { describe, expect, it } from 'vitest'
import { chatChunks } from '../../../../src/api/chat/stream.js'
import { foldChatCompletion, newChatResponseMeta, toChatUsage, type ChatResponseMeta } from '../../../../src/api/chat/response.js'
import type { ChatCompletionChunk } from '../../../../src/api/chat/schemas.js'
import type { BackendEvent, TokenUsage } from '../../../../src/backends/types.js'
import { collect } from '../../support.js'

async function * events (...list: BackendEvent[]): AsyncGenerator<BackendEvent> {
  for (const e of list) {
    await Promise.resolve()
    yield e
  }
}

const meta = (extra: Partial<ChatResponseMeta> = {}): ChatResponseMeta =>
  ({ id: 'chatcmpl-test', created: 1_700_000_000, model: 'codex-5', legacyFunctions: false, ...extra })

const USAGE: TokenUsage = { promptTokens: 100, completionTokens: 20, totalTokens: 120, cachedTokens: 64, reasoningTokens: 8 }
const CALL_A: BackendEvent = { type: 'tool_call', id: 'call_a', name: 'weather', arguments: '{"city":"Oslo"}' }
const CALL_B: BackendEvent = { type: 'tool_call', id: 'call_b', name: 'time', arguments: '{}' }

describe('newChatResponseMeta', () => {
  it('makes a chatcmpl- id and a created time in seconds', () => {
    const before = Math.floor(Date.now() / 1000)
    const m = newChatResponseMeta('codex-5-high', true)
    expect(m.id).toMatch(/^chatcmpl-[0-9a-f]{32}$/)
    expect(m.created).toBeGreaterThanOrEqual(before)
    expect(m.created).toBeLessThanOrEqual(before + 1)
    expect(m).toMatchObject({ model: 'codex-5-high', legacyFunctions: true })
    expect(newChatResponseMeta('x', false).id).not.toBe(m.id)
  })
})

describe('toChatUsage', () => {
  it('always carries the detail objects', () => {
    expect(toChatUsage({ promptTokens: 3, completionTokens: 4, totalTokens: 7 })).toEqual({
      prompt_tokens: 3,
      completion_tokens: 4,
      total_tokens: 7,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 }
    })
  })
})

describe('foldChatCompletion', () => {
  it('folds text, reasoning and real usage into one chat.completion', async () => {
    const completion = await foldChatCompletion(events(
      { type: 'started' },
      { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'think ' },
      { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'hard' },
      { type: 'text', itemId: 'msg_1', text: 'Hello' },
      { type: 'text', itemId: 'msg_1', text: ', world' },
      { type: 'usage', usage: USAGE },
      { type: 'done', finishReason: 'stop' }
    ), meta())
    expect(completion).toEqual({
      id: 'chatcmpl-test',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'codex-5',
      choices: [{
        index: 0,
        message: { role: 'assistant', content: 'Hello, world', refusal: null, reasoning_content: 'think hard' },
        logprobs: null,
        finish_reason: 'stop'
      }],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 8 }
      }
    })
  })

  it('has no reasoning_content or tool_calls keys when there were none', async () => {
    const completion = await foldChatCompletion(events({ type: 'text', itemId: 'msg_1', text: 'x' }, { type: 'done', finishReason: 'length' }), meta())
    const message = completion.choices[0]?.message
    expect(message && Object.keys(message).sort()).toEqual(['content', 'refusal', 'role'])
    expect(completion.choices[0]?.finish_reason).toBe('length')
  })

  it('returns tool calls with content null and finish_reason tool_calls, even after a stop', async () => {
    const completion = await foldChatCompletion(events({ type: 'started' }, CALL_A, CALL_B, { type: 'done', finishReason: 'stop' }), meta())
    expect(completion.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        refusal: null,
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
          { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } }
        ]
      },
      logprobs: null,
      finish_reason: 'tool_calls'
    })
  })

  it('keeps text next to tool calls', async () => {
    const completion = await foldChatCompletion(events({ type: 'text', itemId: 'msg_1', text: 'Checking.' }, CALL_A, { type: 'done', finishReason: 'tool_calls' }), meta())
    expect(completion.choices[0]?.message.content).toBe('Checking.')
    expect(completion.choices[0]?.message.tool_calls).toHaveLength(1)
  })

  it('answers legacy functions with function_call and finish_reason function_call', async () => {
    const completion = await foldChatCompletion(events(CALL_A, CALL_B, { type: 'done', finishReason: 'stop' }), meta({ legacyFunctions: true }))
    expect(completion.choices[0]?.message).toEqual({
      role: 'assistant', content: null, refusal: null, function_call: { name: 'weather', arguments: '{"city":"Oslo"}' }
    })
    expect(completion.choices[0]?.finish_reason).toBe('function_call')
  })

  it('defaults finish_reason to stop when the backend ends without done', async () => {
    const completion = await foldChatCompletion(events({ type: 'text', itemId: 'msg_1', text: 'x' }), meta())
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    expect(completion.choices[0]?.message.content).toBe('x')
  })

  it('lets a backend error through', async () => {
    async function * failing (): AsyncGenerator<BackendEvent> {
      yield { type: 'text', itemId: 'msg_1', text: 'x' }
      throw new Error('boom')
    }
    await expect(foldChatCompletion(failing(), meta())).rejects.toThrow('boom')
  })
})

/** The one chunk with a non-null finish_reason, and its position. */
function finishes (chunks: ChatCompletionChunk[]): Array<{ at: number, reason: string }> {
  const out: Array<{ at: number, reason: string }> = []
  chunks.forEach((c, at) => {
    for (const choice of c.choices) if (choice.finish_reason !== null) out.push({ at, reason: choice.finish_reason })
  })
  return out
}

const deltas = (chunks: ChatCompletionChunk[]) => chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0]?.delta)

describe('chatChunks', () => {
  const textTurn = (): AsyncGenerator<BackendEvent> => events(
    { type: 'started' },
    { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'hm' },
    { type: 'text', itemId: 'msg_1', text: 'Hel' },
    { type: 'text', itemId: 'msg_1', text: 'lo' },
    { type: 'usage', usage: USAGE },
    { type: 'done', finishReason: 'stop' }
  )

  it('streams role first, then deltas, then exactly one finish chunk', async () => {
    const chunks = await collect(chatChunks(textTurn(), meta(), { includeUsage: false, buffered: false }))
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'hm' },
      { content: 'Hel' },
      { content: 'lo' },
      {}
    ])
    expect(finishes(chunks)).toEqual([{ at: chunks.length - 1, reason: 'stop' }])
    for (const c of chunks) {
      expect(c.id).toBe('chatcmpl-test')
      expect(c.created).toBe(1_700_000_000)
      expect(c.model).toBe('codex-5')
      expect(c.object).toBe('chat.completion.chunk')
      expect(c.choices).toHaveLength(1)
      expect(c.choices[0]?.index).toBe(0)
      expect(c.choices[0]?.logprobs).toBeNull()
    }
  })

  it('has no usage key at all without include_usage', async () => {
    const chunks = await collect(chatChunks(textTurn(), meta(), { includeUsage: false, buffered: false }))
    for (const c of chunks) expect(Object.keys(c)).not.toContain('usage')
  })

  it('with include_usage: usage null on every normal chunk, then choices [] with the usage', async () => {
    const chunks = await collect(chatChunks(textTurn(), meta(), { includeUsage: true, buffered: false }))
    const last = chunks.at(-1)
    expect(last).toEqual({
      id: 'chatcmpl-test',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'codex-5',
      choices: [],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 64 },
        completion_tokens_details: { reasoning_tokens: 8 }
      }
    })
    const normal = chunks.slice(0, -1)
    expect(normal).toHaveLength(5)
    for (const c of normal) {
      expect(c.usage).toBeNull()
      expect(c.choices).toHaveLength(1)
    }
    // choices: [] only on the final usage chunk; the finish chunk comes right before it.
    expect(chunks.filter((c) => c.choices.length === 0)).toHaveLength(1)
    expect(finishes(chunks)).toEqual([{ at: chunks.length - 2, reason: 'stop' }])
  })

  it('streams each tool call as a header piece and an arguments piece, finishing with tool_calls', async () => {
    const chunks = await collect(chatChunks(events({ type: 'started' }, CALL_A, CALL_B, { type: 'done', finishReason: 'stop' }), meta(), { includeUsage: false, buffered: false }))
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"city":"Oslo"}' } }] },
      { tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '' } }] },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {}
    ])
    expect(finishes(chunks)).toEqual([{ at: 5, reason: 'tool_calls' }])
  })

  it('sends no arguments piece for empty arguments', async () => {
    const chunks = await collect(chatChunks(events({ type: 'tool_call', id: 'c', name: 'f', arguments: '' }, { type: 'done', finishReason: 'tool_calls' }), meta(), { includeUsage: false, buffered: false }))
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { tool_calls: [{ index: 0, id: 'c', type: 'function', function: { name: 'f', arguments: '' } }] },
      {}
    ])
  })

  it('streams one legacy function_call', async () => {
    const chunks = await collect(chatChunks(events(CALL_A, CALL_B, { type: 'done', finishReason: 'stop' }), meta({ legacyFunctions: true }), { includeUsage: false, buffered: false }))
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { function_call: { name: 'weather', arguments: '' } },
      { function_call: { arguments: '{"city":"Oslo"}' } },
      {}
    ])
    expect(finishes(chunks)).toEqual([{ at: 3, reason: 'function_call' }])
  })

  it('buffered mode holds the text and sends it as one chunk at the end', async () => {
    const chunks = await collect(chatChunks(textTurn(), meta(), { includeUsage: false, buffered: true }))
    expect(deltas(chunks)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'hm' },
      { content: 'Hello' },
      {}
    ])
    expect(finishes(chunks)).toEqual([{ at: 3, reason: 'stop' }])
  })

  it('still sends one finish chunk (and flushes buffered text) when the backend ends without done', async () => {
    const plain = await collect(chatChunks(events({ type: 'text', itemId: 'msg_1', text: 'a' }), meta(), { includeUsage: true, buffered: false }))
    expect(finishes(plain)).toEqual([{ at: 2, reason: 'stop' }])
    expect(plain.at(-1)?.choices).toEqual([])
    const buffered = await collect(chatChunks(events({ type: 'text', itemId: 'msg_1', text: 'a' }, { type: 'text', itemId: 'msg_1', text: 'b' }), meta(), { includeUsage: false, buffered: true }))
    expect(deltas(buffered)).toEqual([{ role: 'assistant', content: '' }, { content: 'ab' }, {}])
    expect(finishes(buffered)).toEqual([{ at: 2, reason: 'stop' }])
    const tools = await collect(chatChunks(events(CALL_B), meta(), { includeUsage: false, buffered: false }))
    expect(finishes(tools)).toEqual([{ at: tools.length - 1, reason: 'tool_calls' }])
  })

  it('never sends a second finish chunk for a repeated done', async () => {
    const chunks = await collect(chatChunks(events({ type: 'text', itemId: 'msg_1', text: 'a' }, { type: 'done', finishReason: 'stop' }, { type: 'done', finishReason: 'length' }), meta(), { includeUsage: false, buffered: false }))
    expect(finishes(chunks)).toEqual([{ at: 2, reason: 'stop' }])
    expect(chunks).toHaveLength(3)
  })

  it('passes length through', async () => {
    const chunks = await collect(chatChunks(events({ type: 'text', itemId: 'msg_1', text: 'a' }, { type: 'done', finishReason: 'length' }), meta(), { includeUsage: false, buffered: false }))
    expect(finishes(chunks)).toEqual([{ at: 2, reason: 'length' }])
  })
})
