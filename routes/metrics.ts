import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiError } from '../src/errors.js'

/**
 * Prometheus text exposition of the app's registry. Its series carry every key's name and token
 * counts, so behind the key only an admin key (PROXY_ADMIN_KEY_NAMES) may read it, as with
 * `/v1/usage`; PROXY_METRICS_PUBLIC=true opens it to anyone who can reach it.
 */
const metricsRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const admins = fastify.usageAdmins
  fastify.get('/metrics', {
    preHandler: async (request) => {
      if (fastify.config.PROXY_METRICS_PUBLIC || admins.has(request.apiKeyName ?? '')) return
      throw new ApiError(403, '/metrics shows every key\'s usage: only keys listed in PROXY_ADMIN_KEY_NAMES may read it.', { kind: 'permission', code: 'metrics_not_visible' })
    }
  }, async (_request, reply) => {
    const body = await fastify.metrics.registry.metrics()
    return await reply.header('content-type', fastify.metrics.registry.contentType).send(body)
  })
}

export default metricsRoutes
