import type { ContentPart, ConversationItem, ToolChoice, ToolOutput, ToolSpec } from '../types.js'
import type { ToolNames } from './tool-names.js'

/** A raw Responses API input item, as `thread/inject_items` takes it. */
export type ResponsesItem = Record<string, unknown>
/** A `turn/start` input item (app-server's UserInput). */
export type TurnInput = { type: 'text', text: string, text_elements: [] } | { type: 'image', url: string, detail?: string }

export interface ThreadPlan extends TurnItems {
  /** Leading system/developer messages: they replace Codex's base prompt. */
  baseInstructions: string | undefined
}

const textOf = (parts: readonly ContentPart[]): string => parts.map((p) => (p.type === 'text' ? p.text : '')).join('\n')

function imagePart (part: Extract<ContentPart, { type: 'image' }>): ResponsesItem {
  return part.detail === undefined ? { type: 'input_image', image_url: part.url } : { type: 'input_image', image_url: part.url, detail: part.detail }
}

/**
 * Assistant content is output_text only in the Responses API; an image an assistant message
 * carried is replayed as a user message at the same place, so the order of parts survives.
 */
function assistantItems (content: readonly ContentPart[]): ResponsesItem[] {
  const items: ResponsesItem[] = []
  for (const part of content) {
    const last = items.at(-1)
    if (part.type === 'text') {
      if (last?.role === 'assistant') (last.content as ResponsesItem[]).push({ type: 'output_text', text: part.text })
      else items.push({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: part.text }] })
    } else if (last?.role === 'user') {
      (last.content as ResponsesItem[]).push(imagePart(part))
    } else {
      items.push({ type: 'message', role: 'user', content: [imagePart(part)] })
    }
  }
  return items
}

/** A tool's output as `function_call_output.output`: a string, or input_text / input_image items. */
function toolOutput (output: ToolOutput): string | ResponsesItem[] {
  if (typeof output === 'string') return output
  return output.map((p) => (p.type === 'text' ? { type: 'input_text', text: p.text } : imagePart(p)))
}

function toResponsesItems (item: ConversationItem, names: ToolNames): ResponsesItem[] {
  switch (item.type) {
    case 'message':
      switch (item.role) {
        // Codex silently drops role "system" from injected history: send it as developer.
        case 'system':
        case 'developer':
          return [{ type: 'message', role: 'developer', content: [{ type: 'input_text', text: textOf(item.content) }] }]
        case 'user':
          return [{
            type: 'message',
            role: 'user',
            content: item.content.map((p) => (p.type === 'text' ? { type: 'input_text', text: p.text } : imagePart(p)))
          }]
        case 'assistant':
          return assistantItems(item.content)
      }
      break
    case 'tool_call': {
      const call: ResponsesItem = { type: 'function_call', call_id: item.id, name: names.codexTool(item.name, item.namespace), arguments: item.arguments }
      if (item.itemId !== undefined) call.id = item.itemId
      const namespace = names.codexNamespace(item.namespace)
      if (namespace !== undefined) call.namespace = namespace
      return [call]
    }
    case 'tool_result':
      return [{ type: 'function_call_output', call_id: item.callId, output: toolOutput(item.output) }]
    case 'reasoning': {
      // Without its encrypted content the upstream cannot use a reasoning item (and a store:false
      // upstream refuses one): it is dropped, as OpenAI's own clients do.
      if (item.encryptedContent === undefined) return []
      const reasoning: ResponsesItem = {
        type: 'reasoning',
        summary: item.summary.map((text) => ({ type: 'summary_text', text })),
        encrypted_content: item.encryptedContent
      }
      if (item.id !== undefined) reasoning.id = item.id
      return [reasoning]
    }
  }
  return []
}

/**
 * The most text `turn/start` takes (Codex 0.169 refuses more with -32602 input_too_large);
 * `thread/inject_items` has no such limit, so a longer last message goes in as history.
 */
export const TURN_INPUT_MAX_CHARS = 1_048_576

