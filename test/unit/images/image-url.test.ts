import { describe, expect, it } from 'vitest'
import { ApiError } from '../../../src/errors.js'
import { checkImageUrl } from '../../../src/images/image-url.js'
import { thrownBy } from '../support.js'

describe('checkImageUrl', () => {
  it('accepts base64 data URLs of the four formats and http(s) URLs that parse', () => {
    expect(checkImageUrl('data:image/png;base64,AAAA', 'p')).toBe('data:image/png;base64,AAAA')
    expect(checkImageUrl('https://example.com/a.png', 'p')).toBe('https://example.com/a.png')
  })

  it.each(['http://[x]/a.png', 'https://exa mple.com/a.png', 'http://'])('refuses the malformed URL %j with a 400 naming the field', (url) => {
    const err = thrownBy(() => checkImageUrl(url, 'messages[0].content[1].image_url.url')) as ApiError
    expect(err).toBeInstanceOf(ApiError)
    expect([err.statusCode, err.code, err.param]).toEqual([400, 'invalid_image_url', 'messages[0].content[1].image_url.url'])
  })

  it.each(['file:///etc/passwd', 'data:text/html;base64,AAAA', 'ftp://x/a.png'])('refuses %j', (url) => {
    expect((thrownBy(() => checkImageUrl(url, 'p')) as ApiError).statusCode).toBe(400)
  })
})
