import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/paths.js'

const SERVER = resolve(REPO_ROOT, 'deploy/forward-auth/server.mjs')
const KEY = 'fa-test-key-7d1c9e0b5a43f2e8'

interface Started {
  child: ChildProcessWithoutNullStreams
  output: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Starts the ForwardAuth service with an environment of our own choosing (no inherited key). */
function start (env: Record<string, string>): Started {
  const child = spawn(process.execPath, [SERVER], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d })
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null
  }))
  return { child, output: () => out, exited }
}

async function boundPort (started: Started): Promise<number> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(started.output())
    if (match?.[1] !== undefined) return Number(match[1])
    if (started.child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`forward-auth did not report its port; output:\n${started.output()}`)
}

describe('deploy/forward-auth/server.mjs', () => {
  let server: Started
  let base: string

  beforeAll(async () => {
    server = start({ PROXY_API_KEY: KEY, HOST: '127.0.0.1', PORT: '0' })
    base = `http://127.0.0.1:${await boundPort(server)}`
  })

  afterAll(async () => {
    if (server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL')
      await server.exited
    }
  })

  const verify = async (headers: Record<string, string>, method = 'GET'): Promise<Response> =>
    await fetch(`${base}/verify`, { method, headers })

  it('answers 200 for the right key', async () => {
    const res = await verify({ authorization: `Bearer ${KEY}` })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-auth-user')).toBe('api-key')
  })

  it('accepts any method (Traefik forwards the original one) and a lower-case scheme', async () => {
    expect((await verify({ authorization: `Bearer ${KEY}` }, 'POST')).status).toBe(200)
    expect((await verify({ authorization: `bearer ${KEY}` }, 'OPTIONS')).status).toBe(200)
  })

  it('accepts the key as x-api-key, as the app does', async () => {
    expect((await verify({ 'x-api-key': KEY })).status).toBe(200)
  })

  const denied: ReadonlyArray<[string, Record<string, string>]> = [
    ['a wrong key', { authorization: 'Bearer not-the-key' }],
    ['no Authorization header', {}],
    ['a wrong scheme', { authorization: `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}` }],
    ['the key without a scheme', { authorization: KEY }],
    ['a key with the right prefix', { authorization: `Bearer ${KEY.slice(0, -1)}` }],
    ['the key with a suffix', { authorization: `Bearer ${KEY}x` }],
    ['an empty bearer token', { authorization: 'Bearer ' }],
    ['a wrong x-api-key', { 'x-api-key': `${KEY}-` }]
  ]
  for (const [name, headers] of denied) {
    it(`answers 401 for ${name}, with WWW-Authenticate and an OpenAI error body`, async () => {
      const res = await verify(headers)
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm=api')
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const body = await res.json() as { error: Record<string, unknown> }
      expect(body).toEqual({
        error: { message: expect.any(String), type: 'authentication_error', param: null, code: 'invalid_api_key' }
      })
      expect(JSON.stringify(body)).not.toContain(KEY)
    })
  }

  it('serves GET /healthz without a key, and 404 elsewhere', async () => {
    const health = await fetch(`${base}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true })
    expect((await fetch(`${base}/other`, { headers: { authorization: `Bearer ${KEY}` } })).status).toBe(404)
  })

  it('never prints the key, and exits cleanly on SIGTERM', async () => {
    // A keep-alive connection, as Traefik holds, must not keep it from exiting.
    await fetch(`${base}/verify`, { headers: { authorization: `Bearer ${KEY}`, connection: 'keep-alive' } })
    server.child.kill('SIGTERM')
    const { code, signal } = await server.exited
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    expect(server.output()).toContain('listening on')
    expect(server.output()).not.toContain(KEY)
    expect(server.output()).not.toContain(KEY.slice(0, 12))
  })
})

describe('deploy/forward-auth/server.mjs refuses to start', () => {
  const cases: ReadonlyArray<[string, Record<string, string>, RegExp]> = [
    ['without PROXY_API_KEY', { PORT: '0' }, /PROXY_API_KEY is not set/],
    ['with an empty PROXY_API_KEY', { PROXY_API_KEY: '  ', PORT: '0' }, /PROXY_API_KEY is not set/],
    ['with the app\'s default key', { PROXY_API_KEY: 'codex-local-secret', PORT: '0' }, /well-known default/],
    ['with a bad PORT', { PROXY_API_KEY: KEY, PORT: 'http' }, /PORT="http"/]
  ]
  for (const [name, env, message] of cases) {
    it(name, async () => {
      const started = start({ HOST: '127.0.0.1', ...env })
      const { code } = await started.exited
      expect(code).toBe(78)
      expect(started.output()).toMatch(message)
      expect(started.output()).not.toContain(KEY)
    })
  }
})
