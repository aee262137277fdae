import { describe, expect, it } from 'vitest'
import { validationParam } from '../../../src/http/validation-param.js'

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
