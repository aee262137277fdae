import { rename, rm } from 'node:fs/promises'
import { startMockUpstream, type MockUpstream, type MockUpstreamOptions } from '../fixtures/mock-upstream.mjs'
import { makeCodexHome, type CodexHome } from './codex-home.js'
import { startTestApp, type StartedTestApp } from './build-test-app.js'

export interface CodexUpstreamApp extends StartedTestApp {
  upstream: MockUpstream
  home: CodexHome
  /** With `homeLater`: puts the CODEX_HOME in place (it did not exist when the app started). */
  createHome: () => Promise<void>
}

export interface CodexUpstreamAppOptions {
  backend?: 'app-server' | 'exec' | undefined
  env?: Record<string, string> | undefined
  mock?: MockUpstreamOptions | undefined
  extraToml?: string | undefined
  listen?: boolean | undefined
  /** Wait until the backend is ready (default); false for tests of a backend that is not. */
  waitReady?: boolean | undefined
  /** Start with CODEX_HOME pointing where no home exists yet (see createHome). */
  homeLater?: boolean | undefined
}

/**
 * The real app on a real Codex backend (the pinned binary from node_modules), pointed through a
 * temporary CODEX_HOME at a mock Responses API on 127.0.0.1. Waits until the backend is ready.
 */
export async function startCodexUpstreamApp (opts: CodexUpstreamAppOptions = {}): Promise<CodexUpstreamApp> {
  const upstream = await startMockUpstream(opts.mock)
  const home = await makeCodexHome({ upstreamUrl: upstream.url, extraToml: opts.extraToml })
  const later = `${home.dir}-later`
  const homeDir = opts.homeLater === true ? later : home.dir
  let started: StartedTestApp
  try {
    started = await startTestApp({
      listen: opts.listen,
      env: {
        CODEX_BACKEND: opts.backend ?? 'app-server',
        CODEX_BIN: '',
        CODEX_HOME: homeDir,
        PROXY_IDLE_TIMEOUT_MS: '10000',
        ...opts.env
      }
    })
  } catch (err) {
    await home.cleanup()
    await upstream.close()
    throw err
  }
  const deadline = Date.now() + 30_000
  while (opts.waitReady !== false && !started.app.codex.health().ready) {
    if (Date.now() > deadline) {
      const reason = started.app.codex.health().reason
      await started.close()
      throw new Error(`backend not ready: ${reason ?? 'unknown'}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    ...started,
    upstream,
    home,
    createHome: async () => { await rename(home.dir, later) },
    close: async () => {
      await started.close()
      await upstream.close()
      await home.cleanup()
      await rm(later, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
    }
  }
}
