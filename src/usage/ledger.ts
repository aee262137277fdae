import { createReadStream, type ReadStream } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createInterface } from 'node:readline'
import { Type, type Static } from '@sinclair/typebox'
import type { Logger } from '../logger.js'

/** One line of the usage log: the fields of the original service, plus where the counts came from. */
export const UsageEventSchema = Type.Object({
  ts: Type.String({ description: 'ISO time the request finished.' }),
  route: Type.String(),
  method: Type.String(),
  requested_model: Type.String(),
  effective_model: Type.String(),
  stream: Type.Boolean(),
  prompt_tokens_est: Type.Integer(),
  completion_tokens_est: Type.Integer(),
  total_tokens_est: Type.Integer(),
  duration_ms: Type.Integer(),
  status: Type.Integer(),
  user_agent: Type.String(),
  dialect: Type.Optional(Type.String({ description: 'chat, responses or messages.' })),
  key_name: Type.Optional(Type.String({ description: 'Name of the API key the request was made with.' })),
  usage_source: Type.Optional(Type.Union([Type.Literal('codex'), Type.Literal('estimate')])),
  cached_tokens: Type.Optional(Type.Integer()),
  reasoning_tokens: Type.Optional(Type.Integer()),
  request_id: Type.Optional(Type.String())
})
export type UsageEvent = Static<typeof UsageEventSchema>

export type UsageGroup = 'hour' | 'day'

export interface UsageBucket {
  ts: string
  requests: number
  prompt_tokens_est: number
  completion_tokens_est: number
  total_tokens_est: number
}

export interface UsageSummary {
  start: string
  end: string
  group?: UsageGroup
  total_requests: number
  prompt_tokens_est: number
  completion_tokens_est: number
  total_tokens_est: number
  buckets?: UsageBucket[]
}

const TAIL_CHUNK = 64 * 1024

/**
 * The NDJSON usage log. Appends are serialized through one file handle, so concurrent requests
 * never interleave or lose lines; reads stream the file instead of loading it. A log that cannot
 * be written is reported once and then skipped: answering requests matters more than the ledger.
 */
export class UsageLedger {
  readonly path: string
  readonly #log: Logger
  #handle: Promise<FileHandle | undefined> | undefined
  #chain: Promise<void> = Promise.resolve()
  #failed = false

  constructor (path: string, log: Logger) {
    this.path = path
    this.#log = log
  }

