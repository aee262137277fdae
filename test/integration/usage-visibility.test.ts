import { writeFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { AUTH, buildTestApp, type TestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, userMessage } from '../helpers/http.js'
import { referenceSummary, syntheticEvents } from '../helpers/usage-log.js'

// Admin keys (PROXY_ADMIN_KEY_NAMES, default `default`) see every key's usage; any other key only
// its own: a filter naming another key is refused the same way whether that key exists or not.

const ALICE = 'alice-key-0123456789abcdef'
const BOB = 'bob-key-0123456789abcdef'
const as = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` })
const DAY = 86_400_000
const END = Date.now()
const EVENTS: UsageEvent[] = [...syntheticEvents({ count: 600, startMs: END - 2 * DAY, endMs: END - 60_000, keys: ['default', 'alice', 'bob', 'ci'], seed: 21 })]
const WINDOW = `start=${new Date(END - 3 * DAY).toISOString()}&end=${new Date(END).toISOString()}`

async function seededApp (env: Record<string, string> = {}): Promise<TestApp> {
  const app = await buildTestApp({ env: { PROXY_API_KEYS: `alice=${ALICE},bob=${BOB}`, ...env } })
  await writeFile(app.config.TOKEN_LOG_PATH, EVENTS.map((e) => `${JSON.stringify(e)}\n`).join(''))
  return app
}

const countOf = (key: string): number => EVENTS.filter((e) => e.key_name === key).length

describe('usage visibility by key', () => {
  it('an admin key sees every key, and can filter and break down by any of them', async () => {
    const { app } = await seededApp()
    const all = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&by=key`, headers: AUTH })
    expect(all.statusCode).toBe(200)
    expect(all.json()).toMatchObject({ scope: 'all', total_requests: EVENTS.length })
    expect(new Set(all.json<{ breakdown: Array<{ name: string }> }>().breakdown.map((r) => r.name))).toEqual(new Set(['default', 'alice', 'bob', 'ci']))
    const bob = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&key=bob`, headers: AUTH })
    expect(bob.json()).toMatchObject({ total_requests: countOf('bob'), filters: { key: ['bob'] } })
    const raw = await app.inject({ method: 'GET', url: '/v1/usage/raw?limit=10000', headers: AUTH })
    expect(raw.json().count).toBe(EVENTS.length)
  })

  it('any other key sees its own usage only, in totals, breakdowns and the raw events', async () => {
    const { app } = await seededApp()
    const own = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&group=day&by=key`, headers: as(ALICE) })
    expect(own.statusCode).toBe(200)
    const ref = referenceSummary(EVENTS, { start: new Date(END - 3 * DAY), end: new Date(END), keys: ['alice'] })
    expect(own.json()).toMatchObject({ scope: 'own', total_requests: countOf('alice'), total_tokens_est: ref.totals.total_tokens_est, cached_tokens: ref.totals.cached_tokens })
    expect(own.json().breakdown.map((r: { name: string }) => r.name)).toEqual(['alice'])
    for (const bucket of own.json().buckets as Array<{ breakdown: Array<{ name: string }> }>) expect(bucket.breakdown.map((r) => r.name)).toEqual(['alice'])
    const byModel = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&by=model`, headers: as(ALICE) })
    expect(byModel.json().total_requests).toBe(countOf('alice'))
    const self = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&key=alice`, headers: as(ALICE) })
    expect(self.json().total_requests).toBe(countOf('alice'))

    const raw = await app.inject({ method: 'GET', url: '/v1/usage/raw?limit=10000', headers: as(BOB) })
    expect(raw.statusCode).toBe(200)
    expect(raw.json().count).toBe(countOf('bob'))
    expect(raw.json().events.every((e: UsageEvent) => e.key_name === 'bob')).toBe(true)
  })

  it('a filter on another key is a 403 that reads the same whether that key exists or not', async () => {
    const { app } = await seededApp()
    const bodies: string[] = []
    for (const url of [`/v1/usage?key=bob&${WINDOW}`, '/v1/usage?key=nobody', '/v1/usage?key=alice,bob', '/v1/usage/raw?key=default', '/v1/usage/raw?key=ghost']) {
      const res = await app.inject({ method: 'GET', url, headers: as(ALICE) })
      expect(res.statusCode, url).toBe(403)
      expectEnvelope(res.json(), { type: 'permission_error', code: 'usage_not_visible', param: 'key' })
      bodies.push(res.json().error.message as string)
    }
    expect(new Set(bodies).size).toBe(1)
    expect(bodies[0]).not.toMatch(/bob|ghost|nobody|default/)
  })

  it('"usage today" in a chat counts the caller\'s own requests only, unless it is an admin', async () => {
    const { app } = await seededApp()
    const todays = (key: string): number => {
      const start = new Date()
      start.setUTCHours(0, 0, 0, 0)
      return EVENTS.filter((e) => e.key_name === key && Date.parse(e.ts) >= start.getTime()).length
    }
    const ask = async (key: string | undefined): Promise<string> => {
      const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: key === undefined ? AUTH : as(key), payload: { model: 'codex-5', messages: userMessage('usage today') } })
      expect(res.statusCode).toBe(200)
      return res.json().choices[0].message.content as string
    }
    expect(await ask(ALICE)).toMatch(new RegExp(`: ${todays('alice')} requests, `))
    // Alice's own question is now in the log too.
    expect(await ask(ALICE)).toMatch(new RegExp(`: ${todays('alice') + 1} requests, `))
    const everyone = EVENTS.filter((e) => Date.parse(e.ts) >= new Date().setUTCHours(0, 0, 0, 0)).length
    expect(await ask(undefined)).toMatch(new RegExp(`: ${everyone + 2} requests, `))
  })

  it('PROXY_ADMIN_KEY_NAMES names the admins: then `default` is just another key', async () => {
    const { app } = await seededApp({ PROXY_ADMIN_KEY_NAMES: 'alice, ci' })
    expect((await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}`, headers: as(ALICE) })).json()).toMatchObject({ scope: 'all', total_requests: EVENTS.length })
    expect((await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}`, headers: AUTH })).json()).toMatchObject({ scope: 'own', total_requests: countOf('default') })
    expect((await app.inject({ method: 'GET', url: '/v1/usage?key=alice', headers: AUTH })).statusCode).toBe(403)
    const status = await app.inject({ method: 'GET', url: '/v1/status', headers: as(ALICE) })
    expect(status.json().caller).toEqual({ key_name: 'alice', admin: true })
  })
})

