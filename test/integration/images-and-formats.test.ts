import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectEnvelope } from '../helpers/http.js'

// Images (inline and fetched by the proxy) and structured output, end to end through the real
// Codex app-server to the mock upstream.

/** A 1×1 transparent PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')
const PNG_DATA_URL = `data:image/png;base64,${PNG.toString('base64')}`

let h: CodexUpstreamApp
let strict: CodexUpstreamApp
let client: OpenAI
let images: Server
let imageBase: string

beforeAll(async () => {
  images = createServer((req, res) => {
    if (req.url === '/pixel.png') { res.writeHead(200, { 'content-type': 'image/png' }); res.end(PNG); return }
    if (req.url === '/page.html') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html></html>'); return }
    if (req.url === '/lying.png') { res.writeHead(200, { 'content-type': 'image/png' }); res.end('not a png at all'); return }
    if (req.url === '/huge.png') { res.writeHead(200, { 'content-type': 'image/png' }); res.end(Buffer.concat([PNG, Buffer.alloc(4096)])); return }
    if (req.url === '/moved') { res.writeHead(302, { location: '/pixel.png' }); res.end(); return }
    res.writeHead(404); res.end()
  })
  await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve))
  imageBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`
  // The test image server is on loopback, so this instance allows private addresses...
  h = await startCodexUpstreamApp({ listen: true, env: { PROXY_IMAGE_ALLOW_PRIVATE: 'true', PROXY_IMAGE_MAX_BYTES: '2048' } })
  // ...and this one has the default policy.
  strict = await startCodexUpstreamApp({})
  client = new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0 })
})
afterAll(async () => {
  await h.close()
  await strict.close()
  await new Promise((resolve) => images.close(resolve))
})

const upstreamWith = (app: CodexUpstreamApp, marker: string): MockRequest | undefined =>
  app.upstream.requests.find((r) => JSON.stringify(r.body?.input ?? []).includes(marker))

async function chatWithImage (app: CodexUpstreamApp, marker: string, url: string): Promise<{ status: number, body: unknown }> {
  const res = await app.app.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${TEST_KEY}` },
    payload: { messages: [{ role: 'user', content: [{ type: 'text', text: marker }, { type: 'image_url', image_url: { url } }] }] }
  })
  return { status: res.statusCode, body: res.json() }
}

describe('images', () => {
  it('passes a data URL through as input_image, keeping the order of mixed parts', async () => {
    const completion = await client.chat.completions.create({
      model: 'codex-5',
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'before i1' },
          { type: 'image_url', image_url: { url: PNG_DATA_URL, detail: 'low' } },
          { type: 'text', text: 'after' }
        ]
      }]
    })
    expect(completion.choices[0]?.finish_reason).toBe('stop')
    const content = upstreamWith(h, 'before i1')?.body?.input?.at(-1)?.content as Array<Record<string, unknown>>
    expect(content.map((c) => c.type)).toEqual(['input_text', 'input_image', 'input_text'])
    expect(content[1]?.image_url).toBe(PNG_DATA_URL)
  })

  it('keeps images in earlier messages (history) in place', async () => {
    await client.chat.completions.create({
      model: 'codex-5',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'look i2' }, { type: 'image_url', image_url: { url: PNG_DATA_URL } }] },
        { role: 'assistant', content: 'A pixel.' },
        { role: 'user', content: 'and now?' }
      ]
    })
    const input = upstreamWith(h, 'look i2')?.body?.input ?? []
    expect(input.map((i) => i.role)).toEqual(['user', 'assistant', 'user'])
    expect((input[0]?.content as Array<{ type: string }>).map((c) => c.type)).toEqual(['input_text', 'input_image'])
  })

  it('fetches an http image (and follows a redirect) and sends it inline', async () => {
    for (const [marker, path] of [['fetched i3', '/pixel.png'], ['redirected i4', '/moved']] as const) {
      const res = await chatWithImage(h, marker, `${imageBase}${path}`)
      expect(res.status).toBe(200)
      const content = upstreamWith(h, marker)?.body?.input?.at(-1)?.content as Array<Record<string, unknown>>
      expect(content[1]).toMatchObject({ type: 'input_image', image_url: PNG_DATA_URL })
    }
  })

  it.each([
    { what: 'a non-image content type', path: '/page.html', message: /content type text\/html/ },
    { what: 'bytes that are not an image', path: '/lying.png', message: /not a PNG/ },
    { what: 'an image over PROXY_IMAGE_MAX_BYTES', path: '/huge.png', message: /larger than 2048 bytes/ },
    { what: 'a 404', path: '/missing.png', message: /HTTP 404/ }
  ])('refuses $what with a clear 400 and no upstream request', async ({ path, message }) => {
    const marker = `bad image ${path}`
    const res = await chatWithImage(h, marker, `${imageBase}${path}`)
    expect(res.status).toBe(400)
    expect(expectEnvelope(res.body, { type: 'invalid_request_error', code: 'invalid_image_url' }).message).toMatch(message)
    expect(upstreamWith(h, marker)).toBeUndefined()
  })

  it.each(['http://127.0.0.1:9/x.png', 'http://10.1.2.3/x.png', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/x.png', 'http://localhost/x.png'])(
    'refuses %s (loopback, private, link-local) by default', async (url) => {
      const res = await chatWithImage(strict, `private ${url}`, url)
      expect(res.status).toBe(400)
      expect(expectEnvelope(res.body, { code: 'invalid_image_url' }).message).toMatch(/loopback, private or link-local/)
      expect(strict.upstream.requests).toHaveLength(0)
    })
})

describe('images on /v1/responses and /v1/messages, tool results included', () => {
  const post = async (url: string, payload: Record<string, unknown>): Promise<number> =>
    (await h.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${TEST_KEY}` }, payload })).statusCode
  /** The upstream request's input as sent: every image in it must be inline, none a URL. */
  function inlinedImages (marker: string): number {
    const input = JSON.stringify(upstreamWith(h, marker)?.body?.input ?? [])
    expect(input).not.toContain(imageBase)
    return input.split(PNG_DATA_URL).length - 1
  }

  it('fetches input_image URLs in a message and in a function_call_output', async () => {
    expect(await post('/v1/responses', {
      model: 'codex-5',
      tools: [{ type: 'function', name: 'screenshot', parameters: { type: 'object', properties: {} } }],
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'responses i5' }, { type: 'input_image', image_url: `${imageBase}/pixel.png` }] },
        { type: 'function_call', call_id: 'call_i5', name: 'screenshot', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_i5', output: [{ type: 'input_text', text: 'the screen' }, { type: 'input_image', image_url: `${imageBase}/moved` }] }
      ]
    })).toBe(200)
    expect(inlinedImages('responses i5')).toBe(2)
  })

  it('fetches url image sources in a message and in a tool_result', async () => {
    expect(await post('/v1/messages', {
      model: 'claude-sonnet-4-5',
      max_tokens: 64,
      tools: [{ name: 'screenshot', input_schema: { type: 'object', properties: {} } }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'messages i6' }, { type: 'image', source: { type: 'url', url: `${imageBase}/pixel.png` } }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_i6', name: 'screenshot', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_i6', content: [{ type: 'image', source: { type: 'url', url: `${imageBase}/pixel.png` } }] }] }
      ]
    })).toBe(200)
    expect(inlinedImages('messages i6')).toBe(2)
  })

  it('refuses an image URL it may not fetch with a 400 naming the route\'s own conversation field', async () => {
    const url = 'http://127.0.0.1:9/x.png'
    const refused = async (path: string, payload: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const res = await strict.app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${TEST_KEY}` }, payload })
      expect(res.statusCode, path).toBe(400)
      return res.json()
    }
    const responses = await refused('/v1/responses', { model: 'codex-5', input: [{ role: 'user', content: [{ type: 'input_text', text: 'loopback i8' }, { type: 'input_image', image_url: url }] }] })
    expect(expectEnvelope(responses, { type: 'invalid_request_error', code: 'invalid_image_url', param: 'input' }).message).toMatch(/loopback, private or link-local/)
    // The same refusal on chat completions names its field, `messages`.
    const chat = await refused('/v1/chat/completions', { model: 'codex-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'loopback i8c' }, { type: 'image_url', image_url: { url } }] }] })
    expectEnvelope(chat, { code: 'invalid_image_url', param: 'messages' })
    expect(strict.upstream.requests).toHaveLength(0)
  })

  it('refuses a tool result image it cannot fetch with the route\'s 400, before any upstream request', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: { authorization: `Bearer ${TEST_KEY}` },
      payload: {
        model: 'claude-sonnet-4-5',
        max_tokens: 64,
        tools: [{ name: 'screenshot', input_schema: { type: 'object', properties: {} } }],
        messages: [
          { role: 'user', content: 'messages i7' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_i7', name: 'screenshot', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_i7', content: [{ type: 'image', source: { type: 'url', url: `${imageBase}/page.html` } }] }] }
        ]
      }
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/content type text\/html/) as string } })
    expect(upstreamWith(h, 'messages i7')).toBeUndefined()
  })
})

describe('structured output', () => {
  it('sends a json_schema response_format upstream as the structured output format', async () => {
    const schema = { type: 'object', properties: { echo: { type: 'string' } }, required: ['echo'], additionalProperties: false }
    const completion = await client.chat.completions.create({
      model: 'codex-5',
      response_format: { type: 'json_schema', json_schema: { name: 'echo', schema, strict: true } },
      messages: [{ role: 'user', content: 'structured s1 [json]' }]
    })
    expect(JSON.parse(completion.choices[0]?.message.content ?? '')).toEqual({ echo: 'structured s1' })
    const format = (upstreamWith(h, 'structured s1')?.body?.text as { format?: Record<string, unknown> } | undefined)?.format
    expect(format).toMatchObject({ type: 'json_schema', strict: true, schema })
  })

  it('asks for JSON only for json_object (Codex has no JSON mode of its own)', async () => {
    await client.chat.completions.create({ model: 'codex-5', response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'json mode s2 [json]' }] })
    const upstream = upstreamWith(h, 'json mode s2')
    expect(JSON.stringify(upstream?.body?.input)).toContain('Respond with one valid JSON object and nothing else')
    expect((upstream?.body?.text as { format?: unknown } | undefined)?.format).toBeUndefined()
  })
})
