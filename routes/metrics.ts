import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'

/** Prometheus text exposition of the app's registry. */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/metrics', async (_request, reply) => {
    const body = await fastify.metrics.registry.metrics()
    return await reply.header('content-type', fastify.metrics.registry.contentType).send(body)
  })
}

export default metricsRoutes
