import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { ConfigError, assertSafeToListen, loadConfig } from '../../src/config.js'
import { AUTH, TEST_KEY, baseUrl, buildTestApp, startTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope } from '../helpers/http.js'

// A local install with the default key: any web page the user visits knows that key. The probe
// showed a page at https://evil.example could preflight, spend the user's plan and read
// /v1/usage/raw, and that DNS rebinding got the same without CORS.

const DEFAULT_KEY = 'codex-local-secret'
const defaultKeyApp = async (env: Record<string, string> = {}): Promise<ReturnType<typeof buildTestApp>> =>
  await buildTestApp({ env: { PROXY_API_KEY: DEFAULT_KEY, ...env } })
const preflight = (origin: string, host = '127.0.0.1:11435') => ({
  method: 'OPTIONS' as const,
  url: '/v1/chat/completions',
  headers: { host, origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }
})
const chat = (headers: Record<string, string>) => ({
  method: 'POST' as const,
  url: '/v1/chat/completions',
  headers: { authorization: `Bearer ${DEFAULT_KEY}`, host: '127.0.0.1:11435', ...headers },
  payload: { messages: [{ role: 'user', content: 'hi' }] }
})

describe('with the default key', () => {
  it('refuses a web page from another site, preflight and request alike, with a 403 and no CORS header', async () => {
    const { app } = await defaultKeyApp()
    const pre = await app.inject(preflight('https://evil.example'))
    expect(pre.statusCode).toBe(403)
    expectEnvelope(pre.json(), { type: 'permission_error', code: 'origin_not_allowed' })
    expect(pre.headers['access-control-allow-origin']).toBeUndefined()
    const raw = await app.inject({ method: 'GET', url: '/v1/usage/raw', headers: { authorization: `Bearer ${DEFAULT_KEY}`, host: '127.0.0.1:11435', origin: 'https://evil.example' } })
    expect(raw.statusCode).toBe(403)
    expect((await app.inject(chat({ origin: 'https://evil.example' }))).statusCode).toBe(403)
  })

  it.each(['http://localhost:3000', 'http://127.0.0.1:5173', 'https://localhost', 'http://[::1]:8080', 'app://obsidian.md', 'vscode-webview://1abc2def', 'tauri://localhost', 'vscode-file://vscode-app'])(
    'serves the local page or desktop app %s, with CORS for it', async (origin) => {
      const { app } = await defaultKeyApp()
      const pre = await app.inject(preflight(origin))
      expect(pre.statusCode).toBe(204)
      expect(pre.headers['access-control-allow-origin']).toBe(origin)
      const res = await app.inject(chat({ origin }))
      expect(res.statusCode).toBe(200)
      expect(res.headers['access-control-allow-origin']).toBe(origin)
    })

  it('serves the server\'s own origin (its own pages) and the origins of PROXY_CORS_ORIGINS', async () => {
    const { app } = await defaultKeyApp({ PROXY_CORS_ORIGINS: 'https://my.app, http://tools.lan:*' })
    expect((await app.inject(chat({ origin: 'http://127.0.0.1:11435' }))).statusCode).toBe(200)
    for (const origin of ['https://my.app', 'http://tools.lan:8080', 'http://localhost:3000']) {
      expect((await app.inject(preflight(origin))).headers['access-control-allow-origin'], origin).toBe(origin)
    }
    expect((await app.inject(preflight('https://my.app.evil.example'))).statusCode).toBe(403)
  })

  it('answers only under loopback host names (DNS rebinding), and the names of PROXY_ALLOWED_HOSTS', async () => {
    const { app } = await defaultKeyApp({ PROXY_ALLOWED_HOSTS: 'box.lan, *.corp.example' })
    for (const host of ['127.0.0.1:11435', 'localhost:11435', 'localhost', '[::1]:11435', 'app.localhost:11435', '127.0.0.2', 'box.lan:11435', 'dev.corp.example']) {
      expect((await app.inject({ method: 'GET', url: '/healthz', headers: { host } })).statusCode, host).toBe(200)
    }
    // A rebound name is same-origin for the browser; the Host still gives it away.
    const rebound = await app.inject(chat({ host: 'evil.example:11435', origin: 'http://evil.example:11435' }))
    expect(rebound.statusCode).toBe(403)
    expectEnvelope(rebound.json(), { type: 'permission_error', code: 'host_not_allowed' })
    expect((await app.inject({ method: 'GET', url: '/v1/models', headers: { host: '192.168.1.10:11435' } })).statusCode).toBe(403)
  })

  it('refuses at start to allow every origin or every host', () => {
    for (const env of [{ PROXY_CORS_ORIGINS: '*' }, { PROXY_CORS_ORIGINS: 'https://a.example,*' }, { PROXY_ALLOWED_HOSTS: '*' }]) {
      const err = (() => { try { assertSafeToListen(loadConfig(env)); return undefined } catch (e) { return e } })()
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError)
      expect((err as ConfigError).message).toMatch(/default PROXY_API_KEY/)
    }
    assertSafeToListen(loadConfig({ PROXY_API_KEY: 'my-own-secret', PROXY_CORS_ORIGINS: '*', PROXY_ALLOWED_HOSTS: '*' }))
  })
})

