import { describe, expect, it } from 'vitest'
import { ApiError } from '../../../../src/errors.js'
import { parseClaudeModels } from '../../../../src/api/messages/claude-models.js'
import { messagesErrorBody } from '../../../../src/api/messages/errors.js'
import { parseMessagesRequest, type MessagesContext } from '../../../../src/api/messages/request.js'
import type { MessagesRequest } from '../../../../src/api/messages/schemas.js'
import { ThinkingSignatures } from '../../../../src/api/messages/thinking-signature.js'
import { assertSupported } from '../../../../src/turns/checks.js'
import type { BackendCapabilities, CodexModel } from '../../../../src/backends/types.js'
import { thrownBy } from '../../support.js'

const NONE: BackendCapabilities = { tools: false, images: false, structuredOutput: false }
const MODELS: CodexModel[] = [{ slug: 'gpt-5.5', displayName: 'GPT-5.5', efforts: ['low', 'medium', 'high', 'xhigh'], defaultEffort: 'medium', isDefault: true }]
const signatures = new ThinkingSignatures('a-secret-of-16-chars-or-more')

function ctx (keyName = 'default'): MessagesContext {
  return {
    requestId: 'req-1',
    codexModels: MODELS,
    configuredModel: undefined,
    claudeModels: parseClaudeModels('opus=codex-5-high,sonnet=gpt-5.5-medium,haiku=codex-5-low,claude=codex-5'),
    signatures,
    keyName
  }
}
const body = (extra: Partial<MessagesRequest> = {}): MessagesRequest => ({ model: 'claude-opus-5-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...extra })

function badRequest (b: MessagesRequest, c: MessagesContext = ctx()): { param: string | null, message: string, type: string } {
  const err = thrownBy(() => parseMessagesRequest(b, c))
  expect(err).toBeInstanceOf(ApiError)
  const e = err as ApiError
  expect(e.statusCode).toBe(400)
  return { param: e.param, message: e.message, type: messagesErrorBody(e).error.type }
}

describe('parseMessagesRequest', () => {
  it('maps claude-* families to their model and effort, and echoes the id', () => {
    expect(parseMessagesRequest(body(), ctx()).request).toMatchObject({ model: undefined, effort: 'high' })
    const sonnet = parseMessagesRequest(body({ model: 'claude-sonnet-4-5-20250929' }), ctx())
    expect(sonnet.request).toMatchObject({ model: 'gpt-5.5', effort: 'medium' })
    expect(sonnet.requestedModel).toBe('claude-sonnet-4-5-20250929')
    expect(parseMessagesRequest(body({ model: 'claude-3-foo' }), ctx()).request).toMatchObject({ model: undefined, effort: undefined })
    expect(parseMessagesRequest(body({ model: 'gpt-5.5-low' }), ctx()).request).toMatchObject({ model: 'gpt-5.5', effort: 'low' })
  })

  it('takes the effort from output_config, else from the thinking budget, else the family', () => {
    const effort = (extra: Partial<MessagesRequest>): unknown => parseMessagesRequest(body(extra), ctx()).request.effort
    expect(effort({ output_config: { effort: 'low' } })).toBe('low')
    expect(effort({ output_config: { effort: 'max' } })).toBe('xhigh')
    expect(effort({ thinking: { type: 'enabled', budget_tokens: 1024 } })).toBe('low')
    expect(effort({ thinking: { type: 'enabled', budget_tokens: 4000 } })).toBe('medium')
    expect(effort({ thinking: { type: 'enabled', budget_tokens: 16_000 } })).toBe('high')
    expect(effort({ thinking: { type: 'adaptive' } })).toBe('high')
    // No thinking: as little reasoning as the model allows.
    expect(effort({ thinking: { type: 'disabled' } })).toBe('low')
  })

  it('asks for summaries only when thinking is shown, and for encrypted reasoning whenever thinking is on', () => {
    const plan = (thinking?: Record<string, unknown>): { summary: unknown, keep: unknown, thinking: boolean } => {
      const t = parseMessagesRequest(body(thinking === undefined ? {} : { thinking }), ctx())
      return { summary: t.request.summary, keep: t.request.keepReasoning, thinking: t.thinking }
    }
    expect(plan()).toEqual({ summary: 'none', keep: false, thinking: false })
    expect(plan({ type: 'enabled', budget_tokens: 2048 })).toEqual({ summary: 'auto', keep: true, thinking: true })
    expect(plan({ type: 'adaptive', display: 'omitted' })).toEqual({ summary: 'none', keep: true, thinking: true })
  })

  it('joins system blocks without the billing header, and keeps role:system messages in place as developer', () => {
    const turn = parseMessagesRequest(body({
      system: [{ type: 'text', text: 'x-anthropic-billing-header: cc_version=1;' }, { type: 'text', text: 'A.' }, { type: 'text', text: 'B.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'q' }, { role: 'system', content: [{ type: 'text', text: 'env' }] }]
    }), ctx())
    expect(turn.request.items).toEqual([
      { type: 'message', role: 'system', content: [{ type: 'text', text: 'A.\n\nB.' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'q' }] },
      { type: 'message', role: 'developer', content: [{ type: 'text', text: 'env' }] }
    ])
  })

  it('turns tool_use and tool_result blocks into calls and results, in order, with errors marked', () => {
    const turn = parseMessagesRequest(body({
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'text', text: 'calling' }, { type: 'tool_use', id: 't1', name: 'fn', input: { a: 1 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: 'boom', is_error: true }, { type: 'text', text: 'and now?' }] }
      ]
    }), ctx())
    expect(turn.request.items.slice(1)).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'calling' }] },
      { type: 'tool_call', id: 't1', name: 'fn', arguments: '{"a":1}' },
      { type: 'tool_result', callId: 't1', output: 'ERROR: boom' },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'and now?' }] }
    ])
  })

  it('keeps client tools (defer_loading too), drops the placeholder and server tools, and honours tool_choice', () => {
    const tools = [
      { name: 'Read', description: 'read', input_schema: { type: 'object', properties: { p: { type: 'string' } } }, defer_loading: true },
      { name: 'DeferredToolPlaceholder', input_schema: { type: 'object' } },
      { type: 'web_search_20250305', name: 'web_search' }
    ]
    const turn = parseMessagesRequest(body({ tools }), ctx())
    expect(turn.request.tools.map((t) => t.name)).toEqual(['Read'])
    expect(turn.dropped).toEqual(['tools[2] (web_search_20250305)'])
    expect(parseMessagesRequest(body({ tools, tool_choice: { type: 'any' } }), ctx()).request.toolChoice).toBe('required')
    expect(parseMessagesRequest(body({ tools, tool_choice: { type: 'tool', name: 'Read' } }), ctx()).request.toolChoice).toEqual({ name: 'Read' })
    expect(parseMessagesRequest(body({ tools, tool_choice: { type: 'none' } }), ctx()).request.tools).toEqual([])
    expect(parseMessagesRequest(body({ tools, tool_choice: { type: 'auto', disable_parallel_tool_use: true } }), ctx()).request.parallelToolCalls).toBe(false)
    expect(badRequest(body({ tools, tool_choice: { type: 'tool', name: 'Nope' } })).param).toBe('tool_choice')
  })

  it('bounds tool_use ids and names and tool_result ids as chat completions does (512 and 256 characters)', () => {
    const round = (id: string, name: string, resultId = id): MessagesRequest => body({
      messages: [
        { role: 'user', content: 'go' },
        { role: 'assistant', content: [{ type: 'tool_use', id, name, input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: resultId, content: 'ok' }] }
      ]
    })
    expect(parseMessagesRequest(round('t'.repeat(512), 'n'.repeat(256)), ctx()).request.items.slice(1)).toEqual([
      { type: 'tool_call', id: 't'.repeat(512), name: 'n'.repeat(256), arguments: '{}' },
      { type: 'tool_result', callId: 't'.repeat(512), output: 'ok' }
    ])
    expect(badRequest(round('t'.repeat(513), 'fn', 't'))).toMatchObject({ param: 'messages[1].content[0].id', type: 'invalid_request_error' })
    expect(badRequest(round('t', 'n'.repeat(257)))).toMatchObject({ param: 'messages[1].content[0].name', type: 'invalid_request_error' })
    expect(badRequest(round('t', 'fn', 't'.repeat(513)))).toMatchObject({ param: 'messages[2].content[0].tool_use_id', type: 'invalid_request_error' })
    expect(badRequest(round('', 'fn')).param).toBe('messages[1].content[0].id')
  })

  it('replays thinking only with this server\'s signature for this key', () => {
    const item = { type: 'reasoning' as const, id: 'rs_1', summary: ['one', 'two'], encryptedContent: 'enc' }
    const signature = signatures.sign(item, 'default')
    const withThinking = (thinking: string, sig: string, keyName = 'default'): unknown[] => parseMessagesRequest(body({
      messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: [{ type: 'thinking', thinking, signature: sig }, { type: 'text', text: 'b' }] }, { role: 'user', content: 'c' }]
    }), ctx(keyName)).request.items.filter((i) => i.type === 'reasoning')
    expect(withThinking('one\n\ntwo', signature)).toEqual([item])
    expect(withThinking('one\n\ntwo!', signature)).toEqual([])
    expect(withThinking('one\n\ntwo', signature.slice(0, -2))).toEqual([])
    expect(withThinking('one\n\ntwo', signature, 'bob')).toEqual([])
    expect(new ThinkingSignatures(undefined).verify(signature, 'one\n\ntwo', 'default')).toBeUndefined()
  })

  it('refuses what it cannot carry, in Anthropic\'s terms', () => {
    expect(badRequest(body({ messages: [{ role: 'user', content: [{ type: 'video' }] }] }))).toMatchObject({ param: 'messages[0].content[0].type', type: 'invalid_request_error' })
    expect(badRequest(body({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] }] })).param).toBe('messages[0].content[0].source.type')
    expect(badRequest(body({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/tiff', data: 'AAAA' } }] }] })).param).toBe('messages[0].content[0].source.data')
    expect(badRequest(body({ messages: [{ role: 'assistant', content: 'only me' }] })).param).toBe('messages')
    expect(badRequest(body({ thinking: { type: 'sometimes' } })).param).toBe('thinking.type')
    expect(badRequest(body({ tools: [{ name: 'a', input_schema: { type: 'object', properties: 5 } }] })).param).toBe('tools[0].input_schema.properties')
    // The proto backend has no tools: refused, never dropped (by the pipeline, for every dialect).
    const e = thrownBy(() => { assertSupported(parseMessagesRequest(body({ tools: [{ name: 'a', input_schema: { type: 'object' } }] }), ctx()).request, { kind: 'proto', capabilities: NONE }) })
    expect(messagesErrorBody(e as ApiError).error).toMatchObject({ type: 'invalid_request_error' })
    expect((e as ApiError).message).toContain('CODEX_BACKEND=app-server')
  })
})
