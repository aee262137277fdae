import { describe, expect, it } from 'vitest'
import { mainIssue, validationParam } from '../../../src/http/validation-param.js'

describe('validationParam', () => {
  it.each([
    [{ instancePath: '/messages/0/content' }, 'messages[0].content'],
    [{ instancePath: '/messages/12/content/3/image_url/url' }, 'messages[12].content[3].image_url.url'],
    [{ instancePath: '/stream' }, 'stream'],
    [{ instancePath: '/stream_options/include_usage' }, 'stream_options.include_usage'],
    [{ instancePath: '', params: { missingProperty: 'messages' } }, 'messages'],
    [{ instancePath: '/messages/1', params: { missingProperty: 'role' } }, 'messages[1].role'],
    [{ instancePath: '/tools/0', params: { missingProperty: '.function' } }, 'tools[0].function'],
    [{ instancePath: '', params: { additionalProperty: 'bogus' } }, 'bogus'],
    [{ instancePath: '/0' }, '[0]']
  ])('%j → %s', (issue, expected) => {
    expect(validationParam(issue)).toBe(expected)
  })

  it('is null for the body as a whole', () => {
    expect(validationParam({ instancePath: '' })).toBeNull()
    expect(validationParam({ instancePath: '' }, 'body')).toBeNull()
    expect(validationParam({ instancePath: '', params: { missingProperty: 42 } }, 'body')).toBeNull()
  })

  it('names the context when there is no path outside the body', () => {
    expect(validationParam({ instancePath: '' }, 'querystring')).toBe('querystring')
    expect(validationParam({ instancePath: '/limit' }, 'querystring')).toBe('limit')
  })
})

describe('mainIssue', () => {
  // What Ajv reports for `content: [text, {image_url: {detail: "ultra"}}]` against
  // string | parts[] | null: one error per branch, the union's own last.
  const detail = [
    { instancePath: '/messages/0/content', keyword: 'type', params: { type: 'string' }, message: 'must be string' },
    { instancePath: '/messages/0/content/1/image_url/detail', keyword: 'enum', params: { allowedValues: ['auto', 'low', 'high'] }, message: 'must be equal to one of the allowed values' },
    { instancePath: '/messages/0/content', keyword: 'type', params: { type: 'null' }, message: 'must be null' },
    { instancePath: '/messages/0/content', keyword: 'anyOf', params: {}, message: 'must match a schema in anyOf' }
  ]

  it('picks the deepest issue of a union, with its allowed values', () => {
    const main = mainIssue(detail)
    expect(main?.problem).toBe('must be one of: auto, low, high')
    expect(validationParam(main?.issue ?? { instancePath: '' })).toBe('messages[0].content[1].image_url.detail')
  })

  it('joins the type errors of a union at one depth', () => {
    const types = [detail[0], detail[2], detail[3]].filter((i) => i !== undefined)
    expect(mainIssue(types)).toMatchObject({ issue: { instancePath: '/messages/0/content' }, problem: 'must be string or null' })
  })

  it('falls back to the first issue when only unions failed, and to nothing without issues', () => {
    expect(mainIssue([{ instancePath: '/x', keyword: 'anyOf', message: 'must match a schema in anyOf' }])?.problem).toBe('must match a schema in anyOf')
    expect(mainIssue([])).toBeUndefined()
  })
})
