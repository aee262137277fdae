import { rename, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { AUTH } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectEnvelope, openStream, postChat, sseData, type Chunk } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

// What the hostile probe found, through the real Codex app-server and the mock upstream:
// client mistakes and upstream refusals as faithful 4xx, no other client's data or upstream
// internals in an error, tool names Codex refuses carried under an alias, a frozen worker and a
// broken CODEX_HOME noticed and recovered from.

let h: CodexUpstreamApp
beforeAll(async () => { h = await startCodexUpstreamApp({ listen: true, env: { PROXY_HEALTH_CHECK_MS: '400' } }) })
afterAll(async () => { await h.close() })

const chat = async (content: string, extra: Record<string, unknown> = {}): Promise<ReturnType<typeof h.app.inject>> =>
  await h.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { model: 'codex-5', messages: [{ role: 'user', content }], ...extra } })
function upstreamFor (marker: string): MockRequest {
  const found = h.upstream.requests.filter((r) => JSON.stringify(r.body?.input ?? []).includes(marker)).at(-1)
  if (found === undefined) throw new Error(`no upstream request with ${marker}`)
  return found
}

describe('upstream refusals, mapped faithfully', () => {
  it.each([
    { marker: '[fail400]', status: 400, type: 'invalid_request_error', code: 'upstream_bad_request', says: 'string too long' },
    { marker: '[fail403]', status: 403, type: 'permission_error', code: 'upstream_forbidden', says: 'Country, region, or territory not supported' },
    { marker: '[fail413]', status: 413, type: 'invalid_request_error', code: 'request_too_large', says: 'too large' },
    { marker: '[invalidprompt]', status: 400, type: 'invalid_request_error', code: 'upstream_bad_request', says: 'flagged' },
    { marker: '[unauthorized]', status: 401, type: 'authentication_error', code: 'codex_unauthorized', says: 'codex login' }
  ])('$marker is a $status $code, in this server\'s words, naming the request', async ({ marker, status, type, code, says }) => {
    const res = await chat(`refused ${marker}`)
    expect(res.statusCode).toBe(status)
    const error = expectEnvelope(res.json(), { type, code })
    expect(error.message).toContain(says)
    expect(error.message).toContain(String(res.headers['x-request-id']))
    // Never the upstream's address or a key fragment from its body.
    expect(error.message).not.toMatch(/127\.0\.0\.1|http:\/\/|sk-mock|platform\.openai\.com/)
  })

  it('passes on no made-up Retry-After for an upstream 429 (Codex keeps the header to itself)', async () => {
    const res = await chat('limited [fail429]')
    expect(res.statusCode).toBe(429)
    expectEnvelope(res.json(), { type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(res.headers['retry-after']).toBeUndefined()
  })

  it('answers an upstream stop for length with what was written and finish_reason "length"', async () => {
    const res = await chat('long one [incomplete]')
    expect(res.statusCode).toBe(200)
    const body = res.json<{ choices: Array<{ message: { content: string }, finish_reason: string }> }>()
    expect(body.choices[0]).toMatchObject({ message: { content: 'PARTIAL ANSWER CUT OFF' }, finish_reason: 'length' })
    const stream = await postChat(h.app, { stream: true, messages: [{ role: 'user', content: 'long stream [incomplete]' }] })
    const finishes = (stream.frames as Chunk[]).flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null)
    expect(finishes).toEqual(['length'])
  })
})

describe('tool names Codex refuses or keeps for itself', () => {
  const tool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object', properties: { q: { type: 'string' } } } } })
  const names = ['a.b', 'srv:tool', 'exec_command', 'shell_command', 'mcp__files', 'plain_name']

  it('reach upstream under an alias, none dropped, and come back under the client\'s own name', async () => {
    const res = await chat('[tool:srv:tool] alias t1', { tools: names.map(tool) })
    expect(res.statusCode).toBe(200)
    const sent = (upstreamFor('alias t1').body?.tools ?? []).map((t) => String(t.name))
    expect(sent).toHaveLength(names.length)
    expect(sent).toContain('plain_name')
    for (const name of sent.filter((n) => n !== 'plain_name')) expect(name).toMatch(/^[A-Za-z0-9_-]+_[0-9a-f]{10}$/)
    const call = res.json<{ choices: Array<{ message: { tool_calls?: Array<{ id: string, function: { name: string } }> } }> }>().choices[0]?.message.tool_calls?.[0]
    expect(call?.function.name).toBe('srv:tool')

    // Round 2 replays the call under the same alias, so the model sees one consistent history.
    const round2 = await h.app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: AUTH,
      payload: {
        model: 'codex-5',
        tools: names.map(tool),
        messages: [
          { role: 'user', content: '[tool:srv:tool] alias t1' },
          { role: 'assistant', content: null, tool_calls: [{ id: call?.id, type: 'function', function: { name: 'srv:tool', arguments: '{"q":"x"}' } }] },
          { role: 'tool', tool_call_id: call?.id, content: 'tool said hi' }
        ]
      }
    })
    expect(round2.json<{ choices: Array<{ message: { content: string } }> }>().choices[0]?.message.content).toBe('TOOL RESULT: tool said hi')
    const replayed = (upstreamFor('tool said hi').body?.input ?? []).find((i) => i.type === 'function_call')
    expect(sent).toContain(replayed?.name)
  })

  it('a call to a tool Codex keeps for itself (exec_command) still reaches the client', async () => {
    const res = await chat('[tool:exec_command] alias t2', { tools: [tool('exec_command')] })
    expect(res.json<{ choices: Array<{ finish_reason: string, message: { tool_calls?: Array<{ function: { name: string } }> } }> }>().choices[0]).toMatchObject({
      finish_reason: 'tool_calls', message: { tool_calls: [{ function: { name: 'exec_command' } }] }
    })
  })

  it('refuses a parameter schema Codex cannot take with a 400 that says where, before Codex sees it', async () => {
    const before = h.upstream.requests.length
    for (const [parameters, param] of [
      [{ type: 'object', properties: 5 }, 'tools[0].function.parameters.properties'],
      [{ type: 'object', required: 'q' }, 'tools[0].function.parameters.required'],
      [{ type: 'objekt' }, 'tools[0].function.parameters.type']
    ] as const) {
      const res = await chat('bad schema', { tools: [{ type: 'function', function: { name: 'f', parameters } }] })
      expect(res.statusCode).toBe(400)
      expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'invalid_value', param })
    }
    expect(h.upstream.requests.length).toBe(before)
  })
})

