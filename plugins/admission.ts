import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { Admission } from '../src/turns/admission.js'

declare module 'fastify' {
  interface FastifyInstance {
    admission: Admission
  }
}

/** Admission control: PROXY_MAX_CONCURRENCY turns at once, PROXY_MAX_QUEUE waiting, then 429. */
const admissionPlugin: FastifyPluginAsync = async (fastify) => {
  const { PROXY_MAX_CONCURRENCY, PROXY_MAX_QUEUE, PROXY_QUEUE_TIMEOUT_MS } = fastify.config
  fastify.decorate('admission', new Admission({
    maxConcurrency: PROXY_MAX_CONCURRENCY,
    maxQueue: PROXY_MAX_QUEUE,
    queueTimeoutMs: PROXY_QUEUE_TIMEOUT_MS
  }))
}

export default fp(admissionPlugin, { name: 'admission', fastify: '5.x', dependencies: ['config'] })
