import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { runCompletion } from '../../src/completions/run-completion.js'
import { prefetch } from '../../src/completions/prefetch.js'
import { ErrorEnvelopeSchema } from '../../src/errors.js'
import { sseFrames } from '../../src/http/sse-frames.js'
import { inlineRemoteImages } from '../../src/images/inline-images.js'
import { parseChatRequest } from '../../src/openai/chat-request.js'
import { chatChunks, foldChatCompletion, newChatResponseMeta } from '../../src/openai/chat-response.js'
import { ChatCompletionRequestSchema, ChatCompletionSchema } from '../../src/openai/chat-schemas.js'
import { promptChars } from '../../src/usage/estimate.js'
import { usageEventFor } from '../../src/usage/usage-event.js'
import { usageQueryBackend, usageQueryOf } from '../../src/usage/usage-query-backend.js'

/** How long a stream may wait for its first event before the headers go out regardless. */
const HEADER_WAIT_CAP_MS = 15_000

const chatCompletionsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const { config } = fastify

  fastify.post('/chat/completions', {
    schema: {
      body: ChatCompletionRequestSchema,
      response: { 200: ChatCompletionSchema, '4xx': ErrorEnvelopeSchema, '5xx': ErrorEnvelopeSchema }
    }
  }, async (request, reply) => {
    const turn = parseChatRequest(request.body, {
      requestId: request.id,
      codexModels: await fastify.codex.models(),
      configuredModel: config.CODEX_MODEL,
      backend: fastify.codex
    })
    const signal = reply.turnSignal()
    const completion = await inlineRemoteImages(turn.request, {
      maxBytes: config.PROXY_IMAGE_MAX_BYTES,
      timeoutMs: config.PROXY_IMAGE_FETCH_TIMEOUT_MS,
      allowPrivate: config.PROXY_IMAGE_ALLOW_PRIVATE
    }, signal)
    const chars = promptChars(completion.items, completion.tools)
    const meta = newChatResponseMeta(turn.requestedModel, chars, turn.legacyFunctions)
    const usageQuery = usageQueryOf(completion)

    const events = runCompletion(completion, {
      backend: usageQuery === undefined ? fastify.codex : usageQueryBackend(fastify.usage, usageQuery),
      admission: fastify.admission,
      limits: {
        totalMs: config.PROXY_TIMEOUT_MS,
        ackMs: config.PROXY_IDLE_TIMEOUT_MS,
        idleMs: config.PROXY_STREAM_IDLE_TIMEOUT_MS
      },
      signal,
      onSettled: (outcome) => {
        const event = usageEventFor(outcome, {
          route: '/v1/chat/completions',
          method: 'POST',
          requestedModel: turn.requestedModel,
          effectiveModel: usageQuery === undefined ? turn.effectiveModel : 'usage-query',
          stream: turn.stream,
          promptChars: chars,
          userAgent: request.headers['user-agent'],
          requestId: request.id
        })
        fastify.usage.append(event)
        fastify.metrics.observeTurn(outcome, { stream: turn.stream, usageSource: event.usage_source ?? 'estimate' }, {
          prompt: event.prompt_tokens_est,
          completion: event.completion_tokens_est
        })
      }
    })

    if (!turn.stream) return await foldChatCompletion(events, meta)

    const headerWait = Math.min(config.SSE_KEEPALIVE_MS > 0 ? config.SSE_KEEPALIVE_MS : HEADER_WAIT_CAP_MS, HEADER_WAIT_CAP_MS)
    const ready = await prefetch(events, headerWait, (event) => event.type !== 'started')
    const chunks = chatChunks(ready, meta, { includeUsage: turn.includeUsage, buffered: config.PROXY_STREAM_MODE === 'buffered' })
    return reply.sse(sseFrames(chunks))
  })
}

export default chatCompletionsRoutes
