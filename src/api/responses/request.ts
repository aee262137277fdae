import { randomBytes } from 'node:crypto'
import type { ContentPart, ConversationItem, OutputFormat, ReasoningSummary, ToolChoice, ToolOutput, ToolSpec } from '../../backends/types.js'
import { invalidRequest } from '../../errors.js'
import { checkImageUrl } from '../../images/image-url.js'
import { isObject, MAX_ID_LENGTH, MAX_NAME_LENGTH, optionalString, requiredString, type Raw } from '../request-fields.js'
import { parseEffort, resolveModel, withRequestedEffort } from '../../models.js'
import { checkJsonSchema } from '../../turns/json-schema-check.js'
import { checkToolChoice, checkToolName, functionToolSpec, requireTurnInput, ToolList } from '../../turns/tool-specs.js'
import type { ParseContext, TurnPlan } from '../../turns/plan.js'
import type { ResponseObject, ResponsesRequest } from './schemas.js'

/** What the response object echoes back of the request, as OpenAI's does. */
export type EchoFields = Pick<ResponseObject,
  'instructions' | 'max_output_tokens' | 'metadata' | 'parallel_tool_calls' | 'previous_response_id' | 'prompt_cache_key' |
  'reasoning' | 'safety_identifier' | 'service_tier' | 'store' | 'temperature' | 'text' | 'tool_choice' | 'tools' | 'top_p' |
  'truncation' | 'user'>

/** A validated Responses request, translated to the neutral backend request. */
export interface ResponsesTurn extends TurnPlan {
  echo: EchoFields
  /** Tools declared `custom`: the model calls them as functions with one `input` string; answered as custom_tool_call. */
  customTools: ReadonlySet<string>
  /** `include: ["reasoning.encrypted_content"]`: reasoning items carry their encrypted content. */
  includeEncrypted: boolean
  store: boolean
  /** This request's own input, as neutral items (what a later `previous_response_id` replays; no instructions). */
  ownItems: ConversationItem[]
  /** This request's own input as Responses items with ids (`GET /v1/responses/{id}/input_items`). */
  inputItems: Array<Record<string, unknown>>
  /** Hosted tools and items that were dropped (web_search, …), for one log line. */
  dropped: string[]
}

export interface ResponsesContext extends ParseContext {
  /** The conversation a `previous_response_id` stands for (checked by the caller). */
  previous?: readonly ConversationItem[] | undefined
}

/** Hosted tools run by OpenAI's servers: nothing here can run them, so they never reach upstream. */
const HOSTED_TOOLS = new Set([
  'web_search', 'web_search_preview', 'web_search_preview_2025_03_11', 'file_search', 'code_interpreter', 'computer_use_preview',
  'computer_use', 'image_generation', 'mcp', 'local_shell', 'tool_search', 'shell'
])
/** Items of hosted tools in a replayed history: dropped with them. */
const HOSTED_ITEMS = new Set([
  'web_search_call', 'file_search_call', 'code_interpreter_call', 'computer_call', 'computer_call_output', 'image_generation_call',
  'local_shell_call', 'local_shell_call_output', 'mcp_call', 'mcp_list_tools', 'mcp_approval_request', 'mcp_approval_response',
  'tool_search_call', 'tool_search_output', 'shell_call', 'shell_call_output'
])

export const newId = (prefix: string): string => `${prefix}_${randomBytes(16).toString('hex')}`

const toolName = (raw: Raw, param: string): string => checkToolName(requiredString(raw, 'name', param, 128), `${param}.name`)

/** Content parts: `input_text` / `output_text` as text, `input_image` as a checked image URL. */
function parts (content: unknown, param: string, allowImages: boolean): ContentPart[] {
  if (typeof content === 'string') return content.length === 0 ? [] : [{ type: 'text', text: content }]
  if (!Array.isArray(content)) throw invalidRequest('`content` must be a string or an array of content parts.', param)
  const out: ContentPart[] = []
  content.forEach((part: unknown, j) => {
    const at = `${param}[${j}]`
    if (!isObject(part)) throw invalidRequest('A content part must be an object.', at)
    switch (part.type) {
      case 'input_text':
      case 'output_text':
      case 'text':
      case 'summary_text':
        if (typeof part.text !== 'string') throw invalidRequest(`A ${String(part.type)} part needs a string \`text\`.`, `${at}.text`)
        if (part.text.length > 0) out.push({ type: 'text', text: part.text })
        break
      case 'refusal':
        if (typeof part.refusal === 'string' && part.refusal.length > 0) out.push({ type: 'text', text: part.refusal })
        break
      case 'input_image': {
        if (!allowImages) throw invalidRequest('Images are only accepted in user messages and tool outputs.', at)
        const url = typeof part.image_url === 'string' ? part.image_url : undefined
        if (url === undefined) {
          throw invalidRequest(part.file_id !== undefined ? 'Images by `file_id` are not supported: send `image_url` (a data URL or an http(s) URL).' : 'An input_image part needs `image_url`.', `${at}.image_url`, 'unsupported_value')
        }
        const detail = part.detail === 'low' || part.detail === 'high' || part.detail === 'auto' ? part.detail : undefined
        out.push({ type: 'image', url: checkImageUrl(url, `${at}.image_url`), detail })
        break
      }
      default:
        throw invalidRequest(`Content parts of type \`${String(part.type).slice(0, 64)}\` are not supported; use input_text, output_text and input_image.`, `${at}.type`, 'unsupported_value')
    }
  })
  return out
}

