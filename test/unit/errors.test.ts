import { describe, expect, it } from 'vitest'
import { chatErrorEnvelope } from '../../src/api/chat/errors.js'
import { ApiError, invalidRequest, invalidSubject, isApiError, notFound, rateLimited, serverError, timeoutError, toApiError, unauthorized } from '../../src/errors.js'

describe('ApiError', () => {
  it('renders as the OpenAI error envelope on chat completions', () => {
    const e = invalidRequest('bad thing', 'messages[0].content', 'invalid_value')
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('ApiError')
    expect(e.statusCode).toBe(400)
    expect(chatErrorEnvelope(e)).toEqual({ error: { message: 'bad thing', type: 'invalid_request_error', param: 'messages[0].content', code: 'invalid_value' } })
    expect(chatErrorEnvelope(invalidRequest('x'))).toEqual({ error: { message: 'x', type: 'invalid_request_error', param: null, code: null } })
    expect(isApiError(e)).toBe(true)
    expect(isApiError(new Error('x'))).toBe(false)
  })

  it('names a neutral subject as the chat field', () => {
    const e = invalidSubject('too long', 'conversation', 'context_length_exceeded')
    expect(e.param).toBeNull()
    expect(chatErrorEnvelope(e).error.param).toBe('messages')
    expect(chatErrorEnvelope(invalidSubject('x', 'output_format')).error.param).toBe('response_format')
  })

  it('401 carries WWW-Authenticate', () => {
    const e = unauthorized()
    expect(e.statusCode).toBe(401)
    expect(e.kind).toBe('authentication')
    expect(chatErrorEnvelope(e).error.type).toBe('authentication_error')
    expect(e.code).toBe('invalid_api_key')
    expect(e.headers).toEqual({ 'www-authenticate': 'Bearer realm=api' })
  })

  it('404', () => {
    expect(chatErrorEnvelope(notFound('nope')).error).toEqual({ message: 'nope', type: 'not_found_error', param: null, code: 'not_found' })
  })

  it('429 rounds Retry-After up to at least one second', () => {
    expect(rateLimited('busy', 0.2).headers).toEqual({ 'retry-after': '1' })
    expect(rateLimited('busy', 2.1).headers).toEqual({ 'retry-after': '3' })
    expect(rateLimited('busy', undefined).headers).toEqual({})
    const quota = rateLimited('quota', 5, 'insufficient_quota')
    expect(quota.kind).toBe('quota')
    expect(chatErrorEnvelope(quota).error.type).toBe('insufficient_quota')
    expect(quota.code).toBe('insufficient_quota')
    expect(chatErrorEnvelope(rateLimited('busy', 1)).error.type).toBe('rate_limit_error')
  })

  it('5xx and timeouts keep their cause', () => {
    const cause = new Error('root')
    const s = serverError(502, 'Codex failed', 'codex_error', cause)
    expect([s.statusCode, s.kind, s.code, s.cause]).toEqual([502, 'server', 'codex_error', cause])
    const t = timeoutError('too slow')
    expect([t.statusCode, chatErrorEnvelope(t).error.type, t.code]).toEqual([504, 'timeout_error', 'timeout'])
  })

  it('toApiError hides unknown errors behind a 500', () => {
    const known = new ApiError(418, 'teapot', { kind: 'invalid_request' })
    expect(toApiError(known)).toBe(known)
    const hidden = toApiError(new Error('db password is hunter2'))
    expect(chatErrorEnvelope(hidden)).toEqual({ error: { message: 'Internal server error.', type: 'server_error', param: null, code: 'internal_error' } })
    expect(toApiError('a string').statusCode).toBe(500)
  })
})
