import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackendEvent, CompletionRequest, ConversationItem } from '../../src/backends/types.js'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { postChat, type Chunk } from '../helpers/http.js'

// The neutral backend contract, end to end through the real Codex app-server and the mock
// upstream: what the Responses and Messages dialects need beyond chat (item ids, summary part
// indexes, whole reasoning items with their encrypted content, reasoning replayed upstream).

let h: CodexUpstreamApp

beforeAll(async () => { h = await startCodexUpstreamApp({ listen: true }) })
afterAll(async () => { await h.close() })

const user = (text: string): ConversationItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] })

function request (items: ConversationItem[], extra: Partial<CompletionRequest> = {}): CompletionRequest {
  return { requestId: 'contract', model: undefined, effort: undefined, items, tools: [], toolChoice: 'auto', parallelToolCalls: true, outputFormat: undefined, ...extra }
}

async function run (req: CompletionRequest): Promise<BackendEvent[]> {
  const events: BackendEvent[] = []
  for await (const event of h.app.codex.complete(req, new AbortController().signal)) events.push(event)
  return events
}

function upstreamFor (marker: string): MockRequest {
  const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(-1)
  if (found === undefined) throw new Error(`no upstream request with ${marker}`)
  return found
}

describe('the neutral contract on the app-server backend', () => {
  it('reports the model Codex ran, and text deltas with the upstream item id', async () => {
    const events = await run(request([user('contract text c1')]))
    const started = events[0]
    expect(started?.type).toBe('started')
    // The lean catalog's default model, as Codex resolved it for the thread (CODEX_MODEL unset).
    expect(started?.type === 'started' ? started.model : undefined).toMatch(/^[A-Za-z0-9._-]+$/)
    expect(upstreamFor('contract text c1').body?.model).toBe(started?.type === 'started' ? started.model : 'none')
    const text = events.filter((e): e is Extract<BackendEvent, { type: 'text' }> => e.type === 'text')
    expect(text.map((e) => e.text).join('')).toBe('ECHO: contract text c1')
    const seq = upstreamFor('contract text c1').seq
    expect(new Set(text.map((e) => e.itemId))).toEqual(new Set([`msg_mock_${seq}`]))
  })

  it('streams reasoning by summary part and ends the item whole, encrypted content included', async () => {
    const events = await run(request([user('[reason2] contract reasoning c2')], { keepReasoning: true }))
    const seq = upstreamFor('contract reasoning c2').seq
    const deltas = events.filter((e): e is Extract<BackendEvent, { type: 'reasoning' }> => e.type === 'reasoning')
    const byPart = (i: number): string => deltas.filter((d) => d.summaryIndex === i).map((d) => d.text).join('')
    expect(byPart(0)).toBe('Thinking about the echo.')
    expect(byPart(1)).toBe('Then answering it.')
    expect(new Set(deltas.map((d) => d.itemId))).toEqual(new Set([`rs_mock_${seq}`]))
    const done = events.filter((e) => e.type === 'reasoning_done')
    expect(done).toEqual([{
      type: 'reasoning_done',
      item: { type: 'reasoning', id: `rs_mock_${seq}`, summary: ['Thinking about the echo.', 'Then answering it.'], encryptedContent: `enc_rs_mock_${seq}` }
    }])
    // The whole item comes after its deltas and before the answer's first text.
    const at = (pred: (e: BackendEvent) => boolean): number => events.findIndex(pred)
    expect(at((e) => e.type === 'reasoning_done')).toBeGreaterThan(events.lastIndexOf(deltas.at(-1) as BackendEvent))
    expect(at((e) => e.type === 'reasoning_done')).toBeLessThan(at((e) => e.type === 'text'))
  })

  it('replays an input reasoning item upstream unchanged, and drops one without encrypted content', async () => {
    await run(request([
      user('first question'),
      { type: 'reasoning', id: 'rs_earlier', summary: ['I thought.', 'Twice.'], encryptedContent: 'enc_earlier' },
      { type: 'reasoning', id: 'rs_plain', summary: ['No state to replay.'], encryptedContent: undefined },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
      user('contract replay c3')
    ]))
    const input = upstreamFor('contract replay c3').body?.input ?? []
    const reasoning = input.filter((item) => item.type === 'reasoning')
    // Codex writes the item with its own explicit `content: null`; the rest is what was injected.
    expect(reasoning).toEqual([{
      type: 'reasoning',
      id: 'rs_earlier',
      summary: [{ type: 'summary_text', text: 'I thought.' }, { type: 'summary_text', text: 'Twice.' }],
      content: null,
      encrypted_content: 'enc_earlier'
    }])
    const order = input.map((item) => (item.type === 'reasoning' ? 'reasoning' : String(item.role)))
    expect(order).toEqual(['user', 'reasoning', 'assistant', 'user'])
  })

  it('names tool calls by call id and upstream item id', async () => {
    const events = await run(request([user('[tool:lookup] contract tool c4')], {
      tools: [{ name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } }]
    }))
    const seq = upstreamFor('contract tool c4').seq
    expect(events.filter((e) => e.type === 'tool_call')).toEqual([
      { type: 'tool_call', id: `call_mock_${seq}_0`, itemId: `fc_mock_${seq}_0`, name: 'lookup', arguments: '{"q":"x"}' }
    ])
    expect(events.at(-1)).toEqual({ type: 'done', finishReason: 'tool_calls' })
  })

  it('leaves how reasoning parts are joined to the dialect: chat shows them as one text with a blank line', async () => {
    const res = await postChat(h.app, { model: 'codex-5', stream: true, messages: [{ role: 'user', content: '[reason2] contract chat c5' }] })
    const reasoning = (res.frames as Chunk[]).map((f) => f.choices[0]?.delta.reasoning_content ?? '').join('')
    expect(reasoning).toBe('Thinking about the echo.\n\nThen answering it.')
  })
})
