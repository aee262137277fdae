import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { UsageLedger } from '../src/usage/ledger.js'

declare module 'fastify' {
  interface FastifyInstance {
    usage: UsageLedger
  }
}

/** The usage ledger (TOKEN_LOG_PATH), flushed and closed with the server. */
const usagePlugin: FastifyPluginAsync = async (fastify) => {
  const ledger = new UsageLedger(fastify.config.TOKEN_LOG_PATH, fastify.log.child({ plugin: 'usage' }))
  fastify.decorate('usage', ledger)
  fastify.addHook('onClose', async () => { await ledger.close() })
}

export default fp(usagePlugin, { name: 'usage', fastify: '5.x', dependencies: ['config'] })