  append (event: UsageEvent): void {
    const line = `${JSON.stringify(event)}\n`
    this.#chain = this.#chain.then(async () => {
      const handle = await this.#open()
      if (handle === undefined) return
      try {
        await handle.write(line)
      } catch (err) {
        this.#fail(err)
      }
    })
  }

  /** Resolves once everything appended so far is in the file. */
  async flush (): Promise<void> {
    await this.#chain
  }

  async close (): Promise<void> {
    await this.flush()
    const handle = await this.#handle
    this.#handle = undefined
    await handle?.close()
  }

  async #open (): Promise<FileHandle | undefined> {
    this.#handle ??= (async () => {
      try {
        await mkdir(dirname(this.path), { recursive: true })
        return await open(this.path, 'a')
      } catch (err) {
        this.#fail(err)
        return undefined
      }
    })()
    return await this.#handle
  }

  #fail (err: unknown): void {
    if (this.#failed) return
    this.#failed = true
    this.#log.error({ err, path: this.path }, 'usage log is not writable (TOKEN_LOG_PATH); requests are still answered but not recorded')
  }

  /** The last `limit` events, oldest first, reading backwards from the end of the file. */
  async tail (limit: number): Promise<UsageEvent[]> {
    await this.flush()
    let handle: FileHandle
    try {
      handle = await open(this.path, 'r')
    } catch {
      return []
    }
    try {
      const { size } = await handle.stat()
      const lines: string[] = []
      let position = size
      let carry: Buffer = Buffer.alloc(0)
      while (position > 0 && lines.length <= limit) {
        const length = Math.min(TAIL_CHUNK, position)
        position -= length
        const buf = Buffer.alloc(length)
        await handle.read(buf, 0, length, position)
        let data = Buffer.concat([buf, carry])
        let nl = data.lastIndexOf(0x0a)
        // Whole lines are those after a newline; the head of the buffer waits for the next chunk.
        while (nl !== -1 && lines.length <= limit) {
          const line = data.subarray(nl + 1).toString('utf8').trim()
          if (line.length > 0) lines.push(line)
          data = data.subarray(0, nl)
          nl = data.lastIndexOf(0x0a)
        }
        carry = data
      }
      if (position === 0 && lines.length < limit) {
        const first = carry.toString('utf8').trim()
        if (first.length > 0) lines.push(first)
      }
      return lines.slice(0, limit).map(parseEvent).filter((e): e is UsageEvent => e !== undefined).reverse()
    } finally {
      await handle.close()
    }
  }

  /** Totals (and buckets, with a group) of events with start <= ts < end, streamed from the file. */
  async summarize (start: Date, end: Date, group?: UsageGroup | undefined): Promise<UsageSummary> {
    await this.flush()
    const startIso = start.toISOString()
    const endIso = end.toISOString()
    const summary: UsageSummary = {
      start: startIso, end: endIso, total_requests: 0, prompt_tokens_est: 0, completion_tokens_est: 0, total_tokens_est: 0
    }
    const buckets = new Map<string, UsageBucket>()
    let stream
    try {
      stream = await openForReading(this.path)
    } catch {
      stream = undefined
    }
    for await (const line of stream === undefined ? [] : createInterface({ input: stream, crlfDelay: Infinity })) {
      const event = parseEvent(line)
      if (event === undefined) continue
      const ts = new Date(event.ts)
      if (Number.isNaN(ts.getTime()) || ts < start || ts >= end) continue
      summary.total_requests += 1
      summary.prompt_tokens_est += event.prompt_tokens_est
      summary.completion_tokens_est += event.completion_tokens_est
      summary.total_tokens_est += event.total_tokens_est
      if (group !== undefined) {
        const key = bucketStart(ts, group)
        const bucket = buckets.get(key) ?? { ts: key, requests: 0, prompt_tokens_est: 0, completion_tokens_est: 0, total_tokens_est: 0 }
        bucket.requests += 1
        bucket.prompt_tokens_est += event.prompt_tokens_est
        bucket.completion_tokens_est += event.completion_tokens_est
        bucket.total_tokens_est += event.total_tokens_est
        buckets.set(key, bucket)
      }
    }
    if (group !== undefined) {
      summary.group = group
      summary.buckets = [...buckets.values()].sort((a, b) => a.ts.localeCompare(b.ts))
    }
    return summary
  }
}

/** A read stream that has actually opened (a missing file rejects here, not mid-iteration). */
async function openForReading (path: string): Promise<ReadStream> {
  const stream = createReadStream(path, { encoding: 'utf8' })
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => { resolve() })
    stream.once('error', reject)
  })
  return stream
}

function parseEvent (line: string): UsageEvent | undefined {
  try {
    const value = JSON.parse(line) as unknown
    if (typeof value !== 'object' || value === null || typeof (value as { ts?: unknown }).ts !== 'string') return undefined
    const e = value as UsageEvent
    return {
      ...e,
      prompt_tokens_est: Number(e.prompt_tokens_est) || 0,
      completion_tokens_est: Number(e.completion_tokens_est) || 0,
      total_tokens_est: Number(e.total_tokens_est) || 0
    }
  } catch {
    return undefined
  }
}

function bucketStart (ts: Date, group: UsageGroup): string {
  const d = new Date(ts)
  d.setUTCMinutes(0, 0, 0)
  if (group === 'day') d.setUTCHours(0)
  return d.toISOString()
}
