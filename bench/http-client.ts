import { Agent, request } from 'node:http'
import { BENCH_KEY } from './proxy.js'

export interface ChatResult {
  status: number
  /** When the request was written, on the machine-wide monotonic clock (ms); for cross-process profiles. */
  sentAtClock: number
  /** Request written → first non-empty content delta (streams) or the whole body (non-stream). */
  ttftMs: number | undefined
  /** Request written → last byte (after `[DONE]` for streams). */
  totalMs: number
  keepalives: number
  /** The stream ended with `data: [DONE]` and no error frame. */
  done: boolean
  content: string
  error: string | undefined
}

export interface ChatOptions {
  stream: boolean
  /** Extra request headers (e.g. X-No-Keepalive). */
  headers?: Record<string, string> | undefined
}

/** CLOCK_MONOTONIC in ms: the same clock in every process on the machine (libuv's hrtime). */
export const clock = (): number => Number(process.hrtime.bigint()) / 1e6

/** A client connection pool like the SDKs keep (keep-alive), sized to the concurrency used. */
export const clientAgent = (maxSockets: number): Agent => new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets })

/** Frames SSE blocks out of chunks as they arrive (a block may span chunks). */
class SseReader {
  #buffer = ''
  readonly onBlock: (block: string) => void
  constructor (onBlock: (block: string) => void) {
    this.onBlock = onBlock
  }

  push (text: string): void {
    this.#buffer += text
    for (let at = this.#buffer.indexOf('\n\n'); at !== -1; at = this.#buffer.indexOf('\n\n')) {
      const block = this.#buffer.slice(0, at)
      this.#buffer = this.#buffer.slice(at + 2)
      this.onBlock(block)
    }
  }
}

interface ChunkShape { choices?: Array<{ delta?: { content?: string | null }, message?: { content?: string | null } }>, error?: { message?: string } }

/** POST /v1/chat/completions through node:http, timed on this side of the socket. */
export async function chat (baseUrl: string, agent: Agent, prompt: string, opts: ChatOptions): Promise<ChatResult> {
  const body = JSON.stringify({ model: 'codex-5', stream: opts.stream, messages: [{ role: 'user', content: prompt }] })
  const result: ChatResult = { status: 0, sentAtClock: 0, ttftMs: undefined, totalMs: 0, keepalives: 0, done: false, content: '', error: undefined }
  return await new Promise<ChatResult>((resolve) => {
    let t0 = 0
    let settled = false
    const finish = (error?: string): void => {
      if (settled) return
      settled = true
      result.totalMs = performance.now() - t0
      if (error !== undefined) result.error ??= error
      resolve(result)
    }
    const req = request(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: `Bearer ${BENCH_KEY}`,
        ...opts.headers
      }
    }, (res) => {
      result.status = res.statusCode ?? 0
      res.setEncoding('utf8')
      if (!opts.stream || result.status !== 200) {
        let text = ''
        res.on('data', (chunk: string) => { text += chunk })
        res.on('end', () => {
          result.ttftMs = performance.now() - t0
          try {
            const json = JSON.parse(text) as ChunkShape
            result.content = json.choices?.[0]?.message?.content ?? ''
            if (json.error !== undefined) result.error = json.error.message ?? 'error'
            result.done = result.status === 200 && json.error === undefined
          } catch {
            result.error = `unparsable body (${result.status})`
          }
          finish(result.status === 200 ? undefined : `HTTP ${result.status}`)
        })
        return
      }
      const reader = new SseReader((block) => {
        if (block.startsWith(':')) {
          result.keepalives++
          return
        }
        if (!block.startsWith('data: ')) return
        const data = block.slice(6)
        if (data === '[DONE]') {
          result.done = result.error === undefined
          return
        }
        const json = JSON.parse(data) as ChunkShape
        if (json.error !== undefined) result.error = json.error.message ?? 'error frame'
        const text = json.choices?.[0]?.delta?.content
        if (typeof text === 'string' && text.length > 0) {
          result.ttftMs ??= performance.now() - t0
          result.content += text
        }
      })
      res.on('data', (chunk: string) => { reader.push(chunk) })
      res.on('end', () => { finish(result.done ? undefined : 'stream ended without [DONE]') })
      res.on('error', (err) => { finish(err.message) })
    })
    req.on('error', (err) => { finish(err.message) })
    t0 = performance.now()
    result.sentAtClock = clock()
    req.end(body)
  })
}
