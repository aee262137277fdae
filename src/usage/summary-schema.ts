import { Type, type Static } from '@sinclair/typebox'
import { StringEnum } from '../api/string-enum.js'

export const UsageGroupSchema = StringEnum(['hour', 'day'] as const)
export type UsageGroup = Static<typeof UsageGroupSchema>
export const UsageBySchema = StringEnum(['key', 'model', 'route'] as const)
export type UsageBy = Static<typeof UsageBySchema>
export const UsageScopeSchema = StringEnum(['all', 'own'] as const, {
  description: 'all: an admin key (PROXY_ADMIN_KEY_NAMES) sees every key; own: only the calling key\'s usage.'
})
export type UsageScope = Static<typeof UsageScopeSchema>

const count = (description: string) => Type.Integer({ minimum: 0, description })

/** The sums every total, bucket and breakdown row has (besides its request count). */
const sums = {
  prompt_tokens_est: count('Input tokens: Codex\'s own count when it reported one (see estimated_requests), else ~4 characters a token; cached tokens included.'),
  completion_tokens_est: count('Output tokens, reasoning tokens included; Codex\'s count or the estimate.'),
  total_tokens_est: count('prompt + completion.'),
  cached_tokens: count('Input tokens served from the upstream\'s prompt cache (part of prompt_tokens_est).'),
  reasoning_tokens: count('Output tokens spent on reasoning (part of completion_tokens_est).'),
  error_requests: count('Requests answered with a status of 400 or more.'),
  estimated_requests: count('Requests whose counts are the ~4 characters a token estimate (Codex reported none).'),
  total_duration_ms: count('Sum of the requests\' durations.')
}

export const UsageRowSchema = Type.Object({
  name: Type.String({ description: 'The key name, the model Codex ran, or the route.' }),
  requests: count('Requests.'),
  ...sums
})
export type UsageRow = Static<typeof UsageRowSchema>

export const UsageBucketSchema = Type.Object({
  ts: Type.String({ description: 'Start of the hour or day (UTC).' }),
  requests: count('Requests.'),
  ...sums,
  breakdown: Type.Optional(Type.Array(UsageRowSchema, { description: 'With `by`: this bucket by key, model or route.' }))
})
export type UsageBucket = Static<typeof UsageBucketSchema>

const names = Type.Array(Type.String())

/** `GET /v1/usage`: the original service's fields first, all still there; the rest were added. */
export const UsageSummarySchema = Type.Object({
  start: Type.String(),
  end: Type.String(),
  group: Type.Optional(UsageGroupSchema),
  by: Type.Optional(UsageBySchema),
  scope: Type.Optional(UsageScopeSchema),
  filters: Type.Optional(Type.Object({ key: Type.Optional(names), model: Type.Optional(names), route: Type.Optional(names) })),
  total_requests: count('Requests.'),
  ...sums,
  buckets: Type.Optional(Type.Array(UsageBucketSchema, { description: 'With `group`: the buckets that had requests, oldest first.' })),
  breakdown: Type.Optional(Type.Array(UsageRowSchema, { description: 'With `by`: totals by key, model or route, largest first.' }))
})
export type UsageSummary = Static<typeof UsageSummarySchema>
