import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { liveChildren } from '../../src/backends/child-process.js'
import { TEST_KEY } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { waitFor } from '../helpers/wait.js'

// PROXY_APP_SERVER_MAX_TURNS: a worker that has run that many turns is replaced without a
// request failing or waiting for a cold start, and the old process is gone afterwards.

let h: CodexUpstreamApp
beforeAll(async () => { h = await startCodexUpstreamApp({ env: { PROXY_APP_SERVER_MAX_TURNS: '3' } }) })
afterAll(async () => { await h.close() })

describe('worker recycling', () => {
  it('replaces a worn worker between requests, dropping none', async () => {
    const backend = h.app.codex as AppServerBackend
    const pids = new Set<number>()
    for (let i = 0; i < 8; i++) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${TEST_KEY}` },
        payload: { messages: [{ role: 'user', content: `turn ${i}` }] }
      })
      expect(res.statusCode).toBe(200)
      expect(res.json().choices[0].message.content).toBe(`ECHO: turn ${i}`)
      for (const pid of backend.workerPids()) pids.add(pid)
      // The old worker serves on while its replacement starts; let the replacement come up.
      await waitFor(() => backend.health().workers?.[0]?.state === 'ready', 10_000, 'the current worker to be ready')
    }
    // 8 turns at 3 per worker: at least three different processes served them.
    expect(pids.size).toBeGreaterThanOrEqual(3)
    // Recycling is not a crash: no restart is counted, and the old processes are gone.
    expect(backend.health().workers?.[0]?.restarts).toBe(0)
    await waitFor(() => liveChildren().size === 1, 5000, 'only the current worker to be alive')
  })
})
