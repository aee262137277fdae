import { Type, type Static } from '@sinclair/typebox'

/*
 * Anthropic Messages API wire shapes. The request schema checks the envelope and allows unknown
 * fields (Claude Code sends many this server ignores); content blocks and tools are checked one by
 * one in request.ts, where a 400 can name the exact `messages[3].content[0]` at fault.
 */

const Loose = Type.Record(Type.String(), Type.Unknown())

const SystemSchema = Type.Union([Type.String(), Type.Array(Loose, { maxItems: 1024 })])

export const MessagesRequestSchema = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 256 }),
  messages: Type.Array(Type.Object({
    role: Type.String({ maxLength: 32 }),
    content: Type.Union([Type.String(), Type.Array(Loose, { maxItems: 100_000 })])
  }, { additionalProperties: true }), { minItems: 1, maxItems: 100_000 }),
  system: Type.Optional(SystemSchema),
  max_tokens: Type.Optional(Type.Integer({ minimum: 1 })),
  stream: Type.Optional(Type.Boolean()),
  tools: Type.Optional(Type.Array(Loose, { maxItems: 512 })),
  tool_choice: Type.Optional(Loose),
  thinking: Type.Optional(Loose),
  output_config: Type.Optional(Loose),
  metadata: Type.Optional(Loose),
  temperature: Type.Optional(Type.Number()),
  top_p: Type.Optional(Type.Number()),
  top_k: Type.Optional(Type.Integer()),
  stop_sequences: Type.Optional(Type.Array(Type.String(), { maxItems: 64 })),
  context_management: Type.Optional(Loose),
  service_tier: Type.Optional(Type.String({ maxLength: 64 }))
})
export type MessagesRequest = Static<typeof MessagesRequestSchema>

/** count_tokens takes what a message request takes, minus the output settings. */
export const CountTokensRequestSchema = Type.Object({
  model: Type.String({ minLength: 1, maxLength: 256 }),
  messages: MessagesRequestSchema.properties.messages,
  system: Type.Optional(SystemSchema),
  tools: Type.Optional(Type.Array(Loose, { maxItems: 512 })),
  tool_choice: Type.Optional(Loose),
  thinking: Type.Optional(Loose)
})
export type CountTokensRequest = Static<typeof CountTokensRequestSchema>

export const CountTokensResponseSchema = Type.Object({ input_tokens: Type.Integer() })

export const TextBlockSchema = Type.Object({ type: Type.Literal('text'), text: Type.String() })
export const ThinkingBlockSchema = Type.Object({ type: Type.Literal('thinking'), thinking: Type.String(), signature: Type.String() })
export const ToolUseBlockSchema = Type.Object({
  type: Type.Literal('tool_use'),
  id: Type.String(),
  name: Type.String(),
  input: Type.Unknown()
})
export const ContentBlockSchema = Type.Union([TextBlockSchema, ThinkingBlockSchema, ToolUseBlockSchema])
export type ContentBlock = Static<typeof ContentBlockSchema>

export const MessageUsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer(),
  cache_read_input_tokens: Type.Integer(),
  output_tokens: Type.Integer()
})
export type MessageUsage = Static<typeof MessageUsageSchema>

export const StopReasonSchema = Type.Union(['end_turn', 'tool_use', 'max_tokens'].map((s) => Type.Literal(s)))
export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens'

/** The message object: the non-stream answer, and what `message_start` … `message_stop` describe. */
export const MessageSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('message'),
  role: Type.Literal('assistant'),
  model: Type.String(),
  content: Type.Array(ContentBlockSchema),
  stop_reason: Type.Union([StopReasonSchema, Type.Null()]),
  stop_sequence: Type.Null(),
  usage: MessageUsageSchema
})
export type Message = Static<typeof MessageSchema>

/** Anthropic's error body, on every `/v1/messages*` route. */
export const AnthropicErrorSchema = Type.Object({
  type: Type.Literal('error'),
  error: Type.Object({ type: Type.String(), message: Type.String() }),
  request_id: Type.Optional(Type.String())
})
export type AnthropicError = Static<typeof AnthropicErrorSchema>
