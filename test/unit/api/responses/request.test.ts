import { describe, expect, it } from 'vitest'
import { responsesErrorEnvelope } from '../../../../src/api/responses/errors.js'
import { parseResponsesRequest, type ResponsesContext } from '../../../../src/api/responses/request.js'
import type { ResponsesRequest } from '../../../../src/api/responses/schemas.js'
import { dynamicTools, planThread, toResponsesHistory } from '../../../../src/backends/app-server/items.js'
import { ToolNames } from '../../../../src/backends/app-server/tool-names.js'
import type { CodexModel } from '../../../../src/backends/types.js'
import { ApiError } from '../../../../src/errors.js'
import { thrownBy } from '../../support.js'

const MODELS: CodexModel[] = [{ slug: 'gpt-5.5', displayName: 'GPT-5.5', efforts: ['low', 'medium', 'high'], defaultEffort: 'medium', isDefault: true }]
const ctx = (extra: Partial<ResponsesContext> = {}): ResponsesContext => ({ requestId: 'req-1', codexModels: MODELS, configuredModel: undefined, ...extra })
const parse = (body: ResponsesRequest): ReturnType<typeof parseResponsesRequest> => parseResponsesRequest(body, ctx())
const PNG = 'data:image/png;base64,iVBORw0KGgo='
const fn = (name: string): Record<string, unknown> => ({ type: 'function', name, parameters: { type: 'object', properties: { q: { type: 'string' } } } })

/** The 400 a body is refused with: its param, code and envelope as /v1/responses renders it. */
function badRequest (body: ResponsesRequest): { param: string | null, code: string | null, message: string } {
  const err = thrownBy(() => parse(body))
  expect(err).toBeInstanceOf(ApiError)
  const e = err as ApiError
  expect(e.statusCode).toBe(400)
  expect(responsesErrorEnvelope(e).error.type).toBe('invalid_request_error')
  return { param: e.param, code: e.code, message: e.message }
}

