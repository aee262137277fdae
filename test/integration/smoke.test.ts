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

describe('routes without /v1', () => {
  it('serves the API at the root too, behind the same key, for clients whose base URL lacks /v1', async () => {
    const { app } = await buildTestApp()
    const ok = await app.inject({ method: 'POST', url: '/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content: 'no prefix' }] } })
    expect(ok.statusCode).toBe(200)
    expect(ok.json().choices[0].message.content).toBe('echo: no prefix')
    const denied = await app.inject({ method: 'POST', url: '/chat/completions', payload: { messages: [{ role: 'user', content: 'x' }] } })
    expect(denied.statusCode).toBe(401)
    const models = await app.inject({ method: 'GET', url: '/models' })
    expect(models.json().object).toBe('list')
  })
})
