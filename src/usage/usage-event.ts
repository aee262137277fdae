import type { DialectName } from '../api/dialect.js'
import { NO_USAGE } from '../backends/types.js'
import type { TurnOutcome } from '../turns/run-turn.js'
import type { UsageEvent } from './ledger.js'

export interface UsageEventInfo {
  route: string
  method: string
  dialect: DialectName
  /** The API key's name (never the key). */
  keyName: string
  requestedModel: string
  effectiveModel: string
  stream: boolean
  userAgent: string | undefined
  requestId: string
}

/** The ledger line for a finished turn: Codex's own counts when it reported them, else the tokenizer's estimate. */
export function usageEventFor (outcome: TurnOutcome, info: UsageEventInfo, now = new Date()): UsageEvent {
  const usage = outcome.usage ?? NO_USAGE
  const event: UsageEvent = {
    ts: now.toISOString(),
    route: info.route,
    method: info.method,
    requested_model: info.requestedModel,
    effective_model: info.effectiveModel,
    stream: info.stream,
    prompt_tokens_est: usage.promptTokens,
    completion_tokens_est: usage.completionTokens,
    total_tokens_est: usage.totalTokens,
    duration_ms: Math.round(outcome.durationMs),
    status: outcome.status,
    user_agent: (info.userAgent ?? '').slice(0, 256),
    dialect: info.dialect,
    key_name: info.keyName,
    usage_source: outcome.usageSource,
    request_id: info.requestId
  }
  if (usage.cachedTokens !== undefined) event.cached_tokens = usage.cachedTokens
  if (usage.reasoningTokens !== undefined) event.reasoning_tokens = usage.reasoningTokens
  return event
}