describe('with a key of one\'s own', () => {
  it('keeps today\'s behaviour: every origin gets CORS and any host is served', async () => {
    const { app } = await buildTestApp()
    const pre = await app.inject({ ...preflight('https://app.example', 'api.example.com'), headers: { ...preflight('https://app.example').headers, host: 'api.example.com' } })
    expect(pre.statusCode).toBe(204)
    expect(pre.headers['access-control-allow-origin']).toBe('*')
    const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: { ...AUTH, host: 'api.example.com', origin: 'https://app.example' }, payload: { messages: [{ role: 'user', content: 'hi' }] } })
    expect(res.statusCode).toBe(200)
  })

  it('serves only the hosts of PROXY_ALLOWED_HOSTS once it is set', async () => {
    const { app } = await buildTestApp({ env: { PROXY_ALLOWED_HOSTS: 'api.example.com' } })
    expect((await app.inject({ method: 'GET', url: '/healthz', headers: { host: 'api.example.com' } })).statusCode).toBe(200)
    expect((await app.inject({ method: 'GET', url: '/healthz', headers: { host: 'other.example.com' } })).statusCode).toBe(403)
    expect(TEST_KEY).not.toBe(DEFAULT_KEY)
  })
})

/** Sends raw bytes and returns everything the server wrote before it closed the connection. */
async function rawExchange (base: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { socket.write(bytes) })
    let out = ''
    socket.on('data', (d: Buffer) => { out += d.toString('latin1') })
    socket.on('close', () => { resolve(out) })
    socket.on('error', reject)
    socket.setTimeout(5000, () => { socket.destroy(new Error('no answer')) })
  })
}

const bodyOf = (response: string): unknown => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4))

describe('HTTP errors before there is a request, in the OpenAI envelope', () => {
  it.each([
    ['a bad request line', 'GARBAGE\r\n\r\n', 400],
    ['an unknown method', 'BREW /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 400],
    ['headers over 16 KiB', `GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
    ['a missing Host', 'GET /v1/models HTTP/1.1\r\nConnection: close\r\n\r\n', 400]
  ])('%s gets %i and the envelope', async (_name, bytes, status) => {
    const app = await startTestApp({ listen: true })
    try {
      const response = await rawExchange(baseUrl(app.app), bytes)
      expect(response.startsWith(`HTTP/1.1 ${status} `)).toBe(true)
      expect(response).toMatch(/content-type: application\/json/i)
      expectEnvelope(bodyOf(response), { type: 'invalid_request_error' })
    } finally {
      await app.close()
    }
  })
})
