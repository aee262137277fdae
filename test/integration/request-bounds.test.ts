import { describe, expect, it } from 'vitest'
import { AUTH } from '../helpers/build-test-app.js'
import { expectEnvelope, sharedTestApp } from '../helpers/http.js'

// Ids and names a client sends back are bounded the same on every dialect (512 characters for ids,
// 256 for names, as chat completions' schema has them); over the bound is a 400 in the route's
// own error shape. Checked before any backend work: the dev shim's app is enough.

const long = (n: number): string => 'x'.repeat(n)

describe('ids and names in a conversation are bounded on every dialect', () => {
  const shared = sharedTestApp()
  const post = async (url: string, payload: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ status: number, body: unknown }> => {
    const res = await shared().app.inject({ method: 'POST', url, headers: { ...AUTH, ...headers }, payload })
    return { status: res.statusCode, body: res.json() }
  }

  it('chat completions (the reference): an over-long tool_call_id or tool call name', async () => {
    const messages = (id: string, name: string): unknown[] => [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: '{}' } }] },
      { role: 'tool', tool_call_id: id, content: 'ok' }
    ]
    for (const [id, name, field] of [[long(513), 'fn', 'id'], ['c1', long(257), 'name']] as const) {
      const res = await post('/v1/chat/completions', { model: 'codex-5', messages: messages(id, name) })
      expect(res.status).toBe(400)
      expect(expectEnvelope(res.body, { type: 'invalid_request_error' }).param).toContain(field)
    }
  })

  it.each([
    ['an item id', [{ role: 'user', content: 'go', id: long(513) }], 'input[0].id'],
    ['a function_call id', [{ role: 'user', content: 'go' }, { type: 'function_call', id: long(513), call_id: 'c', name: 'f', arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'ok' }], 'input[1].id'],
    ['a function_call namespace', [{ role: 'user', content: 'go' }, { type: 'function_call', call_id: 'c', name: 'f', namespace: long(257), arguments: '{}' }, { type: 'function_call_output', call_id: 'c', output: 'ok' }], 'input[1].namespace'],
    ['a call_id', [{ role: 'user', content: 'go' }, { type: 'function_call_output', call_id: long(513), output: 'ok' }], 'input[1].call_id']
  ])('/v1/responses: %s over the bound is a 400 in OpenAI\'s envelope, naming it', async (_what, input, param) => {
    const res = await post('/v1/responses', { model: 'codex-5', input })
    expect(res.status).toBe(400)
    expectEnvelope(res.body, { type: 'invalid_request_error', param, code: 'string_above_max_length' })
  })

  const round = (id: string, name: string, resultId: string): Record<string, unknown> => ({
    model: 'claude-sonnet-4-5',
    max_tokens: 16,
    messages: [
      { role: 'user', content: 'go' },
      { role: 'assistant', content: [{ type: 'tool_use', id, name, input: {} }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: resultId, content: 'ok' }] }
    ]
  })
  it.each([
    ['tool_use.id', round(long(513), 'fn', 't'), /`id` is longer than 512/],
    ['tool_use.name', round('t', long(257), 't'), /`name` is longer than 256/],
    ['tool_result.tool_use_id', round('t', 'fn', long(513)), /`tool_use_id` is longer than 512/]
  ])('/v1/messages and count_tokens: %s over the bound is a 400 in Anthropic\'s shape', async (_what, body, message) => {
    for (const url of ['/v1/messages', '/v1/messages/count_tokens?beta=true']) {
      const res = await post(url, body, { 'anthropic-version': '2023-06-01' })
      expect(res.status, url).toBe(400)
      expect(res.body).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(message) as string } })
    }
  })
})
