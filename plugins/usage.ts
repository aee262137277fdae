import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { ConfigError } from '../src/config.js'
import { UsageLedger, usageLogProblem } from '../src/usage/ledger.js'

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageLedger
  }
}

/**
 * The usage ledger (TOKEN_LOG_PATH), flushed and closed with the server. A path that is not a
 * regular file (/dev/zero, a directory) is refused at start; SIGHUP reopens the log, as
 * logrotate's postrotate expects.
 */
const usagePlugin: FastifyPluginAsync = async (fastify) => {
  const { TOKEN_LOG_PATH } = fastify.config
  const problem = usageLogProblem(TOKEN_LOG_PATH)
  if (problem !== undefined) throw new ConfigError([problem])
  const ledger = new UsageLedger(TOKEN_LOG_PATH, fastify.log.child({ plugin: 'usage' }))
  const onHangup = (): void => {
    fastify.log.info('SIGHUP: reopening the usage log')
    ledger.reopen()
  }
  process.on('SIGHUP', onHangup)
  fastify.decorate('usage', ledger)
  fastify.addHook('onClose', async () => {
    process.off('SIGHUP', onHangup)
    await ledger.close()
  })
}

export default fp(usagePlugin, { name: 'usage', fastify: '5.x', dependencies: ['config'] })
