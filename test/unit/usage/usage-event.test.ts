import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { usageEventFor, type UsageEventInfo } from '../../../src/usage/usage-event.js'
import { lastUserText, usageQueryBackend, usageQueryOf } from '../../../src/usage/usage-query-backend.js'
import { UsageLedger } from '../../../src/usage/ledger.js'
import type { TurnOutcome } from '../../../src/turns/run-turn.js'
import type { CompletionRequest, ConversationItem } from '../../../src/backends/types.js'
import { collect, fakeLogger } from '../support.js'

const INFO: UsageEventInfo = {
  route: '/v1/chat/completions', method: 'POST', dialect: 'chat', keyName: 'default', requestedModel: 'codex-5-high', effectiveModel: 'gpt-5', stream: true, userAgent: 'ua/1', requestId: 'r1'
}
const outcome = (extra: Partial<TurnOutcome> = {}): TurnOutcome => ({
  status: 200, error: undefined, model: undefined, conversation: undefined, usage: { promptTokens: 10, completionTokens: 2, totalTokens: 12 }, usageSource: 'estimate', finishReason: 'stop', durationMs: 12.6, firstTokenMs: 3, queuedMs: 0, ...extra
})
const NOW = new Date('2025-01-01T00:00:00.000Z')

describe('usageEventFor', () => {
  it('records the estimate as such when Codex reported no usage', () => {
    expect(usageEventFor(outcome(), INFO, NOW)).toEqual({
      ts: '2025-01-01T00:00:00.000Z',
      route: '/v1/chat/completions',
      method: 'POST',
      requested_model: 'codex-5-high',
      effective_model: 'gpt-5',
      stream: true,
      prompt_tokens_est: 10,
      completion_tokens_est: 2,
      total_tokens_est: 12,
      duration_ms: 13,
      status: 200,
      user_agent: 'ua/1',
      dialect: 'chat',
      key_name: 'default',
      usage_source: 'estimate',
      request_id: 'r1'
    })
  })
  it('uses Codex\'s counts with their details', () => {
    const e = usageEventFor(outcome({ status: 499, usageSource: 'codex', usage: { promptTokens: 100, completionTokens: 5, totalTokens: 105, cachedTokens: 80, reasoningTokens: 2 } }), { ...INFO, userAgent: undefined }, NOW)
    expect(e).toMatchObject({ prompt_tokens_est: 100, completion_tokens_est: 5, total_tokens_est: 105, cached_tokens: 80, reasoning_tokens: 2, usage_source: 'codex', status: 499, user_agent: '' })
  })
  it('caps the user agent at 256 characters', () => {
    expect(usageEventFor(outcome(), { ...INFO, userAgent: 'u'.repeat(1000) }, NOW).user_agent).toHaveLength(256)
  })
})

const request = (items: ConversationItem[]): CompletionRequest =>
  ({ requestId: 'r', model: undefined, effort: undefined, items, tools: [], toolChoice: 'none', parallelToolCalls: true, outputFormat: undefined })
const userMsg = (text: string): ConversationItem => ({ type: 'message', role: 'user', content: [{ type: 'text', text }] })

describe('usage queries in a conversation', () => {
  it('reads only a last user message', () => {
    expect(lastUserText(request([userMsg('a'), userMsg('usage today')]))).toBe('usage today')
    expect(lastUserText(request([userMsg('usage today'), { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'x' }] }]))).toBeUndefined()
    expect(usageQueryOf(request([userMsg('usage today')]), NOW)).toEqual({ start: NOW, end: new Date('2025-01-02T00:00:00.000Z'), group: 'hour' })
    expect(usageQueryOf(request([userMsg('tell me about usage today')]), NOW)).toBeUndefined()
  })

  it('answers from the ledger as a turn', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cca-uq-'))
    try {
      const ledger = new UsageLedger(join(dir, 'u.ndjson'), fakeLogger().log)
      ledger.append(usageEventFor(outcome(), INFO, new Date('2025-01-01T05:00:00Z')))
      const backend = usageQueryBackend(ledger, { start: NOW, end: new Date('2025-01-02T00:00:00Z'), group: 'hour' }, new Set(['admin']))
      const events = await collect(backend.complete({ ...request([userMsg('usage today')]), owner: 'default' }, new AbortController().signal))
      expect(events).toEqual([
        { type: 'started' },
        {
          type: 'text',
          itemId: 'msg_usage',
          text: 'Usage from 2025-01-01T00:00:00.000Z to 2025-01-02T00:00:00.000Z: 1 requests, 10 prompt + 2 completion = 12 tokens.\n' +
            '- 2025-01-01T05:00:00.000Z: 1 requests, 12 tokens (10 prompt, 2 completion)'
        },
        { type: 'done', finishReason: 'stop' }
      ])
      // Another key sees none of it; an admin key sees it all.
      const other = await collect(backend.complete({ ...request([userMsg('usage today')]), owner: 'bob' }, new AbortController().signal))
      expect(other[1]).toMatchObject({ text: expect.stringContaining(': 0 requests') as string })
      const admin = await collect(backend.complete({ ...request([userMsg('usage today')]), owner: 'admin' }, new AbortController().signal))
      expect(admin[1]).toMatchObject({ text: expect.stringContaining(': 1 requests') as string })
      await ledger.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
