import { createHash, timingSafeEqual } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { rateLimited, unauthorized } from '../src/errors.js'
import { TokenBuckets } from '../src/http/token-bucket.js'

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

/** Every key, whatever its length, becomes a 32-byte SHA-256 digest before it is compared. */
export const keyDigest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest()

/**
 * The one comparison of a presented key (undefined when none was sent) with the expected key's
 * digest. Both sides are always 32 bytes, so timingSafeEqual never sees a length difference and
 * takes the same time for every wrong key; a missing key is compared too (as ''), so it takes the
 * same path. Returns the presented key's digest as well: the rate limiter's bucket id.
 */
export function checkKey (presented: string | undefined, expected: Buffer): { ok: boolean, digest: Buffer } {
  const digest = keyDigest(presented ?? '')
  return { ok: timingSafeEqual(digest, expected) && presented !== undefined, digest }
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
 * API-key check for the scope it is registered in. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither a key's length nor its prefix shows in the time taken.
 */
const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (fastify, opts) => {
  if (opts.public === true) return
  const { PROXY_API_KEY, PROXY_PROTECT_MODELS, PROXY_RATE_LIMIT_ENABLED, RATE_LIMIT_AVG, RATE_LIMIT_BURST } = fastify.config
  const expected = keyDigest(PROXY_API_KEY)
  // For deployments without Traefik: the same average/burst the edge would apply, per key.
  const buckets = PROXY_RATE_LIMIT_ENABLED ? new TokenBuckets(RATE_LIMIT_AVG, RATE_LIMIT_BURST) : undefined
  fastify.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.auth === 'models' && !PROXY_PROTECT_MODELS) return
    const key = presentedKey(request)
    const { ok, digest: presented } = checkKey(key, expected)
    if (!ok) throw unauthorized(key === undefined ? 'Missing API key. Send it as `Authorization: Bearer <key>` or `x-api-key`.' : undefined)
    const wait = buckets?.take(presented.toString('base64')) ?? 0
    if (wait > 0) throw rateLimited(`Too many requests for this API key (RATE_LIMIT_AVG=${RATE_LIMIT_AVG}/s, burst ${RATE_LIMIT_BURST}).`, wait)
  })
}

export default fp(authPlugin, { name: 'auth', fastify: '5.x', dependencies: ['config'] })
