import cors, { type FastifyCorsOptions } from '@fastify/cors'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { originAllowed } from '../src/http/browser-policy.js'

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
 * preflights), for the origins of the browser policy (plugins/browser-guard.ts). Allowed headers
 * are matched by pattern, since the SDKs add `X-Stainless-*` headers that no fixed list keeps up with.
 */
const corsPlugin: FastifyPluginAsync = async (fastify) => {
  if (!fastify.config.PROXY_ENABLE_CORS) return
  const policy = fastify.browserPolicy
  await fastify.register(cors, {
    delegator: (request, callback) => {
      const requestOrigin = request.headers.origin
      const options: FastifyCorsOptions = {
        origin: policy.origins === '*' ? '*' : requestOrigin !== undefined && originAllowed(policy, requestOrigin, request.headers.host),
        // Every method a route answers: DELETE is `DELETE /v1/responses/{id}`.
        methods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
        allowedHeaders: allowedRequestHeaders(request.headers['access-control-request-headers']),
        exposedHeaders: ['x-request-id', 'retry-after'],
        maxAge: 600,
        strictPreflight: false
      }
      callback(null, options)
    }
  })
}

export default fp(corsPlugin, { name: 'cors', fastify: '5.x', dependencies: ['config', 'browser-guard'] })
