import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { AnthropicErrorSchema } from '../../src/api/messages/schemas.js'
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

/** Anthropic's model shape, for clients that send `anthropic-version` (Claude Code, the Anthropic SDK). */
const AnthropicModelSchema = Type.Object({
  type: Type.Literal('model'),
  id: Type.String(),
  display_name: Type.String(),
  created_at: Type.String()
})

const AnthropicModelListSchema = Type.Object({
  data: Type.Array(AnthropicModelSchema),
  has_more: Type.Boolean(),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()])
})

// Query strings are not coerced (build.ts): a number arrives as digits.
const ListQuerySchema = Type.Object({
  limit: Type.Optional(Type.String({ pattern: '^(1000|[1-9][0-9]{0,2})$' })),
  after_id: Type.Optional(Type.String({ maxLength: 256 })),
  before_id: Type.Optional(Type.String({ maxLength: 256 }))
})

const errors = { '4xx': Type.Union([ErrorEnvelopeSchema, AnthropicErrorSchema]) }
const EPOCH = new Date(0).toISOString()

const toModel = (entry: ModelEntry) => ({ id: entry.id, object: 'model' as const, created: 0, owned_by: 'codex' })
const toAnthropicModel = (entry: ModelEntry) => ({ type: 'model' as const, id: entry.id, display_name: entry.id, created_at: EPOCH })
const fromAnthropic = (request: FastifyRequest): boolean => request.headers['anthropic-version'] !== undefined

/** One page of Anthropic's cursor pagination (`limit`, `after_id`, `before_id`; 20 by default). */
function anthropicPage (entries: ModelEntry[], query: { limit?: string | undefined, after_id?: string | undefined, before_id?: string | undefined }) {
  const limit = Number(query.limit ?? 20)
  let from = 0
  let to = entries.length
  if (query.after_id !== undefined) from = entries.findIndex((e) => e.id === query.after_id) + 1
  if (query.before_id !== undefined) {
    to = Math.max(0, entries.findIndex((e) => e.id === query.before_id))
    from = Math.max(from, to - limit)
  }
  const page = entries.slice(from, Math.min(to, from + limit)).map(toAnthropicModel)
  return { data: page, has_more: from + page.length < to, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null }
}

const modelsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const entries = async (): Promise<ModelEntry[]> => listModels(await fastify.codex.models(), fastify.config.CODEX_MODEL)

  fastify.get('/models', {
    config: { auth: 'models' },
    schema: { querystring: ListQuerySchema, response: { 200: Type.Union([ModelListSchema, AnthropicModelListSchema]), ...errors } }
  }, async (request) => {
    const all = await entries()
    if (fromAnthropic(request)) return anthropicPage(all, request.query)
    return { object: 'list' as const, data: all.map(toModel) }
  })

  // `*`, not `:id`: the `codex/<model>` ids contain a slash.
  fastify.get('/models/*', {
    config: { auth: 'models' },
    schema: { params: Type.Object({ '*': Type.String() }), response: { 200: Type.Union([ModelSchema, AnthropicModelSchema]), ...errors } }
  }, async (request) => {
    const id = request.params['*']
    const entry = (await entries()).find((e) => e.id === id)
    if (entry === undefined) throw notFound(`The model \`${id}\` does not exist.`, 'model_not_found', 'model')
    return fromAnthropic(request) ? toAnthropicModel(entry) : toModel(entry)
  })
}

export default modelsRoutes
