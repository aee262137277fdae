import { invalidRequest } from '../../errors.js'
import { checkImageUrl } from '../../images/image-url.js'
import { parseEffort, resolveModel, withRequestedEffort } from '../../models.js'
import type {
  CompletionRequest,
  ContentPart,
  ConversationItem,
  OutputFormat,
  ReasoningEffort,
  ToolChoice,
  ToolSpec
} from '../../backends/types.js'
import { checkJsonSchema } from '../../turns/json-schema-check.js'
import { checkToolChoice, functionToolSpec, requireTurnInput, ToolList } from '../../turns/tool-specs.js'
import type { ParseContext, TurnPlan } from '../../turns/plan.js'
import type { ChatCompletionRequest, ChatMessage } from './schemas.js'

/** A validated Chat Completions request, translated to the neutral backend request. */
export interface ChatTurn extends TurnPlan {
  includeUsage: boolean
  /** The client used the deprecated `functions` field: answer with `function_call`. */
  legacyFunctions: boolean
}

/** Translates and checks a request body; every problem is a 400 naming the offending param. */
export function parseChatRequest (body: ChatCompletionRequest, ctx: ParseContext): ChatTurn {
  if (body.n !== undefined && body.n !== null && body.n > 1) {
    throw invalidRequest('n > 1 is not supported: Codex produces one choice per turn. Send n separate requests.', 'n', 'unsupported_value')
  }

  const requestedModel = body.model ?? 'codex-5'
  const effort = requestedEffort(body)
  const resolved = withRequestedEffort(resolveModel(requestedModel, ctx.codexModels, ctx.configuredModel), effort, ctx.codexModels)

  const legacyFunctions = (body.tools === undefined || body.tools === null) && Array.isArray(body.functions) && body.functions.length > 0
  const items = toItems(body.messages)
  const requestedChoice = toolChoice(body, legacyFunctions)
  const tools = requestedChoice === 'none' ? [] : toolSpecs(body, legacyFunctions)
  const choice = checkToolChoice(requestedChoice, tools, legacyFunctions ? 'function_call' : 'tool_choice')
  const outputFormat = responseFormat(body)

  const request: CompletionRequest = {
    requestId: ctx.requestId,
    model: resolved.model,
    effort: resolved.effort,
    items,
    tools,
    toolChoice: choice,
    parallelToolCalls: body.parallel_tool_calls ?? true,
    outputFormat
  }

  return {
    dialect: 'chat',
    request,
    requestedModel,
    effectiveModel: resolved.effective,
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
    legacyFunctions
  }
}

function requestedEffort (body: ChatCompletionRequest): ReasoningEffort | undefined {
  const fromReasoning = body.reasoning?.effort
  if (fromReasoning !== undefined && fromReasoning !== null) return parseEffort(fromReasoning, 'reasoning.effort')
  return parseEffort(body.reasoning_effort, 'reasoning_effort')
}

function textOf (message: ChatMessage, index: number, allowImages: boolean): ContentPart[] {
  const param = `messages[${index}].content`
  const content = message.content
  if (content === undefined || content === null) return []
  if (typeof content === 'string') return content.length === 0 ? [] : [{ type: 'text', text: content }]
  const parts: ContentPart[] = []
  content.forEach((part, j) => {
    const partParam = `${param}[${j}]`
    switch (part.type) {
      case 'text':
      case 'input_text':
      case 'output_text':
      case 'refusal': {
        const text = part.type === 'refusal' ? (part as { refusal?: unknown }).refusal : part.text
        if (typeof text !== 'string') throw invalidRequest(`A ${part.type} part needs a string \`${part.type === 'refusal' ? 'refusal' : 'text'}\`.`, `${partParam}.text`)
        if (text.length > 0) parts.push({ type: 'text', text })
        break
      }
      case 'image_url': {
        if (!allowImages) throw invalidRequest(`Images are only accepted in user and assistant messages, not ${message.role} messages.`, partParam)
        const image = typeof part.image_url === 'string' ? { url: part.image_url } : part.image_url
        if (image === undefined || image.url.length === 0) throw invalidRequest('An image_url part needs `image_url.url`.', `${partParam}.image_url`)
        parts.push({ type: 'image', url: checkImageUrl(image.url, `${partParam}.image_url.url`), detail: 'detail' in image ? image.detail : undefined })
        break
      }
      default:
        throw invalidRequest(`Content parts of type \`${part.type}\` are not supported; use text and image_url parts.`, `${partParam}.type`, 'unsupported_value')
    }
  })
  return parts
}

