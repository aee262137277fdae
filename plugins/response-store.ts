import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { MemoryResponseStore, type ResponseStore } from '../src/api/responses/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Stored responses of `/v1/responses` (`GET`, `DELETE`, `previous_response_id`). */
    responseStore: ResponseStore
  }
}

export interface ResponseStorePluginOptions {
  /** Another store than the in-memory one (tests, embedding). */
  store?: ResponseStore | undefined
}

/** The response store, bounded by the PROXY_RESPONSES_STORE_* limits. */
const responseStorePlugin: FastifyPluginAsync<ResponseStorePluginOptions> = async (fastify, opts) => {
  const { PROXY_RESPONSES_STORE_MAX_ENTRIES, PROXY_RESPONSES_STORE_MAX_BYTES, PROXY_RESPONSES_STORE_TTL_MS } = fastify.config
  fastify.decorate('responseStore', opts.store ?? new MemoryResponseStore({
    maxEntries: PROXY_RESPONSES_STORE_MAX_ENTRIES,
    maxBytes: PROXY_RESPONSES_STORE_MAX_BYTES,
    ttlMs: PROXY_RESPONSES_STORE_TTL_MS
  }))
}

export default fp(responseStorePlugin, { name: 'response-store', fastify: '5.x', dependencies: ['config'] })
