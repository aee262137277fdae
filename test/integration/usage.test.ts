import { readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { liveChildren } from '../../src/backends/child-process.js'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, postChat, readUsageLog, sharedTestApp, userMessage, type Chunk } from '../helpers/http.js'

const CHAT = '/v1/chat/completions'
const DESIGN_FIELDS = [
  'ts', 'route', 'method', 'requested_model', 'effective_model', 'stream', 'prompt_tokens_est',
  'completion_tokens_est', 'total_tokens_est', 'duration_ms', 'status', 'user_agent'
]

function event (ts: string, prompt: number, completion: number, extra: Partial<UsageEvent> = {}): UsageEvent {
  return {
    ts,
    route: '/v1/chat/completions',
    method: 'POST',
    requested_model: 'codex-5',
    effective_model: 'default',
    stream: false,
    prompt_tokens_est: prompt,
    completion_tokens_est: completion,
    total_tokens_est: prompt + completion,
    duration_ms: 10,
    status: 200,
    user_agent: 'seed',
    ...extra
  }
}

const ndjson = (events: readonly UsageEvent[]): string => events.map((e) => `${JSON.stringify(e)}\n`).join('')

/** Four events on 2024-01-01/02 (UTC) with known tokens, for range and bucket checks. */
const SEEDED = [
  event('2024-01-01T10:15:00.000Z', 10, 5),
  event('2024-01-01T10:45:00.000Z', 20, 10),
  event('2024-01-01T12:05:00.000Z', 1, 2),
  event('2024-01-02T08:00:00.000Z', 100, 50)
]
const epoch = (iso: string): number => Date.parse(iso) / 1000

describe('/v1/usage/raw', () => {
  it('returns the logged requests with the DESIGN fields, newest last, limit respected', async () => {
    const { app } = await buildTestApp()
    const sentAt = performance.now()
    const first = await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'user-agent': 'first-client/1.0' }, payload: { model: 'codex-5-high', messages: userMessage('first') } })
    const second = await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, 'user-agent': 'second-client/2.0' }, payload: { model: 'codex-5', messages: userMessage('second request') } })
    expect([first.statusCode, second.statusCode]).toEqual([200, 200])
    const bothTookMs = performance.now() - sentAt

    const res = await app.inject({ method: 'GET', url: '/v1/usage/raw?limit=10', headers: AUTH })
    expect(res.statusCode).toBe(200)
    const body = res.json<{ count: number, events: UsageEvent[] }>()
    expect(Object.keys(body).sort()).toEqual(['count', 'events'])
    expect(body.count).toBe(2)
    expect(body.events).toHaveLength(2)
    for (const e of body.events) {
      for (const field of DESIGN_FIELDS) expect(e, field).toHaveProperty(field)
      expect(Number.isNaN(Date.parse(e.ts))).toBe(false)
      expect(Math.abs(Date.parse(e.ts) - Date.now())).toBeLessThan(60_000)
      expect(e.route).toBe('/v1/chat/completions')
      expect(e.method).toBe('POST')
      expect(e.effective_model).toBe('default')
      expect(e.stream).toBe(false)
      expect(e.status).toBe(200)
      expect(Number.isInteger(e.duration_ms)).toBe(true)
      // Milliseconds of this request: no longer than both requests took, seen from outside.
      expect(e.duration_ms).toBeLessThanOrEqual(Math.ceil(bothTookMs))
    }
    const [a, b] = body.events as [UsageEvent, UsageEvent]
    expect(a.user_agent).toBe('first-client/1.0')
    expect(a.requested_model).toBe('codex-5-high')
    expect(b.user_agent).toBe('second-client/2.0')
    expect(b.requested_model).toBe('codex-5')
    // The counts are the ones the answer reported.
    for (const [e, r] of [[a, first], [b, second]] as const) {
      const usage = r.json().usage
      expect(e.prompt_tokens_est).toBe(usage.prompt_tokens)
      expect(e.completion_tokens_est).toBe(usage.completion_tokens)
      expect(e.total_tokens_est).toBe(usage.total_tokens)
    }

    const one = await app.inject({ method: 'GET', url: '/v1/usage/raw?limit=1', headers: AUTH })
    expect(one.json().count).toBe(1)
    expect(one.json().events[0].user_agent).toBe('second-client/2.0')
  })

  it('defaults to 200 events and caps the limit at 10000', async () => {
    const { app, config } = await buildTestApp()
    const base = Date.parse('2024-03-01T00:00:00.000Z')
    await writeFile(config.TOKEN_LOG_PATH, ndjson(Array.from({ length: 10_050 }, (_, i) => event(new Date(base + i * 1000).toISOString(), i, 1, { user_agent: `ua-${i}` }))))
    const dflt = await app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })
    expect(dflt.json().count).toBe(200)
    expect(dflt.json().events.at(-1).user_agent).toBe('ua-10049')
    expect(dflt.json().events[0].user_agent).toBe('ua-9850')
    const capped = await app.inject({ method: 'GET', url: '/v1/usage/raw?limit=20000', headers: AUTH })
    expect(capped.statusCode).toBe(200)
    expect(capped.json().count).toBe(10_000)
    expect(capped.json().events).toHaveLength(10_000)
    expect(capped.json().events[0].user_agent).toBe('ua-50')
    expect(capped.json().events.at(-1).user_agent).toBe('ua-10049')
  })

  it('refuses a limit that is not a number', async () => {
    const { app } = await buildTestApp()
    for (const limit of ['abc', '-5', '1e3']) {
      const res = await app.inject({ method: 'GET', url: `/v1/usage/raw?limit=${limit}`, headers: AUTH })
      expect(res.statusCode, limit).toBe(400)
      expectEnvelope(res.json(), { type: 'invalid_request_error', param: 'limit' })
    }
  })

  it('answers an empty list before anything was logged', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ count: 0, events: [] })
  })
})

