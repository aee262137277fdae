import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConversationStatsSchema, WorkerStatusSchema } from '../src/backends/types.js'

const ReadinessSchema = Type.Object({
  ok: Type.Boolean(),
  backend: Type.String(),
  reason: Type.Optional(Type.String()),
  workers: Type.Optional(Type.Array(WorkerStatusSchema)),
  conversations: Type.Optional(ConversationStatsSchema),
  active: Type.Integer(),
  queued: Type.Integer()
})

/** Liveness (cheap, always public) and readiness (a Codex backend that can take a turn). */
const healthRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/healthz', {
    schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } }
  }, async () => ({ ok: true }))

  fastify.get('/readyz', {
    schema: { response: { 200: ReadinessSchema, 503: ReadinessSchema } }
  }, async (_request, reply) => {
    const health = fastify.codex.health()
    const { active, queued } = fastify.admission.stats()
    const body = {
      ok: health.ready,
      backend: fastify.codex.kind,
      active,
      queued,
      ...(health.reason === undefined ? {} : { reason: health.reason }),
      ...(health.workers === undefined ? {} : { workers: health.workers }),
      ...(health.conversations === undefined ? {} : { conversations: health.conversations })
    }
    return await reply.code(health.ready ? 200 : 503).send(body)
  })
}

export default healthRoutes
