import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/config.js'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { AUTH, startTestApp } from '../helpers/build-test-app.js'
import { readUsageLog } from '../helpers/http.js'
import { REPO_ROOT } from '../helpers/paths.js'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async (d) => await rm(d, { recursive: true, force: true }))) })

describe('a usage log that cannot take the server down', () => {
  it.each(['/dev/zero', '/dev/full', tmpdir()])('refuses TOKEN_LOG_PATH=%s at start with a clear error', async (path) => {
    const err = await startTestApp({ env: { TOKEN_LOG_PATH: path } }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toContain(`TOKEN_LOG_PATH ${path} is not a regular file`)
  })

  it('the real server exits 78 saying why, instead of crashing on the first usage query', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/server.ts')], {
      env: { ...process.env, TOKEN_LOG_PATH: '/dev/zero', CODEX_BACKEND: 'proto', PORT: '0', LOG_LEVEL: 'silent' },
      encoding: 'utf8',
      timeout: 20_000
    })
    expect(run.status).toBe(78)
    expect(run.stderr).toContain('TOKEN_LOG_PATH /dev/zero is not a regular file')
  })
})

describe('the usage log on a full disk (a 16 KiB tmpfs)', () => {
  it('loses only what could not be written, logs it once, and starts the next event on a fresh line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cca-full-'))
    dirs.push(dir)
    // A private mount namespace (as root, or as a user through a user namespace): nothing is mounted on the host.
    const run = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c',
      'mount -t tmpfs -o size=16k tmpfs "$0" && exec "$1" --import tsx "$2" "$0"', dir, process.execPath, join(REPO_ROOT, 'test/fixtures/full-disk-ledger.ts')], {
      cwd: REPO_ROOT, encoding: 'utf8', timeout: 30_000
    })
    expect(run.status, run.stderr).toBe(0)
    const out = JSON.parse(run.stdout) as { file: string, logged: Array<{ level: string, msg: string }> }
    const lines = out.file.split('\n')
    expect(lines.at(-1)).toBe('')
    const parsed = lines.slice(0, -1).map((l) => { try { return JSON.parse(l) as UsageEvent } catch { return undefined } })
    const torn = parsed.filter((e) => e === undefined)
    // The event cut off when the disk filled up is the only torn line; it does not swallow the next one.
    expect(torn).toHaveLength(1)
    const ids = parsed.flatMap((e) => (e === undefined ? [] : [e.request_id]))
    expect(ids[0]).toBe('req-1')
    expect(ids.slice(-2)).toEqual(['req-100', 'req-101'])
    // Some events did not fit: the disk really was full.
    expect(ids.length).toBeLessThan(32)
    expect(out.logged.filter((l) => l.level === 'error')).toHaveLength(1)
    expect(out.logged.some((l) => l.level === 'info' && l.msg.includes('writable again'))).toBe(true)
  })
})

describe('the usage log across rotation, through the HTTP API', () => {
  it('records every request after a real rename and after SIGHUP', async () => {
    const app = await startTestApp()
    try {
      const chat = async (text: string): Promise<void> => {
        const res = await app.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: text }] } })
        expect(res.statusCode).toBe(200)
        await app.app.usage.flush()
      }
      const raw = async (): Promise<string[]> => (await app.app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })).json<{ events: UsageEvent[] }>().events.map((e) => e.request_id ?? '')
      const live = async (): Promise<number> => (await readUsageLog(app.config.TOKEN_LOG_PATH)).length
      await chat('before rotation')
      const { rename } = await import('node:fs/promises')
      await rename(app.config.TOKEN_LOG_PATH, `${app.config.TOKEN_LOG_PATH}.1`)
      await chat('after rotation')
      expect(await live()).toBe(1)
      // The rotated file still counts.
      expect(await raw()).toHaveLength(2)
      await rename(app.config.TOKEN_LOG_PATH, `${app.config.TOKEN_LOG_PATH}.2`)
      process.kill(process.pid, 'SIGHUP')
      await chat('after sighup')
      expect(await live()).toBe(1)
      expect(await raw()).toHaveLength(3)
      expect((await app.app.inject({ method: 'GET', url: '/v1/usage', headers: AUTH })).json()).toMatchObject({ total_requests: 3 })
    } finally {
      await app.close()
    }
  })
})
