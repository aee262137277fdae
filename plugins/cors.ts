import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'

/** Request headers a browser client may send: the SDKs' own, every `X-Stainless-*` and `anthropic-*`. */
const ALLOWED_HEADER = /^(authorization|content-type|accept|x-api-key|x-request-id|x-no-keepalive|openai-[a-z0-9-]+|anthropic-[a-z0-9-]+|x-stainless-[a-z0-9-]+)$/

/** The headers of a preflight's Access-Control-Request-Headers that this API accepts. */
export function allowedRequestHeaders (requested: string | undefined): string[] {
  return (requested ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => ALLOWED_HEADER.test(h))
}

/**
 * CORS for browser and Electron clients (PROXY_ENABLE_CORS; off when the edge answers
 * preflights). Allowed headers are matched by pattern, since the SDKs add `X-Stainless-*`
 * headers that no fixed list keeps up with.
 */
const corsPlugin: FastifyPluginAsync = async (fastify) => {
  const { PROXY_ENABLE_CORS, PROXY_CORS_ORIGINS } = fastify.config
  if (!PROXY_ENABLE_CORS) return
  const origins = PROXY_CORS_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o.length > 0)
  const origin = origins.length === 0 || origins.includes('*') ? '*' : origins
  await fastify.register(cors, {
    delegator: (request, callback) => {
      const options: FastifyCorsOptions = {
        origin,
        methods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
        allowedHeaders: allowedRequestHeaders(request.headers['access-control-request-headers']),
        exposedHeaders: ['x-request-id', 'retry-after'],
        maxAge: 600,
        strictPreflight: false
      }
      callback(null, options)
    }
  })
}

export default fp(corsPlugin, { name: 'cors', fastify: '5.x', dependencies: ['config'] })