describe('parseResponsesRequest: input items', () => {
  it('takes a bare string, items without type and string content as messages', () => {
    expect(parse({ input: 'hi' }).request.items).toEqual([{ type: 'message', role: 'user', content: [{ type: 'text', text: 'hi' }] }])
    const turn = parse({ input: [{ role: 'user', content: 'q' }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'a' }] }, { role: 'user', content: [{ type: 'input_text', text: 'q2' }] }] })
    expect(turn.request.items.map((i) => (i.type === 'message' ? `${i.role}:${i.content.map((c) => (c.type === 'text' ? c.text : '')).join('')}` : i.type))).toEqual(['user:q', 'assistant:a', 'user:q2'])
    // What GET /v1/responses/{id}/input_items lists: typed items with ids and array content.
    expect(turn.inputItems[0]).toMatchObject({ type: 'message', role: 'user', status: 'completed', content: [{ type: 'input_text', text: 'q' }] })
    expect(turn.inputItems[0]?.id).toMatch(/^msg_[0-9a-f]{32}$/)
    expect(turn.inputItems[1]?.content).toEqual([{ type: 'output_text', text: 'a' }])
  })

  it('puts instructions and leading system/developer items first, later ones where they stand; upstream the leading ones are the base instructions and later ones developer messages', () => {
    const turn = parse({
      instructions: 'Be brief.',
      input: [
        { role: 'system', content: 'You are a bot.' },
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Use tools.' }] },
        { role: 'user', content: 'first' },
        { role: 'system', content: 'Now in French.' },
        { role: 'developer', content: 'And short.' },
        { role: 'user', content: 'second' }
      ]
    })
    expect(turn.request.items.map((i) => (i.type === 'message' ? i.role : i.type))).toEqual(['developer', 'system', 'developer', 'user', 'system', 'developer', 'user'])
    // instructions are echoed, but not part of what a later previous_response_id replays.
    expect(turn.echo.instructions).toBe('Be brief.')
    expect(turn.ownItems).toHaveLength(6)
    const plan = planThread(turn.request.items, new ToolNames([]))
    expect(plan.baseInstructions).toBe('Be brief.\n\nYou are a bot.\n\nUse tools.')
    expect(plan.history).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'first' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Now in French.' }] },
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'And short.' }] }
    ])
    expect(plan.input).toEqual([{ type: 'text', text: 'second', text_elements: [] }])
  })

  it('takes function_call items with their ids and namespace, and function_call_output as a string, an array of parts or JSON', () => {
    const turn = parse({
      input: [
        { role: 'user', content: 'go' },
        { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', namespace: 'crm', arguments: '{"q":"x"}', status: 'completed' },
        { type: 'function_call', call_id: 'call_2', name: 'other', arguments: { q: 'y' } },
        { type: 'function_call_output', call_id: 'call_1', output: [{ type: 'input_text', text: 'see ' }, { type: 'input_image', image_url: PNG, detail: 'low' }, { type: 'output_text', text: 'this' }] },
        { type: 'function_call_output', call_id: 'call_2', output: 'plain', status: 'completed' },
        { type: 'function_call_output', call_id: 'call_3', output: { rows: 2 } }
      ]
    })
    expect(turn.request.items.slice(1)).toEqual([
      { type: 'tool_call', id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', itemId: 'fc_1', namespace: 'crm' },
      { type: 'tool_call', id: 'call_2', name: 'other', arguments: '{"q":"y"}', itemId: undefined, namespace: undefined },
      { type: 'tool_result', callId: 'call_1', output: [{ type: 'text', text: 'see ' }, { type: 'image', url: PNG, detail: 'low' }, { type: 'text', text: 'this' }] },
      { type: 'tool_result', callId: 'call_2', output: 'plain' },
      { type: 'tool_result', callId: 'call_3', output: '{"rows":2}' }
    ])
    // Upstream, the array output stays an array of input parts, and the call keeps its namespace.
    const history = toResponsesHistory(turn.request.items, new ToolNames([]))
    expect(history[1]).toEqual({ type: 'function_call', call_id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', id: 'fc_1', namespace: 'crm' })
    expect(history[3]?.output).toEqual([{ type: 'input_text', text: 'see ' }, { type: 'input_image', image_url: PNG, detail: 'low' }, { type: 'input_text', text: 'this' }])
    expect(badRequest({ input: [{ type: 'function_call_output', call_id: 'c', output: [{ type: 'input_file', file_id: 'f' }] }] }).param).toBe('input[0].output[0].type')
    expect(badRequest({ input: [{ type: 'function_call_output', output: 'x' }] }).param).toBe('input[0].call_id')
  })

  it('keeps client reasoning items; upstream only those with encrypted_content go, the others are dropped', () => {
    const turn = parse({
      input: [
        { role: 'user', content: 'a' },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thought' }], encrypted_content: 'gAAAA-enc' },
        { type: 'reasoning', id: 'rs_2', summary: [{ type: 'summary_text', text: 'no state' }] },
        { type: 'reasoning', id: 'rs_3', summary: [], encrypted_content: '' },
        { role: 'user', content: 'b' }
      ]
    })
    expect(turn.request.items.filter((i) => i.type === 'reasoning')).toEqual([
      { type: 'reasoning', id: 'rs_1', summary: ['thought'], encryptedContent: 'gAAAA-enc' },
      { type: 'reasoning', id: 'rs_2', summary: ['no state'], encryptedContent: undefined },
      { type: 'reasoning', id: 'rs_3', summary: [], encryptedContent: undefined }
    ])
    const upstream = toResponsesHistory(turn.request.items, new ToolNames([])).filter((i) => i.type === 'reasoning')
    expect(upstream).toEqual([{ type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'thought' }], encrypted_content: 'gAAAA-enc' }])
  })

  it('drops the items of hosted tools (web_search_call, …), keeping the rest in order, and refuses unknown items', () => {
    const turn = parse({
      input: [
        { role: 'user', content: 'search' },
        { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'x' } },
        { type: 'file_search_call', id: 'fs_1', queries: [], status: 'completed' },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'found' }] },
        { role: 'user', content: 'thanks' }
      ]
    })
    expect(turn.dropped).toEqual(['input[1] (web_search_call)', 'input[2] (file_search_call)'])
    expect(turn.request.items.map((i) => i.type)).toEqual(['message', 'message', 'message'])
    expect(turn.inputItems.map((i) => i.type)).toEqual(['message', 'message', 'message'])
    expect(badRequest({ input: [{ role: 'user', content: 'x' }, { type: 'teleport_call' }] })).toMatchObject({ param: 'input[1].type', code: 'unsupported_value' })
    expect(badRequest({ input: [{ type: 'item_reference', id: 'msg_1' }] }).param).toBe('input[0].type')
  })

  it('accepts images only where they can be: user messages and tool outputs', () => {
    expect(parse({ input: [{ role: 'user', content: [{ type: 'input_image', image_url: PNG }] }] }).request.items[0]).toEqual({ type: 'message', role: 'user', content: [{ type: 'image', url: PNG, detail: undefined }] })
    expect(badRequest({ input: [{ role: 'developer', content: [{ type: 'input_image', image_url: PNG }] }, { role: 'user', content: 'x' }] }).param).toBe('input[0].content[0]')
  })
})

