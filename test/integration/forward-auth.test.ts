import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { configuredKeys } from '../../src/auth/api-keys.js'
import { REPO_ROOT } from '../helpers/paths.js'
import { waitFor } from '../helpers/wait.js'

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
    // PROXY_API_KEY's name, as the app calls it.
    expect(res.headers.get('x-auth-user')).toBe('default')
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

const ALICE = 'fa-alice-5b0e2c9d71a4f836'
const BOB = 'fa-bob-0c4f1e8a92d7b563'
const CAROL = 'fa-carol-7e3a9d1c05b4f2e8'

describe('deploy/forward-auth/server.mjs with named keys', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-fa-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  const stop = async (s: Started): Promise<void> => {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL')
    await s.exited
  }

  it('accepts every key of PROXY_API_KEY and PROXY_API_KEYS and names it in X-Auth-User', async () => {
    const s = start({ PROXY_API_KEY: KEY, PROXY_API_KEYS: `alice=${ALICE}, bob=${BOB}`, PORT: '0' })
    try {
      const url = `http://127.0.0.1:${await boundPort(s)}/verify`
      for (const [key, name] of [[KEY, 'default'], [ALICE, 'alice'], [BOB, 'bob']] as const) {
        const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
        expect(res.status).toBe(200)
        expect(res.headers.get('x-auth-user')).toBe(name)
        expect((await fetch(url, { headers: { 'x-api-key': key } })).headers.get('x-auth-user')).toBe(name)
      }
      const wrong = await fetch(url, { headers: { authorization: `Bearer ${ALICE}x` } })
      expect(wrong.status).toBe(401)
      expect(wrong.headers.get('x-auth-user')).toBeNull()
      expect(s.output()).toContain('keys loaded: default, alice, bob')
      for (const key of [KEY, ALICE, BOB]) expect(s.output()).not.toContain(key)
    } finally {
      await stop(s)
    }
  })

  it('re-reads PROXY_API_KEYS_FILE when it changes; an invalid file keeps the keys it had', async () => {
    const file = join(dir, 'keys')
    await writeFile(file, `# the team\nalice=${ALICE}\n`)
    const s = start({ PROXY_API_KEYS_FILE: file, PORT: '0' })
    try {
      const url = `http://127.0.0.1:${await boundPort(s)}/verify`
      const status = async (key: string): Promise<number> => (await fetch(url, { headers: { authorization: `Bearer ${key}` } })).status
      expect([await status(ALICE), await status(BOB)]).toEqual([200, 401])
      // Bob added, Alice revoked, without a restart.
      await writeFile(file, `bob=${BOB}\n`)
      await waitFor(async () => await status(BOB) === 200, 10_000, 'the keys file to be re-read')
      expect(await status(ALICE)).toBe(401)
      await writeFile(file, `bob=${BOB}\nbroken line\ncarol=${CAROL}\n`)
      await waitFor(() => s.output().includes('invalid, keeping the keys it had'), 10_000, 'the invalid file to be noticed')
      expect([await status(BOB), await status(CAROL)]).toEqual([200, 401])
      for (const key of [ALICE, BOB, CAROL]) expect(s.output()).not.toContain(key)
    } finally {
      await stop(s)
    }
  })

  // The same configurations are valid (or not) for the app and for ForwardAuth, which cannot share
  // the app's code. ForwardAuth refuses, on top, the well-known keys and having no key at all.
  const configurations: ReadonlyArray<[string, Record<string, string>]> = [
    ['two named keys', { PROXY_API_KEYS: `alice=${ALICE},bob=${BOB}` }],
    ['a key and named keys', { PROXY_API_KEY: KEY, PROXY_API_KEYS: `alice=${ALICE}` }],
    ['a name used twice', { PROXY_API_KEYS: `alice=${ALICE},alice=${BOB}` }],
    ['a name with a space', { PROXY_API_KEYS: `al ice=${ALICE}` }],
    ['a name too long', { PROXY_API_KEYS: `${'a'.repeat(65)}=${ALICE}` }],
    ['a key without a name', { PROXY_API_KEYS: ALICE }],
    ['an empty key', { PROXY_API_KEYS: 'alice=' }],
    ['a key with a space', { PROXY_API_KEYS: 'alice=ab cd' }],
    ['the same key twice', { PROXY_API_KEYS: `alice=${ALICE},bob=${ALICE}` }],
    ['a name that PROXY_API_KEY already has', { PROXY_API_KEY: KEY, PROXY_API_KEYS: `default=${ALICE}` }],
    ['a reserved name', { PROXY_API_KEYS: `alice=${ALICE},other=${BOB}` }]
  ]
  for (const [name, env] of configurations) {
    it(`agrees with the app on ${name}`, async () => {
      const app = configuredKeys(env)
      const s = start({ ...env, PORT: '0' })
      try {
        if (app.problems.length === 0) {
          await boundPort(s)
          expect(s.output()).toContain(`keys loaded: ${app.keys.map((k) => k.name).join(', ')}`)
        } else {
          expect((await s.exited).code).toBe(78)
        }
      } finally {
        await stop(s)
      }
    })
  }
})
