import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { unauthorized } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** `models`: public unless PROXY_PROTECT_MODELS=true. */
    auth?: 'models' | undefined
  }
}

export interface AuthPluginOptions {
  /** Let every request of this scope through (e.g. PROXY_METRICS_PUBLIC=true). */
  public?: boolean | undefined
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

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
 * API-key check for the scope it is registered in. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither a key's length nor its prefix shows in the time taken.
 */
const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  if (opts.public === true) return
  const expected = digest(fastify.config.PROXY_API_KEY)
  fastify.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.auth === 'models' && !fastify.config.PROXY_PROTECT_MODELS) return
    const key = presentedKey(request)
    const ok = timingSafeEqual(digest(key ?? ''), expected) && key !== undefined
    if (!ok) throw unauthorized(key === undefined ? 'Missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.' : undefined)
  })
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['config'] })