describe('a last message over Codex\'s turn-input limit (1,048,576 characters)', () => {
  it('still works: it goes in as history', async () => {
    const text = `huge m1 ${'x'.repeat(1_048_600)}`
    const res = await chat(text)
    expect(res.statusCode).toBe(200)
    const upstream = upstreamFor('huge m1')
    const user = (upstream.body?.input ?? []).filter((i) => i.role === 'user')
    expect(JSON.stringify(user)).toContain('huge m1')
  }, 60_000)
})

describe('a frozen worker (SIGSTOP)', () => {
  it('fails its turns within seconds, is replaced, and /readyz is a 503 showing it failed meanwhile', async () => {
    const backend = h.app.codex as AppServerBackend
    const [pid] = backend.workerPids()
    expect(pid).toBeDefined()
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    const stream = await openStream(h.app, { stream: true, messages: [{ role: 'user', content: 'frozen f1 [slow]' }] }, (t) => t.includes('"content":"'))
    const started = Date.now()
    process.kill(pid as number, 'SIGSTOP')
    // From the freeze on, until a replacement is up: the first /readyz that is not ready.
    type Readiness = { ok: boolean, reason?: string, workers?: Array<{ pid: number | null, state: string }> }
    let notReady: { status: number, body: Readiness } | undefined
    const polling = (async () => {
      while (notReady === undefined && Date.now() - started < 10_000) {
        const res = await h.app.inject({ method: 'GET', url: '/readyz' })
        if (res.statusCode !== 200) notReady = { status: res.statusCode, body: res.json<Readiness>() }
        else await new Promise((resolve) => setTimeout(resolve, 25))
      }
    })()
    const raw = await stream.rest
    await polling
    expect(notReady?.status).toBe(503)
    expect(notReady?.body.ok).toBe(false)
    expect(notReady?.body.reason).toMatch(/no app-server worker is ready/)
    expect(notReady?.body.workers?.find((w) => w.pid === pid)?.state).toBe('failed')
    expect(Date.now() - started).toBeLessThan(5000)
    const frames = sseData(raw)
    expect(frames.at(-1)).toBe('[DONE]')
    expect(JSON.parse(frames.at(-2) ?? '{}')).toMatchObject({ error: { code: 'codex_unresponsive' } })
    await waitFor(() => !backend.workerPids().includes(pid as number) && h.app.codex.health().ready, 15_000, 'a replacement worker')
    expect((await chat('after the freeze f1')).statusCode).toBe(200)
  })
})