function toolOutput (output: unknown, param: string): ToolOutput {
  if (typeof output === 'string') return output
  if (Array.isArray(output)) return parts(output, param, true)
  if (output === undefined || output === null) return ''
  // Some clients send structured output as an object: the model sees it as JSON.
  return JSON.stringify(output)
}

interface ParsedInput {
  items: ConversationItem[]
  views: Array<Record<string, unknown>>
  dropped: string[]
}

/** Normalises every input item (reference §A.6): items without `type`, string content, ids, outputs. */
function inputItems (input: ResponsesRequest['input']): ParsedInput {
  const parsed: ParsedInput = { items: [], views: [], dropped: [] }
  if (input === undefined) return parsed
  if (typeof input === 'string') {
    parsed.items.push({ type: 'message', role: 'user', content: [{ type: 'text', text: input }] })
    parsed.views.push({ type: 'message', id: newId('msg'), role: 'user', status: 'completed', content: [{ type: 'input_text', text: input }] })
    return parsed
  }
  input.forEach((raw, i) => {
    const param = `input[${i}]`
    const type = raw.type ?? (raw.role !== undefined ? 'message' : undefined)
    if (typeof type !== 'string') throw invalidRequest('An input item needs a `type` (or a `role`, for a message).', `${param}.type`)
    const itemId = optionalString(raw, 'id', param, MAX_ID_LENGTH)
    const view = { ...raw, type, id: itemId ?? newId(type === 'message' ? 'msg' : 'item') }
    switch (type) {
      case 'message': {
        const role = raw.role
        if (role !== 'user' && role !== 'assistant' && role !== 'system' && role !== 'developer') {
          throw invalidRequest('A message `role` must be user, assistant, system or developer.', `${param}.role`)
        }
        const content = parts(raw.content, `${param}.content`, role === 'user')
        if (content.length > 0) parsed.items.push({ type: 'message', role, content })
        const wire = role === 'assistant' ? 'output_text' : 'input_text'
        parsed.views.push({ ...view, status: 'completed', content: typeof raw.content === 'string' ? [{ type: wire, text: raw.content }] : raw.content })
        return
      }
      case 'function_call': {
        const args = raw.arguments
        parsed.items.push({
          type: 'tool_call',
          id: requiredString(raw, 'call_id', param, MAX_ID_LENGTH),
          name: toolName(raw, param),
          arguments: typeof args === 'string' ? args : JSON.stringify(args ?? {}),
          itemId,
          namespace: optionalString(raw, 'namespace', param, MAX_NAME_LENGTH)
        })
        break
      }
      case 'custom_tool_call':
        parsed.items.push({
          type: 'tool_call',
          id: requiredString(raw, 'call_id', param, MAX_ID_LENGTH),
          name: toolName(raw, param),
          arguments: JSON.stringify({ input: typeof raw.input === 'string' ? raw.input : '' }),
          itemId
        })
        break
      case 'function_call_output':
      case 'custom_tool_call_output':
        parsed.items.push({ type: 'tool_result', callId: requiredString(raw, 'call_id', param, MAX_ID_LENGTH), output: toolOutput(raw.output, `${param}.output`) })
        break
      case 'reasoning': {
        const summary = Array.isArray(raw.summary) ? raw.summary.flatMap((s: unknown) => (isObject(s) && typeof s.text === 'string' ? [s.text] : [])) : []
        const encrypted = raw.encrypted_content
        parsed.items.push({
          type: 'reasoning',
          id: itemId,
          summary,
          encryptedContent: typeof encrypted === 'string' && encrypted.length > 0 ? encrypted : undefined
        })
        break
      }
      case 'item_reference':
        throw invalidRequest('`item_reference` items are not supported: send the item itself, or continue with `previous_response_id`.', `${param}.type`, 'unsupported_value')
      default:
        if (HOSTED_ITEMS.has(type)) {
          parsed.dropped.push(`${param} (${type})`)
          return
        }
        throw invalidRequest(`Input items of type \`${type.slice(0, 64)}\` are not supported.`, `${param}.type`, 'unsupported_value')
    }
    parsed.views.push(view)
  })
  return parsed
}

