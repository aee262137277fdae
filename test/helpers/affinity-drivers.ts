import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { request } from 'undici'
import type { DialectName } from '../../src/api/dialect.js'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { AUTH, TEST_KEY, baseUrl } from './build-test-app.js'
import type { CodexUpstreamApp } from './codex-upstream-app.js'
import { parsePrometheus } from './prometheus.js'

// One conversation driver per API, so that the affinity scenarios run the same on chat
// completions, /v1/responses (a previous_response_id chain, or the whole input each round) and
// /v1/messages: say something, answer the tool calls, go back a round and say something else, send
// the same request again, or carry on as another key or with other tools — streaming or not, with
// the official SDKs. Each conversation also keeps the transcript the model should see upstream
// (`user: …`, `assistant: …`, `call NAME ARGS`, `output …`), to compare with what Codex sent.

export const BOB_KEY = 'key-of-bob'
const MODEL = { chat: 'codex-5', responses: 'codex-5', messages: 'claude-opus-5-5' }

export interface ToolSpec { name: string, parameters: Record<string, unknown>, strict?: boolean }
export interface Call { id: string, name: string, arguments: string }

export interface Answer {
  text: string
  calls: Call[]
}

export interface Round extends Answer {
  /** The transcript this round's request stood for: what the model should see. */
  sent: string[]
  /** The upstream requests made while the round ran (meaningful when rounds run one at a time). */
  upstream: MockRequest[]
}

export interface ConversationOptions {
  stream?: boolean
  tools?: readonly ToolSpec[]
  /** Another API key (`bob`): a conversation continues only for the key that started it. */
  as?: 'alice' | 'bob'
  system?: string | undefined
}

export interface Change {
  /** Go back this many rounds (as a client editing a message, or resending an older prompt). */
  back?: number
  as?: 'alice' | 'bob'
  tools?: readonly ToolSpec[]
}

export interface Conversation {
  /** A user message, the whole history sent (or as the API links it), the answer appended. */
  say: (text: string) => Promise<Round>
  /**
   * Results for the calls of the last answer, in order (fewer outputs than calls: the rest are left
   * out), and a new user message after them in the same request when `text` is given.
   */
  results: (outputs: readonly string[], text?: string) => Promise<Round>
  /** The last request once more, exactly as it was sent; the conversation stays as it was. */
  retry: () => Promise<Round>
  /** A copy to go on with, possibly from an earlier round, as another key or with other tools. */
  fork: (change?: Change) => Conversation
}

export interface Driver {
  /** Test titles: `chat`, `responses (previous_response_id)`, … */
  label: string
  dialect: DialectName
  start: (h: CodexUpstreamApp, clients: Clients, opts?: ConversationOptions) => Conversation
}

export interface Clients {
  openai: { alice: OpenAI, bob: OpenAI }
  anthropic: { alice: Anthropic, bob: Anthropic }
}

export function clientsFor (h: CodexUpstreamApp): Clients {
  const base = baseUrl(h.app)
  const common = { maxRetries: 0, timeout: 20_000 }
  return {
    openai: { alice: new OpenAI({ baseURL: `${base}/v1`, apiKey: TEST_KEY, ...common }), bob: new OpenAI({ baseURL: `${base}/v1`, apiKey: BOB_KEY, ...common }) },
    anthropic: { alice: new Anthropic({ baseURL: base, apiKey: TEST_KEY, ...common }), bob: new Anthropic({ baseURL: base, apiKey: BOB_KEY, ...common }) }
  }
}

const answerPieces = (a: Answer): string[] => [...(a.text === '' ? [] : [`assistant: ${a.text}`]), ...a.calls.map((c) => `call ${c.name} ${c.arguments}`)]

interface Step<S> { state: S, transcript: string[], calls: Call[] }

/** What every driver shares: the steps of the conversation, forks, retries, the transcript. */
abstract class BaseConversation<S> implements Conversation {
  protected readonly h: CodexUpstreamApp
  protected readonly clients: Clients
  protected readonly opts: Required<Omit<ConversationOptions, 'system'>> & { system: string | undefined }
  #steps: Array<Step<S>>
  #last: { state: S, sent: string[] } | undefined

  constructor (h: CodexUpstreamApp, clients: Clients, opts: ConversationOptions, steps: Array<Step<S>>) {
    this.h = h
    this.clients = clients
    this.opts = { stream: opts.stream ?? false, tools: opts.tools ?? [], as: opts.as ?? 'alice', system: opts.system }
    this.#steps = steps
  }

