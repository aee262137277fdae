import { describe, expect, it } from 'vitest'
import { ApiError } from '../../../../src/errors.js'
import { chatErrorEnvelope } from '../../../../src/api/chat/errors.js'
import { parseChatRequest } from '../../../../src/api/chat/request.js'
import { assertSupported } from '../../../../src/turns/checks.js'
import type { ParseContext } from '../../../../src/turns/plan.js'
import type { ChatCompletionRequest, ChatMessage } from '../../../../src/api/chat/schemas.js'
import type { BackendCapabilities } from '../../../../src/backends/types.js'
import { thrownBy } from '../../support.js'

const NONE: BackendCapabilities = { tools: false, images: false, structuredOutput: false }
const PNG = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='

const ctx = (): ParseContext => ({ requestId: 'req-1', codexModels: [], configuredModel: 'gpt-5' })

const user = (content: ChatMessage['content'] = 'hi'): ChatMessage => ({ role: 'user', content })
const body = (extra: Partial<ChatCompletionRequest> = {}): ChatCompletionRequest => ({ model: 'codex-5', messages: [user()], ...extra })
const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: { type: 'object', properties: { q: { type: 'string' } } } } })

/** The 400 a chat client sees: the error as chat completions renders it. */
function badRequest (b: ChatCompletionRequest, c: ParseContext = ctx()): { message: string, type: string, param: string | null, code: string | null } {
  const err = thrownBy(() => parseChatRequest(b, c))
  expect(err).toBeInstanceOf(ApiError)
  const e = err as ApiError
  expect(e.statusCode).toBe(400)
  const rendered = chatErrorEnvelope(e).error
  expect(rendered.type).toBe('invalid_request_error')
  return rendered
}

