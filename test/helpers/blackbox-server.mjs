// Starts the BUILT server (dist/src/server.js) as a real process for the black-box tests, with
// the proto backend and the deterministic fake Codex. Plain JavaScript: these tests see the
// service only over HTTP, as a user would.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const SERVER_ENTRY = join(REPO_ROOT, 'dist/src/server.js')
export const TEST_KEY = 'blackbox-test-key-4f9a1c'

/** A port that was free a moment ago (the server does not report the port it bound to PORT=0). */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => { resolve(port) })
    })
  })
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Spawns the server and waits until /healthz answers. Returns its base URL, pid, the output it
 * printed so far (for failure messages), and stop(), which sends SIGTERM to that pid (SIGKILL
 * after 5 s) and resolves with the exit code and signal.
 */
export async function startServer (env = {}) {
  if (!existsSync(SERVER_ENTRY)) throw new Error(`${SERVER_ENTRY} is missing: run \`npm run build\` first (npm run test:blackbox does)`)
  const dir = await mkdtemp(join(tmpdir(), 'cca-blackbox-'))
  const port = await freePort()
  const child = spawn(process.execPath, [SERVER_ENTRY], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      CODEX_BACKEND: 'proto',
      CODEX_BIN: join(REPO_ROOT, 'test/fixtures/codex-shim/codex-proto.mjs'),
      CODEX_HOME: join(REPO_ROOT, '.codev'),
      PROXY_CODEX_WORKDIR: join(dir, 'work'),
      TOKEN_LOG_PATH: join(dir, 'usage.ndjson'),
      PROXY_API_KEY: TEST_KEY,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const keep = (chunk) => { output = (output + chunk.toString('utf8')).slice(-20_000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { resolve({ code, signal }) })
  })
  let exit
  exited.then((e) => { exit = e }, () => {})

  const baseUrl = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (exit === undefined) {
      try { process.kill(child.pid, 'SIGTERM') } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try { process.kill(child.pid, 'SIGKILL') } catch { /* already gone */ }
      }, 5000)
      await exited
      clearTimeout(timer)
    }
    await rm(dir, { recursive: true, force: true })
    return exit
  }

  const deadline = Date.now() + 15_000
  for (;;) {
    if (exit !== undefined) {
      await rm(dir, { recursive: true, force: true })
      throw new Error(`server exited before it was ready (${JSON.stringify(exit)}):\n${output}`)
    }
    try {
      const res = await fetch(`${baseUrl}/healthz`)
      if (res.status === 200) break
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`server did not answer /healthz within 15 s:\n${output}`)
    }
    await sleep(50)
  }
  return { baseUrl, port, pid: child.pid, dir, output: () => output, stop }
}
