import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { ConfigError } from '../../src/config.js'
import { buildTestApp, startTestApp } from '../helpers/build-test-app.js'
import { captureLogs } from '../helpers/log-capture.js'
import { expectEnvelope, readUsageLog } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

const ask = (key: string) => ({ method: 'POST' as const, url: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, payload: { messages: [{ role: 'user', content: 'hi' }] } })

describe('named API keys', () => {
  it('accepts every key of PROXY_API_KEYS and records its name (never the key) in the usage log', async () => {
    const { app, config } = await buildTestApp({ env: { PROXY_API_KEY: '', PROXY_API_KEYS: 'alice=key-alice-1,ci=key-ci-2' } })
    expect((await app.inject(ask('key-alice-1'))).statusCode).toBe(200)
    expect((await app.inject({ ...ask('key-ci-2'), headers: { 'x-api-key': 'key-ci-2' } })).statusCode).toBe(200)
    const denied = await app.inject(ask('codex-local-secret'))
    expect(denied.statusCode).toBe(401)
    expectEnvelope(denied.json(), { code: 'invalid_api_key' })
    await app.usage.flush()
    const log = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(log.map((e) => e.key_name)).toEqual(['alice', 'ci'])
    expect(JSON.stringify(log)).not.toMatch(/key-alice-1|key-ci-2/)
  })

  it('re-reads PROXY_API_KEYS_FILE when it changes: keys added and revoked without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cca-keys-'))
    onTestFinished(async () => { await rm(dir, { recursive: true, force: true }) })
    const file = join(dir, 'keys.txt')
    await writeFile(file, '# team keys\nalice=file-key-a\n')
    const logs = captureLogs('info')
    const { app } = await buildTestApp({ env: { PROXY_API_KEY: '', PROXY_API_KEYS_FILE: file }, logger: logs.options })
    expect((await app.inject(ask('file-key-a'))).statusCode).toBe(200)
    expect((await app.inject(ask('file-key-b'))).statusCode).toBe(401)
    await writeFile(file, 'bob=file-key-b\n')
    await waitFor(async () => (await app.inject(ask('file-key-b'))).statusCode === 200, 6000, 'the new key')
    expect((await app.inject(ask('file-key-a'))).statusCode).toBe(401)
    // A file that turns invalid keeps the keys it had.
    await writeFile(file, 'not a pair\n')
    await waitFor(() => logs.lines().some((l) => l.includes('is invalid: keeping the keys it had')), 6000, 'the refused reload')
    expect((await app.inject(ask('file-key-b'))).statusCode).toBe(200)
  })

  it('refuses an invalid key list at start, naming the entry but not the key', async () => {
    const err = await startTestApp({ env: { PROXY_API_KEY: '', PROXY_API_KEYS: 'alice=k1,bad name=secret-zzz' } }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toContain('PROXY_API_KEYS entry 2')
    expect((err as ConfigError).message).not.toContain('secret-zzz')
  })
})
