import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { parseSse, readUsageLog, recordingBackend } from '../helpers/http.js'
import { countPromptTokens } from '../../src/tokens/prompt-tokens.js'

// /v1/messages on the per-request backends (here the proto dev shim): text turns work, a turn
// without counts gets the tokenizer's estimate, and what they cannot honour is refused with a 400
// naming app-server, in Anthropic's shape.

describe('/v1/messages on the proto backend (the dev shim)', () => {
  it('answers a text turn, streaming and not', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH, payload: { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello shim' }] } })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toMatchObject({ content: [{ type: 'text', text: 'echo: hello shim' }], stop_reason: 'end_turn' })
    const stream = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH, payload: { model: 'claude-haiku-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hello stream' }] } })
    expect(parseSse(stream.body).map((b) => b.event).filter((e) => e !== 'ping').at(-1)).toBe('message_stop')
  })

  it('reports the tokenizer\'s estimate when the backend reports no counts, and logs it as one', async () => {
    const { app, config } = await buildTestApp({ backend: recordingBackend({ events: [{ type: 'started' }, { type: 'text', itemId: 'm', text: 'echo: hello shim' }, { type: 'done', finishReason: 'stop' }] }) })
    const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH, payload: { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'hello shim' }] } })
    const usage = res.json<{ usage: { input_tokens: number, output_tokens: number } }>().usage
    // "echo: hello shim" is 4 o200k tokens (echo / : / hello / shim); the prompt is counted with its framing.
    expect(usage.output_tokens).toBe(4)
    expect(usage.input_tokens).toBe(await countPromptTokens([{ type: 'message', role: 'user', content: [{ type: 'text', text: 'hello shim' }] }]))
    await app.usage.flush()
    const lines = await readUsageLog(config.TOKEN_LOG_PATH)
    expect(lines.at(-1)).toMatchObject({ route: '/v1/messages', usage_source: 'estimate', completion_tokens_est: 4, prompt_tokens_est: usage.input_tokens })
  })

  it.each([
    ['tools', { tools: [{ name: 'f', input_schema: { type: 'object' } }] }],
    ['an image', { messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }] }]
  ])('refuses %s with a 400 naming app-server', async (_what, extra) => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'POST', url: '/v1/messages', headers: AUTH, payload: { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'x' }], ...extra } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('app-server') as string } })
  })

  it('counts the tokens of tools, images and image tool results all the same: counting needs no backend', async () => {
    const { app } = await buildTestApp()
    const image = { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }
    const res = await app.inject({
      method: 'POST',
      url: '/v1/messages/count_tokens?beta=true',
      headers: AUTH,
      payload: {
        model: 'claude-haiku-4-5',
        tools: [{ name: 'f', input_schema: { type: 'object' } }],
        messages: [
          { role: 'user', content: [image, { type: 'text', text: 'x' }] },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [image] }] }
        ]
      }
    })
    expect(res.statusCode).toBe(200)
    expect(res.json<{ input_tokens: number }>().input_tokens).toBeGreaterThan(765 * 2)
  })

  it('refuses an image inside a tool result too, rather than turning it into text', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({
      method: 'POST',
      url: '/v1/messages',
      headers: AUTH,
      payload: {
        model: 'claude-haiku-4-5',
        max_tokens: 8,
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'f', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } }] }] }
        ]
      }
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('Images need CODEX_BACKEND=app-server') as string } })
  })
})
