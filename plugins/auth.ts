import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { unauthorized } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `models`: public unless PROXY_PROTECT_MODELS=true. */
    auth?: 'models' | undefined
  }
  interface FastifyRequest {
    /** The name of the API key the request carried (set by the auth hook; null on public routes). */
    apiKeyName: string | null
  }
}

export interface AuthPluginOptions {
  /** Let every request of this scope through (e.g. PROXY_METRICS_PUBLIC=true). */
  public?: boolean | undefined
}

/** The key a client presented: `Authorization: Bearer <key>` or `x-api-key`. */
function presentedKey (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (typeof header === 'string') {
    const match = /^Bearer\s+(.+)$/i.exec(header.trim())
    if (match?.[1] !== undefined) return match[1].trim()
  }
  const apiKey = request.headers['x-api-key']
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : undefined
}

/**
 * API-key check for the scope it is registered in: the key is compared in constant time with
 * every configured key, and its name (never the key) is what the request is known by from here on.
 */
const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  if (!fastify.hasRequestDecorator('apiKeyName')) fastify.decorateRequest('apiKeyName', null)
  if (opts.public === true) return
  const { PROXY_PROTECT_MODELS } = fastify.config
  const keys = fastify.apiKeys
  fastify.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.auth === 'models' && !PROXY_PROTECT_MODELS) return
    const key = presentedKey(request)
    const name = keys.match(key)
    if (name === undefined) throw unauthorized(key === undefined ? 'Missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.' : undefined)
    request.apiKeyName = name
  })
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['config', 'api-keys'] })
