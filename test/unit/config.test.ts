import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, assertSafeToListen, isLoopbackHost, loadConfig } from '../../src/config.js'
import { thrownBy } from './support.js'

const CWD = '/srv/app'

function configError (env: Record<string, string>): ConfigError {
  const err = thrownBy(() => loadConfig(env, CWD))
  expect(err).toBeInstanceOf(ConfigError)
  return err as ConfigError
}

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const c = loadConfig({}, CWD)
    expect(c).toMatchObject({
      PORT: 11435,
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      CODEX_BACKEND: 'app-server',
      CODEX_HOME: '/srv/app/.codex-api',
      PROXY_SANDBOX_MODE: 'read-only',
      PROXY_CODEX_WORKDIR: join(tmpdir(), 'codex-work'),
      PROXY_ENABLE_CORS: true,
      PROXY_PROTECT_MODELS: false,
      PROXY_TIMEOUT_MS: 300_000,
      PROXY_IDLE_TIMEOUT_MS: 15_000,
      PROXY_STREAM_IDLE_TIMEOUT_MS: 300_000,
      PROXY_PROTO_IDLE_MS: 120_000,
      PROXY_KILL_ON_DISCONNECT: true,
      SSE_KEEPALIVE_MS: 15_000,
      PROXY_STREAM_MODE: 'incremental',
      PROXY_MAX_QUEUE: 64,
      TOKEN_LOG_PATH: join(tmpdir(), 'codex-usage.ndjson')
    })
    expect(c.CODEX_MODEL).toBeUndefined()
    expect(c.CODEX_BIN).toBeUndefined()
    expect(c.CODEX_FORCE_PROVIDER).toBeUndefined()
    expect(c.PROXY_MAX_CONCURRENCY).toBeGreaterThanOrEqual(4)
  })

  it('treats empty strings as unset', () => {
    const c = loadConfig({ PORT: '', CODEX_MODEL: '', PROXY_ENABLE_CORS: '' }, CWD)
    expect(c.PORT).toBe(11435)
    expect(c.CODEX_MODEL).toBeUndefined()
    expect(c.PROXY_ENABLE_CORS).toBe(true)
  })

  it('converts strings to numbers and booleans (trimming whitespace)', () => {
    const c = loadConfig({
      PORT: ' 8080 ',
      PROXY_TIMEOUT_MS: '1000',
      PROXY_MAX_QUEUE: '0',
      PROXY_ENABLE_CORS: 'false',
      PROXY_PROTECT_MODELS: 'true',
      PROXY_KILL_ON_DISCONNECT: '0',
      PROXY_METRICS_PUBLIC: '1',
      CODEX_BACKEND: 'proto',
      PROXY_STREAM_MODE: 'buffered',
      LOG_LEVEL: 'silent'
    }, CWD)
    expect(c.PORT).toBe(8080)
    expect(c.PROXY_TIMEOUT_MS).toBe(1000)
    expect(c.PROXY_MAX_QUEUE).toBe(0)
    expect(c.PROXY_ENABLE_CORS).toBe(false)
    expect(c.PROXY_PROTECT_MODELS).toBe(true)
    expect(c.PROXY_KILL_ON_DISCONNECT).toBe(false)
    expect(c.PROXY_METRICS_PUBLIC).toBe(true)
    expect(c.CODEX_BACKEND).toBe('proto')
    expect(c.PROXY_STREAM_MODE).toBe('buffered')
    expect(c.LOG_LEVEL).toBe('silent')
  })

  it.each(['1.5', '1e3', '0x10', '12abc', 'ten'])('refuses the non-integer %j instead of truncating it', (value) => {
    const err = configError({ PROXY_TIMEOUT_MS: value })
    expect(err.problems).toEqual([`PROXY_TIMEOUT_MS=${JSON.stringify(value)}: Expected integer`])
  })

  it('ignores variables it does not know', () => {
    const c = loadConfig({ SOMETHING_ELSE: 'x', PATH: '/bin' }, CWD)
    expect(Object.keys(c)).not.toContain('SOMETHING_ELSE')
    expect(Object.keys(c)).not.toContain('PATH')
  })

  describe('PROXY_SSE_KEEPALIVE_MS alias', () => {
    it('sets SSE_KEEPALIVE_MS', () => {
      expect(loadConfig({ PROXY_SSE_KEEPALIVE_MS: '2500' }, CWD).SSE_KEEPALIVE_MS).toBe(2500)
    })
    it('loses to SSE_KEEPALIVE_MS when both are set', () => {
      expect(loadConfig({ PROXY_SSE_KEEPALIVE_MS: '2500', SSE_KEEPALIVE_MS: '0' }, CWD).SSE_KEEPALIVE_MS).toBe(0)
    })
    it('is validated like the real name', () => {
      expect(configError({ PROXY_SSE_KEEPALIVE_MS: 'soon' }).problems).toEqual(['SSE_KEEPALIVE_MS="soon": Expected integer'])
    })
  })

  it('reports every invalid variable at once', () => {
    const err = configError({
      PORT: 'abc',
      HOST: '  ',
      LOG_LEVEL: 'loud',
      CODEX_BACKEND: 'docker',
      CODEX_MODEL: '--help',
      CODEX_FORCE_PROVIDER: 'bad provider',
      PROXY_SANDBOX_MODE: 'yolo',
      PROXY_ENABLE_CORS: 'maybe',
      PROXY_MAX_QUEUE: '-1',
      PROXY_TIMEOUT_MS: '86400001',
      PROXY_APP_SERVER_WORKERS: '0',
      PROXY_STREAM_MODE: 'chunky'
    })
    const keys = err.problems.map((p) => p.split('=', 1)[0])
    expect(new Set(keys)).toEqual(new Set([
      'PORT', 'HOST', 'LOG_LEVEL', 'CODEX_BACKEND', 'CODEX_MODEL', 'CODEX_FORCE_PROVIDER', 'PROXY_SANDBOX_MODE',
      'PROXY_ENABLE_CORS', 'PROXY_MAX_QUEUE', 'PROXY_TIMEOUT_MS', 'PROXY_APP_SERVER_WORKERS', 'PROXY_STREAM_MODE'
    ]))
    expect(err.problems).toContain('PORT="abc": Expected integer')
    expect(err.problems).toContain('PROXY_MAX_QUEUE="-1": Expected integer to be greater or equal to 0')
    for (const problem of err.problems) expect(err.message).toContain(problem)
    expect(err.name).toBe('ConfigError')
    expect(err.message.startsWith('Invalid configuration:')).toBe(true)
  })

  it('never shows the API key in an error', () => {
    const secret = '   '
    const err = configError({ PROXY_API_KEY: secret, PORT: 'x-secret-port' })
    expect(err.problems).toContain('PROXY_API_KEY=<redacted>: Expected string length greater or equal to 1')
    // A valid key next to another invalid variable does not leak either.
    const err2 = configError({ PROXY_API_KEY: 'sk-very-secret-value-123', PORT: 'nope' })
    expect(err2.message).not.toContain('sk-very-secret-value-123')
    expect(err2.problems.join('\n')).not.toContain('sk-very-secret-value-123')
  })

  describe('paths', () => {
    it('resolves relative paths against cwd', () => {
      const c = loadConfig({ CODEX_HOME: '.codev', PROXY_CODEX_WORKDIR: 'work/dir', TOKEN_LOG_PATH: './logs/u.ndjson', CODEX_BIN: './bin/codex' }, CWD)
      expect(c.CODEX_HOME).toBe('/srv/app/.codev')
      expect(c.PROXY_CODEX_WORKDIR).toBe('/srv/app/work/dir')
      expect(c.TOKEN_LOG_PATH).toBe('/srv/app/logs/u.ndjson')
      expect(c.CODEX_BIN).toBe('/srv/app/bin/codex')
    })
    it('leaves absolute paths alone', () => {
      const c = loadConfig({ CODEX_HOME: '/data/codex', TOKEN_LOG_PATH: '/var/log/u.ndjson', CODEX_BIN: '/usr/local/bin/codex' }, CWD)
      expect(c.CODEX_HOME).toBe('/data/codex')
      expect(c.TOKEN_LOG_PATH).toBe('/var/log/u.ndjson')
      expect(c.CODEX_BIN).toBe('/usr/local/bin/codex')
    })
    it('leaves a bare CODEX_BIN command name for PATH lookup', () => {
      expect(loadConfig({ CODEX_BIN: 'codex' }, CWD).CODEX_BIN).toBe('codex')
    })
  })

  it('returns a frozen object', () => {
    const c = loadConfig({}, CWD)
    expect(Object.isFrozen(c)).toBe(true)
    expect(() => { (c as { PORT: number }).PORT = 1 }).toThrow(TypeError)
    expect(c.PORT).toBe(11435)
  })
})

