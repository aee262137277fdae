import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { sharedTestApp, userMessage } from '../helpers/http.js'

const CHAT = '/v1/chat/completions'
const SDK_HEADERS = [
  'authorization',
  'content-type',
  'x-stainless-os',
  'x-stainless-lang',
  'x-stainless-arch',
  'x-stainless-runtime',
  'x-stainless-runtime-version',
  'x-stainless-package-version',
  'x-stainless-timeout',
  'x-stainless-retry-count',
  'openai-organization'
]

const preflight = (origin: string, requestHeaders: string, url = CHAT) => ({
  method: 'OPTIONS' as const,
  url,
  headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders }
})

const listOf = (header: string | string[] | number | undefined): string[] =>
  String(header ?? '').split(',').map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0)

describe('CORS', () => {
  const shared = sharedTestApp()

  it('answers an SDK preflight with 204, every requested SDK header allowed, no key needed', async () => {
    const { app } = shared()
    const res = await app.inject(preflight('https://app.example', SDK_HEADERS.map((h) => h.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())).join(', ')))
    expect(res.statusCode).toBe(204)
    expect(res.body).toBe('')
    expect(res.headers['access-control-allow-origin']).toBe('*')
    const allowed = listOf(res.headers['access-control-allow-headers'])
    for (const header of SDK_HEADERS) expect(allowed).toContain(header)
    expect(listOf(res.headers['access-control-allow-methods'])).toContain('post')
    expect(res.headers['www-authenticate']).toBeUndefined()
  })

  it('allows the other headers the proxy understands and OpenAI-* headers', async () => {
    const { app } = shared()
    const wanted = ['x-api-key', 'x-no-keepalive', 'openai-project', 'openai-beta', 'x-stainless-helper-method', 'x-request-id', 'accept']
    const res = await app.inject(preflight('https://app.example', wanted.join(',')))
    expect(res.statusCode).toBe(204)
    expect(listOf(res.headers['access-control-allow-headers']).sort()).toEqual([...wanted].sort())
  })

  it('does not echo a requested header outside the allowed set', async () => {
    const { app } = shared()
    const res = await app.inject(preflight('https://app.example', 'authorization, x-evil-header, cookie, x-stainless-os'))
    expect(res.statusCode).toBe(204)
    const allowed = listOf(res.headers['access-control-allow-headers'])
    expect(allowed).toEqual(['authorization', 'x-stainless-os'])
    expect(allowed).not.toContain('x-evil-header')
    expect(allowed).not.toContain('cookie')
  })

  it('answers preflights for the models and usage routes too', async () => {
    const { app } = shared()
    for (const url of ['/v1/models', '/v1/usage', '/v1/models/codex-5']) {
      const res = await app.inject({ ...preflight('https://app.example', 'authorization', url), headers: { origin: 'https://app.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } })
      expect(res.statusCode, url).toBe(204)
      expect(res.headers['access-control-allow-origin']).toBe('*')
    }
  })

  it('allows DELETE in a preflight (DELETE /v1/responses/{id}), and every other method a route answers', async () => {
    const { app } = shared()
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/v1/responses/resp_123',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization, x-stainless-os' }
    })
    expect(res.statusCode).toBe(204)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    expect(listOf(res.headers['access-control-allow-methods'])).toEqual(expect.arrayContaining(['get', 'head', 'post', 'delete']))
    expect(listOf(res.headers['access-control-allow-headers'])).toEqual(['authorization', 'x-stainless-os'])
    // The DELETE that follows gets its CORS header too (here a 404: no such stored response).
    const del = await app.inject({ method: 'DELETE', url: '/v1/responses/resp_123', headers: { ...AUTH, origin: 'https://app.example' } })
    expect(del.statusCode).toBe(404)
    expect(del.headers['access-control-allow-origin']).toBe('*')
  })

  it('puts access-control-allow-origin on simple requests, errors included', async () => {
    const { app } = shared()
    const origin = { origin: 'https://app.example' }
    const models = await app.inject({ method: 'GET', url: '/v1/models', headers: origin })
    expect(models.statusCode).toBe(200)
    expect(models.headers['access-control-allow-origin']).toBe('*')
    const chat = await app.inject({ method: 'POST', url: CHAT, headers: { ...AUTH, ...origin }, payload: { model: 'codex-5', messages: userMessage('cors') } })
    expect(chat.statusCode).toBe(200)
    expect(chat.headers['access-control-allow-origin']).toBe('*')
    expect(listOf(chat.headers['access-control-expose-headers'])).toContain('x-request-id')
    const denied = await app.inject({ method: 'POST', url: CHAT, headers: origin, payload: { model: 'codex-5', messages: userMessage('cors') } })
    expect(denied.statusCode).toBe(401)
    // A browser can only read the 401 (and tell the user about the key) with the CORS header.
    expect(denied.headers['access-control-allow-origin']).toBe('*')
  })

  it('sends no CORS headers and no 204 with PROXY_ENABLE_CORS=false', async () => {
    const { app } = await buildTestApp({ env: { PROXY_ENABLE_CORS: 'false' } })
    const pre = await app.inject(preflight('https://app.example', SDK_HEADERS.join(', ')))
    expect(pre.statusCode).not.toBe(204)
    expect(pre.statusCode).toBe(405)
    for (const res of [pre, await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'https://app.example' } })]) {
      const cors = Object.keys(res.headers).filter((h) => h.startsWith('access-control-'))
      expect(cors).toEqual([])
    }
  })

  it('allows only the configured origin with PROXY_CORS_ORIGINS', async () => {
    const { app } = await buildTestApp({ env: { PROXY_CORS_ORIGINS: 'https://a.example' } })
    const good = await app.inject(preflight('https://a.example', 'authorization, content-type'))
    expect(good.statusCode).toBe(204)
    expect(good.headers['access-control-allow-origin']).toBe('https://a.example')
    expect(listOf(good.headers.vary)).toContain('origin')

    const bad = await app.inject(preflight('https://b.example', 'authorization, content-type'))
    expect(bad.headers['access-control-allow-origin']).toBeUndefined()

    const simpleGood = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'https://a.example' } })
    expect(simpleGood.headers['access-control-allow-origin']).toBe('https://a.example')
    const simpleBad = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'https://a.example.evil.test' } })
    expect(simpleBad.statusCode).toBe(200)
    expect(simpleBad.headers['access-control-allow-origin']).toBeUndefined()
  })

  it('accepts a comma-separated list of origins', async () => {
    const { app } = await buildTestApp({ env: { PROXY_CORS_ORIGINS: 'https://a.example, https://c.example' } })
    for (const origin of ['https://a.example', 'https://c.example']) {
      const res = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin } })
      expect(res.headers['access-control-allow-origin']).toBe(origin)
    }
    const other = await app.inject({ method: 'GET', url: '/v1/models', headers: { origin: 'https://b.example' } })
    expect(other.headers['access-control-allow-origin']).toBeUndefined()
  })
})
