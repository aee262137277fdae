import { connect, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { TEST_KEY, baseUrl, buildTestApp, useShimDelay } from '../helpers/build-test-app.js'

// HTTP hardening: a client that sends its headers or body too slowly, or keeps an idle
// connection, loses the socket instead of holding it forever.

const FAST = { PROXY_HEADERS_TIMEOUT_MS: '500', PROXY_REQUEST_TIMEOUT_MS: '1000', PROXY_KEEPALIVE_TIMEOUT_MS: '500' }

async function open (url: string): Promise<{ socket: Socket, closed: Promise<string> }> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  await new Promise<void>((resolve) => socket.once('connect', resolve))
  let received = ''
  socket.on('data', (d: Buffer) => { received += d.toString() })
  socket.on('error', () => {})
  const closed = new Promise<string>((resolve) => socket.once('close', () => { resolve(received) }))
  return { socket, closed }
}

/** Resolves with how long `promise` took, or rejects after `ms`. */
async function within<T> (ms: number, promise: Promise<T>): Promise<{ value: T, ms: number }> {
  const started = Date.now()
  let timer: NodeJS.Timeout | undefined
  const value = await Promise.race([promise, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`still open after ${ms} ms`)) }, ms) })])
  clearTimeout(timer)
  return { value, ms: Date.now() - started }
}

describe('slow clients', () => {
  it('closes a connection whose headers never finish', async () => {
    const { app } = await buildTestApp({ listen: true, env: FAST })
    const { socket, closed } = await open(baseUrl(app))
    socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ')
    const { value } = await within(4000, closed)
    expect(value).toMatch(/^HTTP\/1\.1 408/)
    // The OpenAI envelope, as for every other error.
    expect(JSON.parse(value.slice(value.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { type: 'timeout_error', code: 'request_timeout' } })
  })

  it('closes a connection whose body never finishes', async () => {
    const { app } = await buildTestApp({ listen: true, env: FAST })
    const { socket, closed } = await open(baseUrl(app))
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"messages":`)
    const { value } = await within(5000, closed)
    expect(value).toMatch(/^HTTP\/1\.1 408/)
  })

  it('closes an idle keep-alive connection', async () => {
    const { app } = await buildTestApp({ listen: true, env: FAST })
    const { socket, closed } = await open(baseUrl(app))
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n')
    const { value } = await within(4000, closed)
    expect(value).toMatch(/^HTTP\/1\.1 200/)
    expect(value).toContain('{"ok":true}')
  })

  describe('with a slow fake Codex', () => {
    useShimDelay(400)
    it('does not cut a response that takes longer than the request timeout', async () => {
      const { app } = await buildTestApp({ listen: true, env: FAST, shim: 'slow' })
      const res = await fetch(`${baseUrl(app)}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'one two three four five six seven eight' }] })
      })
      const started = Date.now()
      const text = await res.text()
      expect(Date.now() - started).toBeGreaterThan(1000)
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true)
      expect(text).not.toContain('"error"')
    })
  })

  it('refuses a headers timeout longer than the request timeout at start', () => {
    expect(() => loadConfig({ PROXY_HEADERS_TIMEOUT_MS: '5000', PROXY_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/PROXY_HEADERS_TIMEOUT_MS=5000: must not be longer/)
  })
})
