import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AUTH, startTestApp, type StartedTestApp } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectEnvelope, type Envelope } from '../helpers/http.js'

// One upstream failure, one HTTP error, whichever backend ran the turn: the real Codex as
// app-server and as `codex exec --json` against the mock upstream (whose markers make it fail
// with a status), and the proto shim, which says what Codex says for the same markers.

let appServer: CodexUpstreamApp
let exec: CodexUpstreamApp
let proto: StartedTestApp

beforeAll(async () => {
  [appServer, exec, proto] = await Promise.all([
    startCodexUpstreamApp(),
    startCodexUpstreamApp({ backend: 'exec' }),
    startTestApp()
  ])
}, 60_000)
afterAll(async () => { await Promise.all([appServer?.close(), exec?.close(), proto?.close()]) })

interface Answer {
  status: number
  error: Envelope['error']
  retryAfter: string | undefined
  requestId: string
}

async function ask (h: StartedTestApp, content: string): Promise<Answer> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { model: 'codex-5', messages: [{ role: 'user', content }] } })
  const requestId = String(res.headers['x-request-id'])
  const error = expectEnvelope(res.json())
  // Never the upstream's address, a key fragment or the body Codex passed on.
  expect(error.message).not.toMatch(/127\.0\.0\.1|https?:\/\/|sk-mock|internal\.upstream|\{"error"/)
  expect(error.message).toContain(`request ${requestId}`)
  const retryAfter = res.headers['retry-after']
  return { status: res.statusCode, error, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, requestId }
}

/** The message with its own request id taken out, and a usage window's minutes rounded away. */
const shape = (a: Answer): Record<string, unknown> => ({
  status: a.status,
  type: a.error.type,
  code: a.error.code,
  param: a.error.param,
  retryAfter: a.retryAfter === undefined ? undefined : 'set',
  message: a.error.message.replace(a.requestId, '<id>').replace(/about \d+ min/, 'about N min')
})

const CASES = [
  { marker: '[fail400]', status: 400, code: 'upstream_bad_request' },
  { marker: '[fail403]', status: 403, code: 'upstream_forbidden' },
  { marker: '[fail413]', status: 413, code: 'request_too_large' },
  { marker: '[fail429]', status: 429, code: 'rate_limit_exceeded' },
  { marker: '[fail500]', status: 502, code: 'upstream_error' },
  { marker: '[unauthorized]', status: 401, code: 'codex_unauthorized' },
  { marker: '[status:402]', status: 402, code: 'upstream_payment_required' },
  { marker: '[status:404]', status: 502, code: 'upstream_not_found' },
  { marker: '[status:408]', status: 408, code: 'upstream_timeout' },
  { marker: '[status:409]', status: 409, code: 'upstream_conflict' },
  { marker: '[status:410]', status: 410, code: 'upstream_refused' },
  { marker: '[status:422]', status: 422, code: 'upstream_bad_request' },
  { marker: '[status:451]', status: 451, code: 'upstream_unavailable_for_legal_reasons' },
  { marker: '[status:502]', status: 502, code: 'upstream_error' },
  { marker: '[status:504]', status: 502, code: 'upstream_error' }
] as const

// Failures only the real Codex produces (inside the upstream's stream, or from its own state).
const REAL_ONLY = [
  { marker: '[usagelimit]', status: 429, code: 'usage_limit_exceeded' },
  { marker: '[ratelimit]', status: 429, code: 'rate_limit_exceeded' },
  { marker: '[overloaded]', status: 503, code: 'upstream_overloaded' },
  { marker: '[context]', status: 400, code: 'context_length_exceeded' },
  { marker: '[invalidprompt]', status: 400, code: 'upstream_bad_request' },
  { marker: '[failmid]', status: 502, code: 'upstream_error' }
] as const

describe('an upstream failure is the same HTTP error on every backend', () => {
  it.each([...CASES, ...REAL_ONLY])('$marker: $status $code on app-server and exec alike', async ({ marker, status, code }) => {
    const [a, e] = await Promise.all([ask(appServer, `fails ${marker}`), ask(exec, `fails ${marker}`)])
    expect([a.status, a.error.code]).toEqual([status, code])
    expect(shape(e)).toEqual(shape(a))
  })

  it.each(CASES)('$marker: $status $code on proto (the shim says what Codex says)', async ({ marker, status, code }) => {
    const p = await ask(proto, `fails ${marker}`)
    expect([p.status, p.error.code]).toEqual([status, code])
  })

  it('keeps what the upstream said about the request itself, cleaned', async () => {
    const e = await ask(exec, 'fails [fail403]')
    expect(e.error.message).toContain('Country, region, or territory not supported')
    const leak = await ask(exec, 'fails [status:422]')
    expect(leak.error.message).toContain('Mock refusal 422 for key <redacted> at <url>')
  })
})

describe('exec: an upstream stop for length', () => {
  it('is the text so far with finish_reason "length", not an error', async () => {
    const res = await exec.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: 'long one [incomplete]' }] } })
    expect(res.statusCode).toBe(200)
    expect(res.json<{ choices: Array<{ message: { content: string }, finish_reason: string }> }>().choices[0]).toMatchObject({
      message: { content: 'PARTIAL ANSWER CUT OFF' }, finish_reason: 'length'
    })
  })
})
