import { describe, expect, it } from 'vitest'
import { chatErrorEnvelope } from '../../../src/api/chat/errors.js'
import { clientSafeText, mapCodexError } from '../../../src/backends/codex-errors.js'

// Codex 0.169's own words for upstream failures (measured against the mock, verbatim).
const URL = 'http://127.0.0.1:41231/v1/responses'
const hints = { requestId: 'req-42' }

describe('mapCodexError', () => {
  it.each([
    ['an upstream 400 body passed on whole', { codexErrorInfo: 'other', message: '{"error":{"message":"Invalid \'input[1].content\': string too long.","type":"invalid_request_error","param":"input[1].content","code":"string_above_max_length"}}' }, 400, 'upstream_bad_request', 'string too long'],
    ['a 401 with the upstream key and URL', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 401 } }, message: `unexpected status 401 Unauthorized: Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys., url: ${URL}` }, 401, 'codex_unauthorized', 'codex login'],
    ['a 403 country block', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 403 } }, message: `unexpected status 403 Forbidden: Country, region, or territory not supported, url: ${URL}` }, 403, 'upstream_forbidden', 'Country, region, or territory not supported'],
    ['a 413', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 413 } }, message: `unexpected status 413 Payload Too Large: Request too large, url: ${URL}` }, 413, 'request_too_large', 'too large'],
    ['an HTML 502 page', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 502 } }, message: `unexpected status 502 Bad Gateway: <html>\r\n<head><title>502 Bad Gateway</title></head>cloudflare</html>, url: ${URL}` }, 502, 'upstream_error', '(HTTP 502)'],
    ['a plain 404', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 404 } }, message: `unexpected status 404 Not Found: 404 page not found, url: ${URL}` }, 502, 'upstream_not_found', 'base_url'],
    ['an HTTP 429', { codexErrorInfo: { responseTooManyFailedAttempts: { httpStatusCode: 429 } }, message: 'exceeded retry limit, last status: 429 Too Many Requests' }, 429, 'rate_limit_exceeded', 'rate limit'],
    ['a quota body', { codexErrorInfo: 'other', message: '{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}' }, 429, 'insufficient_quota', 'quota'],
    ['a stream cut short', { codexErrorInfo: 'other', message: 'stream disconnected before completion: An error occurred while processing your request.' }, 502, 'upstream_error', 'ended the response early'],
    ['an invalid prompt', { codexErrorInfo: 'other', message: 'Invalid prompt: your prompt was flagged.' }, 400, 'upstream_bad_request', 'flagged'],
    ['no connection', { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: null } }, message: 'error sending request for url (http://10.0.0.1/v1/responses)' }, 503, 'upstream_unreachable', 'could not be reached']
  ])('%s', (_name, err, status, code, says) => {
    const e = mapCodexError(err, hints)
    expect([e.statusCode, e.code]).toEqual([status, code])
    expect(e.message).toContain(says)
    expect(e.message).toContain('request req-42')
    expect(e.message).not.toMatch(/127\.0\.0\.1|10\.0\.0\.1|https?:\/\/|sk-mock|<html|\{"error"/)
  })

  // Issue 10: "4xx as 4xx". A 404/405 is the provider's base_url (this server's configuration).
  it.each([
    [402, 402, 'upstream_payment_required', 'invalid_request_error'],
    [405, 502, 'upstream_not_found', 'server_error'],
    [408, 408, 'upstream_timeout', 'timeout_error'],
    [409, 409, 'upstream_conflict', 'invalid_request_error'],
    [410, 410, 'upstream_refused', 'invalid_request_error'],
    [415, 415, 'upstream_refused', 'invalid_request_error'],
    [422, 422, 'upstream_bad_request', 'invalid_request_error'],
    [451, 451, 'upstream_unavailable_for_legal_reasons', 'permission_error'],
    [504, 502, 'upstream_error', 'server_error'],
    [302, 502, 'upstream_error', 'server_error']
  ])('an upstream %i is a %i %s', (upstream, status, code, type) => {
    const e = mapCodexError({ codexErrorInfo: { httpConnectionFailed: { httpStatusCode: upstream } }, message: `unexpected status ${upstream} Whatever: Mock refusal for key sk-mockleak123 at https://internal.example/x, url: ${URL}` }, hints)
    expect([e.statusCode, e.code, chatErrorEnvelope(e).error.type]).toEqual([status, code, type])
    expect(e.message).toContain('request req-42')
    expect(e.message).not.toMatch(/127\.0\.0\.1|https?:\/\/|sk-mock|internal\.example/)
  })

  it('keeps what the upstream said only where it is about the request (400, 422, 403)', () => {
    const body = (status: number): string => `unexpected status ${status} X: Name too long, url: ${URL}`
    expect(mapCodexError({ codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 422 } }, message: body(422) }).message).toContain('Name too long')
    expect(mapCodexError({ codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 409 } }, message: body(409) }).message).not.toContain('Name too long')
  })

  it('keeps Retry-After when Codex says when (a rate limit inside the stream, a usage window)', () => {
    expect(mapCodexError({ codexErrorInfo: 'rateLimitExceeded', message: 'Rate limit reached … Please try again in 7s.' }).headers).toEqual({ 'retry-after': '7' })
    const now = new Date('2026-01-01T00:00:00Z')
    const usage = mapCodexError({ codexErrorInfo: 'usageLimitExceeded', message: 'The usage limit has been reached' }, { now, usageLimitResetAt: now.getTime() / 1000 + 600 })
    expect(usage.headers).toEqual({ 'retry-after': '600' })
    expect(usage.message).toContain('10 min')
  })

  it('names the conversation neutrally for a context overflow (each dialect names its field)', () => {
    const e = mapCodexError({ codexErrorInfo: 'contextWindowExceeded', message: 'Codex ran out of room in the model\'s context window.' })
    expect(e.param).toBeNull()
    expect(chatErrorEnvelope(e).error).toMatchObject({ param: 'messages', code: 'context_length_exceeded' })
  })
})

describe('clientSafeText', () => {
  it('removes URLs, key fragments, ANSI escapes and control characters, and shortens', () => {
    expect(clientSafeText('\u001b[31mbad\u001b[0m key sk-proj-ABCdef123 at https://api.example.com/x?y=1\n')).toBe('bad key <redacted> at <url>')
    expect(clientSafeText('Bearer abc.def token')).toBe('<redacted> token')
    expect(clientSafeText('x'.repeat(400))?.length).toBe(300)
  })

  it('shows no markup or JSON bodies at all', () => {
    expect(clientSafeText('<html><body>502</body></html>')).toBeUndefined()
    expect(clientSafeText('{"error":{}}')).toBeUndefined()
    expect(clientSafeText('   ')).toBeUndefined()
  })
})
