import { Type, type Static } from '@sinclair/typebox'

/**
 * The neutral contract between HTTP APIs and Codex backends. Nothing here knows Chat
 * Completions: a conversation of items and settings goes in, events come out.
 */

/** Reasoning effort levels, lowest first (Codex 0.169 knows all of them; models support subsets). */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max', 'ultra'] as const
export type ReasoningEffort = typeof REASONING_EFFORTS[number]

export function isReasoningEffort (value: unknown): value is ReasoningEffort {
  return typeof value === 'string' && (REASONING_EFFORTS as readonly string[]).includes(value)
}

export type ContentPart =
  | { type: 'text', text: string }
  /** `url` is always a data URL by the time a backend sees it. */
  | { type: 'image', url: string, detail?: 'auto' | 'low' | 'high' | undefined }

export type MessageRole = 'system' | 'developer' | 'user' | 'assistant'

/**
 * A reasoning item as the upstream produced it: its summary parts in order and, when the upstream
 * returns it, the opaque `encrypted_content` that lets it be replayed in a later request.
 */
export interface ReasoningItem {
  type: 'reasoning'
  /** The upstream item id (`rs_…`). */
  id: string | undefined
  summary: string[]
  encryptedContent: string | undefined
}

/** What a tool returned: text, or parts (text and images) when the tool returned structured content. */
export type ToolOutput = string | ContentPart[]

export type ConversationItem =
  | { type: 'message', role: MessageRole, content: ContentPart[] }
  /** `id` is the call id the result refers to; `itemId` the upstream item id (`fc_…`), when known. */
  | { type: 'tool_call', id: string, name: string, arguments: string, itemId?: string | undefined, namespace?: string | undefined }
  | { type: 'tool_result', callId: string, output: ToolOutput }
  /** Replayed upstream unchanged; a backend drops one without `encryptedContent`. */
  | ReasoningItem

/**
 * The content parts of an item that can carry images: a message's, or a tool result's structured
 * output (a Responses `input_image` or an Anthropic image block inside a tool result).
 */
export function partsOf (item: ConversationItem): readonly ContentPart[] {
  if (item.type === 'message') return item.content
  if (item.type === 'tool_result' && typeof item.output !== 'string') return item.output
  return []
}

/** The item with `map` applied to each of the parts `partsOf` returns; other items unchanged. */
export function mapParts (item: ConversationItem, map: (part: ContentPart) => ContentPart): ConversationItem {
  if (item.type === 'message') return { ...item, content: item.content.map(map) }
  if (item.type === 'tool_result' && typeof item.output !== 'string') return { ...item, output: item.output.map(map) }
  return item
}

/** A JSON Schema object, passed through untouched. */
export type JsonSchema = Record<string, unknown>

export interface ToolSpec {
  name: string
  description?: string | undefined
  parameters: JsonSchema
  strict?: boolean | undefined
  /** A group of tools the model sees under one name (Responses `namespace` tools). */
  namespace?: { name: string, description?: string | undefined } | undefined
}

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string }

export interface OutputFormat {
  type: 'json_schema' | 'json_object'
  name?: string | undefined
  schema?: JsonSchema | undefined
  strict?: boolean | undefined
}

/** How much of its reasoning the model should summarise (`none`: no summary at all). */
export type ReasoningSummary = 'auto' | 'concise' | 'detailed' | 'none'

export interface CompletionRequest {
  /** Correlates logs; never sent anywhere. */
  requestId: string
  /** Codex model slug, or undefined for Codex's own default model. */
  model: string | undefined
  effort: ReasoningEffort | undefined
  /** Reasoning summaries to stream (default `auto`). */
  summary?: ReasoningSummary | undefined
  items: ConversationItem[]
  tools: ToolSpec[]
  toolChoice: ToolChoice
  parallelToolCalls: boolean
  outputFormat: OutputFormat | undefined
  /**
   * The client will send the model's reasoning back (Responses `include`, Anthropic thinking
   * signatures): report each reasoning item whole, `encrypted_content` included.
   */
  keepReasoning?: boolean | undefined
  /**
   * Whose conversation this is (the API key's name): a backend that keeps conversations between
   * requests continues one only for the same owner.
   */
  owner?: string | undefined
}