describe('parseResponsesRequest: ids and names are bounded as on chat completions', () => {
  const long = (n: number): string => 'x'.repeat(n)
  it('takes ids of 512 and namespaces of 256 characters', () => {
    const turn = parse({
      input: [
        { role: 'user', content: 'go', id: `msg_${long(508)}` },
        { type: 'function_call', id: long(512), call_id: long(512), name: 'f', namespace: long(256), arguments: '{}' },
        { type: 'function_call_output', call_id: long(512), output: 'ok' }
      ]
    })
    expect(turn.request.items[1]).toMatchObject({ type: 'tool_call', itemId: long(512), namespace: long(256) })
    expect(turn.inputItems[0]?.id).toBe(`msg_${long(508)}`)
  })

  it.each([
    ['a message id', { role: 'user', content: 'go', id: long(513) }, 'input[0].id'],
    ['a function_call id', { type: 'function_call', id: long(513), call_id: 'c', name: 'f', arguments: '{}' }, 'input[0].id'],
    ['a reasoning id', { type: 'reasoning', id: long(513), summary: [], encrypted_content: 'e' }, 'input[0].id'],
    ['a hosted item id', { type: 'web_search_call', id: long(513) }, 'input[0].id'],
    ['a namespace', { type: 'function_call', call_id: 'c', name: 'f', namespace: long(257), arguments: '{}' }, 'input[0].namespace'],
    ['a call_id', { type: 'function_call', call_id: long(513), name: 'f', arguments: '{}' }, 'input[0].call_id'],
    ['an output call_id', { type: 'function_call_output', call_id: long(513), output: 'x' }, 'input[0].call_id']
  ])('refuses %s over the bound with a 400 naming it', (_what, item, param) => {
    expect(badRequest({ input: [item, { role: 'user', content: 'x' }] })).toMatchObject({ param, code: 'string_above_max_length' })
  })
})