function toItems (messages: readonly ChatMessage[]): ConversationItem[] {
  const items: ConversationItem[] = []
  // Legacy `function_call` turns carry no ids: pair each call with the next `function` result of that name.
  const legacyCalls: Array<{ id: string, name: string }> = []

  messages.forEach((message, i) => {
    switch (message.role) {
      case 'system':
      case 'developer': {
        const content = textOf(message, i, false)
        if (content.length === 0) throw invalidRequest(`A ${message.role} message needs content.`, `messages[${i}].content`)
        items.push({ type: 'message', role: message.role, content })
        break
      }
      case 'user': {
        const content = textOf(message, i, true)
        if (content.length === 0) throw invalidRequest('A user message needs content.', `messages[${i}].content`)
        items.push({ type: 'message', role: 'user', content })
        break
      }
      case 'assistant': {
        const content = textOf(message, i, true)
        if (content.length > 0) items.push({ type: 'message', role: 'assistant', content })
        for (const call of message.tool_calls ?? []) {
          items.push({ type: 'tool_call', id: call.id, name: call.function.name, arguments: call.function.arguments })
        }
        if (message.function_call !== undefined && message.function_call !== null) {
          const id = `call_legacy_${i}`
          legacyCalls.push({ id, name: message.function_call.name })
          items.push({ type: 'tool_call', id, name: message.function_call.name, arguments: message.function_call.arguments })
        }
        break
      }
      case 'tool': {
        if (message.tool_call_id === undefined || message.tool_call_id.length === 0) {
          throw invalidRequest('A tool message needs `tool_call_id`.', `messages[${i}].tool_call_id`)
        }
        items.push({ type: 'tool_result', callId: message.tool_call_id, output: flatText(textOf(message, i, false)) })
        break
      }
      case 'function': {
        if (message.name === undefined) throw invalidRequest('A function message needs `name`.', `messages[${i}].name`)
        const at = legacyCalls.findIndex((c) => c.name === message.name)
        const call = at === -1 ? undefined : legacyCalls.splice(at, 1)[0]
        const callId = call?.id ?? `call_legacy_${i}`
        if (call === undefined) items.push({ type: 'tool_call', id: callId, name: message.name, arguments: '{}' })
        items.push({ type: 'tool_result', callId, output: flatText(textOf(message, i, false)) })
        break
      }
    }
  })

  requireTurnInput(items, 'messages must contain at least one user message.', 'messages')
  return items
}

function flatText (parts: readonly ContentPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : '')).join('')
}

function toolSpecs (body: ChatCompletionRequest, legacy: boolean): ToolSpec[] {
  const defs = legacy ? (body.functions ?? []) : (body.tools ?? []).map((t) => t.function)
  const list = new ToolList()
  defs.forEach((def, i) => {
    const param = legacy ? `functions[${i}]` : `tools[${i}].function`
    list.add(functionToolSpec(def, param), param)
  })
  return list.tools
}

function toolChoice (body: ChatCompletionRequest, legacy: boolean): ToolChoice {
  const raw = legacy ? body.function_call : body.tool_choice
  if (raw === undefined || raw === null) return 'auto'
  if (typeof raw === 'string') return raw
  if ('function' in raw) return { name: raw.function.name }
  return { name: raw.name }
}

function responseFormat (body: ChatCompletionRequest): OutputFormat | undefined {
  const format = body.response_format
  if (format === undefined || format === null || format.type === 'text') return undefined
  if (format.type === 'json_object') return { type: 'json_object' }
  const spec = format.json_schema
  if (spec?.schema === undefined) throw invalidRequest('response_format json_schema needs `json_schema.schema`.', 'response_format.json_schema.schema')
  checkJsonSchema(spec.schema, 'response_format.json_schema.schema')
  return { type: 'json_schema', name: spec.name, schema: spec.schema, strict: spec.strict ?? undefined }
}
