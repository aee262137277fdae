import { describe, expect, it } from 'vitest'
import { errorEvent, failureCode, responsesDialect, responsesErrorEnvelope } from '../../../../src/api/responses/errors.js'
import { ApiError, invalidRequest, invalidSubject, notFound, rateLimited, serverError, shuttingDown, timeoutError, unauthorized } from '../../../../src/errors.js'
import { parseSse } from '../../../helpers/http.js'

describe('failureCode: the code of a response that failed after its stream started', () => {
  it.each([
    ['a full context window', invalidSubject('Too long.', 'conversation', 'context_length_exceeded'), 'context_length_exceeded'],
    ['an upstream rate limit', rateLimited('Slow down.', 7), 'rate_limit_exceeded'],
    ['the Codex plan\'s usage limit', rateLimited('Limit reached.', 3600, 'usage_limit_exceeded'), 'insufficient_quota'],
    ['an exhausted quota', rateLimited('Quota.', undefined, 'insufficient_quota'), 'insufficient_quota'],
    ['any other 429, by its kind', new ApiError(429, 'Busy.', { kind: 'rate_limit', code: 'too_many_requests' }), 'rate_limit_exceeded'],
    ['a quota error with another code', new ApiError(429, 'Quota.', { kind: 'quota', code: 'billing_hard_limit' }), 'insufficient_quota'],
    ['a refused request', invalidRequest('Refused.', null, 'upstream_bad_request'), 'invalid_prompt'],
    ['a refused login', unauthorized(), 'invalid_prompt'],
    ['an upstream failure', serverError(502, 'Upstream failed.', 'upstream_error'), 'server_error'],
    ['a timeout', timeoutError('Too slow.'), 'server_error'],
    ['a shutdown', shuttingDown(), 'server_error']
  ])('%s → %s', (_what, err, code) => {
    expect(failureCode(err)).toBe(code)
  })
})

describe('errorEvent', () => {
  it('is nested and flat at once, with the param named as the Responses API names it', () => {
    const event = errorEvent(invalidSubject('The conversation is too long for the model\'s context window.', 'conversation', 'context_length_exceeded'))
    expect(event).toEqual({
      type: 'error',
      code: 'context_length_exceeded',
      message: 'The conversation is too long for the model\'s context window.',
      param: 'input',
      error: { type: 'invalid_request_error', code: 'context_length_exceeded', message: 'The conversation is too long for the model\'s context window.', param: 'input' }
    })
  })

  it('names rate limits and quota by their OpenAI types, and hides what an unknown error said', () => {
    expect(errorEvent(rateLimited('Slow down.', 7)).error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' })
    expect(errorEvent(rateLimited('Quota.', undefined, 'insufficient_quota')).error).toMatchObject({ type: 'insufficient_quota', code: 'insufficient_quota' })
    const hidden = errorEvent(new Error('ECONNRESET at 10.0.0.7'))
    expect(hidden).toMatchObject({ code: 'server_error', message: 'Internal server error.', error: { type: 'server_error' } })
    expect(JSON.stringify(hidden)).not.toContain('10.0.0.7')
  })
})

describe('responsesDialect', () => {
  it('answers errors before a stream with the status and OpenAI\'s envelope, neutral subjects named as Responses fields', () => {
    const subjects = [['conversation', 'input'], ['tools', 'tools'], ['output_format', 'text.format'], ['model', 'model']] as const
    for (const [subject, param] of subjects) expect(responsesErrorEnvelope(invalidSubject('No.', subject)).error.param).toBe(param)
    const answer = responsesDialect.httpError(rateLimited('Slow down.', 7))
    expect(answer).toEqual({ status: 429, body: { error: { message: 'Slow down.', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }, headers: { 'retry-after': '7' } })
    expect(responsesDialect.httpError(notFound('No such response.', 'response_not_found', 'response_id')).body).toMatchObject({ error: { param: 'response_id', code: 'response_not_found' } })
  })

  it('closes a stream it knows nothing of with the error event alone, and keeps idle streams alive with a comment', () => {
    const blocks = parseSse(responsesDialect.closingFrames(shuttingDown()))
    expect(blocks.map((b) => b.event)).toEqual(['error'])
    expect(JSON.parse(blocks[0]?.data ?? '{}')).toMatchObject({ type: 'error', code: 'server_error', error: { type: 'server_error', code: 'server_error' } })
    expect(responsesDialect.keepaliveFrame).toBe(': keepalive\n\n')
  })
})