describe('parseChatRequest: messages', () => {
  it('turns every text role into a message item', () => {
    const turn = parseChatRequest(body({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'developer', content: [{ type: 'text', text: 'dev rules' }] },
        { role: 'user', content: 'question' },
        { role: 'assistant', content: 'answer' },
        { role: 'user', content: [{ type: 'text', text: 'part 1' }, { type: 'input_text', text: 'part 2' }] }
      ]
    }), ctx())
    expect(turn.request.items).toEqual([
      { type: 'message', role: 'system', content: [{ type: 'text', text: 'be brief' }] },
      { type: 'message', role: 'developer', content: [{ type: 'text', text: 'dev rules' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'question' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'answer' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'part 1' }, { type: 'text', text: 'part 2' }] }
    ])
  })

  it('fills the rest of the turn', () => {
    const turn = parseChatRequest(body({ model: 'codex-5-high', stream: true, stream_options: { include_usage: true } }), ctx())
    expect(turn.requestedModel).toBe('codex-5-high')
    expect(turn.effectiveModel).toBe('gpt-5')
    expect(turn.stream).toBe(true)
    expect(turn.includeUsage).toBe(true)
    expect(turn.legacyFunctions).toBe(false)
    expect(turn.request).toEqual({
      requestId: 'req-1',
      model: 'gpt-5',
      effort: 'high',
      items: [{ type: 'message', role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      tools: [],
      toolChoice: 'none',
      parallelToolCalls: true,
      outputFormat: undefined
    })
  })

  it('defaults the model to codex-5 and stream to false', () => {
    const { model: _omit, ...rest } = body()
    const turn = parseChatRequest(rest, ctx())
    expect(turn.requestedModel).toBe('codex-5')
    expect(turn.stream).toBe(false)
    expect(turn.includeUsage).toBe(false)
  })

  it('turns assistant tool_calls into tool_call items and tool messages into tool_result items', () => {
    const turn = parseChatRequest(body({
      messages: [
        user('weather?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
            { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } }
          ]
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'rainy' },
        { role: 'tool', tool_call_id: 'call_b', content: [{ type: 'text', text: '12:' }, { type: 'text', text: '00' }] }
      ]
    }), ctx())
    expect(turn.request.items).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'weather?' }] },
      { type: 'tool_call', id: 'call_a', name: 'weather', arguments: '{"city":"Oslo"}' },
      { type: 'tool_call', id: 'call_b', name: 'time', arguments: '{}' },
      { type: 'tool_result', callId: 'call_a', output: 'rainy' },
      { type: 'tool_result', callId: 'call_b', output: '12:00' }
    ])
  })

  it('keeps assistant text before its tool calls', () => {
    const turn = parseChatRequest(body({
      messages: [user('x'), { role: 'assistant', content: 'let me check', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{}' } }] }]
    }), ctx())
    expect(turn.request.items.slice(1)).toEqual([
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'let me check' }] },
      { type: 'tool_call', id: 'c1', name: 'f', arguments: '{}' }
    ])
  })

  it('pairs legacy function_call / function messages by name', () => {
    const turn = parseChatRequest(body({
      messages: [
        user('go'),
        { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: '{"k":1}' } },
        { role: 'function', name: 'lookup', content: 'found' }
      ]
    }), ctx())
    expect(turn.request.items.slice(1)).toEqual([
      { type: 'tool_call', id: 'call_legacy_1', name: 'lookup', arguments: '{"k":1}' },
      { type: 'tool_result', callId: 'call_legacy_1', output: 'found' }
    ])
  })

  it('gives an unpaired legacy function result a synthetic call', () => {
    const turn = parseChatRequest(body({ messages: [user('go'), { role: 'function', name: 'orphan', content: 'data' }] }), ctx())
    expect(turn.request.items.slice(1)).toEqual([
      { type: 'tool_call', id: 'call_legacy_1', name: 'orphan', arguments: '{}' },
      { type: 'tool_result', callId: 'call_legacy_1', output: 'data' }
    ])
  })

  it('refuses a function message without a name', () => {
    expect(badRequest(body({ messages: [user(), { role: 'function', content: 'x' }] })).param).toBe('messages[1].name')
  })

  it('accepts a refusal part of an assistant message as text', () => {
    const turn = parseChatRequest(body({
      messages: [user(), { role: 'assistant', content: [{ type: 'refusal', refusal: 'no' } as { type: string }] }, user('again')]
    }), ctx())
    expect(turn.request.items[1]).toEqual({ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'no' }] })
  })

  it.each([
    ['an empty string', ''],
    ['null', null],
    ['an empty part list', []],
    ['only empty text parts', [{ type: 'text', text: '' }]]
  ])('refuses a user message whose content is %s', (_what, content) => {
    const err = badRequest(body({ messages: [{ role: 'system', content: 'sys' }, user(content as ChatMessage['content'])] }))
    expect(err.param).toBe('messages[1].content')
  })

  it('refuses an empty system message', () => {
    expect(badRequest(body({ messages: [{ role: 'system', content: '' }, user()] })).param).toBe('messages[0].content')
  })

  it('refuses a text part without text', () => {
    expect(badRequest(body({ messages: [user([{ type: 'text' }])] })).param).toBe('messages[0].content[0].text')
  })

  it('refuses a conversation without any user message', () => {
    const err = badRequest(body({ messages: [{ role: 'system', content: 'sys' }, { role: 'assistant', content: 'hello' }] }))
    expect(err.param).toBe('messages')
  })

  it('accepts a conversation that ends in tool results without a user message', () => {
    const turn = parseChatRequest(body({
      messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', function: { name: 'f', arguments: '{}' } }] }, { role: 'tool', tool_call_id: 'c', content: 'ok' }]
    }), ctx())
    expect(turn.request.items.at(-1)).toEqual({ type: 'tool_result', callId: 'c', output: 'ok' })
  })

  it('refuses a tool message without tool_call_id', () => {
    expect(badRequest(body({ messages: [user(), { role: 'tool', content: 'x' }] })).param).toBe('messages[1].tool_call_id')
    expect(badRequest(body({ messages: [user(), { role: 'tool', tool_call_id: '', content: 'x' }] })).param).toBe('messages[1].tool_call_id')
  })

  it.each(['input_audio', 'file', 'video_url'])('refuses a %s part with code unsupported_value', (type) => {
    const err = badRequest(body({ messages: [user([{ type: 'text', text: 'see' }, { type }])] }))
    expect(err.param).toBe('messages[0].content[1].type')
    expect(err.code).toBe('unsupported_value')
  })
})

