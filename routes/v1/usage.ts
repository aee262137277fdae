import { Type } from '@sinclair/typebox'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DIALECT_ROUTE, type DialectName } from '../../src/api/dialect.js'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'
import { invalidRequest } from '../../src/errors.js'
import { listOf } from '../../src/http/browser-policy.js'
import { UsageEventSchema } from '../../src/usage/ledger.js'
import { parseTime } from '../../src/usage/query.js'
import { UsageBySchema, UsageGroupSchema, UsageSummarySchema } from '../../src/usage/summary-schema.js'
import { viewerFor, visibleKeys } from '../../src/usage/visibility.js'

const DAY_MS = 86_400_000
const MAX_RAW = 10_000
const MAX_FILTER_VALUES = 32

const filterParam = (description: string) => Type.Optional(Type.String({ maxLength: 2048, description: `${description}; several, comma-separated.` }))
const FiltersSchema = {
  key: filterParam('Only this API key name'),
  model: filterParam('Only this model (the one Codex ran)'),
  route: filterParam('Only this route: `chat`, `responses`, `messages`, or the path the log records (`/v1/chat/completions`)')
}

function timeParam (value: string | undefined, name: string, fallback: Date): Date {
  if (value === undefined || value === '') return fallback
  const parsed = parseTime(value)
  if (parsed === undefined) throw invalidRequest(`\`${name}\` must be an ISO date-time or epoch seconds/milliseconds.`, name, 'invalid_value')
  return parsed
}

function listParam (value: string | undefined, name: string): string[] | undefined {
  if (value === undefined) return undefined
  const values = listOf(value)
  if (values.length === 0 || values.length > MAX_FILTER_VALUES || values.some((v) => v.length > 256)) {
    throw invalidRequest(`\`${name}\` must be 1 to ${MAX_FILTER_VALUES} comma-separated values of at most 256 characters.`, name, 'invalid_value')
  }
  return values
}

/** Routes as the log records them: a dialect's name stands for its route. */
function routeParam (value: string | undefined): string[] | undefined {
  return listParam(value, 'route')?.map((r) => (Object.hasOwn(DIALECT_ROUTE, r) ? DIALECT_ROUTE[r as DialectName] : r))
}

/**
 * Usage from the log: totals, buckets and breakdowns (`/usage`, from the hourly rollups) and the
 * latest events (`/usage/raw`). A key in PROXY_ADMIN_KEY_NAMES sees every key; any other key its
 * own only (src/usage/visibility.ts).
 */
const usageRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const index = fastify.usage.index
  const admins = fastify.usageAdmins

  fastify.get('/usage', {
    schema: {
      querystring: Type.Object({
        start: Type.Optional(Type.String({ maxLength: 64 })),
        end: Type.Optional(Type.String({ maxLength: 64 })),
        group: Type.Optional(UsageGroupSchema),
        by: Type.Optional(UsageBySchema),
        ...FiltersSchema
      }),
      response: { 200: UsageSummarySchema, '4xx': ErrorEnvelopeSchema }
    }
  }, async (request) => {
    const q = request.query
    const end = timeParam(q.end, 'end', new Date())
    const start = timeParam(q.start, 'start', new Date(end.getTime() - DAY_MS))
    if (start > end) throw invalidRequest('`start` must not be after `end`.', 'start', 'invalid_value')
    const viewer = viewerFor(request.apiKeyName, admins)
    return await index.summarize({
      start,
      end,
      group: q.group,
      by: q.by,
      keys: visibleKeys(viewer, listParam(q.key, 'key')),
      models: listParam(q.model, 'model'),
      routes: routeParam(q.route),
      scope: viewer.scope
    })
  })

  fastify.get('/usage/raw', {
    schema: {
      querystring: Type.Object({ limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,6}$' })), ...FiltersSchema }),
      response: {
        200: Type.Object({ count: Type.Integer(), events: Type.Array(UsageEventSchema) }),
        '4xx': ErrorEnvelopeSchema
      }
    }
  }, async (request) => {
    const q = request.query
    const limit = Math.min(MAX_RAW, Math.max(1, Number(q.limit ?? 200)))
    const viewer = viewerFor(request.apiKeyName, admins)
    const events = await index.recent(limit, {
      keys: visibleKeys(viewer, listParam(q.key, 'key')),
      models: listParam(q.model, 'model'),
      routes: routeParam(q.route)
    })
    return { count: events.length, events }
  })
}

export default usageRoutes