describe('parseResponsesRequest: tools and tool_choice', () => {
  it('takes namespace tools as their member functions, each with the namespace', () => {
    const turn = parse({
      input: 'x',
      tools: [
        { type: 'namespace', name: 'crm', description: 'Customer records', tools: [fn('lookup'), fn('update')] },
        { type: 'namespace', name: 'wiki', tools: [fn('lookup')] },
        fn('lookup')
      ]
    })
    expect(turn.request.tools.map((t) => `${t.namespace?.name ?? '-'}/${t.name}`)).toEqual(['crm/lookup', 'crm/update', 'wiki/lookup', '-/lookup'])
    expect(turn.request.tools[0]?.namespace).toEqual({ name: 'crm', description: 'Customer records' })
    // Upstream they are one namespace tool each again, where the first member stood.
    expect(dynamicTools(turn.request.tools, new ToolNames(turn.request.tools)).map((t) => `${String(t.type)}:${String(t.name)}`)).toEqual(['namespace:crm', 'namespace:wiki', 'function:lookup'])
    expect(badRequest({ input: 'x', tools: [{ type: 'namespace', name: 'crm', tools: [{ type: 'web_search' }] }] }).param).toBe('tools[0].tools[0].type')
    expect(badRequest({ input: 'x', tools: [{ type: 'namespace', name: 'crm', tools: [fn('a'), fn('a')] }] }).param).toBe('tools[0].tools[1].name')
    expect(badRequest({ input: 'x', tools: [{ type: 'namespace', name: 'bad name', tools: [] }] }).param).toBe('tools[0].name')
  })

  it('drops hosted tools with a note, and refuses unknown tool types', () => {
    const turn = parse({ input: 'x', tools: [{ type: 'web_search' }, fn('f'), { type: 'tool_search', execution: 'client' }] })
    expect(turn.request.tools.map((t) => t.name)).toEqual(['f'])
    expect(turn.dropped).toEqual(['tools[0] (web_search)', 'tools[2] (tool_search)'])
    expect(badRequest({ input: 'x', tools: [{ type: 'telepathy' }] })).toMatchObject({ param: 'tools[0].type', code: 'unsupported_value' })
  })

  it('honours tool_choice: auto, none, required, a named function or custom tool, allowed_tools', () => {
    const tools = [fn('a'), fn('b'), { type: 'custom', name: 'patch' }]
    const choice = (toolChoice: ResponsesRequest['tool_choice'] | undefined): { choice: unknown, tools: string[] } => {
      const { request } = parse({ input: 'x', tools, ...(toolChoice === undefined ? {} : { tool_choice: toolChoice }) })
      return { choice: request.toolChoice, tools: request.tools.map((t) => t.name) }
    }
    expect(choice(undefined)).toEqual({ choice: 'auto', tools: ['a', 'b', 'patch'] })
    expect(choice('auto')).toEqual({ choice: 'auto', tools: ['a', 'b', 'patch'] })
    expect(choice('none')).toEqual({ choice: 'none', tools: [] })
    expect(choice('required')).toEqual({ choice: 'required', tools: ['a', 'b', 'patch'] })
    expect(choice({ type: 'function', name: 'b' })).toEqual({ choice: { name: 'b' }, tools: ['a', 'b', 'patch'] })
    expect(choice({ type: 'custom', name: 'patch' })).toEqual({ choice: { name: 'patch' }, tools: ['a', 'b', 'patch'] })
    // allowed_tools narrows the tools the model sees; mode required makes one of them a must.
    expect(choice({ type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'b' }] })).toEqual({ choice: 'required', tools: ['b'] })
    expect(choice({ type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'a' }, { type: 'custom', name: 'patch' }] })).toEqual({ choice: 'auto', tools: ['a', 'patch'] })
    expect(choice({ type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'zzz' }] })).toEqual({ choice: 'none', tools: [] })
    // A call is required, but of none of the tools: nothing could honour that.
    expect(badRequest({ input: 'x', tools: [fn('a')], tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'zzz' }] } } as ResponsesRequest).param).toBe('tool_choice.tools')
    // A hosted tool chosen: it was dropped, so the model chooses among the rest.
    expect(choice({ type: 'web_search' })).toEqual({ choice: 'auto', tools: ['a', 'b', 'patch'] })
    // The choice is echoed as the client sent it.
    expect(parse({ input: 'x', tools, tool_choice: { type: 'function', name: 'a' } }).echo.tool_choice).toEqual({ type: 'function', name: 'a' })
  })

  it('refuses a tool_choice it cannot honour, naming it', () => {
    expect(badRequest({ input: 'x', tool_choice: 'required' }).param).toBe('tool_choice')
    expect(badRequest({ input: 'x', tools: [fn('a')], tool_choice: 'sometimes' })).toMatchObject({ param: 'tool_choice', code: 'invalid_value' })
    expect(badRequest({ input: 'x', tools: [fn('a')], tool_choice: { type: 'function', name: 'nope' } }).param).toBe('tool_choice.name')
    expect(badRequest({ input: 'x', tools: [fn('a')], tool_choice: { type: 'function' } }).param).toBe('tool_choice.name')
  })

  it('passes parallel_tool_calls on (default true) and echoes it', () => {
    const off = parse({ input: 'x', tools: [fn('a')], parallel_tool_calls: false })
    expect(off.request.parallelToolCalls).toBe(false)
    expect(off.echo.parallel_tool_calls).toBe(false)
    const on = parse({ input: 'x', tools: [fn('a')] })
    expect(on.request.parallelToolCalls).toBe(true)
    expect(on.echo.parallel_tool_calls).toBe(true)
  })

  it('has no tools and tool choice none when every tool was hosted', () => {
    const { request } = parse({ input: 'x', tools: [{ type: 'web_search' }] })
    expect([request.tools, request.toolChoice]).toEqual([[], 'none'])
  })
})

