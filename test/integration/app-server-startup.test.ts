import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

// Startup problems are reported loudly and clearly: /readyz says why, and requests get a 5xx
// that says what to do — never the empty 200 answers of a Codex that cannot work.

async function scratchHome (files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-home-startup-'))
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content)
  onTestFinished(async () => { await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) })
  return dir
}

async function chat (app: Awaited<ReturnType<typeof buildTestApp>>['app']): Promise<{ status: number, body: unknown }> {
  const res = await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: 'hi' }] } })
  return { status: res.statusCode, body: res.json() }
}

describe('app-server startup problems', () => {
  it('reports a Codex that is not logged in, with the login hint', async () => {
    // No custom provider and no auth.json: the built-in provider needs a ChatGPT or API-key login.
    const home = await scratchHome({ 'config.toml': '' })
    const { app } = await buildTestApp({ env: { CODEX_BACKEND: 'app-server', CODEX_BIN: '', CODEX_HOME: home } })
    await waitFor(() => app.codex.health().reason?.includes('not logged in') === true, 20_000, 'the login check')
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json()).toMatchObject({ ok: false, backend: 'app-server' })
    expect(ready.json().reason).toMatch(/codex login.*--device-auth/)
    const res = await chat(app)
    expect(res.status).toBe(503)
    expect(expectEnvelope(res.body, { code: 'codex_not_logged_in' }).message).toMatch(/codex login/)
    expect((await app.inject({ method: 'GET', url: '/v1/status', headers: AUTH })).json().codex.logged_in).toBe(false)
  })

  it('refuses a CODEX_HOME that does not exist', async () => {
    const { app } = await buildTestApp({ env: { CODEX_BACKEND: 'app-server', CODEX_BIN: '', CODEX_HOME: join(tmpdir(), 'no-such-codex-home-xyz') } })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().reason).toMatch(/does not exist/)
    const res = await chat(app)
    expect(res.status).toBe(503)
    expectEnvelope(res.body, { code: 'codex_home_unusable' })
  })

  it('refuses a CODEX_HOME it cannot write to', async () => {
    // /proc/sys is a directory no process (not even root) can create files in.
    const { app } = await buildTestApp({ env: { CODEX_BACKEND: 'app-server', CODEX_BIN: '', CODEX_HOME: '/proc/sys' } })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().reason).toMatch(/not writable/)
    const res = await chat(app)
    expect(res.status).toBe(503)
    expect(expectEnvelope(res.body, { code: 'codex_home_unusable' }).message).toMatch(/read-write/)
  })

  it('reports a missing Codex binary', async () => {
    const home = await scratchHome({ 'config.toml': '' })
    const { app } = await buildTestApp({ env: { CODEX_BACKEND: 'app-server', CODEX_BIN: '/nonexistent/bin/codex', CODEX_HOME: home } })
    const ready = await app.inject({ method: 'GET', url: '/readyz' })
    expect(ready.statusCode).toBe(503)
    expect(ready.json().reason).toMatch(/Codex binary not found: \/nonexistent\/bin\/codex/)
    const res = await chat(app)
    expect(res.status).toBe(503)
    expectEnvelope(res.body, { code: 'codex_unavailable' })
  })
})
