import type { ContentPart, ConversationItem, ReasoningEffort, ReasoningSummary, ToolChoice, ToolOutput, ToolSpec } from '../../backends/types.js'
import { invalidRequest } from '../../errors.js'
import { checkImageUrl } from '../../images/image-url.js'
import { parseEffort, resolveModel, withRequestedEffort } from '../../models.js'
import { isObject, MAX_ID_LENGTH, MAX_NAME_LENGTH, requiredString, type Raw } from '../request-fields.js'
import type { ParseContext, TurnPlan } from '../../turns/plan.js'
import { checkToolChoice, functionToolSpec, requireTurnInput, ToolList } from '../../turns/tool-specs.js'
import { claudeTarget, type ClaudeFamily } from './claude-models.js'
import type { CountTokensRequest, MessagesRequest } from './schemas.js'
import type { ThinkingSignatures } from './thinking-signature.js'

export interface MessagesContext extends ParseContext {
  claudeModels: readonly ClaudeFamily[]
  signatures: ThinkingSignatures
  /** Thinking blocks are signed for one API key and accepted back only from it. */
  keyName: string
}

/** A validated Messages request, translated to the neutral backend request. */
export interface MessagesTurn extends TurnPlan {
  /** The client asked for thinking: reasoning comes back as signed `thinking` blocks. */
  thinking: boolean
  /** Server tools, unusable blocks and thinking that did not verify, for one log line. */
  dropped: string[]
}

/** Claude Code puts a per-release billing header in the system prompt; it means nothing upstream. */
const BILLING_HEADER = 'x-anthropic-billing-header:'
/** Claude Code's stand-in for the tools it loads later; it is not a tool the model can call. */
const DEFERRED_PLACEHOLDER = 'DeferredToolPlaceholder'

/** Extended-thinking budgets as an effort: under 4k tokens low, under 16k medium, else high. */
function effortOfBudget (budget: unknown): ReasoningEffort | undefined {
  if (typeof budget !== 'number' || !Number.isFinite(budget)) return undefined
  if (budget < 4000) return 'low'
  if (budget < 16_000) return 'medium'
  return 'high'
}

interface ThinkingPlan {
  enabled: boolean
  effort: ReasoningEffort | undefined
  summary: ReasoningSummary
}

function thinkingOf (body: Pick<MessagesRequest, 'thinking' | 'output_config'>): ThinkingPlan {
  const thinking = body.thinking
  const type = thinking?.type
  if (type !== undefined && type !== 'enabled' && type !== 'adaptive' && type !== 'disabled') {
    throw invalidRequest('`thinking.type` must be enabled, adaptive or disabled.', 'thinking.type')
  }
  const rawEffort = body.output_config?.effort
  if (rawEffort !== undefined && typeof rawEffort !== 'string') throw invalidRequest('`output_config.effort` must be a string.', 'output_config.effort')
  const explicit = parseEffort(rawEffort, 'output_config.effort')
  const enabled = type === 'enabled' || type === 'adaptive'
  // Without thinking the model still reasons (GPT-5 always does): as little as it can.
  const effort = explicit ?? (type === 'enabled' ? effortOfBudget(thinking?.budget_tokens) : type === 'disabled' ? 'minimal' : undefined)
  const omitted = thinking?.display === 'omitted'
  return { enabled, effort, summary: enabled && !omitted ? 'auto' : 'none' }
}

function textOf (block: Raw, at: string): string {
  if (typeof block.text !== 'string') throw invalidRequest('A text block needs a string `text`.', `${at}.text`)
  return block.text
}

/** An image block's source as an image URL: base64 as a data URL, `url` as given (fetched later). */
function imageOf (block: Raw, at: string): ContentPart {
  const source = block.source
  if (!isObject(source)) throw invalidRequest('An image block needs a `source`.', `${at}.source`)
  if (source.type === 'base64') {
    if (typeof source.media_type !== 'string' || typeof source.data !== 'string') {
      throw invalidRequest('A base64 image source needs `media_type` and `data`.', `${at}.source`)
    }
    return { type: 'image', url: checkImageUrl(`data:${source.media_type};base64,${source.data}`, `${at}.source.data`) }
  }
  if (source.type === 'url') {
    if (typeof source.url !== 'string') throw invalidRequest('A url image source needs `url`.', `${at}.source.url`)
    return { type: 'image', url: checkImageUrl(source.url, `${at}.source.url`) }
  }
  throw invalidRequest('Image sources must be base64 or url (files are not supported).', `${at}.source.type`, 'unsupported_value')
}

/** A document the model can read as text (a text source, or content blocks); PDFs are refused. */
function documentText (block: Raw, at: string): string {
  const source = block.source
  if (isObject(source) && source.type === 'text' && typeof source.data === 'string') return source.data
  if (isObject(source) && source.type === 'content' && Array.isArray(source.content)) {
    return source.content.map((b: unknown, i) => (isObject(b) && b.type === 'text' ? textOf(b, `${at}.source.content[${i}]`) : '')).join('\n')
  }
  throw invalidRequest('Only text documents are supported (no PDF or file sources).', `${at}.source`, 'unsupported_value')
}