  get #current (): Step<S> {
    const step = this.#steps.at(-1)
    if (step === undefined) throw new Error('a conversation without a first step')
    return step
  }

  async say (text: string): Promise<Round> {
    return await this.#round(this.withUser(this.#current.state, text), [`user: ${text}`])
  }

  async results (outputs: readonly string[], text?: string): Promise<Round> {
    const calls = this.#current.calls
    if (calls.length === 0) throw new Error('no tool calls to answer')
    const pieces = [...outputs.map((o) => `output ${o}`), ...(text === undefined ? [] : [`user: ${text}`])]
    return await this.#round(this.withResults(this.#current.state, calls.slice(0, outputs.length), outputs, text), pieces)
  }

  async retry (): Promise<Round> {
    const last = this.#last
    if (last === undefined) throw new Error('nothing to retry')
    return (await this.#send(last.state, last.sent)).round
  }

  fork (change: Change = {}): Conversation {
    const steps = this.#steps.slice(0, this.#steps.length - (change.back ?? 0))
    if (steps.length === 0) throw new Error(`cannot go back ${change.back ?? 0} rounds`)
    const opts = { ...this.opts, ...(change.as === undefined ? {} : { as: change.as }), ...(change.tools === undefined ? {} : { tools: change.tools }) }
    return this.copy(opts, steps)
  }

  async #round (state: S, pieces: string[]): Promise<Round> {
    const sent = [...this.#current.transcript, ...pieces]
    this.#last = { state, sent }
    const { round, after } = await this.#send(state, sent)
    this.#steps.push({ state: after, transcript: [...sent, ...answerPieces(round)], calls: round.calls })
    return round
  }

  async #send (state: S, sent: string[]): Promise<{ round: Round, after: S }> {
    const n = this.h.upstream.requests.length
    const { answer, after } = await this.send(state)
    return { round: { ...answer, sent, upstream: this.h.upstream.requests.slice(n) }, after }
  }

  /** The state with a user message added (what is sent next). */
  protected abstract withUser (state: S, text: string): S
  /** The state with these calls' results added (and a user message after them). */
  protected abstract withResults (state: S, calls: readonly Call[], outputs: readonly string[], text: string | undefined): S
  /** Sends a request for the state; the answer, and the state with the answer added. */
  protected abstract send (state: S): Promise<{ answer: Answer, after: S }>
  protected abstract copy (opts: ConversationOptions, steps: Array<Step<S>>): Conversation
}

// ---- chat completions -------------------------------------------------------------------------

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam

class ChatConversation extends BaseConversation<ChatMessage[]> {
  protected withUser (state: ChatMessage[], text: string): ChatMessage[] {
    return [...state, { role: 'user', content: text }]
  }

  protected withResults (state: ChatMessage[], calls: readonly Call[], outputs: readonly string[], text: string | undefined): ChatMessage[] {
    const results = calls.map((c, i): ChatMessage => ({ role: 'tool', tool_call_id: c.id, content: outputs[i] ?? '' }))
    return [...state, ...results, ...(text === undefined ? [] : [{ role: 'user' as const, content: text }])]
  }

  protected async send (messages: ChatMessage[]): Promise<{ answer: Answer, after: ChatMessage[] }> {
    const tools = this.opts.tools.map((t): OpenAI.Chat.ChatCompletionTool => ({ type: 'function', function: { name: t.name, parameters: t.parameters, ...(t.strict === undefined ? {} : { strict: t.strict }) } }))
    const body = { model: MODEL.chat, messages, ...(tools.length === 0 ? {} : { tools }) }
    const client = this.clients.openai[this.opts.as]
    const completion = this.opts.stream
      ? await client.chat.completions.stream(body).finalChatCompletion()
      : await client.chat.completions.create(body)
    const message = completion.choices[0]?.message
    if (message === undefined) throw new Error('a completion without a choice')
    const calls = (message.tool_calls ?? []).flatMap((c) => (c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : []))
    const assistant: ChatMessage = { role: 'assistant', content: message.content, ...(message.tool_calls === undefined || message.tool_calls.length === 0 ? {} : { tool_calls: message.tool_calls }) }
    return { answer: { text: message.content ?? '', calls }, after: [...messages, assistant] }
  }

  protected copy (opts: ConversationOptions, steps: Array<Step<ChatMessage[]>>): Conversation {
    return new ChatConversation(this.h, this.clients, opts, steps)
  }
}

// ---- the Responses API ------------------------------------------------------------------------

type Item = OpenAI.Responses.ResponseInputItem
interface ResponsesState {
  /** The whole conversation as input items. */
  items: Item[]
  /** The items added since the last response (what a previous_response_id request sends). */
  fresh: Item[]
  previousId: string | undefined
  /** Linked by previous_response_id (stored responses); else the whole input each round, store: false. */
  chain: boolean
}

