import { Agent, request } from 'node:http'
import { DIALECT_PROBES, type BenchDialect, type History } from './dialect-probes.js'
import { BENCH_KEY } from './proxy.js'

export interface AskResult {
  status: number
  /** When the request was written, on the machine-wide monotonic clock (ms); for cross-process profiles. */
  sentAtClock: number
  /** Request written → first non-empty content delta (streams) or the whole body (non-stream). */
  ttftMs: number | undefined
  /** Request written → last byte (after the stream's end event). */
  totalMs: number
  keepalives: number
  /** The stream ended with its end event (`[DONE]`, `response.completed`) and no error. */
  done: boolean
  content: string
  error: string | undefined
}

export interface AskOptions {
  stream: boolean
  /** Extra request headers (e.g. X-No-Keepalive). */
  headers?: Record<string, string> | undefined
  /** Which API to ask; Chat Completions by default. */
  dialect?: BenchDialect | undefined
  /** Earlier messages of the conversation (chat completions). */
  history?: History | undefined
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

/**
 * POST one prompt in `opts.dialect` (Chat Completions unless told) through node:http, timed on
 * this side of the socket.
 */
export async function ask (baseUrl: string, agent: Agent, prompt: string, opts: AskOptions): Promise<AskResult> {
  const probe = DIALECT_PROBES[opts.dialect ?? 'chat']
  const body = JSON.stringify(probe.body(prompt, opts.stream, opts.history))
  const result: AskResult = { status: 0, sentAtClock: 0, ttftMs: undefined, totalMs: 0, keepalives: 0, done: false, content: '', error: undefined }
  return await new Promise<AskResult>((resolve) => {
    let t0 = 0
    let settled = false
    const finish = (error?: string): void => {
      if (settled) return
      settled = true
      result.totalMs = performance.now() - t0
      if (error !== undefined) result.error ??= error
      resolve(result)
    }
    const req = request(`${baseUrl}${probe.path}`, {
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
            const whole = probe.whole(JSON.parse(text))
            result.content = whole.text
            if (whole.error !== undefined) result.error = whole.error
            result.done = result.status === 200 && whole.error === undefined
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
        const lines = block.split('\n')
        const event = lines.find((l) => l.startsWith('event: '))?.slice(7)
        const data = lines.find((l) => l.startsWith('data: '))?.slice(6)
        if (data === undefined) return
        const reading = probe.frame({ event, data })
        if (reading.error !== undefined) result.error ??= reading.error
        if (reading.done === true) result.done = result.error === undefined
        if (reading.text !== undefined) {
          result.ttftMs ??= performance.now() - t0
          result.content += reading.text
        }
      })
      res.on('data', (chunk: string) => { reader.push(chunk) })
      res.on('end', () => { finish(result.done ? undefined : 'stream ended before its end event') })
      res.on('error', (err) => { finish(err.message) })
    })
    req.on('error', (err) => { finish(err.message) })
    t0 = performance.now()
    result.sentAtClock = clock()
    req.end(body)
  })
}
