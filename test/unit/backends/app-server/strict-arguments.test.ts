import { describe, expect, it } from 'vitest'
import { StrictArguments } from '../../../../src/backends/app-server/strict-arguments.js'
import type { ToolSpec } from '../../../../src/backends/types.js'
import { fakeLogger } from '../../support.js'

const schema = { type: 'object', properties: { q: { type: 'string', minLength: 2, pattern: '^[a-z]+$' }, url: { type: 'string', format: 'uri' }, n: { type: 'integer', maximum: 5 } }, required: ['q'], additionalProperties: false }

describe('StrictArguments', () => {
  it('checks a strict tool\'s arguments against the whole schema, keywords Codex prunes included', () => {
    const tools: ToolSpec[] = [{ name: 'find', parameters: schema, strict: true }, { name: 'loose', parameters: schema }]
    const strict = new StrictArguments(tools, fakeLogger().log)
    expect(strict.problem('find', undefined, '{"q":"ok","n":3}')).toBeUndefined()
    expect(strict.problem('find', undefined, '{"q":"x"}')).toMatch(/\/q must NOT have fewer than 2 characters/)
    expect(strict.problem('find', undefined, '{"q":"OK"}')).toMatch(/\/q must match pattern/)
    expect(strict.problem('find', undefined, '{"q":"ok","url":"not a url"}')).toMatch(/\/url must match format "uri"/)
    expect(strict.problem('find', undefined, '{"q":"ok","n":9}')).toMatch(/\/n must be <= 5/)
    expect(strict.problem('find', undefined, '{"q":"ok","extra":1}')).toMatch(/must NOT have additional properties/)
    expect(strict.problem('find', undefined, 'not json')).toBe('the arguments are not valid JSON')
    // Tools not marked strict are the client's business.
    expect(strict.problem('loose', undefined, '{"q":1}')).toBeUndefined()
    expect(strict.problem('unknown', undefined, '{}')).toBeUndefined()
  })

  it('keeps checking a schema with an $id request after request (compiled once, not registered by id)', () => {
    const withId = { $id: 'https://example.test/lookup.json', type: 'object', properties: { q: { type: 'string', minLength: 2 } }, required: ['q'] }
    for (let round = 0; round < 3; round++) {
      const strict = new StrictArguments([{ name: 'lookup', parameters: { ...withId }, strict: true }], fakeLogger().log)
      expect(strict.problem('lookup', undefined, '{"q":"x"}')).toMatch(/must NOT have fewer than 2 characters/)
    }
  })

  it('does not enforce a schema it cannot compile', () => {
    const strict = new StrictArguments([{ name: 'ref', parameters: { $ref: '#/$defs/missing' }, strict: true }], fakeLogger().log)
    expect(strict.problem('ref', undefined, '{}')).toBeUndefined()
  })
})