class ResponsesConversation extends BaseConversation<ResponsesState> {
  protected withUser (state: ResponsesState, text: string): ResponsesState {
    const item: Item = { role: 'user', content: text }
    return { ...state, items: [...state.items, item], fresh: [...state.fresh, item] }
  }

  protected withResults (state: ResponsesState, calls: readonly Call[], outputs: readonly string[], text: string | undefined): ResponsesState {
    const results = calls.map((c, i): Item => ({ type: 'function_call_output', call_id: c.id, output: outputs[i] ?? '' }))
    if (text !== undefined) results.push({ role: 'user', content: text })
    return { ...state, items: [...state.items, ...results], fresh: [...state.fresh, ...results] }
  }

  protected async send (state: ResponsesState): Promise<{ answer: Answer, after: ResponsesState }> {
    const tools = this.opts.tools.map((t): OpenAI.Responses.FunctionTool => ({ type: 'function', name: t.name, parameters: t.parameters, strict: t.strict ?? false }))
    // Stored responses belong to the key that made them: another key can only send the whole input.
    const chain = state.chain && this.opts.as === 'alice'
    const body = {
      model: MODEL.responses,
      ...(this.opts.system === undefined ? {} : { instructions: this.opts.system }),
      ...(tools.length === 0 ? {} : { tools }),
      ...(chain ? { input: state.fresh, ...(state.previousId === undefined ? {} : { previous_response_id: state.previousId }) } : { input: state.items, store: false })
    }
    const client = this.clients.openai[this.opts.as]
    let response: OpenAI.Responses.Response
    if (this.opts.stream) {
      // As Codex builds its history: from the output_item.done events (the SDK's finalResponse()
      // is response.completed's copy); they must agree with response.completed.
      const stream = client.responses.stream(body)
      const done: OpenAI.Responses.ResponseOutputItem[] = []
      for await (const event of stream) if (event.type === 'response.output_item.done') done.push(event.item)
      const completed = await stream.finalResponse()
      // (finalResponse() adds the SDK's own `parsed` fields.)
      const plain = (v: unknown): string => JSON.stringify(v, (k, x: unknown) => (k === 'parsed' || k === 'parsed_arguments' ? undefined : x))
      if (plain(done) !== plain(completed.output)) throw new Error(`streamed items ${JSON.stringify(done)} differ from response.completed's ${JSON.stringify(completed.output)}`)
      response = { ...completed, output: done }
    } else {
      response = await client.responses.create(body)
    }
    const text = response.output.flatMap((o) => (o.type === 'message' ? o.content.flatMap((c) => (c.type === 'output_text' ? [c.text] : [])) : [])).join('')
    const calls = response.output.flatMap((o) => (o.type === 'function_call' ? [{ id: o.call_id, name: o.name, arguments: o.arguments }] : []))
    const after: ResponsesState = { items: [...state.items, ...(response.output as Item[])], fresh: [], previousId: response.id, chain: state.chain }
    return { answer: { text, calls }, after }
  }

  protected copy (opts: ConversationOptions, steps: Array<Step<ResponsesState>>): Conversation {
    return new ResponsesConversation(this.h, this.clients, opts, steps)
  }
}

// ---- the Messages API -------------------------------------------------------------------------

class MessagesConversation extends BaseConversation<Anthropic.MessageParam[]> {
  protected withUser (state: Anthropic.MessageParam[], text: string): Anthropic.MessageParam[] {
    return [...state, { role: 'user', content: text }]
  }

  protected withResults (state: Anthropic.MessageParam[], calls: readonly Call[], outputs: readonly string[], text: string | undefined): Anthropic.MessageParam[] {
    const results = calls.map((c, i): Anthropic.ToolResultBlockParam => ({ type: 'tool_result', tool_use_id: c.id, content: outputs[i] ?? '' }))
    return [...state, { role: 'user', content: [...results, ...(text === undefined ? [] : [{ type: 'text' as const, text }])] }]
  }