/** A tool_result's content: its text, images and loaded-tool references, in order. */
function toolResultOutput (block: Raw, at: string): ToolOutput {
  const content = block.content
  const error = block.is_error === true
  let output: ToolOutput
  if (content === undefined || content === null) output = ''
  else if (typeof content === 'string') output = content
  else if (Array.isArray(content)) {
    output = content.flatMap((part: unknown, j): ContentPart[] => {
      const where = `${at}.content[${j}]`
      if (!isObject(part)) throw invalidRequest('A tool_result content block must be an object.', where)
      switch (part.type) {
        case 'text': return [{ type: 'text', text: textOf(part, where) }]
        case 'image': return [imageOf(part, where)]
        case 'tool_reference': return [{ type: 'text', text: `Tool ${String(part.tool_name).slice(0, 128)} loaded.` }]
        case 'document': return [{ type: 'text', text: documentText(part, where) }]
        case 'search_result': return [{ type: 'text', text: searchResultText(part) }]
        default:
          throw invalidRequest(`tool_result blocks of type \`${String(part.type).slice(0, 64)}\` are not supported.`, `${where}.type`, 'unsupported_value')
      }
    })
  } else {
    throw invalidRequest('`content` must be a string or an array of blocks.', `${at}.content`)
  }
  // The Responses API has no error flag on a tool output: the model reads it in the text.
  if (!error) return output
  if (typeof output === 'string') return `ERROR: ${output}`
  return [{ type: 'text', text: 'ERROR:' }, ...output]
}

function searchResultText (block: Raw): string {
  const parts = Array.isArray(block.content) ? block.content.flatMap((c: unknown) => (isObject(c) && typeof c.text === 'string' ? [c.text] : [])) : []
  return [typeof block.title === 'string' ? block.title : '', typeof block.source === 'string' ? block.source : '', ...parts].filter((s) => s.length > 0).join('\n')
}

/** Blocks of an assistant turn that ran on Anthropic's servers (web search, code execution): nothing here can replay them. */
const SERVER_BLOCKS = /^(server_tool_use|.*_tool_result|container_upload|mcp_tool_use|mcp_tool_result)$/

interface Conversation {
  items: ConversationItem[]
  dropped: string[]
}

/**
 * The messages as neutral items, in order: a user message's tool results come out as results and
 * its other blocks as one user message at their place; an assistant's text, verified thinking and
 * tool calls likewise; `role: "system"` messages as developer messages where they stand.
 */
