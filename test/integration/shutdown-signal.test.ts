import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { request } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startMockUpstream, type MockUpstream } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY } from '../helpers/build-test-app.js'
import { freePort } from '../helpers/free-port.js'
import { startServerProcess } from '../helpers/server-process.js'
import { REPO_ROOT } from '../helpers/paths.js'
import { makeCodexHome, type CodexHome } from '../helpers/codex-home.js'
import { waitFor } from '../helpers/wait.js'

// The real server process (src/server.ts) on the app-server backend, stopped with signals:
// SIGTERM ends open streams with an error frame and [DONE], stops the Codex workers and exits 0
// in time; a second signal exits at once. Either way no Codex process outlives it.

let upstream: MockUpstream
let home: CodexHome
let server: ChildProcess | undefined

beforeAll(async () => {
  upstream = await startMockUpstream({ slowDelayMs: 200 })
  home = await makeCodexHome({ upstreamUrl: upstream.url })
})
afterEach(() => {
  if (server?.exitCode === null && server.pid !== undefined) server.kill('SIGKILL')
  server = undefined
})
afterAll(async () => {
  await upstream.close()
  await home.cleanup()
})

/** Every process below `root` (children, their children, …), from /proc. */
function descendants (root: number): number[] {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(join('/proc', entry, 'stat'), 'latin1')
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // Gone.
    }
  }
  const found: number[] = []
  for (let frontier = [root]; frontier.length > 0;) {
    frontier = [...parents].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid)
    found.push(...frontier)
  }
  return found
}

/** pids of processes started with this test's CODEX_HOME in their environment: the Codex workers. */
function codexProcesses (): number[] {
  const marker = `CODEX_HOME=${home.dir}\0`
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === server?.pid) continue
    try {
      if (readFileSync(join('/proc', entry, 'environ'), 'latin1').includes(marker)) pids.push(Number(entry))
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids
}

async function startServer (): Promise<{ base: string, exited: Promise<number | null>, output: () => string }> {
  const started = await startServerProcess({
    CODEX_BACKEND: 'app-server',
    CODEX_HOME: home.dir,
    PROXY_API_KEY: TEST_KEY,
    PROXY_SHUTDOWN_GRACE_MS: '8000',
    TOKEN_LOG_PATH: join(home.dir, 'usage.ndjson'),
    LOG_LEVEL: 'info'
  })
  server = started.proc
  return started
}

async function openSlowStream (base: string): Promise<{ body: Promise<string> }> {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'long one [slow]' }] })
  })
  expect(res.statusCode).toBe(200)
  res.body.setEncoding('utf8')
  let text = ''
  let sawContent: () => void = () => {}
  const content = new Promise<void>((resolve) => { sawContent = resolve })
  const body = (async () => {
    for await (const chunk of res.body) {
      text += String(chunk)
      if (text.includes('"content":"E')) sawContent()
    }
    return text
  })()
  body.catch(() => {})
  await content
  return { body }
}

describe('signals', () => {
  it('SIGTERM: streams end with an error frame and [DONE], workers stop, exit 0 within the grace period', async () => {
    const { base, exited } = await startServer()
    expect(codexProcesses().length).toBeGreaterThan(0)
    const stream = await openSlowStream(base)
    const sentAt = Date.now()
    server?.kill('SIGTERM')
    const raw = await stream.body
    const data = raw.split('\n\n').filter((b) => b.startsWith('data: ')).map((b) => b.slice(6))
    expect(data.at(-1)).toBe('[DONE]')
    expect(JSON.parse(data.at(-2) ?? '{}')).toMatchObject({ error: { code: 'shutting_down' } })
    expect(await exited).toBe(0)
    expect(Date.now() - sentAt).toBeLessThan(8000)
    expect(codexProcesses()).toEqual([])
    // The interrupted turn was written to the usage log before exit.
    const log = readFileSync(join(home.dir, 'usage.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { status: number })
    expect(log.at(-1)?.status).toBe(503)
  })

  it('a second signal exits at once, and still leaves no Codex process behind', async () => {
    const { base, exited } = await startServer()
    // A request whose body never finishes keeps the graceful close waiting (up to the grace
    // period), so the second signal surely arrives while it is still in progress.
    const port = Number(new URL(base).port)
    const upload = connect(port, '127.0.0.1')
    await new Promise<void>((resolve) => upload.once('connect', resolve))
    upload.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`)
    upload.on('error', () => {})
    const stream = await openSlowStream(base)
    server?.kill('SIGTERM')
    // Once the stream got its shutdown frame, the graceful close is under way.
    await stream.body
    const secondAt = Date.now()
    server?.kill('SIGINT')
    expect(await exited).toBe(1)
    expect(Date.now() - secondAt).toBeLessThan(3000)
    await waitFor(() => codexProcesses().length === 0, 3000, 'Codex processes to be gone')
    upload.destroy()
  })
})

describe('npm run dev:shim', () => {
  it('frees its port when the npm process is killed by its pid (no orphaned server)', async () => {
    const port = await freePort()
    let output = ''
    const npm = spawn('npm', ['run', 'dev:shim'], { cwd: REPO_ROOT, env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] })
    npm.stdout?.on('data', (d: Buffer) => { output += d.toString() })
    npm.stderr?.on('data', (d: Buffer) => { output += d.toString() })
    const listening = async (): Promise<boolean> => await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => { resolve(false) })
    })
    let tree: number[] = []
    try {
      await waitFor(listening, 30_000, `the dev server on ${port}`)
      tree = descendants(npm.pid ?? -1)
      npm.kill('SIGTERM')
      await waitFor(async () => !(await listening()), 10_000, 'the port to be free')
      // The server's log line crosses npm's pipe on its own schedule: it may come after the port is free.
      await waitFor(() => output.includes('"signal":"SIGTERM"'), 5000, 'the shutdown log line')
    } finally {
      // Whatever this test started and is still alive (the orphans of a regression) goes, by pid.
      for (const pid of [npm.pid ?? -1, ...tree]) {
        try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
      }
    }
  })
})
