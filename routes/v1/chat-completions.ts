import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { chatDialect } from '../../src/api/chat/errors.js'
import { parseChatRequest } from '../../src/api/chat/request.js'
import { foldChatCompletion, newChatResponseMeta } from '../../src/api/chat/response.js'
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../src/api/chat/schemas.js'
import { chatSse } from '../../src/api/chat/stream.js'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'

/** POST /chat/completions: parse → run on the shared turn pipeline → render as chat completions. */
const chatCompletionsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.post('/chat/completions', {
    config: { dialect: 'chat' },
    schema: {
      body: ChatCompletionRequestSchema,
      response: { 200: ChatCompletionSchema, '4xx': ErrorEnvelopeSchema, '5xx': ErrorEnvelopeSchema }
    }
  }, async (request, reply) => {
    const turn = parseChatRequest(request.body, await fastify.turns.context(request))
    const run = await fastify.turns.start(request, reply, turn)
    const meta = newChatResponseMeta(turn.requestedModel, turn.legacyFunctions)
    if (!turn.stream) return await foldChatCompletion(run.events, meta)
    const buffered = fastify.config.PROXY_STREAM_MODE === 'buffered'
    return reply.sse(chatSse(await run.ready(), meta, { includeUsage: turn.includeUsage, buffered }), chatDialect)
  })
}

export default chatCompletionsRoutes