describe('parseResponsesRequest: text, reasoning and what is echoed', () => {
  it('takes text.format json_object and json_schema as the output format, text as none', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'], additionalProperties: false }
    expect(parse({ input: 'x', text: { format: { type: 'json_object' } } }).request.outputFormat).toEqual({ type: 'json_object' })
    expect(parse({ input: 'x', text: { format: { type: 'json_schema', name: 'answer', schema, strict: true } } }).request.outputFormat)
      .toEqual({ type: 'json_schema', name: 'answer', schema, strict: true })
    expect(parse({ input: 'x', text: { format: { type: 'json_schema', schema } } }).request.outputFormat).toEqual({ type: 'json_schema', name: undefined, schema, strict: undefined })
    expect(parse({ input: 'x', text: { format: { type: 'text' } } }).request.outputFormat).toBeUndefined()
    expect(parse({ input: 'x' }).request.outputFormat).toBeUndefined()
    expect(badRequest({ input: 'x', text: { format: { type: 'json_schema', name: 'answer' } } }).param).toBe('text.format.schema')
    expect(badRequest({ input: 'x', text: { format: { type: 'yaml' } } })).toMatchObject({ param: 'text.format.type', code: 'invalid_value' })
    // A schema that is no JSON Schema is refused naming where, as tool parameters are.
    expect(badRequest({ input: 'x', text: { format: { type: 'json_schema', name: 'a', schema: { type: 'object', properties: 5 } } } }).param).toBe('text.format.schema.properties')
    // Echoed as sent; without a format, OpenAI's default `text`.
    expect(parse({ input: 'x', text: { format: { type: 'json_object' } } }).echo.text).toEqual({ format: { type: 'json_object' }, verbosity: null })
    expect(parse({ input: 'x' }).echo.text).toEqual({ format: { type: 'text' }, verbosity: null })
  })

  it('echoes text.verbosity, which Codex is not asked to honour', () => {
    const turn = parse({ input: 'x', text: { verbosity: 'low' } })
    expect(turn.echo.text.verbosity).toBe('low')
    expect(JSON.stringify(turn.request)).not.toContain('verbosity')
  })

  it('asks for reasoning summaries only when requested, and keeps reasoning when included or stored', () => {
    expect(parse({ input: 'x' }).request.summary).toBe('none')
    expect(parse({ input: 'x', reasoning: { summary: 'auto' } }).request.summary).toBe('auto')
    expect(badRequest({ input: 'x', reasoning: { summary: 'long' } }).param).toBe('reasoning.summary')
    expect(parse({ input: 'x', store: false }).request.keepReasoning).toBe(false)
    expect(parse({ input: 'x', store: false, include: ['reasoning.encrypted_content'] }).request.keepReasoning).toBe(true)
    expect(parse({ input: 'x' }).request.keepReasoning).toBe(true)
    expect(parse({ input: 'x', reasoning: { effort: 'high' } }).request.effort).toBe('high')
  })

  it('continues a previous response: its conversation first, then this input; ownItems are only this input', () => {
    const previous = [
      { type: 'message' as const, role: 'user' as const, content: [{ type: 'text' as const, text: 'before' }] },
      { type: 'message' as const, role: 'assistant' as const, content: [{ type: 'text' as const, text: 'answer' }] }
    ]
    const turn = parseResponsesRequest({ input: 'next', instructions: 'Sys.' }, ctx({ previous }))
    expect(turn.request.items.map((i) => (i.type === 'message' ? i.role : i.type))).toEqual(['developer', 'user', 'assistant', 'user'])
    expect(turn.ownItems).toEqual([{ type: 'message', role: 'user', content: [{ type: 'text', text: 'next' }] }])
  })

  it('refuses background responses and an input with nothing to answer', () => {
    expect(badRequest({ input: 'x', background: true })).toMatchObject({ param: 'background', code: 'unsupported_value' })
    expect(badRequest({ input: [{ role: 'assistant', content: 'alone' }] }).param).toBe('input')
    expect(badRequest({}).param).toBe('input')
  })
})
