import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import type { Config } from '../src/config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
  }
}

export interface ConfigPluginOptions {
  config: Config
}

/** Exposes the configuration loaded (and validated) before the app was built. */
const configPlugin: FastifyPluginAsync<ConfigPluginOptions> = async (fastify, opts) => {
  fastify.decorate('config', opts.config)
}

export default fp(configPlugin, { name: 'config', fastify: '5.x' })
