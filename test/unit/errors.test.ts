import { describe, expect, it } from 'vitest'
import { OpenAIError, invalidRequest, isOpenAIError, notFound, rateLimited, serverError, timeoutError, toOpenAIError, unauthorized } from '../../src/errors.js'

describe('OpenAIError', () => {
  it('renders the OpenAI error envelope', () => {
    const e = invalidRequest('bad thing', 'messages[0].content', 'invalid_value')
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe('OpenAIError')
    expect(e.statusCode).toBe(400)
    expect(e.toEnvelope()).toEqual({ error: { message: 'bad thing', type: 'invalid_request_error', param: 'messages[0].content', code: 'invalid_value' } })
    expect(invalidRequest('x').toEnvelope()).toEqual({ error: { message: 'x', type: 'invalid_request_error', param: null, code: null } })
    expect(isOpenAIError(e)).toBe(true)
    expect(isOpenAIError(new Error('x'))).toBe(false)
  })

  it('401 carries WWW-Authenticate', () => {
    const e = unauthorized()
    expect(e.statusCode).toBe(401)
    expect(e.type).toBe('authentication_error')
    expect(e.code).toBe('invalid_api_key')
    expect(e.headers).toEqual({ 'www-authenticate': 'Bearer realm=api' })
  })

  it('404', () => {
    expect(notFound('nope').toEnvelope().error).toEqual({ message: 'nope', type: 'not_found_error', param: null, code: 'not_found' })
  })

  it('429 rounds Retry-After up to at least one second', () => {
    expect(rateLimited('busy', 0.2).headers).toEqual({ 'retry-after': '1' })
    expect(rateLimited('busy', 2.1).headers).toEqual({ 'retry-after': '3' })
    expect(rateLimited('busy', undefined).headers).toEqual({})
    const quota = rateLimited('quota', 5, 'insufficient_quota')
    expect(quota.type).toBe('insufficient_quota')
    expect(quota.code).toBe('insufficient_quota')
    expect(rateLimited('busy', 1).type).toBe('rate_limit_error')
  })

  it('5xx and timeouts keep their cause', () => {
    const cause = new Error('root')
    const s = serverError(502, 'Codex failed', 'codex_error', cause)
    expect([s.statusCode, s.type, s.code, s.cause]).toEqual([502, 'server_error', 'codex_error', cause])
    const t = timeoutError('too slow')
    expect([t.statusCode, t.type, t.code]).toEqual([504, 'timeout_error', 'timeout'])
  })

  it('toOpenAIError hides unknown errors behind a 500', () => {
    const known = new OpenAIError(418, 'teapot', { type: 'invalid_request_error' })
    expect(toOpenAIError(known)).toBe(known)
    const hidden = toOpenAIError(new Error('db password is hunter2'))
    expect(hidden.toEnvelope()).toEqual({ error: { message: 'Internal server error.', type: 'server_error', param: null, code: 'internal_error' } })
    expect(toOpenAIError('a string').statusCode).toBe(500)
  })
})