/** A custom tool, carried as a function with one string `input`; its grammar goes in the description. */
function customTool (raw: Raw, param: string): ToolSpec {
  const name = toolName(raw, param)
  const format = isObject(raw.format) ? raw.format : undefined
  const definition = format?.type === 'grammar' && typeof format.definition === 'string'
    ? `\n\nThe input must follow this ${typeof format.syntax === 'string' ? format.syntax : ''} grammar:\n${format.definition}`
    : ''
  return {
    name,
    description: `${typeof raw.description === 'string' ? raw.description : ''}${definition}`,
    parameters: { type: 'object', properties: { input: { type: 'string', description: 'The raw input of the tool.' } }, required: ['input'], additionalProperties: false }
  }
}

const functionTool = (raw: Raw, param: string, namespace?: ToolSpec['namespace']): ToolSpec =>
  functionToolSpec({ ...raw, name: toolName(raw, param) }, param, `${param}.parameters`, namespace)

interface ParsedTools {
  tools: ToolSpec[]
  custom: Set<string>
  dropped: string[]
}

function toolsOf (tools: ResponsesRequest['tools']): ParsedTools {
  const list = new ToolList()
  const parsed: ParsedTools = { tools: list.tools, custom: new Set(), dropped: [] }
  const add = (spec: ToolSpec, param: string): void => { list.add(spec, param) }
  for (const [i, raw] of (tools ?? []).entries()) {
    const param = `tools[${i}]`
    switch (raw.type) {
      case 'function':
        add(functionTool(raw, param), param)
        break
      case 'custom': {
        const spec = customTool(raw, param)
        parsed.custom.add(spec.name)
        add(spec, param)
        break
      }
      case 'namespace': {
        const name = toolName(raw, param)
        const namespace = { name, description: typeof raw.description === 'string' ? raw.description : undefined }
        const members = Array.isArray(raw.tools) ? raw.tools : []
        members.forEach((member: unknown, j) => {
          const at = `${param}.tools[${j}]`
          if (!isObject(member) || member.type !== 'function') throw invalidRequest('A namespace holds function tools.', `${at}.type`, 'unsupported_value')
          add(functionTool(member, at, namespace), at)
        })
        break
      }
      default:
        if (typeof raw.type === 'string' && HOSTED_TOOLS.has(raw.type)) {
          parsed.dropped.push(`${param} (${raw.type})`)
          break
        }
        throw invalidRequest(`Tools of type \`${String(raw.type).slice(0, 64)}\` are not supported; use function, custom and namespace tools.`, `${param}.type`, 'unsupported_value')
    }
  }
  return parsed
}

function toolChoiceOf (raw: ResponsesRequest['tool_choice'], tools: ParsedTools): { choice: ToolChoice, tools: ToolSpec[] } {
  if (raw === undefined || raw === null || raw === 'auto') return { choice: 'auto', tools: tools.tools }
  if (raw === 'none') return { choice: 'none', tools: [] }
  if (raw === 'required') return { choice: checkToolChoice('required', tools.tools, 'tool_choice'), tools: tools.tools }
  if (typeof raw === 'string') throw invalidRequest('`tool_choice` must be none, auto, required or an object.', 'tool_choice', 'invalid_value')
  if (raw.type === 'function' || raw.type === 'custom') {
    const name = typeof raw.name === 'string' ? raw.name : ''
    return { choice: checkToolChoice({ name }, tools.tools, 'tool_choice.name'), tools: tools.tools }
  }
  if (raw.type === 'allowed_tools') {
    const allowed = new Set((Array.isArray(raw.tools) ? raw.tools : []).flatMap((t: unknown) => (isObject(t) && typeof t.name === 'string' ? [t.name] : [])))
    const kept = tools.tools.filter((t) => allowed.has(t.name))
    if (raw.mode === 'required' && kept.length === 0) {
      throw invalidRequest('`tool_choice` allowed_tools with mode "required" must name at least one of the function tools in `tools`.', 'tool_choice.tools', 'invalid_value')
    }
    return { choice: raw.mode === 'required' ? 'required' : 'auto', tools: kept }
  }
  // A hosted tool chosen (web_search, …): it was dropped, so the model chooses among the rest.
  return { choice: 'auto', tools: tools.tools }
}

