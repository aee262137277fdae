import { describe, expect, it } from 'vitest'
import { foldAssembled } from '../../../../src/api/assembled-stream.js'
import { errorEvent } from '../../../../src/api/responses/errors.js'
import { parseResponsesRequest } from '../../../../src/api/responses/request.js'
import { ResponseAssembler, toResponseUsage, type ResponseMeta, type WireEvent } from '../../../../src/api/responses/response.js'
import type { BackendEvent } from '../../../../src/backends/types.js'
import { rateLimited } from '../../../../src/errors.js'

const echo = parseResponsesRequest({ input: 'x' }, { requestId: 'r', codexModels: [], configuredModel: undefined }).echo
const meta = (extra: Partial<ResponseMeta> = {}): ResponseMeta => ({ id: 'resp_1', createdAt: 1700000000, model: 'codex-5', echo, customTools: new Set(), includeEncrypted: false, ...extra })
const USAGE: BackendEvent = { type: 'usage', usage: { promptTokens: 100, completionTokens: 20, totalTokens: 120, cachedTokens: 7, reasoningTokens: 3 } }
const DONE: BackendEvent = { type: 'done', finishReason: 'stop' }
const REASONING: BackendEvent[] = [
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'Step ' },
  { type: 'reasoning', itemId: 'rs_1', summaryIndex: 0, text: 'one.' },
  { type: 'reasoning_done', item: { type: 'reasoning', id: 'rs_1', summary: ['Step one.'], encryptedContent: 'enc_1' } }
]

function run (assembler: ResponseAssembler, events: BackendEvent[]): WireEvent[] {
  return [...assembler.start(), ...events.flatMap((e) => assembler.push(e)), ...assembler.finish()]
}
async function * stream (list: BackendEvent[]): AsyncGenerator<BackendEvent> {
  for (const e of list) { await Promise.resolve(); yield e }
}

