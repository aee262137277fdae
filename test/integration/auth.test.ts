import { readFile } from 'node:fs/promises'
import type { LightMyRequestResponse } from 'fastify'
import { describe, expect, it } from 'vitest'
import { TEST_KEY, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, postChat, recordingBackend, sharedTestApp, userMessage } from '../helpers/http.js'

const CHAT = '/v1/chat/completions'
const body = JSON.stringify({ model: 'codex-5', messages: userMessage('who goes there') })

function expect401 (res: LightMyRequestResponse): void {
  expect(res.statusCode).toBe(401)
  expect(res.headers['www-authenticate']).toBe('Bearer realm=api')
  expectEnvelope(res.json(), { type: 'authentication_error', code: 'invalid_api_key', param: null })
}

/** Neither the body nor any header of a response carries the key. */
function expectNoKey (res: { body: string, headers: Record<string, unknown> }): void {
  expect(res.body).not.toContain(TEST_KEY)
  for (const [name, value] of Object.entries(res.headers)) {
    expect(`${name}: ${String(value)}`).not.toContain(TEST_KEY)
  }
}

describe('API key', () => {
  const backend = recordingBackend()
  const refusing = sharedTestApp({ backend })
  const shared = sharedTestApp()

  it('accepts `Authorization: Bearer <key>`, in any case of the scheme', async () => {
    const { app } = shared()
    for (const authorization of [`Bearer ${TEST_KEY}`, `bearer ${TEST_KEY}`, `Bearer   ${TEST_KEY}  `]) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: { authorization, 'content-type': 'application/json' }, payload: body })
      expect(res.statusCode, authorization).toBe(200)
      expect(res.json().choices[0].message.content).toBe('echo: who goes there')
    }
  })

  it('protects the chat route at the root exactly as under /v1', async () => {
    const { app } = shared()
    expect401(await app.inject({ method: 'POST', url: '/chat/completions', headers: { 'content-type': 'application/json' }, payload: body }))
    expect401(await app.inject({ method: 'POST', url: '/chat/completions', headers: { 'content-type': 'application/json', authorization: 'Bearer wrong' }, payload: body }))
    const ok = await app.inject({ method: 'POST', url: '/chat/completions', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}` }, payload: body })
    expect(ok.statusCode).toBe(200)
    expect(ok.json().choices[0].message.content).toBe('echo: who goes there')
  })

  it('accepts `x-api-key: <key>`', async () => {
    const { app } = shared()
    const res = await app.inject({ method: 'POST', url: CHAT, headers: { 'x-api-key': TEST_KEY, 'content-type': 'application/json' }, payload: body })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('echo: who goes there')
  })

  it.each([
    ['missing', {}],
    ['a wrong bearer key', { authorization: 'Bearer not-the-key' }],
    ['a bearer key that is a prefix of the key', { authorization: `Bearer ${TEST_KEY.slice(0, -1)}` }],
    ['a bearer key that extends the key', { authorization: `Bearer ${TEST_KEY}x` }],
    ['a wrong x-api-key', { 'x-api-key': 'not-the-key' }],
    ['the Basic scheme with the key as password', { authorization: `Basic ${Buffer.from(`user:${TEST_KEY}`).toString('base64')}` }],
    ['the Basic scheme with the key as user', { authorization: `Basic ${Buffer.from(`${TEST_KEY}:`).toString('base64')}` }],
    ['the key without a scheme', { authorization: TEST_KEY }],
    ['a Token scheme', { authorization: `Token ${TEST_KEY}` }]
  ])('refuses %s with a 401 and never runs a turn', async (_name, headers) => {
    const res = await refusing().app.inject({ method: 'POST', url: CHAT, headers: { 'content-type': 'application/json', ...headers }, payload: body })
    expect401(res)
    expectNoKey(res)
    expect(backend.requests).toHaveLength(0)
    // The same request with the key does run.
    const ok = await refusing().app.inject({ method: 'POST', url: CHAT, headers: { 'content-type': 'application/json', 'x-api-key': TEST_KEY }, payload: body })
    expect(ok.statusCode).toBe(200)
    backend.requests.length = 0
  })

  it('protects the usage routes, under /v1 and at the root', async () => {
    const { app } = shared()
    for (const url of ['/v1/usage', '/v1/usage/raw', '/usage', '/usage/raw']) {
      expect401(await app.inject({ method: 'GET', url }))
      const ok = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TEST_KEY}` } })
      expect(ok.statusCode, url).toBe(200)
    }
  })

  it('serves /v1/models without a key by default, even with a wrong one', async () => {
    const { app } = shared()
    for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
      for (const url of ['/v1/models', '/v1/models/codex-5']) {
        const res = await app.inject({ method: 'GET', url, headers })
        expect(res.statusCode, url).toBe(200)
      }
    }
  })

  it('protects /v1/models with PROXY_PROTECT_MODELS=true', async () => {
    const { app } = await buildTestApp({ env: { PROXY_PROTECT_MODELS: 'true' } })
    for (const url of ['/v1/models', '/v1/models/codex-5']) {
      expect401(await app.inject({ method: 'GET', url }))
      expect401(await app.inject({ method: 'GET', url, headers: { authorization: 'Bearer wrong' } }))
      const ok = await app.inject({ method: 'GET', url, headers: { 'x-api-key': TEST_KEY } })
      expect(ok.statusCode, url).toBe(200)
    }
  })

  it('never asks for a key on /healthz and /readyz', async () => {
    const { app } = await buildTestApp({ env: { PROXY_PROTECT_MODELS: 'true' } })
    for (const url of ['/healthz', '/readyz']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { 'x-api-key': 'wrong' }]) {
        const res = await app.inject({ method: 'GET', url, headers })
        expect(res.statusCode, url).toBe(200)
        expect(res.json().ok).toBe(true)
      }
    }
  })

  it('never shows the key in a response body or header', async () => {
    const { app } = shared()
    const auth = { authorization: `Bearer ${TEST_KEY}` }
    const responses = [
      await app.inject({ method: 'GET', url: '/healthz', headers: auth }),
      await app.inject({ method: 'GET', url: '/readyz', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/models', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/models/codex-5', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/models/nope', headers: auth }),
      await app.inject({ method: 'POST', url: CHAT, headers: { ...auth, 'content-type': 'application/json' }, payload: body }),
      // The key typed into the prompt is echoed by the fake Codex: that is the user's own text, so
      // the check is on everything else: an error that quotes the request must not quote the key.
      await app.inject({ method: 'POST', url: CHAT, headers: { ...auth, 'content-type': 'application/json' }, payload: '{bad' }),
      await app.inject({ method: 'POST', url: CHAT, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ messages: [{ role: 'user', content: 1 }] }) }),
      await app.inject({ method: 'GET', url: CHAT, headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/nope', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/usage', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/usage/raw', headers: auth }),
      await app.inject({ method: 'GET', url: '/v1/usage', headers: { authorization: `Bearer ${TEST_KEY}x` } }),
      await app.inject({ method: 'GET', url: '/v1/usage', headers: { 'x-api-key': `${TEST_KEY}-wrong` } }),
      await app.inject({ method: 'OPTIONS', url: CHAT, headers: { ...auth, origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } })
    ]
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 404, 200, 400, 400, 405, 404, 200, 200, 401, 401, 204])
    for (const res of responses) expectNoKey(res)
  })

  it('never shows the key in a streamed response', async () => {
    const { app } = await buildTestApp({ listen: true })
    const res = await postChat(app, { model: 'codex-5', messages: userMessage('stream it'), stream: true, stream_options: { include_usage: true } })
    expect(res.status).toBe(200)
    expect(res.doneIndex).toBeGreaterThan(0)
    expectNoKey({ body: res.raw, headers: res.headers })
  })

  it('does not write the key into the usage log', async () => {
    const { app, config } = await buildTestApp()
    const res = await app.inject({ method: 'POST', url: CHAT, headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json', 'user-agent': 'auth-test' }, payload: body })
    expect(res.statusCode).toBe(200)
    await app.usage.flush()
    const log = await readFile(config.TOKEN_LOG_PATH, 'utf8')
    expect(log).toContain('auth-test')
    expect(log).not.toContain(TEST_KEY)
  })
})
