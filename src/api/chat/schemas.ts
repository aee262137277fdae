import { Type, type Static } from '@sinclair/typebox'
import { MAX_ID_LENGTH, MAX_NAME_LENGTH } from '../request-fields.js'
import { StringEnum } from '../string-enum.js'

/*
 * Chat Completions wire shapes. Request schemas allow unknown fields (OpenAI clients send many we
 * ignore); response schemas are exact, so the serializer drops anything that would leak.
 */

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()])

export const ContentPartSchema = Type.Object({
  type: Type.String({ minLength: 1 }),
  text: Type.Optional(Type.String()),
  image_url: Type.Optional(Type.Union([
    Type.String(),
    Type.Object({
      url: Type.String(),
      detail: Type.Optional(StringEnum(['auto', 'low', 'high'] as const))
    })
  ]))
})

export const ToolCallSchema = Type.Object({
  id: Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH }),
  type: Type.Optional(Type.Literal('function')),
  function: Type.Object({
    name: Type.String({ minLength: 1, maxLength: MAX_NAME_LENGTH }),
    arguments: Type.String()
  })
})

export const ChatMessageSchema = Type.Object({
  role: StringEnum(['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const),
  content: Type.Optional(Type.Union([Type.String(), Type.Array(ContentPartSchema), Type.Null()])),
  name: Type.Optional(Type.String({ maxLength: MAX_NAME_LENGTH })),
  tool_calls: Type.Optional(Type.Union([Type.Array(ToolCallSchema), Type.Null()])),
  tool_call_id: Type.Optional(Type.String({ maxLength: MAX_ID_LENGTH })),
  function_call: Type.Optional(Type.Union([Type.Object({ name: Type.String({ maxLength: MAX_NAME_LENGTH }), arguments: Type.String() }), Type.Null()])),
  reasoning_content: Type.Optional(Type.Union([Type.String(), Type.Null()]))
})
export type ChatMessage = Static<typeof ChatMessageSchema>

const FunctionDefinitionSchema = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9_.:-]{1,128}$' }),
  description: Type.Optional(Type.String()),
  parameters: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()]))
})

export const ToolSchema = Type.Object({
  type: Type.Literal('function'),
  function: FunctionDefinitionSchema
})

export const ToolChoiceSchema = Type.Union([
  Type.Literal('none'),
  Type.Literal('auto'),
  Type.Literal('required'),
  Type.Object({ type: Type.Literal('function'), function: Type.Object({ name: Type.String() }) })
])

export const ResponseFormatSchema = Type.Object({
  type: StringEnum(['text', 'json_object', 'json_schema'] as const),
  json_schema: Type.Optional(Type.Object({
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    description: Type.Optional(Type.String()),
    schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    strict: Type.Optional(Type.Union([Type.Boolean(), Type.Null()]))
  }))
})

export const ChatCompletionRequestSchema = Type.Object({
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  messages: Type.Array(ChatMessageSchema, { minItems: 1 }),
  stream: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  stream_options: Type.Optional(Type.Union([Type.Object({ include_usage: Type.Optional(Type.Boolean()) }), Type.Null()])),
  n: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 128 }), Type.Null()])),
  reasoning_effort: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
  reasoning: Type.Optional(Type.Union([Type.Object({ effort: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])) }), Type.Null()])),
  tools: Type.Optional(Type.Union([Type.Array(ToolSchema, { maxItems: 512 }), Type.Null()])),
  tool_choice: Type.Optional(Type.Union([ToolChoiceSchema, Type.Null()])),
  parallel_tool_calls: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
  functions: Type.Optional(Type.Union([Type.Array(FunctionDefinitionSchema, { maxItems: 512 }), Type.Null()])),
  function_call: Type.Optional(Type.Union([
    Type.Literal('none'), Type.Literal('auto'), Type.Object({ name: Type.String() }), Type.Null()
  ])),
  response_format: Type.Optional(Type.Union([ResponseFormatSchema, Type.Null()]))
})
export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>

const UsageSchema = Type.Object({
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  prompt_tokens_details: Type.Optional(Type.Object({ cached_tokens: Type.Integer() })),
  completion_tokens_details: Type.Optional(Type.Object({ reasoning_tokens: Type.Integer() }))
})
export type ChatUsage = Static<typeof UsageSchema>

const ResponseToolCallSchema = Type.Object({
  id: Type.String(),
  type: Type.Literal('function'),
  function: Type.Object({ name: Type.String(), arguments: Type.String() })
})

export const ChatCompletionSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    message: Type.Object({
      role: Type.Literal('assistant'),
      content: Nullable(Type.String()),
      refusal: Type.Null(),
      reasoning_content: Type.Optional(Type.String()),
      tool_calls: Type.Optional(Type.Array(ResponseToolCallSchema)),
      function_call: Type.Optional(Type.Object({ name: Type.String(), arguments: Type.String() }))
    }),
    logprobs: Type.Null(),
    finish_reason: Type.String()
  })),
  usage: UsageSchema
})
export type ChatCompletion = Static<typeof ChatCompletionSchema>

const ChunkDeltaSchema = Type.Object({
  role: Type.Optional(Type.Literal('assistant')),
  content: Type.Optional(Type.String()),
  reasoning_content: Type.Optional(Type.String()),
  tool_calls: Type.Optional(Type.Array(Type.Object({
    index: Type.Integer(),
    id: Type.Optional(Type.String()),
    type: Type.Optional(Type.Literal('function')),
    function: Type.Object({ name: Type.Optional(Type.String()), arguments: Type.String() })
  }))),
  function_call: Type.Optional(Type.Object({ name: Type.Optional(Type.String()), arguments: Type.String() }))
})
export type ChatChunkDelta = Static<typeof ChunkDeltaSchema>

/** A streamed chunk. Serialized by hand into SSE frames; the schema documents the shape. */
export const ChatCompletionChunkSchema = Type.Object({
  id: Type.String(),
  object: Type.Literal('chat.completion.chunk'),
  created: Type.Integer(),
  model: Type.String(),
  choices: Type.Array(Type.Object({
    index: Type.Integer(),
    delta: ChunkDeltaSchema,
    logprobs: Type.Null(),
    finish_reason: Type.Union([Type.String(), Type.Null()])
  })),
  usage: Type.Optional(Type.Union([UsageSchema, Type.Null()]))
})
export type ChatCompletionChunk = Static<typeof ChatCompletionChunkSchema>
