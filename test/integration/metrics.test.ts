import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope } from '../helpers/http.js'
import { parsePrometheus, value, type Sample } from '../helpers/prometheus.js'

// /metrics is Prometheus text exposition, behind the key unless configured public, and its
// series move when requests are served. Requests carry an x-request-id, accepted and echoed.

describe('/metrics', () => {
  it('needs an admin key (its series show every key\'s usage) unless PROXY_METRICS_PUBLIC=true', async () => {
    const { app } = await buildTestApp({ env: { PROXY_API_KEYS: 'bob=key-of-bob' } })
    const denied = await app.inject({ method: 'GET', url: '/metrics' })
    expect(denied.statusCode).toBe(401)
    expectEnvelope(denied.json(), { code: 'invalid_api_key' })
    expect((await app.inject({ method: 'GET', url: '/metrics', headers: AUTH })).statusCode).toBe(200)
    const bob = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer key-of-bob' } })
    expect(bob.statusCode).toBe(403)
    expectEnvelope(bob.json(), { type: 'permission_error', code: 'metrics_not_visible' })
    const open = await buildTestApp({ env: { PROXY_METRICS_PUBLIC: 'true' } })
    expect((await open.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200)
  })

  it('parses as Prometheus text and moves when requests are served', async () => {
    const { app } = await buildTestApp()
    const scrape = async (): Promise<Sample[]> => {
      const res = await app.inject({ method: 'GET', url: '/metrics', headers: AUTH })
      expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
      return parsePrometheus(res.body)
    }
    const before = await scrape()
    for (const stream of [false, true]) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: AUTH,
        payload: { stream, messages: [{ role: 'user', content: `count me ${String(stream)}` }] }
      })
      expect(res.statusCode).toBe(200)
    }
    await app.inject({ method: 'GET', url: '/v1/nope', headers: AUTH })
    const after = await scrape()

    const chat = { route: '/v1/chat/completions', method: 'POST', status: '200' }
    expect(value(after, 'codex_api_http_requests_total', chat) - value(before, 'codex_api_http_requests_total', chat)).toBe(2)
    expect(value(after, 'codex_api_http_requests_total', { status: '404' })).toBe(1)
    expect(value(after, 'codex_api_http_request_duration_seconds_count', { route: '/v1/chat/completions' })).toBe(2)
    expect(value(after, 'codex_api_time_to_first_token_seconds_count')).toBe(2)
    expect(value(after, 'codex_api_time_to_first_token_seconds_count', { stream: 'true' })).toBe(1)
    expect(value(after, 'codex_api_turns_total', { status: '200' })).toBe(2)
    expect(value(after, 'codex_api_tokens_total', { kind: 'prompt' })).toBeGreaterThan(0)
    expect(value(after, 'codex_api_tokens_total', { kind: 'completion', source: 'codex' })).toBeGreaterThan(0)
    expect(value(after, 'codex_api_active_streams')).toBe(0)
    expect(value(after, 'codex_api_queued_requests')).toBe(0)
    expect(value(after, 'codex_api_active_turns')).toBe(0)
    expect(value(after, 'codex_api_backend_ready')).toBe(1)
    expect(after.some((s) => s.name === 'codex_api_process_resident_memory_bytes')).toBe(true)
  })

  it('accepts and echoes x-request-id, and makes one up otherwise', async () => {
    const { app } = await buildTestApp()
    const given = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'client-id-123' } })
    expect(given.headers['x-request-id']).toBe('client-id-123')
    const made = await app.inject({ method: 'GET', url: '/healthz' })
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    const hostile = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'bad id\u0000with spaces' } })
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })
})