describe('parseChatRequest: images', () => {
  it('accepts data URLs and http(s) URLs, keeping detail', () => {
    const turn = parseChatRequest(body({
      messages: [user([
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: PNG, detail: 'high' } },
        { type: 'image_url', image_url: 'https://example.com/cat.png' },
        { type: 'image_url', image_url: { url: 'http://example.com/dog.jpg' } }
      ])]
    }), ctx())
    expect(turn.request.items[0]).toEqual({
      type: 'message',
      role: 'user',
      content: [
        { type: 'text', text: 'look' },
        { type: 'image', url: PNG, detail: 'high' },
        { type: 'image', url: 'https://example.com/cat.png', detail: undefined },
        { type: 'image', url: 'http://example.com/dog.jpg', detail: undefined }
      ]
    })
  })

  it.each([
    'file:///etc/passwd',
    'ftp://example.com/a.png',
    'javascript:alert(1)',
    '/relative/path.png',
    'data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=',
    'data:text/plain;base64,aGVsbG8=',
    'data:image/png,not-base64',
    'data:image/png;base64,!!!not base64!!!'
  ])('refuses the image URL %j with the exact param', (url) => {
    const err = badRequest(body({ messages: [user([{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url } }])] }))
    expect(err.param).toBe('messages[0].content[1].image_url.url')
    expect(err.code).toBe('invalid_image_url')
  })

  it('refuses an image part without a url', () => {
    expect(badRequest(body({ messages: [user([{ type: 'image_url', image_url: { url: '' } }])] })).param).toBe('messages[0].content[0].image_url')
    expect(badRequest(body({ messages: [user([{ type: 'image_url' }])] })).param).toBe('messages[0].content[0].image_url')
  })

  it('refuses images in system and tool messages', () => {
    const img = { type: 'image_url', image_url: { url: PNG } }
    expect(badRequest(body({ messages: [{ role: 'system', content: [img] }, user()] })).param).toBe('messages[0].content[0]')
    expect(badRequest(body({ messages: [user(), { role: 'tool', tool_call_id: 'c', content: [img] }] })).param).toBe('messages[1].content[0]')
  })
})

describe('parseChatRequest: parameters', () => {
  it('refuses n > 1 on param n, accepts n = 1 and null', () => {
    const err = badRequest(body({ n: 2 }))
    expect(err.param).toBe('n')
    expect(err.code).toBe('unsupported_value')
    expect(() => parseChatRequest(body({ n: 1 }), ctx())).not.toThrow()
    expect(() => parseChatRequest(body({ n: null }), ctx())).not.toThrow()
  })

  it('reads reasoning_effort and reasoning.effort, the latter winning', () => {
    expect(parseChatRequest(body({ reasoning_effort: 'low' }), ctx()).request.effort).toBe('low')
    expect(parseChatRequest(body({ reasoning: { effort: 'HIGH' } }), ctx()).request.effort).toBe('high')
    expect(parseChatRequest(body({ reasoning_effort: 'low', reasoning: { effort: 'high' } }), ctx()).request.effort).toBe('high')
    expect(parseChatRequest(body({ reasoning_effort: 'low', reasoning: { effort: null } }), ctx()).request.effort).toBe('low')
  })

  it('lets the body effort override the model variant', () => {
    expect(parseChatRequest(body({ model: 'codex-5-high', reasoning_effort: 'minimal' }), ctx()).request.effort).toBe('minimal')
  })

  it('refuses an unknown reasoning effort, naming the field it came from', () => {
    const a = badRequest(body({ reasoning_effort: 'extreme' }))
    expect(a.param).toBe('reasoning_effort')
    expect(a.code).toBe('invalid_value')
    expect(badRequest(body({ reasoning: { effort: 'extreme' } })).param).toBe('reasoning.effort')
  })

  it('refuses a bad model id before anything else', () => {
    expect(badRequest(body({ model: '--help' })).param).toBe('model')
  })

  it('turns tools into tool specs with tool_choice auto by default', () => {
    const turn = parseChatRequest(body({
      tools: [tool('search'), { type: 'function', function: { name: 'noop', description: 'does nothing', strict: true } }],
      parallel_tool_calls: false
    }), ctx())
    expect(turn.request.tools).toEqual([
      { name: 'search', description: undefined, parameters: { type: 'object', properties: { q: { type: 'string' } } }, strict: undefined },
      { name: 'noop', description: 'does nothing', parameters: { type: 'object', properties: {} }, strict: true }
    ])
    expect(turn.request.toolChoice).toBe('auto')
    expect(turn.request.parallelToolCalls).toBe(false)
  })

  it('drops the tools for tool_choice none', () => {
    const turn = parseChatRequest(body({ tools: [tool('search')], tool_choice: 'none' }), ctx())
    expect(turn.request.tools).toEqual([])
    expect(turn.request.toolChoice).toBe('none')
  })

  it('keeps tool_choice required and named', () => {
    expect(parseChatRequest(body({ tools: [tool('search')], tool_choice: 'required' }), ctx()).request.toolChoice).toBe('required')
    expect(parseChatRequest(body({ tools: [tool('search'), tool('other')], tool_choice: { type: 'function', function: { name: 'other' } } }), ctx()).request.toolChoice)
      .toEqual({ name: 'other' })
  })

  it('refuses a named tool_choice that is not among the tools', () => {
    const err = badRequest(body({ tools: [tool('search')], tool_choice: { type: 'function', function: { name: 'missing' } } }))
    expect(err.param).toBe('tool_choice')
    expect(err.message).toContain('`missing`')
  })

  it('refuses duplicate function names', () => {
    expect(badRequest(body({ tools: [tool('a'), tool('a')] })).param).toBe('tools[1].function.name')
  })

  it('reads the legacy functions / function_call fields', () => {
    const turn = parseChatRequest(body({
      functions: [{ name: 'lookup', parameters: { type: 'object' } }, { name: 'other' }],
      function_call: { name: 'lookup' }
    }), ctx())
    expect(turn.legacyFunctions).toBe(true)
    expect(turn.request.tools.map((t) => t.name)).toEqual(['lookup', 'other'])
    expect(turn.request.toolChoice).toEqual({ name: 'lookup' })
    expect(parseChatRequest(body({ functions: [{ name: 'lookup' }], function_call: 'none' }), ctx()).request.tools).toEqual([])
    expect(parseChatRequest(body({ functions: [{ name: 'lookup' }] }), ctx()).request.toolChoice).toBe('auto')
  })

  it('refuses a legacy function_call naming an unknown function, on param function_call', () => {
    expect(badRequest(body({ functions: [{ name: 'lookup' }], function_call: { name: 'nope' } })).param).toBe('function_call')
    expect(badRequest(body({ functions: [{ name: 'a' }, { name: 'a' }] })).param).toBe('functions[1].name')
  })

  it('prefers tools over legacy functions', () => {
    const turn = parseChatRequest(body({ tools: [tool('new')], functions: [{ name: 'old' }] }), ctx())
    expect(turn.legacyFunctions).toBe(false)
    expect(turn.request.tools.map((t) => t.name)).toEqual(['new'])
  })

  it('maps response_format', () => {
    expect(parseChatRequest(body({ response_format: { type: 'text' } }), ctx()).request.outputFormat).toBeUndefined()
    expect(parseChatRequest(body({ response_format: { type: 'json_object' } }), ctx()).request.outputFormat).toEqual({ type: 'json_object' })
    const schema = { type: 'object', properties: { a: { type: 'number' } }, required: ['a'] }
    expect(parseChatRequest(body({ response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } } }), ctx()).request.outputFormat)
      .toEqual({ type: 'json_schema', name: 'answer', schema, strict: true })
  })

  it('refuses a json_schema format that is not a JSON Schema, naming where', () => {
    expect(badRequest(body({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: 5 } } } })).param).toBe('response_format.json_schema.schema.properties')
    expect(badRequest(body({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'objekt' } } } })).message).toMatch(/not a valid JSON Schema/)
  })

  it('refuses json_schema without a schema', () => {
    expect(badRequest(body({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } })).param).toBe('response_format.json_schema.schema')
    expect(badRequest(body({ response_format: { type: 'json_schema' } })).param).toBe('response_format.json_schema.schema')
  })
})

