import { describe, expect, it } from 'vitest'
import { codexErrorFromText, INCOMPLETE_RESPONSE, mapCodexText } from '../../../src/backends/codex-error-text.js'

// What `codex exec --json` (0.169) printed against the mock upstream, verbatim but for the port,
// and the codexErrorInfo app-server sent for the same marker (test/integration/mock-upstream.test.ts).
const URL = 'http://127.0.0.1:46775/v1/responses'

describe('codexErrorFromText', () => {
  it.each([
    ['[fail403]', `unexpected status 403 Forbidden: Country, region, or territory not supported, url: ${URL}`, { httpConnectionFailed: { httpStatusCode: 403 } }],
    ['[unauthorized]', `unexpected status 401 Unauthorized: Incorrect API key provided: sk-mock. You can find your API key at https://platform.openai.com/account/api-keys., url: ${URL}`, { httpConnectionFailed: { httpStatusCode: 401 } }],
    ['[fail429]', 'exceeded retry limit, last status: 429 Too Many Requests', { responseTooManyFailedAttempts: { httpStatusCode: 429 } }],
    ['[fail500]', 'We’re currently experiencing high demand, which may cause temporary errors.', 'internalServerError'],
    ['[overloaded]', 'Selected model is at capacity. Please try a different model.', 'serverOverloaded'],
    ['[context]', 'Codex ran out of room in the model\'s context window. Start a new thread or clear earlier history before retrying.', 'contextWindowExceeded'],
    ['[ratelimit]', 'rate limit exceeded: Rate limit reached for mock-model on tokens per min (TPM): Limit 1000, Used 1000, Requested 100. Please try again in 7s.', 'rateLimitExceeded'],
    ['[usagelimit]', 'You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit https://chatgpt.com/settings/usage to purchase more credits or try again at 1:34 PM.', 'usageLimitExceeded'],
    ['[fail400]', '{"error":{"message":"Invalid \'input[1].content\': string too long.","type":"invalid_request_error","param":"input[1].content","code":"string_above_max_length"}}', 'other'],
    ['[invalidprompt]', 'Invalid prompt: your prompt was flagged as potentially violating our usage policy.', 'other'],
    ['[failmid]', 'stream disconnected before completion: The model failed mid-answer.', 'other']
  ])('%s → %j', (_marker, message, info) => {
    expect(codexErrorFromText(message)).toEqual({ message, codexErrorInfo: info })
  })

  it('reads no status out of a body that merely mentions one', () => {
    expect(codexErrorFromText('{"error":{"message":"expected 401 items, got 429"}}').codexErrorInfo).toBe('other')
  })
})

describe('mapCodexText', () => {
  it('maps as app-server\'s structured error would, naming the request, with no upstream internals', () => {
    const e = mapCodexText(`unexpected status 451 Unavailable For Legal Reasons: blocked for sk-abc123 at https://x.example, url: ${URL}`, { requestId: 'req-7' })
    expect([e.statusCode, e.code]).toEqual([451, 'upstream_unavailable_for_legal_reasons'])
    expect(e.message).toContain('request req-7')
    expect(e.message).not.toMatch(/127\.0\.0\.1|https?:\/\/|sk-abc/)
    const usage = mapCodexText('You’ve hit your usage limit. Try again at 1:34 PM.')
    expect(usage.statusCode).toBe(429)
    expect(usage.headers['retry-after']).toBeDefined()
  })

  it('recognises the stop for length, which is an answer and not an error', () => {
    expect(INCOMPLETE_RESPONSE.test('Incomplete response returned, reason: max_output_tokens')).toBe(true)
  })
})
