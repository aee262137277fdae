import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, onTestFinished } from 'vitest'
import { buildApp } from '../../src/build.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { CodexBackend } from '../../src/backends/types.js'
import { REPO_ROOT, shimPath, type ShimVariant } from './paths.js'

export const TEST_KEY = 'test-key-0123456789'
export const AUTH = { authorization: `Bearer ${TEST_KEY}` }

export interface TestApp {
  app: FastifyInstance
  config: Config
  /** Scratch directory (usage log, workdir) removed after the test. */
  dir: string
}

export interface TestAppOptions {
  /** Environment overrides on top of the test defaults (strings, as in a real environment). */
  env?: Record<string, string> | undefined
  backend?: CodexBackend | undefined
  shim?: ShimVariant | undefined
  /** Listen on 127.0.0.1 (random port) for tests that need a real socket. */
  listen?: boolean | undefined
  /** pino options for the app's logger (e.g. a capturing `stream`); default: no logger. */
  logger?: Record<string, unknown> | undefined
}

export interface StartedTestApp extends TestApp {
  close: () => Promise<void>
}

/**
 * The real app with the proto backend and a fake Codex (unless `env` says otherwise), a silent
 * logger, and a scratch dir for the usage log and workdir. The caller closes it.
 */
export async function startTestApp (opts: TestAppOptions = {}): Promise<StartedTestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'cca-test-'))
  const config = loadConfig({
    CODEX_BACKEND: 'proto',
    CODEX_BIN: shimPath(opts.shim),
    CODEX_HOME: join(REPO_ROOT, '.codev'),
    PROXY_API_KEY: TEST_KEY,
    PROXY_CODEX_WORKDIR: join(dir, 'work'),
    TOKEN_LOG_PATH: join(dir, 'usage.ndjson'),
    LOG_LEVEL: 'silent',
    ...opts.env
  })
  const app = await buildApp({ config, backend: opts.backend, logger: opts.logger ?? false })
  const close = async (): Promise<void> => {
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    if (opts.listen === true) await app.listen({ port: 0, host: '127.0.0.1' })
    else await app.ready()
  } catch (err) {
    await close()
    throw err
  }
  return { app, config, dir, close }
}

/** startTestApp, closed (and its scratch dir removed) when the current test finishes. */
export async function buildTestApp (opts: TestAppOptions = {}): Promise<TestApp> {
  const started = await startTestApp(opts)
  onTestFinished(started.close)
  return started
}

/** Base URL of a listening test app. */
export function baseUrl (app: FastifyInstance): string {
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('app is not listening on TCP')
  return `http://127.0.0.1:${address.port}`
}

/**
 * Sets SHIM_DELAY_MS (the pause between the fake Codex's deltas) for the tests of the enclosing
 * describe. The fake reads it from its environment, which it inherits from this process.
 */
export function useShimDelay (ms: number): void {
  let saved: string | undefined
  beforeEach(() => {
    saved = process.env.SHIM_DELAY_MS
    process.env.SHIM_DELAY_MS = String(ms)
  })
  afterEach(() => {
    if (saved === undefined) delete process.env.SHIM_DELAY_MS
    else process.env.SHIM_DELAY_MS = saved
  })
}
