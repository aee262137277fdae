import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope, recordingBackend, sharedTestApp } from '../helpers/http.js'
import type { CodexModel } from '../../src/backends/types.js'

const ALIASES = ['codex-5', 'codex-5-minimal', 'codex-5-low', 'codex-5-medium', 'codex-5-high']

interface ModelBody { id: string, object: string, created: number, owned_by: string }

function expectModel (model: ModelBody): void {
  expect(Object.keys(model).sort()).toEqual(['created', 'id', 'object', 'owned_by'])
  expect(model.object).toBe('model')
  expect(Number.isInteger(model.created)).toBe(true)
  expect(model.owned_by).toBeTypeOf('string')
  expect(model.id).not.toContain('/')
}

describe('/v1/models', () => {
  const shared = sharedTestApp()

  it('lists the codex-5 aliases in the OpenAI list shape', async () => {
    const { app } = shared()
    const res = await app.inject({ method: 'GET', url: '/v1/models' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    const body = res.json<{ object: string, data: ModelBody[] }>()
    expect(Object.keys(body).sort()).toEqual(['data', 'object'])
    expect(body.object).toBe('list')
    for (const model of body.data) expectModel(model)
    // The proto backend cannot list Codex's catalog: exactly the aliases.
    expect(body.data.map((m) => m.id).sort()).toEqual([...ALIASES].sort())
    expect(new Set(body.data.map((m) => m.id)).size).toBe(body.data.length)
  })

  it('answers /v1/models/{id} with the model', async () => {
    const { app } = shared()
    for (const id of ALIASES) {
      const res = await app.inject({ method: 'GET', url: `/v1/models/${id}` })
      expect(res.statusCode, id).toBe(200)
      const model = res.json<ModelBody>()
      expectModel(model)
      expect(model.id).toBe(id)
    }
  })

  it('answers an unknown model with a 404 model_not_found envelope', async () => {
    const { app } = shared()
    for (const id of ['gpt-4o', 'codex-6', 'codex-5-ultra-max']) {
      const res = await app.inject({ method: 'GET', url: `/v1/models/${id}`, headers: AUTH })
      expect(res.statusCode, id).toBe(404)
      expectEnvelope(res.json(), { type: 'not_found_error', code: 'model_not_found', param: 'model' })
    }
  })

  it('accepts a trailing slash and a trailing `?` (Xcode)', async () => {
    const { app } = shared()
    const plain = await app.inject({ method: 'GET', url: '/v1/models' })
    for (const url of ['/v1/models/', '/v1/models?', '/v1/models/?', '/v1/models?foo=bar']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(200)
      expect(res.json(), url).toEqual(plain.json())
    }
    const one = await app.inject({ method: 'GET', url: '/v1/models/codex-5-high/' })
    expect(one.statusCode).toBe(200)
    expect(one.json().id).toBe('codex-5-high')
  })

  it('answers at the root too, for clients configured without /v1 (Xcode asks for /models?)', async () => {
    const { app } = shared()
    const plain = await app.inject({ method: 'GET', url: '/v1/models' })
    for (const url of ['/models', '/models?', '/models/']) {
      const res = await app.inject({ method: 'GET', url })
      expect(res.statusCode, url).toBe(200)
      expect(res.json(), url).toEqual(plain.json())
    }
    const one = await app.inject({ method: 'GET', url: '/models/codex-5-low' })
    expect(one.statusCode).toBe(200)
    expect(one.json().id).toBe('codex-5-low')
  })

  it('answers HEAD like GET, without a body', async () => {
    const { app } = shared()
    const res = await app.inject({ method: 'HEAD', url: '/v1/models' })
    expect(res.statusCode).toBe(200)
    expect(res.body).toBe('')
  })

  it('lists the models a backend reports, with one id per effort they support', async () => {
    const catalog: CodexModel[] = [
      { slug: 'gpt-5.5', displayName: 'GPT-5.5', efforts: ['low', 'high'], defaultEffort: 'low', isDefault: true }
    ]
    const backend = { ...recordingBackend(), models: async () => catalog }
    const { app } = await buildTestApp({ backend })
    const res = await app.inject({ method: 'GET', url: '/v1/models' })
    expect(res.statusCode).toBe(200)
    expect(res.json<{ data: ModelBody[] }>().data.map((m) => m.id)).toEqual([...ALIASES, 'gpt-5.5', 'gpt-5.5-low', 'gpt-5.5-high'])
    const one = await app.inject({ method: 'GET', url: '/v1/models/gpt-5.5-high' })
    expect(one.statusCode).toBe(200)
    expect(one.json().id).toBe('gpt-5.5-high')
  })
})
