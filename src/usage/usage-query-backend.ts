import type { BackendEvent, CodexBackend, CompletionRequest } from '../backends/types.js'
import type { UsageLedger } from './ledger.js'
import { formatUsageSummary, parseUsageQuery, type UsageRange } from './query.js'
import { viewerFor } from './visibility.js'

/** The text of the conversation's last user message, if the conversation ends with one. */
export function lastUserText (request: CompletionRequest): string | undefined {
  const last = request.items.at(-1)
  if (last?.type !== 'message' || last.role !== 'user') return undefined
  return last.content.map((p) => (p.type === 'text' ? p.text : '')).join('')
}

/** A usage query in the request ("usage today", …), answered from the ledger. */
export function usageQueryOf (request: CompletionRequest, now?: Date): UsageRange | undefined {
  const text = lastUserText(request)
  return text === undefined ? undefined : parseUsageQuery(text, now)
}

/**
 * Answers a usage query as if it were a turn, so the chat route streams or folds it like any
 * other answer, and it is counted like any other request; no Codex process is involved.
 */
export function usageQueryBackend (ledger: UsageLedger, range: UsageRange, admins: ReadonlySet<string>): Pick<CodexBackend, 'complete'> {
  return {
    async * complete (request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
      yield { type: 'started' }
      // Only what the caller's key may see: its own usage, or every key's for an admin key.
      const viewer = viewerFor(request.owner ?? null, admins)
      const summary = await ledger.index.summarize({ ...range, keys: viewer.keys, scope: viewer.scope })
      signal.throwIfAborted()
      yield { type: 'text', itemId: 'msg_usage', text: formatUsageSummary(summary) }
      yield { type: 'done', finishReason: 'stop' }
    }
  }
}
