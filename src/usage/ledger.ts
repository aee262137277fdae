import { statSync } from 'node:fs'
import { mkdir, open as fsOpen, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { serverError } from '../errors.js'
import type { Logger } from '../logger.js'
import { boundedLines } from './bounded-lines.js'

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
/** No event line is anywhere near this long (a few hundred bytes); longer lines are skipped when read. */
export const MAX_LINE_BYTES = 64 * 1024

/** Why a usage log path cannot be used at all (it exists and is not a regular file), or undefined. */
export function usageLogProblem (path: string): string | undefined {
  let stats
  try {
    stats = statSync(path)
  } catch {
    return undefined
  }
  return stats.isFile() ? undefined : `TOKEN_LOG_PATH ${path} is not a regular file: point it at a file (it is created if missing)`
}

interface OpenLog {
  handle: FileHandle
  /** Identity of the open file, to notice it was moved or removed (log rotation). */
  dev: number
  ino: number
}

/**
 * The NDJSON usage log. Appends are serialized through one file handle, so concurrent requests
 * never interleave or lose lines. Before each append the path is checked: a log that was moved or
 * removed (logrotate, `rm`) is reopened, so no event goes to a file nobody reads; SIGHUP reopens
 * it too. Every line starts on a fresh line, even after a torn write (a full disk). A log that
 * cannot be written is reported once per failure and skipped: answering requests matters more
 * than the ledger. Reads stream the file with bounded lines.
 */
export class UsageLedger {
  readonly path: string
  readonly #log: Logger
  #open: OpenLog | undefined
  #chain: Promise<void> = Promise.resolve()
  #failing = false
  #reopen = false
  /** The file may end without a newline (found at open, or after a failed write). */
  #checkTail = true

  constructor (path: string, log: Logger) {
    this.path = path
    this.#log = log
  }

  append (event: UsageEvent): void {
    const line = `${JSON.stringify(event)}\n`
    this.#chain = this.#chain.then(async () => {
      try {
        const open = await this.#current()
        const prefix = this.#checkTail && await endsMidLine(open.handle) ? '\n' : ''
        this.#checkTail = false
        await writeAll(open.handle, Buffer.from(prefix + line, 'utf8'))
        if (this.#failing) {
          this.#failing = false
          this.#log.info({ path: this.path }, 'usage log is writable again')
        }
      } catch (err) {
        // A write may have landed partly: the next one checks how the file ends.
        this.#checkTail = true
        this.#fail(err)
      }
    })
  }

  /** Reopens the log by its path before the next append (SIGHUP, after an external rotation). */
  reopen (): void {
    this.#reopen = true
  }

  /** Resolves once everything appended so far is in the file. */
  async flush (): Promise<void> {
    await this.#chain
  }

  async close (): Promise<void> {
    await this.flush()
    const open = this.#open
    this.#open = undefined
    await open?.handle.close()
  }

  /** The open log, reopened when its path no longer names the same file. */
  async #current (): Promise<OpenLog> {
    const open = this.#open
    if (open !== undefined && !this.#reopen) {
      const now = await stat(this.path).catch(() => undefined)
      if (now !== undefined && now.ino === open.ino && now.dev === open.dev) return open
    }
    this.#reopen = false
    this.#open = undefined
    if (open !== undefined) {
      this.#log.info({ path: this.path }, 'usage log was moved, removed or rotated: reopening it')
      await open.handle.close().catch(() => {})
    }
    await mkdir(dirname(this.path), { recursive: true })
    const handle = await fsOpen(this.path, 'a+')
    const stats = await handle.stat()
    if (!stats.isFile()) {
      await handle.close()
      throw new Error(`${this.path} is not a regular file`)
    }
    this.#checkTail = true
    this.#open = { handle, dev: stats.dev, ino: stats.ino }
    return this.#open
  }

  #fail (err: unknown): void {
    if (this.#failing) return
    this.#failing = true
    this.#log.error({ err, path: this.path }, 'usage log is not writable (TOKEN_LOG_PATH); requests are still answered but not recorded')
  }

  /** Opens the log for reading; a path that is not a regular file is refused (500 for that request). */
  async #reader (): Promise<FileHandle | undefined> {
    let handle: FileHandle
    try {
      handle = await fsOpen(this.path, 'r')
    } catch {
      return undefined
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close()
      throw serverError(500, 'The usage log (TOKEN_LOG_PATH) is not a regular file.', 'usage_log_unreadable')
    }
    return handle
  }

  #skipped = (bytes: number): void => {
    this.#log.warn({ path: this.path, bytes }, 'usage log: skipped a line longer than any event')
  }

  /** The last `limit` events, oldest first, reading backwards from the end of the file. */
  async tail (limit: number): Promise<UsageEvent[]> {
    await this.flush()
    const handle = await this.#reader()
    if (handle === undefined) return []
    try {
      const { size } = await handle.stat()
      const lines: string[] = []
      let position = size
      let carry: Buffer = Buffer.alloc(0)
      // Inside a line longer than MAX_LINE_BYTES: its bytes are dropped up to its start.
      let skipping = false
      while (position > 0 && lines.length <= limit) {
        const length = Math.min(TAIL_CHUNK, position)
        position -= length
        const buf = Buffer.alloc(length)
        await handle.read(buf, 0, length, position)
        let data = carry.length === 0 ? buf : Buffer.concat([buf, carry])
        let nl = data.lastIndexOf(0x0a)
        // Whole lines are those after a newline; the head of the buffer waits for the next chunk.
        while (nl !== -1 && lines.length <= limit) {
          if (skipping) skipping = false
          else {
            const line = data.subarray(nl + 1).toString('utf8').trim()
            if (line.length > 0) lines.push(line)
          }
          data = data.subarray(0, nl)
          nl = data.lastIndexOf(0x0a)
        }
        carry = data
        if (carry.length > MAX_LINE_BYTES) {
          if (!skipping) this.#skipped(carry.length)
          skipping = true
          carry = Buffer.alloc(0)
        }
      }
      if (position === 0 && lines.length < limit && !skipping) {
        const first = carry.toString('utf8').trim()
        if (first.length > 0) lines.push(first)
      }
      return lines.slice(0, limit).map(parseEvent).filter((e): e is UsageEvent => e !== undefined).reverse()
    } finally {
      await handle.close()
    }
  }

  /** Every event of the log, in file order, read with bounded lines. */
  async * events (): AsyncGenerator<UsageEvent> {
    await this.flush()
    const handle = await this.#reader()
    if (handle === undefined) return
    try {
      for await (const line of boundedLines(handle.createReadStream({ autoClose: false }), MAX_LINE_BYTES, this.#skipped)) {
        const event = parseEvent(line)
        if (event !== undefined) yield event
      }
    } finally {
      await handle.close()
    }
  }

  /** Totals (and buckets, with a group) of events with start <= ts < end, streamed from the file. */
  async summarize (start: Date, end: Date, group?: UsageGroup | undefined): Promise<UsageSummary> {
    const startIso = start.toISOString()
    const endIso = end.toISOString()
    const summary: UsageSummary = {
      start: startIso, end: endIso, total_requests: 0, prompt_tokens_est: 0, completion_tokens_est: 0, total_tokens_est: 0
    }
    const buckets = new Map<string, UsageBucket>()
    for await (const event of this.events()) {
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

/** Writes every byte: on a nearly full disk a write can land partly without an error. */
async function writeAll (handle: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0
  while (offset < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset)
    if (bytesWritten === 0) throw Object.assign(new Error('no space left to write the usage log'), { code: 'ENOSPC' })
    offset += bytesWritten
  }
}

/** Whether a file's last byte is not a newline (a torn last line a new line must not be glued to). */
async function endsMidLine (handle: FileHandle): Promise<boolean> {
  const { size } = await handle.stat()
  if (size === 0) return false
  const last = Buffer.alloc(1)
  await handle.read(last, 0, 1, size - 1)
  return last[0] !== 0x0a
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
