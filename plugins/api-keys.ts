import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { configuredKeys, keysFileStamp } from '../src/auth/api-keys.js'
import { KeyRing } from '../src/auth/key-ring.js'
import { ConfigError } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The API keys this server accepts, by name (PROXY_API_KEY, PROXY_API_KEYS, PROXY_API_KEYS_FILE). */
    apiKeys: KeyRing
  }
}

const RELOAD_CHECK_MS = 2000

/**
 * The named API keys, checked at start (every problem reported, no key shown). A keys file is
 * re-read when it changes, so keys are added and revoked without a restart; a file that turns
 * invalid keeps the keys it had, and says why in the log.
 */
const apiKeysPlugin: FastifyPluginAsync = async (fastify) => {
  const sources = fastify.config
  const initial = configuredKeys(sources)
  if (initial.problems.length > 0) throw new ConfigError(initial.problems)
  const ring = new KeyRing(initial.keys)
  fastify.decorate('apiKeys', ring)
  fastify.log.info({ keys: ring.names() }, 'API keys loaded')

  const file = sources.PROXY_API_KEYS_FILE
  if (file === undefined) return
  let stamp = keysFileStamp(file)
  const timer = setInterval(() => {
    const now = keysFileStamp(file)
    if (now === stamp) return
    stamp = now
    const next = configuredKeys(sources)
    if (next.problems.length > 0) {
      fastify.log.error({ problems: next.problems }, 'PROXY_API_KEYS_FILE changed but is invalid: keeping the keys it had')
      return
    }
    ring.replace(next.keys)
    fastify.log.info({ keys: ring.names() }, 'PROXY_API_KEYS_FILE changed: keys reloaded')
  }, RELOAD_CHECK_MS)
  timer.unref()
  fastify.addHook('onClose', async () => { clearInterval(timer) })
}

export default fp(apiKeysPlugin, { name: 'api-keys', fastify: '5.x', dependencies: ['config'] })
