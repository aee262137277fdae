import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ThinkingSignatures } from '../src/api/messages/thinking-signature.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Signs `/v1/messages` thinking blocks; one per server, so every prefix accepts the others' signatures. */
    thinkingSignatures: ThinkingSignatures
  }
}

const thinkingSignaturesPlugin: FastifyPluginAsync = async (fastify) => {
  fastify.decorate('thinkingSignatures', new ThinkingSignatures(fastify.config.PROXY_THINKING_SIGNATURE_SECRET))
}

export default fp(thinkingSignaturesPlugin, { name: 'thinking-signatures', fastify: '5.x', dependencies: ['config'] })