  protected async send (messages: Anthropic.MessageParam[]): Promise<{ answer: Answer, after: Anthropic.MessageParam[] }> {
    const tools = this.opts.tools.map((t) => ({ name: t.name, input_schema: t.parameters as Anthropic.Tool.InputSchema, ...(t.strict === undefined ? {} : { strict: t.strict }) }) as Anthropic.Tool)
    // Thinking on, as Claude Code runs: signed thinking blocks go back with the history.
    const body: Anthropic.MessageCreateParamsNonStreaming = {
      model: MODEL.messages,
      max_tokens: 4096,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      messages,
      ...(this.opts.system === undefined ? {} : { system: this.opts.system }),
      ...(tools.length === 0 ? {} : { tools })
    }
    const client = this.clients.anthropic[this.opts.as]
    const m = this.opts.stream
      ? await client.messages.stream(body).finalMessage()
      : await client.messages.create(body)
    const text = m.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('')
    const calls = m.content.flatMap((b) => (b.type === 'tool_use' ? [{ id: b.id, name: b.name, arguments: JSON.stringify(b.input) }] : []))
    return { answer: { text, calls }, after: [...messages, { role: 'assistant', content: m.content }] }
  }

  protected copy (opts: ConversationOptions, steps: Array<Step<Anthropic.MessageParam[]>>): Conversation {
    return new MessagesConversation(this.h, this.clients, opts, steps)
  }
}

const firstSteps = (opts: ConversationOptions): string[] => (opts.system === undefined ? [] : [`developer: ${opts.system}`])
const responses = (chain: boolean) => (h: CodexUpstreamApp, clients: Clients, opts: ConversationOptions = {}): Conversation =>
  new ResponsesConversation(h, clients, opts, [{ state: { items: [], fresh: [], previousId: undefined, chain }, transcript: firstSteps(opts), calls: [] }])

/** The drivers: chat, Responses as a previous_response_id chain and as the whole input each round, Messages. */
export const DRIVERS: readonly Driver[] = [
  {
    label: 'chat completions',
    dialect: 'chat',
    start: (h, clients, opts = {}) => new ChatConversation(h, clients, opts, [{ state: opts.system === undefined ? [] : [{ role: 'system', content: opts.system }], transcript: firstSteps(opts), calls: [] }])
  },
  { label: 'responses (previous_response_id)', dialect: 'responses', start: responses(true) },
  { label: 'responses (whole input, store: false)', dialect: 'responses', start: responses(false) },
  { label: 'messages', dialect: 'messages', start: (h, clients, opts = {}) => new MessagesConversation(h, clients, opts, [{ state: [], transcript: firstSteps(opts), calls: [] }]) }
]

// ---- what the upstream saw --------------------------------------------------------------------

/** An upstream request's input as a transcript (reasoning items left out: the thread has them either way). */
export function upstreamTranscript (r: MockRequest | undefined): string[] {
  return (r?.body?.input ?? []).flatMap((item): string[] => {
    if (item.type === 'reasoning') return []
    if (item.type === 'function_call') return [`call ${String(item.name)} ${String(item.arguments)}`]
    if (item.type === 'function_call_output') return [`output ${typeof item.output === 'string' ? item.output : JSON.stringify(item.output)}`]
    if (item.type === 'message' || (item.type === undefined && typeof item.role === 'string')) {
      const content = item.content
      const text = typeof content === 'string' ? content : Array.isArray(content) ? content.map((c: { text?: string }) => c.text ?? '').join('') : ''
      return [`${String(item.role)}: ${text}`]
    }
    return [`${String(item.type)}?`]
  })
}

/** Every function_call_output of the request follows the function_call with its call_id. */
export function unpairedOutputs (r: MockRequest | undefined): string[] {
  const seen = new Set<string>()
  const unpaired: string[] = []
  for (const item of r?.body?.input ?? []) {
    if (item.type === 'function_call') seen.add(String(item.call_id))
    if (item.type === 'function_call_output' && !seen.has(String(item.call_id))) unpaired.push(String(item.call_id))
  }
  return unpaired
}

export const cacheKeys = (requests: readonly MockRequest[]): string[] => requests.map((r) => String(r.body?.prompt_cache_key))

// ---- the rounds metric ------------------------------------------------------------------------

/** `codex_api_conversation_rounds_total` for a dialect: `continued`, `fresh/REASON` → count. */
export async function roundsMetric (h: CodexUpstreamApp, dialect: DialectName): Promise<Record<string, number>> {
  const res = await request(`${baseUrl(h.app)}/metrics`, { headers: AUTH })
  const counts: Record<string, number> = {}
  for (const s of parsePrometheus(await res.body.text())) {
    if (s.name !== 'codex_api_conversation_rounds_total' || s.labels.dialect !== dialect) continue
    const key = s.labels.result === 'continued' ? 'continued' : `${s.labels.result ?? ''}/${s.labels.reason ?? ''}`
    counts[key] = (counts[key] ?? 0) + s.value
  }
  return counts
}

/** How the rounds metric grew since `before` (only what changed). */
export function grown (before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0)
  return out
}
