import type { ChildProcess } from 'node:child_process'
import { appendFile, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../src/usage/ledger.js'
import { TEST_KEY } from '../helpers/build-test-app.js'
import { startServerProcess } from '../helpers/server-process.js'
import { REPO_ROOT, shimPath } from '../helpers/paths.js'
import { waitFor } from '../helpers/wait.js'

// The real server process, killed: nothing the log holds is lost from /v1/usage, whatever state
// the saved rollups (<log>.index) were left in, and a torn last line neither counts nor swallows
// the next event.

let dir: string
let server: ChildProcess | undefined
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-crash-')) })
afterEach(() => {
  if (server?.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
  server = undefined
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const AUTH = { authorization: `Bearer ${TEST_KEY}` }
const logPath = (): string => join(dir, 'usage.ndjson')

async function start (env: Record<string, string> = {}): Promise<{ base: string, proc: ChildProcess }> {
  const started = await startServerProcess({
    CODEX_BACKEND: 'proto',
    CODEX_BIN: shimPath(),
    CODEX_HOME: join(REPO_ROOT, '.codev'),
    PROXY_API_KEY: TEST_KEY,
    PROXY_CODEX_WORKDIR: join(dir, 'work'),
    TOKEN_LOG_PATH: logPath(),
    LOG_LEVEL: 'silent',
    ...env
  })
  server = started.proc
  return started
}

async function chat (base: string, text: string): Promise<number> {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { ...AUTH, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'codex-5', messages: [{ role: 'user', content: text }] })
  })
  await res.body.dump()
  return res.statusCode
}

async function usage (base: string): Promise<{ total: number, raw: UsageEvent[] }> {
  const summary = await request(`${base}/v1/usage?start=2000-01-01&group=day`, { headers: AUTH }).then(async (r) => await r.body.json() as { total_requests: number })
  const raw = await request(`${base}/v1/usage/raw?limit=10000`, { headers: AUTH }).then(async (r) => await r.body.json() as { events: UsageEvent[] })
  return { total: summary.total_requests, raw: raw.events }
}

/** The events of the log files, read plainly: what every answer must agree with. */
async function logged (): Promise<UsageEvent[]> {
  const names = (await readdir(dir)).filter((n) => /^usage\.ndjson([.-]\d.*)?$/.test(n))
  const events: UsageEvent[] = []
  for (const name of names) {
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      try {
        const e = JSON.parse(line) as UsageEvent
        if (typeof e.ts === 'string') events.push(e)
      } catch {
        // Torn or empty.
      }
    }
  }
  return events
}

describe('a server killed mid-write loses nothing the log holds', () => {
  it('SIGTERM saves the rollups; SIGKILL leaves them behind and a torn line; the next start catches up', async () => {
    let s = await start()
    for (let i = 0; i < 5; i++) expect(await chat(s.base, `first run ${i}`)).toBe(200)
    expect((await usage(s.base)).total).toBe(5)
    s.proc.kill('SIGTERM')
    await new Promise((resolve) => s.proc.once('exit', resolve))
    const saved = await stat(`${logPath()}.index`)
    expect(saved.size).toBeGreaterThan(0)

    s = await start()
    expect((await usage(s.base)).total).toBe(5)
    // A burst in flight when the process dies: whatever reached the log counts, nothing else.
    const burst = Array.from({ length: 12 }, async (_, i) => await chat(s.base, `second run ${i}`).catch(() => 0))
    await waitFor(async () => (await logged()).length >= 10, 10_000, 'some of the burst to be logged')
    s.proc.kill('SIGKILL')
    await Promise.all(burst)
    // The kill cut the last line short (as a kill in the middle of a write does).
    await appendFile(logPath(), '{"ts":"2026-01-01T00:00:00.000Z","route":"/v1/chat/comp')
    expect((await stat(`${logPath()}.index`)).mtimeMs).toBe(saved.mtimeMs)

    s = await start()
    const afterKill = await logged()
    let seen = await usage(s.base)
    expect(seen.total).toBe(afterKill.length)
    expect(seen.raw.map((e) => e.request_id)).toEqual(afterKill.map((e) => e.request_id))
    expect(await chat(s.base, 'after the crash')).toBe(200)
    seen = await usage(s.base)
    expect(seen.total).toBe(afterKill.length + 1)
    expect(seen.raw.at(-1)?.request_id).toBe((await logged()).at(-1)?.request_id)
    const text = await readFile(logPath(), 'utf8')
    expect(text.split('\n').filter((l) => l.startsWith('{"ts":"2026-01-01T00:00:00.000Z","route":"/v1/chat/comp'))).toEqual(['{"ts":"2026-01-01T00:00:00.000Z","route":"/v1/chat/comp'])
  }, 120_000) // three real server starts (tsx) on a busy 2-core machine
})

describe('log rotation by size, through the real server', () => {
  it('TOKEN_LOG_ROTATE_BYTES starts new files, and every rotated file still counts', async () => {
    await rm(logPath(), { force: true })
    await rm(`${logPath()}.index`, { force: true })
    for (const name of await readdir(dir)) if (name.startsWith('usage.ndjson')) await rm(join(dir, name), { force: true })
    const s = await start({ TOKEN_LOG_ROTATE_BYTES: '1500' })
    for (let i = 0; i < 12; i++) expect(await chat(s.base, `rotate ${i}`)).toBe(200)
    const files = (await readdir(dir)).filter((n) => /^usage\.ndjson\.\d{8}T\d{6}Z(-\d+)?$/.test(n))
    expect(files.length).toBeGreaterThan(2)
    for (const name of [...files, 'usage.ndjson']) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(1500)
    const seen = await usage(s.base)
    expect(seen.total).toBe(12)
    expect(seen.raw.map((e) => e.request_id)).toEqual((await logged()).sort((a, b) => a.ts.localeCompare(b.ts)).map((e) => e.request_id))
  }, 60_000)
})
