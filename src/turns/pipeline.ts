import type { BackendEvent, CodexBackend, CompletionRequest } from '../backends/types.js'
import type { Config } from '../config.js'
import { inlineRemoteImages } from '../images/inline-images.js'
import type { UsageEvent, UsageLedger } from '../usage/ledger.js'
import { usageEventFor } from '../usage/usage-event.js'
import { usageQueryBackend, usageQueryOf } from '../usage/usage-query-backend.js'
import type { Admission } from './admission.js'
import { assertSupported } from './checks.js'
import type { ParseContext, TurnPlan } from './plan.js'
import { prefetch } from './prefetch.js'
import { runTurn, type TurnOutcome } from './run-turn.js'

/** Who asked for a turn, as the HTTP layer knows it. */
export interface TurnCaller {
  requestId: string
  /** The route as the usage log records it (`/v1/chat/completions`). */
  route: string
  method: string
  /** The name of the API key the request was made with. */
  keyName: string
  userAgent: string | undefined
  /** Aborts when the client is gone (unless PROXY_KILL_ON_DISCONNECT=false) or the server shuts down. */
  signal: AbortSignal
}

export interface StartedTurn {
  /** The request as the backend gets it (remote images inlined). */
  request: CompletionRequest
  /** The turn's events: admitted, limited, recorded in the ledger once it settles. */
  events: AsyncIterable<BackendEvent>
  /**
   * For streams: the events once the first meaningful one has arrived (or the header wait ran
   * out), so that an early failure (busy, not logged in, upstream 429) still gets its real HTTP
   * status instead of a 200 and an error frame. Nothing is lost.
   */
  ready: () => Promise<AsyncIterable<BackendEvent>>
}

export interface TurnPipelineOptions {
  config: Config
  backend: CodexBackend
  admission: Admission
  ledger: UsageLedger
  /** Key names that see every key's usage (PROXY_ADMIN_KEY_NAMES), for usage queries in a chat. */
  usageAdmins: ReadonlySet<string>
  /** Told about every settled turn with its ledger line (metrics). */
  observe: (outcome: TurnOutcome, event: UsageEvent) => void
}

/** How long a stream may wait for its first event before the headers go out regardless. */
const HEADER_WAIT_CAP_MS = 15_000

/**
 * The one path every dialect's turn takes: remote images inlined, usage queries answered from the
 * ledger, admission and the three time limits, cancellation by the caller's signal, and exactly
 * one ledger line and one metrics observation when the turn settles. A route only parses its
 * request into a TurnPlan and renders the events.
 */
export class TurnPipeline {
  readonly #opts: TurnPipelineOptions

  constructor (opts: TurnPipelineOptions) {
    this.#opts = opts
  }

  /** What a dialect's parser needs to know about this server. */
  async context (requestId: string): Promise<ParseContext> {
    const { backend, config } = this.#opts
    return {
      requestId,
      codexModels: await backend.models(),
      configuredModel: config.CODEX_MODEL
    }
  }

  async start (plan: TurnPlan, caller: TurnCaller): Promise<StartedTurn> {
    const { config, backend, admission, ledger, observe, usageAdmins } = this.#opts
    assertSupported(plan.request, backend)
    const request = await inlineRemoteImages({ ...plan.request, owner: caller.keyName }, {
      maxBytes: config.PROXY_IMAGE_MAX_BYTES,
      timeoutMs: config.PROXY_IMAGE_FETCH_TIMEOUT_MS,
      allowPrivate: config.PROXY_IMAGE_ALLOW_PRIVATE
    }, caller.signal)
    const usageQuery = usageQueryOf(request)

    const events = runTurn(request, {
      backend: usageQuery === undefined ? backend : usageQueryBackend(ledger, usageQuery, usageAdmins),
      admission,
      limits: { totalMs: config.PROXY_TIMEOUT_MS, ackMs: config.PROXY_IDLE_TIMEOUT_MS, idleMs: config.PROXY_STREAM_IDLE_TIMEOUT_MS },
      signal: caller.signal,
      onSettled: (outcome) => {
        const event = usageEventFor(outcome, {
          route: caller.route,
          method: caller.method,
          dialect: plan.dialect,
          keyName: caller.keyName,
          requestedModel: plan.requestedModel,
          effectiveModel: usageQuery === undefined ? outcome.model ?? plan.effectiveModel : 'usage-query',
          stream: plan.stream,
          userAgent: caller.userAgent,
          requestId: caller.requestId
        })
        ledger.append(event)
        observe(outcome, event)
      }
    })

    const headerWait = Math.min(config.SSE_KEEPALIVE_MS > 0 ? config.SSE_KEEPALIVE_MS : HEADER_WAIT_CAP_MS, HEADER_WAIT_CAP_MS)
    return {
      request,
      events,
      ready: async () => await prefetch(events, headerWait, (event) => event.type !== 'started')
    }
  }
}
