import { describe, expect, it } from 'vitest'
import { foldAssembled } from '../../../../src/api/assembled-stream.js'
import { messagesDialect } from '../../../../src/api/messages/errors.js'
import { MessageAssembler, toMessageUsage, type MessageEvent } from '../../../../src/api/messages/response.js'
import { messagesSse } from '../../../../src/api/messages/stream.js'
import { ThinkingSignatures } from '../../../../src/api/messages/thinking-signature.js'
import type { BackendEvent } from '../../../../src/backends/types.js'
import { ApiError, rateLimited } from '../../../../src/errors.js'
import { parseSse } from '../../../helpers/http.js'
import { collect } from '../../support.js'

const signatures = new ThinkingSignatures('a-secret-of-16-chars-or-more')
const assembler = (thinking = true): MessageAssembler => new MessageAssembler({ model: 'claude-x', thinking, signatures, keyName: 'k' })
async function * events (...list: BackendEvent[]): AsyncGenerator<BackendEvent> {
  for (const e of list) { await Promise.resolve(); yield e }
}
const REASONING: BackendEvent[] = [
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'Step ' },
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'one.' },
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 1, text: 'Step two.' },
  { type: 'reasoning_done', item: { type: 'reasoning', id: 'rs_1', summary: ['Step one.', 'Step two.'], encryptedContent: 'enc_1' } }
]
const USAGE: BackendEvent = { type: 'usage', usage: { promptTokens: 100, completionTokens: 20, totalTokens: 120, cachedTokens: 30 } }

describe('MessageAssembler', () => {
  it('streams thinking, text and tool_use blocks in order, each started and stopped, then message_delta and message_stop', () => {
    const a = assembler()
    const wire: MessageEvent[] = [...a.start()]
    for (const e of [...REASONING, { type: 'text', itemId: 'msg_1', text: 'Hi' }, { type: 'tool_call', id: 'toolu_1', name: 'fn', arguments: '{"a":1}' }, USAGE, { type: 'done', finishReason: 'stop' }] as BackendEvent[]) wire.push(...a.push(e))
    wire.push(...a.finish())
    expect(wire.map((e) => e.type === 'content_block_delta' ? `delta:${(e.delta as { type: string }).type}` : e.type)).toEqual([
      'message_start',
      'content_block_start', 'delta:thinking_delta', 'delta:thinking_delta', 'delta:thinking_delta', 'delta:thinking_delta', 'delta:signature_delta', 'content_block_stop',
      'content_block_start', 'delta:text_delta', 'content_block_stop',
      'content_block_start', 'delta:input_json_delta', 'content_block_stop',
      'message_delta', 'message_stop'
    ])
    const message = a.message()
    expect(message.content).toEqual([
      { type: 'thinking', thinking: 'Step one.\n\nStep two.', signature: expect.any(String) as string },
      { type: 'text', text: 'Hi' },
      { type: 'tool_use', id: 'toolu_1', name: 'fn', input: { a: 1 } }
    ])
    expect(message.stop_reason).toBe('tool_use')
    const thinking = message.content[0] as { thinking: string, signature: string }
    expect(signatures.verify(thinking.signature, thinking.thinking, 'k')).toEqual({ type: 'reasoning', id: 'rs_1', summary: ['Step one.', 'Step two.'], encryptedContent: 'enc_1' })
    expect(wire.at(-2)).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 70, cache_creation_input_tokens: 0, cache_read_input_tokens: 30, output_tokens: 20 } })
  })

  it('makes a signed empty thinking block for reasoning without a summary, and none without thinking asked for', async () => {
    const done: BackendEvent = { type: 'reasoning_done', item: { type: 'reasoning', id: 'rs_2', summary: [], encryptedContent: 'enc_2' } }
    const shown = (await foldAssembled(events(done, { type: 'text', itemId: 'm', text: 'x' }, { type: 'done', finishReason: 'stop' }), assembler())).message()
    expect(shown.content.map((b) => b.type)).toEqual(['thinking', 'text'])
    expect(shown.content[0]).toMatchObject({ thinking: '' })
    const hidden = (await foldAssembled(events(...REASONING, { type: 'text', itemId: 'm', text: 'x' }, { type: 'done', finishReason: 'stop' }), assembler(false))).message()
    expect(hidden.content).toEqual([{ type: 'text', text: 'x' }])
  })

  it('maps the finish: length is max_tokens, a plain stop end_turn', async () => {
    expect(((await foldAssembled(events({ type: 'text', itemId: 'm', text: 'x' }, { type: 'done', finishReason: 'length' }), assembler())).message()).stop_reason).toBe('max_tokens')
    expect(((await foldAssembled(events({ type: 'text', itemId: 'm', text: 'x' }, { type: 'done', finishReason: 'stop' }), assembler())).message()).stop_reason).toBe('end_turn')
  })

  it('counts input without the cache reads, as Anthropic does', () => {
    expect(toMessageUsage({ promptTokens: 10, completionTokens: 2, totalTokens: 12, cachedTokens: 4 })).toEqual({ input_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 4, output_tokens: 2 })
  })
})

describe('messagesSse and the dialect', () => {
  it('ends a failed stream with one event: error in Anthropic\'s shape, without message_stop', async () => {
    async function * failing (): AsyncGenerator<BackendEvent> {
      yield { type: 'text', itemId: 'm', text: 'par' }
      throw new ApiError(503, 'The upstream model API is overloaded; retry shortly.', { kind: 'overloaded', code: 'upstream_overloaded' })
    }
    const blocks = parseSse((await collect(messagesSse(failing(), assembler()))).join(''))
    expect(blocks.map((b) => b.event)).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'error'])
    expect(JSON.parse(blocks.at(-1)?.data ?? '')).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'The upstream model API is overloaded; retry shortly.' } })
  })

  it('renders errors with Anthropic\'s types and statuses, ping as its keepalive', () => {
    const answer = (err: ApiError): [number, string] => {
      const a = messagesDialect.httpError(err)
      return [a.status, (a.body as { error: { type: string } }).error.type]
    }
    expect(answer(new ApiError(503, 'x', { kind: 'overloaded' }))).toEqual([529, 'overloaded_error'])
    expect(answer(rateLimited('busy', 3))).toEqual([429, 'rate_limit_error'])
    expect(answer(new ApiError(413, 'x', { kind: 'invalid_request' }))).toEqual([413, 'request_too_large'])
    expect(answer(new ApiError(401, 'x', { kind: 'authentication' }))).toEqual([401, 'authentication_error'])
    expect(answer(new ApiError(502, 'x', { kind: 'server' }))).toEqual([502, 'api_error'])
    expect(answer(new ApiError(504, 'x', { kind: 'timeout' }))).toEqual([504, 'api_error'])
    expect(messagesDialect.keepaliveFrame).toBe('event: ping\ndata: {"type":"ping"}\n\n')
  })
})
