import rateLimit from '@fastify/rate-limit'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { rateLimited } from '../src/errors.js'
import { TokenBucketStore } from '../src/http/token-bucket.js'

/**
 * The in-app request rate limit per API key (PROXY_RATE_LIMIT_ENABLED, for deployments without
 * Traefik): the same average and burst the edge applies (RATE_LIMIT_AVG, RATE_LIMIT_BURST).
 * Registered after auth in the API scope, so the key's name is known and a wrong key is a 401
 * first; requests to public routes (no key) are not limited here.
 */
const rateLimitPlugin: FastifyPluginAsync = async (fastify) => {
  const { PROXY_RATE_LIMIT_ENABLED, RATE_LIMIT_AVG, RATE_LIMIT_BURST } = fastify.config
  if (!PROXY_RATE_LIMIT_ENABLED) return
  await fastify.register(rateLimit, {
    global: true,
    hook: 'onRequest',
    max: RATE_LIMIT_BURST,
    // A full bucket refills in BURST / AVG seconds: RATE_LIMIT_AVG requests per second on average.
    timeWindow: Math.ceil((RATE_LIMIT_BURST / RATE_LIMIT_AVG) * 1000),
    store: TokenBucketStore,
    keyGenerator: (request) => request.apiKeyName ?? '',
    allowList: (request) => request.apiKeyName === null,
    addHeaders: { 'x-ratelimit-limit': true, 'x-ratelimit-remaining': true, 'x-ratelimit-reset': true, 'retry-after': false },
    errorResponseBuilder: (_request, context) =>
      rateLimited(`Too many requests for this API key (RATE_LIMIT_AVG=${RATE_LIMIT_AVG}/s, burst ${RATE_LIMIT_BURST}).`, context.ttl / 1000)
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit', fastify: '5.x', dependencies: ['config', 'auth'] })
