import { describe, expect, it } from 'vitest'
import { ApiError } from '../../../src/errors.js'
import { MAX_SCHEMA_DEPTH, checkJsonSchema } from '../../../src/turns/json-schema-check.js'
import { thrownBy } from '../support.js'

describe('checkJsonSchema', () => {
  it('accepts JSON Schemas of draft-07 and 2020-12, unknown keywords included', () => {
    checkJsonSchema({ type: 'object', properties: { q: { type: 'string', minLength: 1 } }, required: ['q'], additionalProperties: false, 'x-extra': 1 }, 'p')
    checkJsonSchema({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', $defs: { a: { type: 'string' } } }, 'p')
    checkJsonSchema({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', items: [{ type: 'string' }] }, 'p')
  })

  it.each([
    [{ type: 'object', properties: 5 }, 'p.properties'],
    [{ type: 'object', required: 'q' }, 'p.required'],
    [{ type: 'objekt' }, 'p.type'],
    [{ type: 'object', properties: { q: { type: 5 } } }, 'p.properties.q.type']
  ])('refuses %j with a 400 at %s', (schema, param) => {
    const err = thrownBy(() => { checkJsonSchema(schema as Record<string, unknown>, 'p') }) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect([err.statusCode, err.param]).toEqual([400, param])
    expect(err.message).toMatch(/not a valid JSON Schema/)
  })

  it(`refuses a schema nested more than ${MAX_SCHEMA_DEPTH} levels (Codex would never answer it)`, () => {
    const nest = (n: number): Record<string, unknown> => (n <= 1 ? { type: 'string' } : { type: 'object', properties: { a: nest(n - 1) } })
    checkJsonSchema(nest(MAX_SCHEMA_DEPTH / 2), 'p', MAX_SCHEMA_DEPTH)
    expect((thrownBy(() => { checkJsonSchema(nest(MAX_SCHEMA_DEPTH), 'p', MAX_SCHEMA_DEPTH) }) as ApiError).message).toMatch(/nests more than/)
  })
})