describe('/v1/usage filters and breakdowns', () => {
  it('filter by model and route, break down by model and route, as the log says', async () => {
    const { app } = await seededApp()
    const start = new Date(END - 3 * DAY)
    const end = new Date(END)
    for (const [query, ref] of [
      ['model=gpt-6-mini&by=route&group=hour', { models: ['gpt-6-mini'], by: 'route' as const, group: 'hour' as const }],
      ['route=/v1/responses,/v1/messages&by=model', { routes: ['/v1/responses', '/v1/messages'], by: 'model' as const }],
      // A dialect's name stands for its route.
      ['route=responses,messages&by=model', { routes: ['/v1/responses', '/v1/messages'], by: 'model' as const }]
    ] as const) {
      const res = await app.inject({ method: 'GET', url: `/v1/usage?${WINDOW}&${query}`, headers: AUTH })
      expect(res.statusCode).toBe(200)
      const want = referenceSummary(EVENTS, { start, end, ...ref })
      expect(res.json().total_requests).toBe(want.totals.requests)
      for (const row of res.json().breakdown as Array<{ name: string, requests: number, reasoning_tokens: number }>) {
        expect(row).toMatchObject({ requests: want.breakdown.get(row.name)?.requests, reasoning_tokens: want.breakdown.get(row.name)?.reasoning_tokens })
      }
    }
  })

  it.each([
    ['by=user', 'by'],
    ['key=', 'key'],
    [`model=${'m,'.repeat(40)}`, 'model'],
    [`route=${'x'.repeat(300)}`, 'route']
  ])('?%s is a 400 with param %s', async (query, param) => {
    const { app } = await seededApp()
    const res = await app.inject({ method: 'GET', url: `/v1/usage?${query}`, headers: AUTH })
    expect(res.statusCode).toBe(400)
    expectEnvelope(res.json(), { type: 'invalid_request_error', param })
  })
})

describe('/v1/status', () => {
  it('shows readiness, workers, turns, the Codex login and versions, behind the key', async () => {
    const { app } = await seededApp()
    expect((await app.inject({ method: 'GET', url: '/v1/status' })).statusCode).toBe(401)
    const res = await app.inject({ method: 'GET', url: '/v1/status', headers: as(BOB) })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({
      ok: true,
      backend: 'proto',
      active: 0,
      queued: 0,
      // CODEX_BIN names the fake Codex: its version is not the pinned package's.
      codex: { logged_in: expect.any(Boolean), version: null },
      server: { version: expect.any(String), node: process.version },
      caller: { key_name: 'bob', admin: false }
    })
    expect(JSON.stringify(res.json())).not.toContain(BOB)
  })
})
