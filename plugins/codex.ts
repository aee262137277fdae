import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { createBackend } from '../src/backends/index.js'
import type { CodexBackend } from '../src/backends/types.js'

declare module 'fastify' {
  interface FastifyInstance {
    codex: CodexBackend
  }
}

export interface CodexPluginOptions {
  /** Use this backend instead of the one CODEX_BACKEND names (tests, embedding). */
  backend?: CodexBackend | undefined
}

/**
 * The Codex backend behind one interface. It is started here (app-server workers warm up in the
 * background; /readyz reports when they are ready) and stopped when the server closes.
 */
const codexPlugin: FastifyPluginAsync<CodexPluginOptions> = async (fastify, opts) => {
  const backend = opts.backend ?? createBackend(fastify.config, fastify.log.child({ plugin: 'codex' }))
  fastify.decorate('codex', backend)
  await backend.start()
  fastify.addHook('onClose', async () => { await backend.close() })
}

export default fp(codexPlugin, { name: 'codex', fastify: '5.x', dependencies: ['config'] })
