import type { DialectName } from '../api/dialect.js'
import type { CodexModel, CompletionRequest } from '../backends/types.js'

/** What a dialect's request parser needs to know about this server. */
export interface ParseContext {
  requestId: string
  codexModels: readonly CodexModel[]
  configuredModel: string | undefined
}

/** A request as every dialect hands it to the turn pipeline: the neutral request and its labels. */
export interface TurnPlan {
  dialect: DialectName
  request: CompletionRequest
  /** The model id the client sent, echoed back and logged. */
  requestedModel: string
  /** The model expected to run ("default": Codex's own), logged until Codex reports the one it ran. */
  effectiveModel: string
  stream: boolean
}
