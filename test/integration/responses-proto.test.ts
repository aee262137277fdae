import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, postChat } from '../helpers/http.js'

// /v1/responses on the per-request backends: text turns work; what they cannot honour is refused
// with a 400 naming app-server, as on chat completions.

describe('/v1/responses on the proto backend (the dev shim)', () => {
  it('answers a text turn, streaming and not', async () => {
    const { app } = await buildTestApp({ listen: true })
    const res = await app.inject({ method: 'POST', url: '/v1/responses', headers: AUTH, payload: { model: 'codex-5', input: 'hello shim' } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ status: 'completed', output: [{ type: 'message', content: [{ type: 'output_text', text: 'echo: hello shim' }] }] })
    const stream = await postChat(app, { model: 'codex-5', input: 'hello stream', stream: true }, { path: '/v1/responses' })
    expect(stream.raw).toContain('event: response.completed')
  })

  it.each([
    ['tools', { tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }] }, 'tools'],
    ['an image', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'data:image/png;base64,AAAA' }] }] }, 'input'],
    ['a json_schema text format', { text: { format: { type: 'json_schema', name: 'x', schema: { type: 'object' } } } }, 'text.format']
  ])('refuses %s with a 400 naming app-server', async (_what, extra, param) => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'POST', url: '/v1/responses', headers: AUTH, payload: { model: 'codex-5', input: 'x', ...extra } })
    expect(res.statusCode).toBe(400)
    const error = expectEnvelope(res.json(), { type: 'invalid_request_error', code: 'unsupported_feature', param })
    expect(error.message).toContain('app-server')
  })
})