describe('ResponseAssembler', () => {
  it('streams a text answer as the spec does, and completes with the whole output and the usage', () => {
    const a = new ResponseAssembler(meta())
    const wire = run(a, [{ type: 'text', itemId: 'msg_1', text: 'Hel' }, { type: 'text', itemId: 'msg_1', text: 'lo' }, USAGE, DONE])
    expect(wire.map((e) => e.type)).toEqual([
      'response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done',
      'response.output_item.done', 'response.completed'
    ])
    expect(wire[0]).toMatchObject({ response: { id: 'resp_1', status: 'in_progress', output: [], usage: null } })
    expect(wire[2]).toEqual({ type: 'response.output_item.added', output_index: 0, item: { type: 'message', id: 'msg_1', status: 'in_progress', role: 'assistant', content: [] } })
    expect(wire[6]).toMatchObject({ item_id: 'msg_1', text: 'Hello' })
    const message = { type: 'message', id: 'msg_1', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Hello', annotations: [], logprobs: [] }] }
    expect(wire[8]).toEqual({ type: 'response.output_item.done', output_index: 0, item: message })
    expect(wire[9]).toMatchObject({ response: { status: 'completed', output: [message], usage: { input_tokens: 100, input_tokens_details: { cached_tokens: 7 }, output_tokens: 20, output_tokens_details: { reasoning_tokens: 3 }, total_tokens: 120 } } })
    expect(a.conversation()).toEqual([{ type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Hello' }] }])
  })

  it('returns a function call with its namespace, and without one for a plain function', () => {
    const a = new ResponseAssembler(meta())
    const wire = run(a, [
      { type: 'tool_call', id: 'call_1', name: 'lookup', namespace: 'crm', arguments: '{"q":"x"}', itemId: 'fc_1' },
      { type: 'tool_call', id: 'call_2', name: 'plain', arguments: '{}' },
      { type: 'done', finishReason: 'tool_calls' }
    ])
    const done = wire.filter((e) => e.type === 'response.output_item.done').map((e) => e.item)
    expect(done).toEqual([
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', namespace: 'crm', arguments: '{"q":"x"}', status: 'completed' },
      { type: 'function_call', id: expect.stringMatching(/^fc_[0-9a-f]{32}$/) as string, call_id: 'call_2', name: 'plain', arguments: '{}', status: 'completed' }
    ])
    expect(done[1]).not.toHaveProperty('namespace')
    // The added item carries the namespace too (LangChain and the SDK read it there), with empty arguments.
    expect(wire.find((e) => e.type === 'response.output_item.added')?.item).toEqual({ type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'lookup', namespace: 'crm', arguments: '', status: 'in_progress' })
    expect(wire.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta)).toEqual(['{"q":"x"}', '{}'])
    expect(a.response().output).toEqual(done)
    expect(a.response().status).toBe('completed')
    // What a later previous_response_id replays keeps the namespace.
    expect(a.conversation()[0]).toEqual({ type: 'tool_call', id: 'call_1', name: 'lookup', arguments: '{"q":"x"}', itemId: 'fc_1', namespace: 'crm' })
  })

  it('answers a custom tool as custom_tool_call with its input, but a namespaced tool of that name as a function call', () => {
    const a = new ResponseAssembler(meta({ customTools: new Set(['apply_patch']) }))
    const wire = run(a, [
      { type: 'tool_call', id: 'call_1', name: 'apply_patch', arguments: '{"input":"*** Begin Patch"}' },
      { type: 'tool_call', id: 'call_2', name: 'apply_patch', namespace: 'ns', arguments: '{"input":"x"}' }
    ])
    expect(wire.map((e) => e.type)).toContain('response.custom_tool_call_input.done')
    expect(a.response().output.map((o) => o.type)).toEqual(['custom_tool_call', 'function_call'])
    expect(a.response().output[0]).toMatchObject({ call_id: 'call_1', input: '*** Begin Patch' })
  })

  it('shows reasoning summaries, and encrypted content only when included; the conversation keeps it either way', () => {
    for (const includeEncrypted of [false, true]) {
      const a = new ResponseAssembler(meta({ includeEncrypted }))
      const wire = run(a, [...REASONING, DONE])
      expect(wire.map((e) => e.type).slice(2)).toEqual([
        'response.output_item.added', 'response.reasoning_summary_part.added', 'response.reasoning_summary_text.delta', 'response.reasoning_summary_text.delta',
        'response.reasoning_summary_text.done', 'response.reasoning_summary_part.done', 'response.output_item.done', 'response.completed'
      ])
      const item = a.response().output[0]
      expect(item).toMatchObject({ type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'Step one.' }] })
      if (includeEncrypted) expect(item).toHaveProperty('encrypted_content', 'enc_1')
      else expect(item).not.toHaveProperty('encrypted_content')
      expect(a.conversation()).toEqual([{ type: 'reasoning', id: 'rs_1', summary: ['Step one.'], encryptedContent: 'enc_1' }])
    }
  })

  it('ends with response.incomplete after a length stop', () => {
    const a = new ResponseAssembler(meta())
    const wire = run(a, [{ type: 'text', itemId: 'm', text: 'cut' }, { type: 'done', finishReason: 'length' }])
    expect(wire.at(-1)).toMatchObject({ type: 'response.incomplete', response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } } })
  })

  it('fails with response.failed (the error in response.error, no usage) and then the error event itself', () => {
    const a = new ResponseAssembler(meta())
    a.start()
    a.push({ type: 'text', itemId: 'm', text: 'part' })
    a.push(USAGE)
    const event = errorEvent(rateLimited('Slow down.', 3))
    const wire = a.fail(event)
    expect(wire.map((e) => e.type)).toEqual(['response.failed', 'error'])
    expect(wire[0]?.response).toMatchObject({ status: 'failed', error: { code: 'rate_limit_exceeded', message: 'Slow down.' }, usage: null })
    expect(wire[1]).toEqual(event)
    expect(a.response().status).toBe('failed')
  })

  it('folds the same events into the non-stream response object', async () => {
    const a = new ResponseAssembler(meta())
    const response = (await foldAssembled(stream([{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'Hi' }, USAGE, DONE]), a)).response()
    expect(response).toMatchObject({ id: 'resp_1', object: 'response', status: 'completed', model: 'codex-5', output: [{ type: 'message', content: [{ text: 'Hi' }] }], usage: { total_tokens: 120 } })
    // Echoed fields of the request ride along.
    expect(response).toMatchObject({ tool_choice: 'auto', truncation: 'disabled', store: true, text: { format: { type: 'text' } } })
  })

  it('reports zero usage, not null, when a finished turn had none; cached and reasoning tokens default to 0', () => {
    const a = new ResponseAssembler(meta())
    run(a, [DONE])
    expect(a.response().usage).toEqual({ input_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens: 0, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 0 })
    expect(toResponseUsage({ promptTokens: 1, completionTokens: 2, totalTokens: 3 })).toMatchObject({ input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } })
  })
})