/** What one turn sends: the items to inject first, and the input of the turn itself. */
export interface TurnItems {
  history: ResponsesItem[]
  /** The last user message, or [] when the items end otherwise (tool results). */
  input: TurnInput[]
}

/**
 * Items to add to a thread: all but a final user message are injected; that message is the
 * turn's input (unless it is too long for `turn/start`).
 */
export function planTurn (items: readonly ConversationItem[], names: ToolNames): TurnItems {
  const last = items.at(-1)
  const tooLong = last?.type === 'message' && last.content.reduce((n, p) => n + (p.type === 'text' ? p.text.length : 0), 0) > TURN_INPUT_MAX_CHARS
  const endsWithUser = last?.type === 'message' && last.role === 'user' && !tooLong
  const historyItems = endsWithUser ? items.slice(0, -1) : items
  const input: TurnInput[] = endsWithUser
    ? last.content.map((p): TurnInput => (p.type === 'text'
      ? { type: 'text', text: p.text, text_elements: [] }
      : p.detail === undefined ? { type: 'image', url: p.url } : { type: 'image', url: p.url, detail: p.detail }))
    : []
  return { history: toResponsesHistory(historyItems, names), input }
}

/** Items as raw Responses input items, as `thread/inject_items` takes them. */
export function toResponsesHistory (items: readonly ConversationItem[], names: ToolNames): ResponsesItem[] {
  return items.flatMap((item) => toResponsesItems(item, names))
}

/**
 * Splits a conversation into what a fresh thread needs: base instructions, the history to inject,
 * and the input of the one turn to run. Tool names are the ones Codex runs (see tool-names.ts).
 */
export function planThread (items: readonly ConversationItem[], names: ToolNames): ThreadPlan {
  let start = 0
  const base: string[] = []
  while (start < items.length) {
    const item = items[start]
    if (item?.type !== 'message' || (item.role !== 'system' && item.role !== 'developer')) break
    base.push(textOf(item.content))
    start += 1
  }
  return { baseInstructions: base.length === 0 ? undefined : base.join('\n\n'), ...planTurn(items.slice(start), names) }
}

/**
 * The request's tools as app-server dynamic tools (sent upstream as Responses function tools);
 * tools of one namespace become one namespace tool, where the first of them stood.
 */
export function dynamicTools (tools: readonly ToolSpec[], names: ToolNames): Array<Record<string, unknown>> {
  const specs: Array<Record<string, unknown>> = []
  const namespaces = new Map<string, Array<Record<string, unknown>>>()
  for (const t of tools) {
    const fn = { type: 'function', name: names.codexTool(t.name, t.namespace?.name), description: t.description ?? '', inputSchema: t.parameters }
    if (t.namespace === undefined) {
      specs.push(fn)
      continue
    }
    let members = namespaces.get(t.namespace.name)
    if (members === undefined) {
      members = []
      namespaces.set(t.namespace.name, members)
      specs.push({ type: 'namespace', name: names.codexNamespace(t.namespace.name), description: t.namespace.description ?? '', tools: members })
    }
    members.push(fn)
  }
  return specs
}

/**
 * What Codex cannot express as request fields (it always sends tool_choice "auto"), asked of the
 * model in a developer message instead: a required or named tool call, at most one call, JSON only.
 */
export function toolingInstructions (opts: { toolChoice: ToolChoice, parallelToolCalls: boolean, hasTools: boolean, jsonMode: boolean }): string | undefined {
  const lines: string[] = []
  if (opts.hasTools) {
    if (opts.toolChoice === 'required') lines.push('You must call one of the provided functions in your response.')
    else if (typeof opts.toolChoice === 'object') lines.push(`You must call the function \`${opts.toolChoice.name}\` in your response.`)
    if (!opts.parallelToolCalls) lines.push('Call at most one function per response.')
  }
  if (opts.jsonMode) lines.push('Respond with one valid JSON object and nothing else: no prose, no code fences.')
  return lines.length === 0 ? undefined : lines.join('\n')
}