describe('assertSupported: a chat request on a backend that cannot honour all of it', () => {
  const proto = { kind: 'proto' as const, capabilities: NONE }
  function refused (b: ChatCompletionRequest, param: string): void {
    const e = thrownBy(() => { assertSupported(parseChatRequest(b, ctx()).request, proto) })
    expect(e).toBeInstanceOf(ApiError)
    expect((e as ApiError).statusCode).toBe(400)
    const err = chatErrorEnvelope(e as ApiError).error
    expect(err.code).toBe('unsupported_feature')
    expect(err.param).toBe(param)
    expect(err.message).toContain('CODEX_BACKEND=app-server')
    expect(err.message).toContain('proto backend')
  }

  it('refuses tools on a backend without tools', () => {
    refused(body({ tools: [tool('search')] }), 'tools')
    refused(body({ functions: [{ name: 'legacy' }] }), 'tools')
  })
  it('refuses images on a backend without images', () => {
    refused(body({ messages: [user([{ type: 'image_url', image_url: { url: PNG } }])] }), 'messages')
  })
  it('refuses response_format on a backend without structured output', () => {
    refused(body({ response_format: { type: 'json_object' } }), 'response_format')
  })
  it('still accepts plain text requests, tool_choice none and response_format text', () => {
    const turn = parseChatRequest(body({ tools: [tool('search')], tool_choice: 'none', response_format: { type: 'text' } }), ctx())
    expect(turn.request.tools).toEqual([])
    expect(() => { assertSupported(turn.request, proto) }).not.toThrow()
  })
})
