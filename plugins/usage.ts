import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ConfigError } from '../src/config.js'
import { UsageLedger, usageLogProblem } from '../src/usage/ledger.js'
import { adminNames } from '../src/usage/visibility.js'

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageLedger
    /** PROXY_ADMIN_KEY_NAMES: the key names that see every key's usage. */
    usageAdmins: ReadonlySet<string>
  }
}

/** How often changed rollups are saved beside the log (and at close). */
const SAVE_EVERY_MS = 30_000

/**
 * The usage ledger (TOKEN_LOG_PATH) and its index, flushed, saved and closed with the server. A
 * path that is not a regular file (/dev/zero, a directory) is refused at start; SIGHUP reopens
 * the log, as logrotate's postrotate expects. The index is brought up to date in the background
 * once the server is ready, so the first query after a restart rarely waits for it.
 */
const usagePlugin: FastifyPluginAsync = async (fastify) => {
  const { TOKEN_LOG_PATH, TOKEN_LOG_ROTATE, TOKEN_LOG_ROTATE_BYTES, PROXY_ADMIN_KEY_NAMES } = fastify.config
  const problem = usageLogProblem(TOKEN_LOG_PATH)
  if (problem !== undefined) throw new ConfigError([problem])
  const log = fastify.log.child({ plugin: 'usage' })
  const ledger = new UsageLedger(TOKEN_LOG_PATH, log, { maxBytes: TOKEN_LOG_ROTATE_BYTES, daily: TOKEN_LOG_ROTATE === 'daily' })
  const admins = adminNames(PROXY_ADMIN_KEY_NAMES)
  const onHangup = (): void => {
    fastify.log.info('SIGHUP: reopening the usage log')
    ledger.reopen()
  }
  process.on('SIGHUP', onHangup)
  fastify.decorate('usage', ledger)
  fastify.decorate('usageAdmins', admins)

  const saver = setInterval(() => { void ledger.index.save() }, SAVE_EVERY_MS)
  saver.unref()
  fastify.addHook('onReady', async () => {
    ledger.index.refresh().catch((err: unknown) => { log.warn({ err }, 'usage index: could not read the usage log') })
  })
  fastify.addHook('onClose', async () => {
    clearInterval(saver)
    process.off('SIGHUP', onHangup)
    await ledger.close()
  })
}

export default fp(usagePlugin, { name: 'usage', fastify: '5.x', dependencies: ['config'] })