function conversationOf (messages: MessagesRequest['messages'], ctx: MessagesContext): Conversation {
  const out: Conversation = { items: [], dropped: [] }
  messages.forEach((message, i) => {
    const at = `messages[${i}]`
    const role = message.role
    if (role !== 'user' && role !== 'assistant' && role !== 'system') throw invalidRequest('A message `role` must be user, assistant or system.', `${at}.role`)
    const blocks: Raw[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content
    let pending: ContentPart[] = []
    const flush = (): void => {
      if (pending.length === 0) return
      out.items.push({ type: 'message', role: role === 'system' ? 'developer' : role, content: pending })
      pending = []
    }
    blocks.forEach((block, j) => {
      const where = `${at}.content[${j}]`
      switch (block.type) {
        case 'text': {
          const text = textOf(block, where)
          if (text.length > 0) pending.push({ type: 'text', text })
          return
        }
        case 'image':
          if (role !== 'user') throw invalidRequest('Images are only accepted in user messages.', where)
          pending.push(imageOf(block, where))
          return
        case 'document':
          pending.push({ type: 'text', text: documentText(block, where) })
          return
        case 'search_result':
          pending.push({ type: 'text', text: searchResultText(block) })
          return
        case 'tool_result': {
          if (role !== 'user') throw invalidRequest('tool_result blocks belong in user messages.', where)
          const callId = requiredString(block, 'tool_use_id', where, MAX_ID_LENGTH)
          flush()
          out.items.push({ type: 'tool_result', callId, output: toolResultOutput(block, where) })
          return
        }
        case 'tool_use': {
          if (role !== 'assistant') throw invalidRequest('tool_use blocks belong in assistant messages.', where)
          const id = requiredString(block, 'id', where, MAX_ID_LENGTH)
          const name = requiredString(block, 'name', where, MAX_NAME_LENGTH)
          flush()
          out.items.push({ type: 'tool_call', id, name, arguments: JSON.stringify(block.input ?? {}) })
          return
        }
        case 'thinking': {
          const item = typeof block.signature === 'string' && typeof block.thinking === 'string'
            ? ctx.signatures.verify(block.signature, block.thinking, ctx.keyName)
            : undefined
          if (item === undefined) {
            out.dropped.push(`${where} (thinking not signed by this server)`)
            return
          }
          flush()
          out.items.push(item)
          return
        }
        case 'redacted_thinking':
          out.dropped.push(`${where} (redacted_thinking)`)
          return
        default:
          if (typeof block.type === 'string' && SERVER_BLOCKS.test(block.type)) {
            out.dropped.push(`${where} (${block.type})`)
            return
          }
          throw invalidRequest(`Content blocks of type \`${String(block.type).slice(0, 64)}\` are not supported.`, `${where}.type`, 'unsupported_value')
      }
    })
    flush()
  })
  return out
}

/** The system prompt as one text: string or text blocks, without Claude Code's billing header. */
function systemOf (system: MessagesRequest['system']): string | undefined {
  if (system === undefined) return undefined
  const texts = typeof system === 'string'
    ? [system]
    : system.map((block, i) => {
      if (block.type !== 'text') throw invalidRequest('System blocks must be text blocks.', `system[${i}].type`)
      return textOf(block, `system[${i}]`)
    }).filter((text) => !text.startsWith(BILLING_HEADER))
  const joined = texts.filter((t) => t.length > 0).join('\n\n')
  return joined.length === 0 ? undefined : joined
}

interface ParsedTools {
  tools: ToolSpec[]
  dropped: string[]
}

/**
 * Client tools as function tools (`input_schema` is their parameter schema; `defer_loading`
 * tools are ordinary tools here). Server tools (`web_search_…`, `bash_…`, `text_editor_…`,
 * `code_execution_…`) have no schema to send and nothing to run them: dropped.
 */
function toolsOf (tools: MessagesRequest['tools']): ParsedTools {
  const list = new ToolList()
  const dropped: string[] = []
  for (const [i, raw] of (tools ?? []).entries()) {
    const at = `tools[${i}]`
    if (raw.type !== undefined && raw.type !== 'custom') {
      dropped.push(`${at} (${String(raw.type).slice(0, 64)})`)
      continue
    }
    if (raw.name === DEFERRED_PLACEHOLDER) continue
    list.add(functionToolSpec({ name: raw.name, description: raw.description, parameters: raw.input_schema, strict: raw.strict }, at, `${at}.input_schema`), at)
  }
  return { tools: list.tools, dropped }
}

function toolChoiceOf (raw: MessagesRequest['tool_choice']): { choice: ToolChoice, parallel: boolean } {
  const parallel = raw?.disable_parallel_tool_use !== true
  switch (raw?.type) {
    case undefined:
    case 'auto':
      return { choice: 'auto', parallel }
    case 'none':
      return { choice: 'none', parallel }
    case 'any':
      return { choice: 'required', parallel }
    case 'tool':
      if (typeof raw.name !== 'string') throw invalidRequest('A tool choice of type tool needs `name`.', 'tool_choice.name')
      return { choice: { name: raw.name }, parallel }
    default:
      throw invalidRequest('`tool_choice.type` must be auto, any, tool or none.', 'tool_choice.type')
  }
}

/** Translates and checks a Messages (or count_tokens) request; every problem is a 400 naming the offending field. */
export function parseMessagesRequest (body: MessagesRequest | CountTokensRequest, ctx: MessagesContext): MessagesTurn {
  const requestedModel = body.model
  const target = claudeTarget(requestedModel, ctx.claudeModels)
  const thinking = thinkingOf(body as MessagesRequest)
  const resolved = withRequestedEffort(resolveModel(target ?? requestedModel, ctx.codexModels, ctx.configuredModel, requestedModel), thinking.effort, ctx.codexModels)

  const system = systemOf(body.system)
  const conversation = conversationOf(body.messages, ctx)
  const items: ConversationItem[] = [
    ...(system === undefined ? [] : [{ type: 'message' as const, role: 'system' as const, content: [{ type: 'text' as const, text: system }] }]),
    ...conversation.items
  ]
  requireTurnInput(items, '`messages` must contain at least one user message or tool result.', 'messages')

  const parsedTools = toolsOf(body.tools)
  const { choice: requested, parallel } = toolChoiceOf(body.tool_choice)
  const tools = requested === 'none' ? [] : parsedTools.tools
  const request = {
    requestId: ctx.requestId,
    model: resolved.model,
    effort: resolved.effort,
    summary: thinking.summary,
    items,
    tools,
    toolChoice: checkToolChoice(requested, tools, 'tool_choice'),
    parallelToolCalls: parallel,
    outputFormat: undefined,
    // Thinking blocks carry the reasoning back through the client, encrypted content included.
    keepReasoning: thinking.enabled
  }
  return {
    dialect: 'messages',
    request,
    requestedModel,
    effectiveModel: resolved.effective,
    stream: (body as MessagesRequest).stream === true,
    thinking: thinking.enabled,
    dropped: [...conversation.dropped, ...parsedTools.dropped]
  }
}