describe('CODEX_HOME trouble after the start', () => {
  it('a home removed while running makes /readyz and every turn a 503 naming it, and recovers when it is back', async () => {
    const home = h.config.CODEX_HOME
    await rename(home, `${home}.away`)
    try {
      await waitFor(() => !h.app.codex.health().ready, 5000, '/readyz to notice')
      const ready = await h.app.inject({ method: 'GET', url: '/readyz' })
      expect(ready.statusCode).toBe(503)
      expect(ready.json<{ reason: string }>().reason).toContain('does not exist')
      const res = await chat('no home h1')
      expect(res.statusCode).toBe(503)
      expectEnvelope(res.json(), { code: 'codex_home_unusable' })
    } finally {
      await rename(`${home}.away`, home)
    }
    await waitFor(() => h.app.codex.health().ready, 20_000, 'the backend to recover')
    expect((await chat('home again h1')).statusCode).toBe(200)
  }, 40_000)
})

describe('a CODEX_HOME that is missing at the start', () => {
  it('is refused (503) until it appears, then the backend sets up by itself', async () => {
    const parked = await startCodexUpstreamApp({ env: { PROXY_HEALTH_CHECK_MS: '300' }, homeLater: true, waitReady: false })
    try {
      expect(parked.app.codex.health().ready).toBe(false)
      expect(parked.app.codex.health().reason).toContain('does not exist')
      const refused = await parked.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: 'too early' }] } })
      expect(refused.statusCode).toBe(503)
      await parked.createHome()
      await waitFor(() => parked.app.codex.health().ready, 30_000, 'the backend to set up once the home exists')
      const res = await parked.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: 'late home' }] } })
      expect(res.statusCode).toBe(200)
    } finally {
      await parked.close()
    }
  }, 60_000)

  it('one not writable at the start (read-only) is refused, then recovers once writable, without a restart', async () => {
    // Root writes through chmod and a test may not mount: CODEX_HOME is a symlink to a directory no
    // process can write (/proc/sys), re-pointed at the real home as the "fix" an operator makes.
    const link = join(tmpdir(), `codex-home-link-${process.pid}-${Date.now()}`)
    await symlink('/proc/sys', link)
    const parked = await startCodexUpstreamApp({ env: { PROXY_HEALTH_CHECK_MS: '300', CODEX_HOME: link }, waitReady: false })
    const chatOn = async (content: string): Promise<ReturnType<typeof h.app.inject>> =>
      await parked.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content }] } })
    try {
      expect(parked.app.codex.health().reason).toContain('not writable')
      expect((await parked.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503)
      const refused = await chatOn('read-only home')
      expect(refused.statusCode).toBe(503)
      expectEnvelope(refused.json(), { code: 'codex_home_unusable' })
      await symlink(parked.home.dir, `${link}.new`)
      await rename(`${link}.new`, link)
      await waitFor(() => parked.app.codex.health().ready, 30_000, 'the backend to set up once the home is writable')
      const res = await chatOn('writable home')
      expect(res.statusCode).toBe(200)
      expect(res.json<{ choices: Array<{ message: { content: string } }> }>().choices[0]?.message.content).toBe('ECHO: writable home')
    } finally {
      await parked.close()
      await rm(link, { force: true })
    }
  }, 60_000)

  it('an invalid config.toml: /readyz names what Codex said, not a backtrace frame', async () => {
    const broken = await startCodexUpstreamApp({ extraToml: '[broken', waitReady: false })
    try {
      await waitFor(() => (broken.app.codex.health().reason ?? 'no app-server worker is ready yet') !== 'no app-server worker is ready yet', 20_000, 'a reason')
      const reason = broken.app.codex.health().reason ?? ''
      expect(reason).toMatch(/config|toml|table/i)
      expect(reason).not.toMatch(/<unknown>/)
    } finally {
      await broken.close()
    }
  }, 40_000)
})
