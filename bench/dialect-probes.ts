// What a benchmark request looks like in each dialect the proxy speaks, and how its answer is
// read: the same prompt through /v1/chat/completions, /v1/responses or /v1/messages, timed by the
// same client.

export type BenchDialect = 'chat' | 'responses' | 'messages'

/** One SSE block of an answer, as the client sees it. */
export interface Frame { event: string | undefined, data: string }

export interface FrameReading {
  text?: string
  /** The stream's own end (`[DONE]`, `response.completed`). */
  done?: boolean
  error?: string
}

/** Earlier messages of a conversation, before the prompt (chat completions only). */
export type History = ReadonlyArray<{ role: 'system' | 'user' | 'assistant', content: string }>

export interface DialectProbe {
  path: string
  body: (prompt: string, stream: boolean, history?: History) => Record<string, unknown>
  /** What one stream frame says. */
  frame: (frame: Frame) => FrameReading
  /** The text and error of a whole (non-streamed) answer. */
  whole: (json: unknown) => { text: string, error: string | undefined }
  /** How the end of a stream is named in result tables. */
  doneLabel: string
}

interface ErrorShape { error?: { message?: string } | null }
interface ChatShape extends ErrorShape { choices?: Array<{ delta?: { content?: string | null }, message?: { content?: string | null } }> }
interface ResponsesEvent { type?: string, delta?: string, response?: { error?: { message?: string } | null } }
interface ResponseShape extends ErrorShape { output_text?: string, output?: Array<{ type?: string, content?: Array<{ type?: string, text?: string }> }> }

const chatProbe: DialectProbe = {
  path: '/v1/chat/completions',
  body: (prompt, stream, history = []) => ({ model: 'codex-5', stream, messages: [...history, { role: 'user', content: prompt }] }),
  frame: ({ data }) => {
    if (data === '[DONE]') return { done: true }
    const json = JSON.parse(data) as ChatShape
    const reading: FrameReading = {}
    if (json.error != null) reading.error = json.error.message ?? 'error frame'
    const text = json.choices?.[0]?.delta?.content
    if (typeof text === 'string' && text.length > 0) reading.text = text
    return reading
  },
  whole: (json) => {
    const body = json as ChatShape
    return { text: body.choices?.[0]?.message?.content ?? '', error: body.error == null ? undefined : body.error.message ?? 'error' }
  },
  doneLabel: '`[DONE]`'
}

const responsesProbe: DialectProbe = {
  path: '/v1/responses',
  body: (prompt, stream) => ({ model: 'codex-5', stream, input: prompt }),
  frame: ({ event, data }) => {
    const json = JSON.parse(data) as ResponsesEvent
    const type = event ?? json.type
    if (type === 'response.output_text.delta' && typeof json.delta === 'string' && json.delta.length > 0) return { text: json.delta }
    if (type === 'response.completed') return { done: true }
    if (type === 'response.failed' || type === 'response.incomplete') return { error: json.response?.error?.message ?? type }
    if (type === 'error') return { error: (json as ErrorShape & { message?: string }).message ?? 'error event' }
    return {}
  },
  whole: (json) => {
    const body = json as ResponseShape
    const text = body.output?.flatMap((item) => item.type === 'message' ? (item.content ?? []) : [])
      .map((part) => part.type === 'output_text' ? part.text ?? '' : '').join('') ?? ''
    return { text, error: body.error == null ? undefined : body.error.message ?? 'error' }
  },
  doneLabel: '`response.completed`'
}

interface MessagesEvent { type?: string, delta?: { type?: string, text?: string }, error?: { message?: string } }
interface MessageShape { type?: string, content?: Array<{ type?: string, text?: string }>, error?: { message?: string } }

const messagesProbe: DialectProbe = {
  path: '/v1/messages',
  body: (prompt, stream) => ({ model: 'claude-sonnet-4-5', max_tokens: 1024, stream, messages: [{ role: 'user', content: prompt }] }),
  frame: ({ event, data }) => {
    const json = JSON.parse(data) as MessagesEvent
    const type = event ?? json.type
    if (type === 'content_block_delta' && json.delta?.type === 'text_delta' && typeof json.delta.text === 'string' && json.delta.text.length > 0) return { text: json.delta.text }
    if (type === 'message_stop') return { done: true }
    if (type === 'error') return { error: json.error?.message ?? 'error event' }
    return {}
  },
  whole: (json) => {
    const body = json as MessageShape
    const text = (body.content ?? []).map((block) => (block.type === 'text' ? block.text ?? '' : '')).join('')
    return { text, error: body.type === 'error' ? body.error?.message ?? 'error' : undefined }
  },
  doneLabel: '`message_stop`'
}

export const DIALECT_PROBES: Record<BenchDialect, DialectProbe> = { chat: chatProbe, responses: responsesProbe, messages: messagesProbe }
