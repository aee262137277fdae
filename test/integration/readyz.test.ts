import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp, useShimDelay } from '../helpers/build-test-app.js'
import { openStream, postChat, userMessage } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

describe('/healthz and /readyz', () => {
  it('/healthz is { ok: true }', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.json()).toEqual({ ok: true })
  })

  it('/readyz is 200 { ok, backend: "proto", active, queued } when idle', async () => {
    const { app } = await buildTestApp()
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ ok: true, backend: 'proto', active: 0, queued: 0 })
  })

  describe('while turns run', () => {
    useShimDelay(300)

    it('/readyz counts active and queued turns', async () => {
      const { app } = await buildTestApp({ listen: true, shim: 'slow', env: { PROXY_MAX_CONCURRENCY: '1', PROXY_MAX_QUEUE: '4' } })
      const stream = await openStream(app, { model: 'codex-5', messages: userMessage('one two three four five six'), stream: true }, (t) => t.includes('"content":"echo: '))
      const queued = postChat(app, { model: 'codex-5', messages: userMessage('waiting'), stream: false })
      await waitFor(async () => (await app.inject({ method: 'GET', url: '/readyz' })).json().queued === 1, 2000, 'a queued turn')
      const busy = await app.inject({ method: 'GET', url: '/readyz' })
      expect(busy.statusCode).toBe(200)
      expect(busy.json()).toEqual({ ok: true, backend: 'proto', active: 1, queued: 1 })

      const done = await queued
      expect(done.status).toBe(200)
      expect(JSON.parse(done.raw).choices[0].message.content).toBe('echo: waiting')
      expect(await stream.rest).toContain('data: [DONE]')
      const idle = await app.inject({ method: 'GET', url: '/readyz', headers: AUTH })
      expect(idle.json()).toEqual({ ok: true, backend: 'proto', active: 0, queued: 0 })
    })
  })
})
