import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'
import { invalidRequest } from '../../src/errors.js'
import { UsageEventSchema } from '../../src/usage/ledger.js'
import { parseTime } from '../../src/usage/query.js'
import { StringEnum } from '../../src/api/string-enum.js'

const DAY_MS = 86_400_000
const MAX_RAW = 10_000

const BucketSchema = Type.Object({
  ts: Type.String(),
  requests: Type.Integer(),
  prompt_tokens_est: Type.Integer(),
  completion_tokens_est: Type.Integer(),
  total_tokens_est: Type.Integer()
})

const UsageSummarySchema = Type.Object({
  start: Type.String(),
  end: Type.String(),
  group: Type.Optional(StringEnum(['hour', 'day'] as const)),
  total_requests: Type.Integer(),
  prompt_tokens_est: Type.Integer(),
  completion_tokens_est: Type.Integer(),
  total_tokens_est: Type.Integer(),
  buckets: Type.Optional(Type.Array(BucketSchema))
})

function timeParam (value: string | undefined, name: string, fallback: Date): Date {
  if (value === undefined || value === '') return fallback
  const parsed = parseTime(value)
  if (parsed === undefined) throw invalidRequest(`\`${name}\` must be an ISO date-time or epoch seconds/milliseconds.`, name, 'invalid_value')
  return parsed
}

const usageRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/usage', {
    schema: {
      querystring: Type.Object({
        start: Type.Optional(Type.String({ maxLength: 64 })),
        end: Type.Optional(Type.String({ maxLength: 64 })),
        group: Type.Optional(StringEnum(['hour', 'day'] as const))
      }),
      response: { 200: UsageSummarySchema, '4xx': ErrorEnvelopeSchema }
    }
  }, async (request) => {
    const end = timeParam(request.query.end, 'end', new Date())
    const start = timeParam(request.query.start, 'start', new Date(end.getTime() - DAY_MS))
    if (start > end) throw invalidRequest('`start` must not be after `end`.', 'start', 'invalid_value')
    return await fastify.usage.summarize(start, end, request.query.group)
  })

  fastify.get('/usage/raw', {
    schema: {
      querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })) }),
      response: { 200: Type.Object({ count: Type.Integer(), events: Type.Array(UsageEventSchema) }), '4xx': ErrorEnvelopeSchema }
    }
  }, async (request) => {
    const limit = Math.min(MAX_RAW, Math.max(1, Number(request.query.limit ?? 200)))
    const events = await fastify.usage.tail(limit)
    return { count: events.length, events }
  })
}

export default usageRoutes
