import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'

/** Echoes the request id (the client's x-request-id when well-formed) on every response. */
const requestIdPlugin: FastifyPluginAsync = async (fastify) => {
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id)
  })
}

export default fp(requestIdPlugin, { name: 'request-id', fastify: '5.x' })
