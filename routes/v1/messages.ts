import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { parseClaudeModels } from '../../src/api/messages/claude-models.js'
import { messagesDialect } from '../../src/api/messages/errors.js'
import { parseMessagesRequest, type MessagesContext } from '../../src/api/messages/request.js'
import { foldAssembled } from '../../src/api/assembled-stream.js'
import { MessageAssembler } from '../../src/api/messages/response.js'
import { AnthropicErrorSchema, CountTokensRequestSchema, CountTokensResponseSchema, MessageSchema, MessagesRequestSchema } from '../../src/api/messages/schemas.js'
import { messagesSse } from '../../src/api/messages/stream.js'
import { countPromptTokens } from '../../src/tokens/prompt-tokens.js'

const errors = { '4xx': AnthropicErrorSchema, '5xx': AnthropicErrorSchema }

/**
 * The Anthropic Messages API: POST /messages (parse → run on the shared turn pipeline → render as
 * Messages events or the message object) and POST /messages/count_tokens, with or without
 * `?beta=true`, as Claude Code and the Anthropic SDK call them.
 */
const messagesRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const claudeModels = parseClaudeModels(fastify.config.PROXY_CLAUDE_MODELS)
  const signatures = fastify.thinkingSignatures
  const keyOf = (request: FastifyRequest): string => request.apiKeyName ?? ''
  const context = async (request: FastifyRequest): Promise<MessagesContext> =>
    ({ ...await fastify.turns.context(request), claudeModels, signatures, keyName: keyOf(request) })

  // Anthropic's SDKs show this header as the request id of an answer or error.
  fastify.addHook('onSend', async (request, reply) => { void reply.header('request-id', request.id) })

  fastify.post('/messages', {
    config: { dialect: 'messages' },
    schema: { body: MessagesRequestSchema, response: { 200: MessageSchema, ...errors } }
  }, async (request, reply) => {
    const turn = parseMessagesRequest(request.body, await context(request))
    if (turn.dropped.length > 0) request.log.info({ dropped: turn.dropped }, 'server tools and blocks that cannot be replayed here: dropped')
    const run = await fastify.turns.start(request, reply, turn)
    const assembler = new MessageAssembler({ model: turn.requestedModel, thinking: turn.thinking, signatures, keyName: keyOf(request) })
    if (!turn.stream) return (await foldAssembled(run.events, assembler)).message()
    return reply.sse(messagesSse(await run.ready(), assembler), messagesDialect)
  })

  fastify.post('/messages/count_tokens', {
    config: { dialect: 'messages' },
    schema: { body: CountTokensRequestSchema, response: { 200: CountTokensResponseSchema, ...errors } }
  }, async (request) => {
    const turn = parseMessagesRequest(request.body, await context(request))
    return { input_tokens: await countPromptTokens(turn.request.items, turn.request.tools) }
  })
}

export default messagesRoutes
