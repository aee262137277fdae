import { invalidRequest } from '../errors.js'

const DATA_IMAGE_RE = /^data:image\/(png|jpeg|jpg|gif|webp);base64,[A-Za-z0-9+/=\s]+$/i

/**
 * An image URL a client may send: a base64 data URL of an accepted format, or an http(s) URL that
 * parses (it is downloaded later by the guarded fetcher). Anything else is a 400 naming `param`.
 */
export function checkImageUrl (url: string, param: string): string {
  if (url.startsWith('data:')) {
    if (!DATA_IMAGE_RE.test(url)) throw invalidRequest('Image data URLs must be base64 PNG, JPEG, GIF or WebP.', param, 'invalid_image_url')
    return url
  }
  if (/^https?:\/\//i.test(url)) {
    if (!URL.canParse(url)) throw invalidRequest('The image URL is not a valid URL.', param, 'invalid_image_url')
    return url
  }
  throw invalidRequest('Image URLs must be data: URLs or http(s) URLs.', param, 'invalid_image_url')
}