describe('/v1/usage', () => {
  it('totals the requests of the last day by default', async () => {
    const { app } = await buildTestApp()
    const answers = []
    for (const text of ['alpha', 'beta gamma']) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
      expect(res.statusCode).toBe(200)
      answers.push(res.json().usage)
    }
    const res = await app.inject({ method: 'GET', url: '/v1/usage', headers: AUTH })
    expect(res.statusCode).toBe(200)
    const summary = res.json()
    // The original service's fields, all still there; the rest were added beside them.
    expect(Object.keys(summary)).toEqual(expect.arrayContaining(['completion_tokens_est', 'end', 'prompt_tokens_est', 'start', 'total_requests', 'total_tokens_est']))
    expect(Object.keys(summary).sort()).toEqual([
      'cached_tokens', 'completion_tokens_est', 'end', 'error_requests', 'estimated_requests', 'prompt_tokens_est', 'reasoning_tokens',
      'scope', 'start', 'total_duration_ms', 'total_requests', 'total_tokens_est'
    ])
    expect(summary.total_requests).toBe(2)
    expect(summary.prompt_tokens_est).toBe(answers[0].prompt_tokens + answers[1].prompt_tokens)
    expect(summary.completion_tokens_est).toBe(answers[0].completion_tokens + answers[1].completion_tokens)
    expect(summary.total_tokens_est).toBe(answers[0].total_tokens + answers[1].total_tokens)
    expect(Date.parse(summary.end) - Date.parse(summary.start)).toBe(86_400_000)
  })

  it('filters by start/end (ISO or epoch seconds, end exclusive) and groups by hour or day', async () => {
    const { app, config } = await buildTestApp()
    await writeFile(config.TOKEN_LOG_PATH, ndjson(SEEDED))

    const hour = await app.inject({ method: 'GET', url: '/v1/usage?start=2024-01-01T00:00:00Z&end=2024-01-02T00:00:00Z&group=hour', headers: AUTH })
    expect(hour.statusCode).toBe(200)
    expect(hour.json()).toMatchObject({
      start: '2024-01-01T00:00:00.000Z',
      end: '2024-01-02T00:00:00.000Z',
      group: 'hour',
      total_requests: 3,
      prompt_tokens_est: 31,
      completion_tokens_est: 17,
      total_tokens_est: 48,
      buckets: [
        { ts: '2024-01-01T10:00:00.000Z', requests: 2, prompt_tokens_est: 30, completion_tokens_est: 15, total_tokens_est: 45 },
        { ts: '2024-01-01T12:00:00.000Z', requests: 1, prompt_tokens_est: 1, completion_tokens_est: 2, total_tokens_est: 3 }
      ]
    })

    const day = await app.inject({ method: 'GET', url: `/v1/usage?start=${epoch('2024-01-01T00:00:00Z')}&end=${epoch('2024-01-03T00:00:00Z')}&group=day`, headers: AUTH })
    expect(day.statusCode).toBe(200)
    expect(day.json()).toMatchObject({
      start: '2024-01-01T00:00:00.000Z',
      end: '2024-01-03T00:00:00.000Z',
      group: 'day',
      total_requests: 4,
      prompt_tokens_est: 131,
      completion_tokens_est: 67,
      total_tokens_est: 198,
      buckets: [
        { ts: '2024-01-01T00:00:00.000Z', requests: 3, prompt_tokens_est: 31, completion_tokens_est: 17, total_tokens_est: 48 },
        { ts: '2024-01-02T00:00:00.000Z', requests: 1, prompt_tokens_est: 100, completion_tokens_est: 50, total_tokens_est: 150 }
      ]
    })

    // End is exclusive: an event exactly at `end` is left out. No group: no buckets.
    const exclusive = await app.inject({ method: 'GET', url: `/v1/usage?start=${epoch('2024-01-01T10:15:00Z')}&end=2024-01-01T12:05:00.000Z`, headers: AUTH })
    expect(exclusive.statusCode).toBe(200)
    expect(exclusive.json()).not.toHaveProperty('buckets')
    expect(exclusive.json()).toMatchObject({
      start: '2024-01-01T10:15:00.000Z',
      end: '2024-01-01T12:05:00.000Z',
      total_requests: 2,
      prompt_tokens_est: 30,
      completion_tokens_est: 15,
      total_tokens_est: 45
    })

    const empty = await app.inject({ method: 'GET', url: '/v1/usage?start=2023-01-01&end=2023-02-01&group=day', headers: AUTH })
    expect(empty.json()).toMatchObject({ total_requests: 0, total_tokens_est: 0, buckets: [] })
  })

  const shared = sharedTestApp()

  it.each([
    ['start=yesterday', 'start'],
    ['start=2024-13-45T99:00:00Z', 'start'],
    ['end=soon', 'end'],
    ['start=2024-01-02T00:00:00Z&end=2024-01-01T00:00:00Z', 'start'],
    ['group=week', 'group'],
    ['group=minute', 'group']
  ])('?%s is a 400 with param %s', async (query, param) => {
    const { app } = shared()
    const res = await app.inject({ method: 'GET', url: `/v1/usage?${query}`, headers: AUTH })
    expect(res.statusCode).toBe(400)
    expectEnvelope(res.json(), { type: 'invalid_request_error', param })
  })
})