export interface TokenUsage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
  cachedTokens?: number | undefined
  reasoningTokens?: number | undefined
}

/** Counts for a turn that reported none (the turn pipeline estimates them; this is for what bypasses it). */
export const NO_USAGE: TokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }

export type FinishReason = 'stop' | 'length' | 'tool_calls'

/**
 * What a turn produces, in order. Text and reasoning deltas carry the id of the upstream item they
 * belong to (a new id is a new item) and reasoning deltas their summary part's index, so that each
 * dialect can show items and parts its own way.
 */
/** Whether a round continued a held conversation, and if not, why a fresh thread was started (metrics, logs). */
export type ConversationDecision = { continued: true } | { continued: false, reason: string }

export type BackendEvent =
  /** Codex acknowledged the turn: from here on, silence is measured against the idle limit. */
  | {
    type: 'started'
    model?: string | undefined
    /** Backends that keep conversations: whether this round continued one, or why it started fresh. */
    conversation?: ConversationDecision | undefined
  }
  | { type: 'text', itemId: string, text: string }
  | { type: 'reasoning', itemId: string, summaryIndex: number, text: string }
  /** A reasoning item is complete (after its deltas, if any). */
  | { type: 'reasoning_done', item: ReasoningItem }
  | { type: 'tool_call', id: string, name: string, arguments: string, itemId?: string | undefined, namespace?: string | undefined }
  | { type: 'usage', usage: TokenUsage }
  | { type: 'done', finishReason: FinishReason }

/** What a backend can honour; a request asking for more is refused with a 400, never trimmed. */
export interface BackendCapabilities {
  tools: boolean
  images: boolean
  structuredOutput: boolean
}

/** A model as Codex describes it (`model/list`, `codex debug models`). */
export interface CodexModel {
  slug: string
  displayName: string
  efforts: ReasoningEffort[]
  defaultEffort: ReasoningEffort | undefined
  isDefault: boolean
}

export const WorkerStatusSchema = Type.Object({
  id: Type.Integer(),
  pid: Type.Union([Type.Integer(), Type.Null()]),
  state: Type.Union(['starting', 'ready', 'stopping', 'stopped', 'failed'].map((s) => Type.Literal(s))),
  inFlight: Type.Integer(),
  restarts: Type.Integer()
})
export type WorkerStatus = Static<typeof WorkerStatusSchema>

export const ConversationStatsSchema = Type.Object({
  held: Type.Integer({ description: 'Conversations held for their next round (each a Codex thread).' }),
  parked: Type.Integer({ description: 'Of those, the ones waiting for tool results.' }),
  bytes: Type.Integer({ description: 'History (as JSON) they stand for.' })
})
export type ConversationStats = Static<typeof ConversationStatsSchema>

export interface BackendHealth {
  ready: boolean
  /** Why not ready: a message an operator can act on. */
  reason?: string | undefined
  workers?: WorkerStatus[] | undefined
  /** Backends that keep conversations between requests. */
  conversations?: ConversationStats | undefined
  /** What Codex itself said about its login (app-server's `account/read`), once it said. */
  loggedIn?: boolean | undefined
}

export type BackendKind = 'app-server' | 'exec' | 'proto'

export interface CodexBackend {
  readonly kind: BackendKind
  readonly capabilities: BackendCapabilities
  /** Prepares the backend (spawns workers). Resolves even when Codex is unusable: see health(). */
  start (): Promise<void>
  health (): BackendHealth
  /** The models Codex offers; empty when the backend cannot tell. */
  models (): Promise<readonly CodexModel[]>
  /**
   * Runs one turn. Errors are thrown as ApiError. Aborting `signal` cancels the work at once
   * (kills the child / interrupts the turn); the iterator then throws the signal's reason.
   */
  complete (request: CompletionRequest, signal: AbortSignal): AsyncIterable<BackendEvent>
  /** Stops everything the backend started; in-flight turns fail. */
  close (): Promise<void>
}