describe('isLoopbackHost', () => {
  it.each([['127.0.0.1', true], ['127.1.2.3', true], ['localhost', true], ['::1', true], ['0.0.0.0', false], ['::', false], ['192.168.1.10', false], ['example.com', false], ['127.0.0.1.evil.com', false]])('%s → %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected)
  })
})

describe('assertSafeToListen', () => {
  it('refuses a non-loopback HOST with the default key', () => {
    const err = thrownBy(() => { assertSafeToListen(loadConfig({ HOST: '0.0.0.0' }, CWD)) })
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).problems).toHaveLength(1)
    expect((err as ConfigError).problems[0]).toMatch(/^HOST=0\.0\.0\.0: refusing to listen/)
    expect((err as ConfigError).message).not.toContain('codex-local-secret')
  })
  it('accepts loopback hosts with the default key', () => {
    for (const HOST of ['127.0.0.1', 'localhost', '::1']) {
      expect(() => { assertSafeToListen(loadConfig({ HOST }, CWD)) }).not.toThrow()
    }
  })
  it('accepts a non-loopback HOST with a custom key', () => {
    expect(() => { assertSafeToListen(loadConfig({ HOST: '0.0.0.0', PROXY_API_KEY: 'a-real-secret' }, CWD)) }).not.toThrow()
  })
})
