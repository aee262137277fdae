import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { usesDefaultKey } from '../src/config.js'
import { ApiError, invalidRequest } from '../src/errors.js'
import { browserPolicy, hostAllowed, hostName, originAllowed, type BrowserPolicy } from '../src/http/browser-policy.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Which browser origins and host names this server serves (src/http/browser-policy.ts). */
    browserPolicy: BrowserPolicy
  }
}

const shown = (value: string): string => JSON.stringify(value.slice(0, 200))

/**
 * Keeps web pages out of an install that any page could otherwise use (the default key): only
 * expected Host names (DNS rebinding) and, with the default key, only allowed Origins are
 * served. Runs first, before CORS answers a preflight.
 */
const browserGuard: FastifyPluginAsync = async (fastify) => {
  const { config } = fastify
  const defaultKey = usesDefaultKey(config)
  const policy = browserPolicy({ corsOrigins: config.PROXY_CORS_ORIGINS, allowedHosts: config.PROXY_ALLOWED_HOSTS, defaultKey })
  fastify.decorate('browserPolicy', policy)
  // An edge that answers CORS itself (PROXY_ENABLE_CORS=false) decides about origins.
  const guardOrigins = defaultKey && config.PROXY_ENABLE_CORS

  fastify.addHook('onRequest', async (request) => {
    const host = request.headers.host
    if (host === undefined || host === '') throw invalidRequest('The request has no Host header.', null, 'missing_host')
    if (!hostAllowed(policy, host)) {
      throw new ApiError(403, `This server does not answer to the host name ${shown(hostName(host))}; add it to PROXY_ALLOWED_HOSTS to allow it.`, {
        kind: 'permission', code: 'host_not_allowed'
      })
    }
    const origin = request.headers.origin
    if (guardOrigins && origin !== undefined && !originAllowed(policy, origin, host)) {
      throw new ApiError(403, `Web pages from ${shown(origin)} may not use this server while it runs with the default API key; set PROXY_API_KEY, or add the origin to PROXY_CORS_ORIGINS.`, {
        kind: 'permission', code: 'origin_not_allowed'
      })
    }
  })
}

export default fp(browserGuard, { name: 'browser-guard', fastify: '5.x', dependencies: ['config'] })
