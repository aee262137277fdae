import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'
import { notFound } from '../../src/errors.js'
import { listModels, type ModelEntry } from '../../src/models.js'

const ModelSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('model'),
  created: Type.Integer(),
  owned_by: Type.String()
})

const ModelListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(ModelSchema)
})

const toModel = (entry: ModelEntry) => ({ id: entry.id, object: 'model' as const, created: 0, owned_by: 'codex' })

const modelsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const entries = async (): Promise<ModelEntry[]> => listModels(await fastify.codex.models(), fastify.config.CODEX_MODEL)

  fastify.get('/models', {
    config: { auth: 'models' },
    schema: { response: { 200: ModelListSchema, '4xx': ErrorEnvelopeSchema } }
  }, async () => ({ object: 'list' as const, data: (await entries()).map(toModel) }))

  // `*`, not `:id`: the `codex/<model>` ids contain a slash.
  fastify.get('/models/*', {
    config: { auth: 'models' },
    schema: { params: Type.Object({ '*': Type.String() }), response: { 200: ModelSchema, '4xx': ErrorEnvelopeSchema } }
  }, async (request) => {
    const id = request.params['*']
    const entry = (await entries()).find((e) => e.id === id)
    if (entry === undefined) throw notFound(`The model \`${id}\` does not exist.`, 'model_not_found', 'model')
    return toModel(entry)
  })
}

export default modelsRoutes
