import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { DIALECT_ROUTE } from '../src/api/dialect.js'
import { ANONYMOUS_KEY_NAME } from '../src/metric-labels.js'
import { warmTokenizer } from '../src/tokens/tokenizer.js'
import type { ParseContext, TurnPlan } from '../src/turns/plan.js'
import { TurnPipeline, type StartedTurn } from '../src/turns/pipeline.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The shared turn pipeline every dialect's route runs its turns through. */
    turns: {
      context: (request: FastifyRequest) => Promise<ParseContext>
      start: (request: FastifyRequest, reply: FastifyReply, plan: TurnPlan) => Promise<StartedTurn>
    }
  }
}

/** Binds the pipeline (src/turns/pipeline.ts) to the HTTP request: its id, key, user agent and turn signal. */
const turnsPlugin: FastifyPluginAsync = async (fastify) => {
  const pipeline = new TurnPipeline({
    config: fastify.config,
    backend: fastify.codex,
    admission: fastify.admission,
    ledger: fastify.usage,
    usageAdmins: fastify.usageAdmins,
    observe: (outcome, event) => { fastify.metrics.observeTurn(outcome, event) }
  })
  // A turn without Codex's counts is estimated with the tokenizer, as count_tokens counts with it:
  // loaded once at start, not on the first request that needs it.
  fastify.addHook('onReady', async () => { warmTokenizer() })
  fastify.decorate('turns', {
    context: async (request: FastifyRequest) => await pipeline.context(request.id),
    start: async (request: FastifyRequest, reply: FastifyReply, plan: TurnPlan) => await pipeline.start(plan, {
      requestId: request.id,
      route: DIALECT_ROUTE[plan.dialect],
      method: request.method,
      keyName: request.apiKeyName ?? ANONYMOUS_KEY_NAME,
      userAgent: request.headers['user-agent'],
      signal: reply.turnSignal()
    })
  })
}

export default fp(turnsPlugin, { name: 'turns', fastify: '5.x', dependencies: ['config', 'codex', 'admission', 'usage', 'metrics', 'turn-signal'] })
