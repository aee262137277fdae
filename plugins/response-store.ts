import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { MemoryResponseStore, type ResponseStore } from '../src/api/responses/store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Stored responses of `/v1/responses` (`GET`, `DELETE`, `previous_response_id`). */
    responseStore: ResponseStore
  }
}

/** Longest an expired response stays in memory on a quiet server. */
const SWEEP_MAX_MS = 60_000

/** The response store, bounded by the PROXY_RESPONSES_STORE_* limits, expired ones swept out. */
const responseStorePlugin: FastifyPluginAsync = async (fastify) => {
  const { PROXY_RESPONSES_STORE_MAX_ENTRIES, PROXY_RESPONSES_STORE_MAX_BYTES, PROXY_RESPONSES_STORE_TTL_MS } = fastify.config
  const store = new MemoryResponseStore({
    maxEntries: PROXY_RESPONSES_STORE_MAX_ENTRIES,
    maxBytes: PROXY_RESPONSES_STORE_MAX_BYTES,
    ttlMs: PROXY_RESPONSES_STORE_TTL_MS
  })
  const sweeper = setInterval(() => { store.sweep() }, Math.max(1000, Math.min(PROXY_RESPONSES_STORE_TTL_MS, SWEEP_MAX_MS)))
  sweeper.unref()
  fastify.addHook('onClose', async () => { clearInterval(sweeper) })
  fastify.decorate('responseStore', store)
}

export default fp(responseStorePlugin, { name: 'response-store', fastify: '5.x', dependencies: ['config'] })
