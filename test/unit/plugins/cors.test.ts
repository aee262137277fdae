import { describe, expect, it } from 'vitest'
import { allowedRequestHeaders } from '../../../plugins/cors.js'

describe('allowedRequestHeaders', () => {
  it('allows every header the OpenAI SDKs send, lowercased', () => {
    const sdk = 'Authorization, Content-Type, Accept, X-Stainless-OS, X-Stainless-Lang, X-Stainless-Arch, X-Stainless-Runtime, ' +
      'X-Stainless-Runtime-Version, X-Stainless-Package-Version, X-Stainless-Timeout, X-Stainless-Retry-Count, OpenAI-Organization, OpenAI-Project, OpenAI-Beta'
    expect(allowedRequestHeaders(sdk)).toEqual([
      'authorization', 'content-type', 'accept', 'x-stainless-os', 'x-stainless-lang', 'x-stainless-arch', 'x-stainless-runtime',
      'x-stainless-runtime-version', 'x-stainless-package-version', 'x-stainless-timeout', 'x-stainless-retry-count',
      'openai-organization', 'openai-project', 'openai-beta'
    ])
  })

  it('allows the proxy\'s own headers', () => {
    expect(allowedRequestHeaders('x-api-key,x-request-id,x-no-keepalive,x-stainless-helper-method')).toEqual(['x-api-key', 'x-request-id', 'x-no-keepalive', 'x-stainless-helper-method'])
  })

  it('drops anything else', () => {
    expect(allowedRequestHeaders('Authorization, X-Evil, Cookie, x-stainless-, openai-, x-stainless-os extra, content-type-x')).toEqual(['authorization'])
  })

  it('answers [] for no header', () => {
    expect(allowedRequestHeaders(undefined)).toEqual([])
    expect(allowedRequestHeaders('')).toEqual([])
    expect(allowedRequestHeaders(' , ,')).toEqual([])
  })
})

describe('allowedRequestHeaders for the Anthropic SDK', () => {
  it('allows every anthropic-* header', () => {
    expect(allowedRequestHeaders('x-api-key, anthropic-version, anthropic-beta, anthropic-dangerous-direct-browser-access, content-type'))
      .toEqual(['x-api-key', 'anthropic-version', 'anthropic-beta', 'anthropic-dangerous-direct-browser-access', 'content-type'])
  })
})
