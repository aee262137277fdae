import { Type, type Static } from '@sinclair/typebox'

/*
 * OpenAI Responses API wire shapes. The request schema checks the envelope and allows unknown
 * fields (clients send many this server echoes or ignores); items, tools and content parts are
 * checked one by one in request.ts, where a 400 can name the exact `input[3].content[0]` at fault.
 */

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()])
const Loose = Type.Record(Type.String(), Type.Unknown())

export const ResponsesRequestSchema = Type.Object({
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  input: Type.Optional(Type.Union([Type.String(), Type.Array(Loose, { maxItems: 100_000 })])),
  instructions: Type.Optional(Nullable(Type.String())),
  previous_response_id: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  store: Type.Optional(Nullable(Type.Boolean())),
  stream: Type.Optional(Nullable(Type.Boolean())),
  tools: Type.Optional(Nullable(Type.Array(Loose, { maxItems: 512 }))),
  tool_choice: Type.Optional(Nullable(Type.Union([Type.String({ maxLength: 32 }), Loose]))),
  parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
  reasoning: Type.Optional(Nullable(Type.Object({
    effort: Type.Optional(Nullable(Type.String({ maxLength: 64 }))),
    summary: Type.Optional(Nullable(Type.String({ maxLength: 64 })))
  }))),
  include: Type.Optional(Nullable(Type.Array(Type.String({ maxLength: 128 }), { maxItems: 32 }))),
  text: Type.Optional(Nullable(Type.Object({
    format: Type.Optional(Nullable(Loose)),
    verbosity: Type.Optional(Nullable(Type.String({ maxLength: 32 })))
  }))),
  metadata: Type.Optional(Nullable(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 }))),
  max_output_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  temperature: Type.Optional(Nullable(Type.Number())),
  top_p: Type.Optional(Nullable(Type.Number())),
  truncation: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
  service_tier: Type.Optional(Nullable(Type.String({ maxLength: 32 }))),
  prompt_cache_key: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  user: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  safety_identifier: Type.Optional(Nullable(Type.String({ maxLength: 256 }))),
  client_metadata: Type.Optional(Nullable(Loose)),
  background: Type.Optional(Nullable(Type.Boolean()))
})
export type ResponsesRequest = Static<typeof ResponsesRequestSchema>

export const OutputTextSchema = Type.Object({
  type: Type.Literal('output_text'),
  text: Type.String(),
  annotations: Type.Array(Type.Unknown()),
  logprobs: Type.Array(Type.Unknown())
})

export const MessageItemSchema = Type.Object({
  type: Type.Literal('message'),
  id: Type.String(),
  status: Type.Union([Type.Literal('in_progress'), Type.Literal('completed'), Type.Literal('incomplete')]),
  role: Type.Literal('assistant'),
  content: Type.Array(OutputTextSchema)
})

export const ReasoningItemSchema = Type.Object({
  type: Type.Literal('reasoning'),
  id: Type.String(),
  summary: Type.Array(Type.Object({ type: Type.Literal('summary_text'), text: Type.String() })),
  encrypted_content: Type.Optional(Type.String())
})

export const FunctionCallItemSchema = Type.Object({
  type: Type.Literal('function_call'),
  id: Type.String(),
  call_id: Type.String(),
  name: Type.String(),
  namespace: Type.Optional(Type.String()),
  arguments: Type.String(),
  status: Type.Union([Type.Literal('in_progress'), Type.Literal('completed')])
})

export const CustomToolCallItemSchema = Type.Object({
  type: Type.Literal('custom_tool_call'),
  id: Type.String(),
  call_id: Type.String(),
  name: Type.String(),
  input: Type.String(),
  status: Type.Union([Type.Literal('in_progress'), Type.Literal('completed')])
})

export const OutputItemSchema = Type.Union([MessageItemSchema, ReasoningItemSchema, FunctionCallItemSchema, CustomToolCallItemSchema])
export type OutputItem = Static<typeof OutputItemSchema>
export type MessageItem = Static<typeof MessageItemSchema>
export type ReasoningOutputItem = Static<typeof ReasoningItemSchema>
export type FunctionCallItem = Static<typeof FunctionCallItemSchema>
export type CustomToolCallItem = Static<typeof CustomToolCallItemSchema>

export const ResponseUsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  input_tokens_details: Type.Object({ cached_tokens: Type.Integer() }),
  output_tokens: Type.Integer(),
  output_tokens_details: Type.Object({ reasoning_tokens: Type.Integer() }),
  total_tokens: Type.Integer()
})
export type ResponseUsage = Static<typeof ResponseUsageSchema>

/** The response object (`GET /v1/responses/{id}`, the non-stream answer, and every stream event's `response`). */
export const ResponseObjectSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('response'),
  created_at: Type.Integer(),
  status: Type.Union(['in_progress', 'completed', 'failed', 'incomplete'].map((s) => Type.Literal(s))),
  background: Type.Boolean(),
  error: Nullable(Type.Object({ code: Type.String(), message: Type.String() })),
  incomplete_details: Nullable(Type.Object({ reason: Type.String() })),
  instructions: Nullable(Type.String()),
  max_output_tokens: Nullable(Type.Integer()),
  model: Type.String(),
  output: Type.Array(OutputItemSchema),
  parallel_tool_calls: Type.Boolean(),
  previous_response_id: Nullable(Type.String()),
  prompt_cache_key: Nullable(Type.String()),
  reasoning: Type.Object({ effort: Nullable(Type.String()), summary: Nullable(Type.String()) }),
  safety_identifier: Nullable(Type.String()),
  service_tier: Nullable(Type.String()),
  store: Type.Boolean(),
  temperature: Nullable(Type.Number()),
  text: Type.Object({ format: Type.Unknown(), verbosity: Nullable(Type.String()) }),
  tool_choice: Type.Unknown(),
  tools: Type.Array(Type.Unknown()),
  top_p: Nullable(Type.Number()),
  truncation: Type.String(),
  usage: Nullable(ResponseUsageSchema),
  user: Nullable(Type.String()),
  metadata: Type.Record(Type.String(), Type.String())
})
export type ResponseObject = Static<typeof ResponseObjectSchema>