function outputFormatOf (text: ResponsesRequest['text']): OutputFormat | undefined {
  const format = text?.format
  if (format === undefined || format === null || format.type === 'text') return undefined
  if (format.type === 'json_object') return { type: 'json_object' }
  if (format.type === 'json_schema') {
    if (!isObject(format.schema)) throw invalidRequest('text.format json_schema needs `schema`.', 'text.format.schema')
    checkJsonSchema(format.schema, 'text.format.schema')
    return {
      type: 'json_schema',
      name: typeof format.name === 'string' ? format.name : undefined,
      schema: format.schema,
      strict: typeof format.strict === 'boolean' ? format.strict : undefined
    }
  }
  throw invalidRequest('`text.format.type` must be text, json_object or json_schema.', 'text.format.type', 'invalid_value')
}

function summaryOf (raw: string | null | undefined): ReasoningSummary {
  // As OpenAI: without `reasoning.summary`, reasoning items come back with no summary.
  if (raw === undefined || raw === null) return 'none'
  if (raw === 'auto' || raw === 'concise' || raw === 'detailed' || raw === 'none') return raw
  throw invalidRequest('`reasoning.summary` must be auto, concise, detailed or none.', 'reasoning.summary', 'invalid_value')
}

/** Translates and checks a Responses request; every problem is a 400 naming the offending param. */
export function parseResponsesRequest (body: ResponsesRequest, ctx: ResponsesContext): ResponsesTurn {
  if (body.background === true) throw invalidRequest('Background responses are not supported; stream the response instead.', 'background', 'unsupported_value')
  const requestedModel = body.model ?? 'codex-5'
  const resolved = withRequestedEffort(resolveModel(requestedModel, ctx.codexModels, ctx.configuredModel), parseEffort(body.reasoning?.effort, 'reasoning.effort'), ctx.codexModels)
  const input = inputItems(body.input)
  const parsedTools = toolsOf(body.tools)
  const { choice, tools } = toolChoiceOf(body.tool_choice, parsedTools)
  const instructions = typeof body.instructions === 'string' && body.instructions.length > 0 ? body.instructions : undefined
  const items: ConversationItem[] = [
    ...(instructions === undefined ? [] : [{ type: 'message' as const, role: 'developer' as const, content: [{ type: 'text' as const, text: instructions }] }]),
    ...(ctx.previous ?? []),
    ...input.items
  ]
  requireTurnInput(items, '`input` must contain at least one user message or tool output.', 'input')
  const include = body.include ?? []
  const includeEncrypted = include.includes('reasoning.encrypted_content')
  const store = body.store !== false
  const summary = summaryOf(body.reasoning?.summary)
  const parallel = body.parallel_tool_calls ?? true

  const request = {
    requestId: ctx.requestId,
    model: resolved.model,
    effort: resolved.effort,
    summary,
    items,
    tools,
    toolChoice: tools.length === 0 ? 'none' as const : choice,
    parallelToolCalls: parallel,
    outputFormat: outputFormatOf(body.text),
    // A stored response is replayed by a later previous_response_id, reasoning included.
    keepReasoning: includeEncrypted || store
  }

  return {
    dialect: 'responses',
    request,
    requestedModel,
    effectiveModel: resolved.effective,
    stream: body.stream === true,
    customTools: parsedTools.custom,
    includeEncrypted,
    store,
    ownItems: input.items,
    inputItems: input.views,
    dropped: [...input.dropped, ...parsedTools.dropped],
    echo: {
      instructions: instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      metadata: body.metadata ?? {},
      parallel_tool_calls: parallel,
      previous_response_id: body.previous_response_id ?? null,
      prompt_cache_key: body.prompt_cache_key ?? null,
      reasoning: { effort: body.reasoning?.effort ?? null, summary: body.reasoning?.summary ?? null },
      safety_identifier: body.safety_identifier ?? null,
      service_tier: body.service_tier ?? 'auto',
      store,
      temperature: body.temperature ?? null,
      text: { format: body.text?.format ?? { type: 'text' }, verbosity: body.text?.verbosity ?? null },
      tool_choice: body.tool_choice ?? 'auto',
      tools: body.tools ?? [],
      top_p: body.top_p ?? null,
      truncation: body.truncation ?? 'disabled',
      user: body.user ?? null
    }
  }
}
