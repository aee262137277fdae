import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'
import { responsesDialect } from '../../src/api/responses/errors.js'
import { newId, parseResponsesRequest } from '../../src/api/responses/request.js'
import { foldAssembled } from '../../src/api/assembled-stream.js'
import { ResponseAssembler } from '../../src/api/responses/response.js'
import { ResponseObjectSchema, ResponsesRequestSchema, type ResponseObject } from '../../src/api/responses/schemas.js'
import { responsesSse } from '../../src/api/responses/stream.js'
import { invalidRequest, notFound, type ApiError } from '../../src/errors.js'

const missing = (id: string): ApiError => notFound(`No response with id '${id.slice(0, 128)}' was found.`, 'response_not_found', 'response_id')

const IdParamsSchema = Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) })
const InputItemListSchema = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(Type.Record(Type.String(), Type.Unknown())),
  first_id: Type.Union([Type.String(), Type.Null()]),
  last_id: Type.Union([Type.String(), Type.Null()]),
  has_more: Type.Boolean()
})
const DeletedSchema = Type.Object({ id: Type.String(), object: Type.Literal('response'), deleted: Type.Boolean() })
const errors = { '4xx': ErrorEnvelopeSchema, '5xx': ErrorEnvelopeSchema }

/**
 * The OpenAI Responses API: POST /responses (parse → run on the shared turn pipeline → render as
 * Responses events or the response object), and the stored responses of the caller's key.
 */
const responsesRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const store = fastify.responseStore
  const keyOf = (name: string | null): string => name ?? ''

  fastify.post('/responses', {
    config: { dialect: 'responses' },
    schema: { body: ResponsesRequestSchema, response: { 200: ResponseObjectSchema, ...errors } }
  }, async (request, reply) => {
    const keyName = keyOf(request.apiKeyName)
    const previousId = request.body.previous_response_id ?? undefined
    const previous = previousId === undefined ? undefined : store.conversation(previousId, keyName)
    if (previousId !== undefined && previous === undefined) {
      throw invalidRequest(`Previous response with id '${previousId.slice(0, 128)}' not found.`, 'previous_response_id', 'previous_response_not_found')
    }
    const turn = parseResponsesRequest(request.body, { ...await fastify.turns.context(request), previous })
    if (turn.dropped.length > 0) request.log.info({ dropped: turn.dropped }, 'hosted tools and their items are not served here: dropped')
    const run = await fastify.turns.start(request, reply, turn)
    const assembler = new ResponseAssembler({
      id: newId('resp'),
      createdAt: Math.floor(Date.now() / 1000),
      model: turn.requestedModel,
      echo: turn.echo,
      customTools: turn.customTools,
      includeEncrypted: turn.includeEncrypted
    })
    const save = (response: ResponseObject): void => {
      if (!turn.store) return
      store.put({ id: response.id, keyName, response, inputItems: turn.inputItems, items: [...turn.ownItems, ...assembler.conversation()], previousId })
    }
    if (!turn.stream) {
      const response = (await foldAssembled(run.events, assembler)).response()
      save(response)
      return response
    }
    const stream = responsesSse(await run.ready(), assembler, () => { save(assembler.response()) })
    return reply.sse(stream.frames, responsesDialect, stream.closing)
  })

  fastify.get('/responses/:id', {
    config: { dialect: 'responses' },
    schema: { params: IdParamsSchema, response: { 200: ResponseObjectSchema, ...errors } }
  }, async (request) => {
    const stored = store.get(request.params.id, keyOf(request.apiKeyName))
    if (stored === undefined) throw missing(request.params.id)
    return stored.response
  })

  fastify.get('/responses/:id/input_items', {
    config: { dialect: 'responses' },
    schema: {
      params: IdParamsSchema,
      querystring: Type.Object({
        // Query strings are not coerced (build.ts): a number arrives as digits.
        limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
        order: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
        after: Type.Optional(Type.String({ maxLength: 256 }))
      }),
      response: { 200: InputItemListSchema, ...errors }
    }
  }, async (request) => {
    const stored = store.get(request.params.id, keyOf(request.apiKeyName))
    if (stored === undefined) throw missing(request.params.id)
    // As OpenAI: newest first unless `order=asc`, pages of `limit` (20) after the item `after`.
    const items = request.query.order === 'asc' ? stored.inputItems : [...stored.inputItems].reverse()
    const start = request.query.after === undefined ? 0 : items.findIndex((item) => item.id === request.query.after) + 1
    const page = items.slice(start, start + Number(request.query.limit ?? 20))
    return {
      object: 'list' as const,
      data: page,
      first_id: (page[0]?.id as string | undefined) ?? null,
      last_id: (page.at(-1)?.id as string | undefined) ?? null,
      has_more: start + page.length < items.length
    }
  })

  fastify.delete('/responses/:id', {
    config: { dialect: 'responses' },
    schema: { params: IdParamsSchema, response: { 200: DeletedSchema, ...errors } }
  }, async (request) => {
    if (!store.delete(request.params.id, keyOf(request.apiKeyName))) throw missing(request.params.id)
    return { id: request.params.id, object: 'response' as const, deleted: true }
  })
}

export default responsesRoutes
