import { describe, expect, it } from 'vitest'
import { parseResponsesRequest } from '../../../../src/api/responses/request.js'
import { ResponseAssembler } from '../../../../src/api/responses/response.js'
import { responsesSse } from '../../../../src/api/responses/stream.js'
import type { BackendEvent } from '../../../../src/backends/types.js'
import { invalidSubject, rateLimited, shuttingDown } from '../../../../src/errors.js'
import { parseSse } from '../../../helpers/http.js'
import { collect } from '../../support.js'

const echo = parseResponsesRequest({ input: 'x' }, { requestId: 'r', codexModels: [], configuredModel: undefined }).echo
const assembler = (): ResponseAssembler => new ResponseAssembler({ id: 'resp_1', createdAt: 1, model: 'codex-5', echo, customTools: new Set(), includeEncrypted: false })
const TEXT: BackendEvent[] = [{ type: 'started' }, { type: 'text', itemId: 'msg_1', text: 'PARTIAL ' }, { type: 'text', itemId: 'msg_1', text: 'ANSWER' }]

async function * events (list: BackendEvent[], fail?: unknown): AsyncGenerator<BackendEvent> {
  for (const e of list) { await Promise.resolve(); yield e }
  if (fail !== undefined) throw fail
}

interface Parsed { event: string | undefined, data: Record<string, unknown> }
async function framesOf (list: BackendEvent[], fail?: unknown): Promise<{ raw: string, parsed: Parsed[], finished: number }> {
  let finished = 0
  const sse = responsesSse(events(list, fail), assembler(), () => { finished++ })
  const raw = (await collect(sse.frames)).join('')
  return { raw, parsed: parseSse(raw).map((b) => ({ event: b.event, data: JSON.parse(b.data ?? 'null') as Record<string, unknown> })), finished }
}

describe('responsesSse', () => {
  it('gives every event an event: line of its type and a sequence_number from 0, and tells onFinished once', async () => {
    const { parsed, finished, raw } = await framesOf([...TEXT, { type: 'done', finishReason: 'stop' }])
    expect(parsed.map((p) => p.event)).toEqual(parsed.map((p) => p.data.type))
    expect(parsed.map((p) => p.data.sequence_number)).toEqual(parsed.map((_p, i) => i))
    expect(parsed.at(-1)?.event).toBe('response.completed')
    expect(finished).toBe(1)
    expect(raw).not.toContain('[DONE]')
  })

  it.each([
    { what: 'a rate limit', err: rateLimited('Rate limit reached; retry in 7 s.', 7), code: 'rate_limit_exceeded', type: 'rate_limit_error', param: null },
    { what: 'a usage limit', err: rateLimited('The usage limit is reached.', 60, 'usage_limit_exceeded'), code: 'insufficient_quota', type: 'rate_limit_error', param: null },
    { what: 'a full context window', err: invalidSubject('The conversation is too long.', 'conversation', 'context_length_exceeded'), code: 'context_length_exceeded', type: 'invalid_request_error', param: 'input' },
    { what: 'an unknown error', err: new Error('secret internals'), code: 'server_error', type: 'server_error', param: null }
  ])('ends a stream that fails mid-answer ($what) with response.failed, then error, and nothing after', async ({ err, code, type, param }) => {
    const { parsed, finished, raw } = await framesOf(TEXT, err)
    const types = parsed.map((p) => p.event)
    expect(types.slice(-2)).toEqual(['response.failed', 'error'])
    expect(types).toContain('response.output_text.delta')
    expect(types).not.toContain('response.completed')
    expect(raw).not.toContain('[DONE]')
    expect(finished).toBe(0)
    const failed = parsed.at(-2)?.data.response as Record<string, unknown>
    const message = err instanceof Error && code === 'server_error' ? 'Internal server error.' : err.message
    expect(failed).toMatchObject({ id: 'resp_1', status: 'failed', error: { code, message }, usage: null })
    // The message the failure cut off shows what was streamed of it, as incomplete.
    expect(failed.output).toEqual([{ type: 'message', id: 'msg_1', status: 'incomplete', role: 'assistant', content: [{ type: 'output_text', text: 'PARTIAL ANSWER', annotations: [], logprobs: [] }] }])
    const error = parsed.at(-1)?.data
    expect(error).toEqual({ type: 'error', code, message, param, error: { type, code, message, param }, sequence_number: parsed.length - 1 })
    expect(raw).not.toContain('secret internals')
  })

  it('fails before any output the same way (the pair, in sequence)', async () => {
    const { parsed } = await framesOf([], rateLimited('x', undefined))
    expect(parsed.map((p) => p.event)).toEqual(['response.created', 'response.in_progress', 'response.failed', 'error'])
    expect(parsed.map((p) => p.data.sequence_number)).toEqual([0, 1, 2, 3])
  })

  it('closes a stream the server has to end (shutdown) with the pair, continuing the sequence', async () => {
    const sse = responsesSse(events(TEXT), assembler(), () => {})
    const iterator = sse.frames[Symbol.asyncIterator]()
    const first = await iterator.next()
    expect(first.value).toContain('event: response.created')
    const closing = parseSse(sse.closing(shuttingDown()))
    expect(closing.map((b) => b.event)).toEqual(['response.failed', 'error'])
    const error = JSON.parse(closing[1]?.data ?? '{}') as Record<string, unknown>
    expect(error).toMatchObject({ code: 'server_error', sequence_number: 2, error: { type: 'server_error', code: 'server_error' } })
    await iterator.return?.()
  })
})
