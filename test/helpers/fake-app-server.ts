import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { startTestApp, type StartedTestApp } from './build-test-app.js'
import { REPO_ROOT } from './paths.js'
import { waitFor } from './wait.js'

/** The fake `codex app-server` (test/fixtures/fake-app-server.mjs) and its fault modes. */
export const FAKE_APP_SERVER = join(REPO_ROOT, 'test/fixtures/fake-app-server.mjs')
export type FakeMode = 'ok' | 'garbage' | 'hang' | 'silent-turn' | 'crash-mid-stream' | 'stderr-noise' | 'refuse'

/** One JSON-RPC message the fake read on its stdin. */
export interface Received {
  pid: number
  id?: number | string
  method?: string
  params?: Record<string, unknown>
}

export interface FakeAppServerApp extends StartedTestApp {
  backend: AppServerBackend
  /** The fake's scratch dir (FAKE_APP_SERVER_DIR): what it received, its argv, gates. */
  scratch: string
  /** Every message any fake process read so far, in order. */
  received: () => Promise<Received[]>
  /** The argv each fake `app-server` process was started with. */
  argv: (pid: number) => Promise<string[]>
  /** Arms a FAKE_APP_SERVER_FAULT_ONCE fault again (for the next turn that reaches it). */
  rearm: () => Promise<void>
  /** Lets turns whose prompt holds `[gate:name]` go on. */
  openGate: (name: string) => Promise<void>
  /** Waits until a ready worker (other than `notPid`) has finished its start-up handshake; returns its pid. */
  readyWorker: (notPid?: number) => Promise<number>
}

export interface FakeAppServerOptions {
  /** Fault only on the first turn that reaches it (per app); later turns behave as `ok`. */
  once?: boolean
  env?: Record<string, string>
  listen?: boolean
  logger?: Record<string, unknown>
}

const FAKE_ENV = ['FAKE_APP_SERVER_MODE', 'FAKE_APP_SERVER_DIR', 'FAKE_APP_SERVER_FAULT_ONCE'] as const

/**
 * The real app on the real app-server backend, with the fake app-server as CODEX_BIN. The fault
 * mode reaches the fake through the environment the backend captures at start (codexEnv copies
 * process.env then), so it is set only around the start and restored at once.
 */
export async function startFakeAppServerApp (mode: FakeMode, opts: FakeAppServerOptions = {}): Promise<FakeAppServerApp> {
  const scratch = await mkdtemp(join(tmpdir(), 'fake-app-server-'))
  const home = join(scratch, 'codex-home')
  await mkdir(home)
  const saved = FAKE_ENV.map((k) => [k, process.env[k]] as const)
  process.env.FAKE_APP_SERVER_MODE = mode
  process.env.FAKE_APP_SERVER_DIR = scratch
  process.env.FAKE_APP_SERVER_FAULT_ONCE = opts.once === true ? '1' : ''
  let started: StartedTestApp
  try {
    started = await startTestApp({
      listen: opts.listen ?? true,
      logger: opts.logger,
      env: { CODEX_BACKEND: 'app-server', CODEX_BIN: FAKE_APP_SERVER, CODEX_HOME: home, ...opts.env }
    })
  } catch (err) {
    await rm(scratch, { recursive: true, force: true })
    throw err
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
  const backend = started.app.codex as AppServerBackend
  const received = async (): Promise<Received[]> => {
    let text: string
    try {
      text = await readFile(join(scratch, 'received.ndjson'), 'utf8')
    } catch {
      return []
    }
    return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Received)
  }
  const readyWorker = async (notPid?: number): Promise<number> => {
    let pid: number | undefined
    await waitFor(async () => {
      pid = backend.workerPids().find((p) => p !== notPid)
      if (pid === undefined || !backend.health().ready) return false
      const current = pid
      return (await received()).some((m) => m.pid === current && m.method === 'model/list')
    }, 15_000, 'a ready app-server worker')
    return pid as number
  }
  const app: FakeAppServerApp = {
    ...started,
    backend,
    scratch,
    received,
    argv: async (pid) => JSON.parse(await readFile(join(scratch, `${pid}.argv.json`), 'utf8')) as string[],
    rearm: async () => { await rm(join(scratch, 'fault-used'), { force: true }) },
    openGate: async (name) => { await writeFile(join(scratch, `gate-${name}`), '') },
    readyWorker,
    close: async () => {
      await started.close()
      await rm(scratch, { recursive: true, force: true })
    }
  }
  try {
    await readyWorker()
  } catch (err) {
    await app.close()
    throw err
  }
  return app
}

/** Whether a process with this pid still exists. */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
