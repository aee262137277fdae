import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'

describe('smoke', () => {
  it('answers a non-streaming chat completion through the fake Codex', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: AUTH,
      payload: { model: 'codex-5', messages: [{ role: 'user', content: 'hello there' }] }
    })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('echo: hello there')
  })
})