describe('"usage today" in a chat', () => {
  const today = (): string => new Date().toISOString()

  it('is answered from the log without Codex, streaming or not', async () => {
    const baseline = liveChildren().size
    // A Codex that cannot even start: only an answer from the log can succeed.
    const { app, config } = await buildTestApp({ listen: true, env: { CODEX_BIN: '/nonexistent/codex' } })
    await writeFile(config.TOKEN_LOG_PATH, ndjson([event(today(), 40, 2), event(today(), 60, 8), event('2020-01-01T00:00:00.000Z', 999, 999)]))

    const proof = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage('usage of this function?') } })
    expect(proof.statusCode).toBe(503)

    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage('usage today') } })
    expect(res.statusCode).toBe(200)
    const content = res.json().choices[0].message.content as string
    expect(res.json().choices[0].finish_reason).toBe('stop')
    // The two seeded events of today and the failed request above.
    expect(content.split('\n')[0]).toMatch(/: 3 requests, \d+ prompt \+ \d+ completion = \d+ tokens\.$/)
    expect(content).toMatch(/^Usage from \d{4}-\d{2}-\d{2}T00:00:00\.000Z to /)

    const stream = await postChat(app, { model: 'codex-5', messages: userMessage('usage today'), stream: true, stream_options: { include_usage: true } })
    expect(stream.status).toBe(200)
    expect(stream.doneIndex).toBe(stream.dataCount - 1)
    const chunks = stream.frames as Chunk[]
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
    expect(text.split('\n')[0]).toMatch(/: 4 requests, /)
    expect(chunks.at(-1)?.choices).toEqual([])
    expect(liveChildren().size).toBe(baseline)

    await app.usage.flush()
    const log = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(log.slice(-2).map((e) => [e.effective_model, e.status, e.stream])).toEqual([['usage-query', 200, false], ['usage-query', 200, true]])
  })

  it('only an exact usage query is intercepted', async () => {
    const { app } = await buildTestApp()
    for (const text of ['usage today please', 'what is my usage today']) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
      expect(res.statusCode).toBe(200)
      expect(res.json().choices[0].message.content).toBe(`echo: ${text}`)
    }
  })
})

describe('an unwritable usage log', () => {
  it('does not stop requests from being answered', async () => {
    const blocker = join(tmpdir(), `cca-not-a-dir-${process.pid}-${Date.now()}`)
    await writeFile(blocker, 'a file, not a directory\n')
    try {
      const { app } = await buildTestApp({ env: { TOKEN_LOG_PATH: join(blocker, 'usage.ndjson') } })
      for (const text of ['first', 'second']) {
        const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
        expect(res.statusCode).toBe(200)
        expect(res.json().choices[0].message.content).toBe(`echo: ${text}`)
      }
      const raw = await app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })
      expect(raw.statusCode).toBe(200)
      expect(raw.json()).toEqual({ count: 0, events: [] })
      const summary = await app.inject({ method: 'GET', url: '/v1/usage', headers: AUTH })
      expect(summary.statusCode).toBe(200)
      expect(summary.json().total_requests).toBe(0)
    } finally {
      await rm(blocker, { force: true })
    }
  })
})

describe('the usage log under load', () => {
  it('20 concurrent chat requests write exactly 20 complete lines', async () => {
    const { app, config } = await buildTestApp()
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await app.inject({
      method: 'POST',
      url: CHAT,
      headers: { ...AUTH, 'user-agent': `load-${i}` },
      payload: { model: 'codex-5', messages: userMessage(`request number ${i}`), stream: i % 2 === 0 }
    })))
    expect(results.map((r) => r.statusCode)).toEqual(Array.from({ length: 20 }, () => 200))
    await app.usage.flush()
    const text = await readFile(config.TOKEN_LOG_PATH, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    const lines = text.slice(0, -1).split('\n')
    expect(lines).toHaveLength(20)
    const events = lines.map((l) => JSON.parse(l) as UsageEvent)
    expect(events.every((e) => e.status === 200)).toBe(true)
    expect(new Set(events.map((e) => e.user_agent))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => `load-${i}`)))
    expect(new Set(events.map((e) => e.request_id)).size).toBe(20)
    expect(events.filter((e) => e.stream)).toHaveLength(10)
  })
})
