import { statSync } from 'node:fs'
import { mkdir, open as fsOpen, rename, stat, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import type { Logger } from '../logger.js'
import { compactStamp, utcDay } from './log-files.js'
import { UsageIndex } from './usage-index.js'

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
  size: number
  /** UTC day of the last event written to it (or of its last change, for a file found at open). */
  day: string | undefined
}

/** When the server rotates the log itself (TOKEN_LOG_ROTATE, TOKEN_LOG_ROTATE_BYTES). */
export interface RotationPolicy {
  /** Start a new file before one would grow past this many bytes; 0: never. */
  maxBytes: number
  /** Start a new file with the first event of a new UTC day. */
  daily: boolean
}

const NO_ROTATION: RotationPolicy = { maxBytes: 0, daily: false }
/** After a rotation failed (a read-only directory), how long until it is tried again. */
const ROTATE_RETRY_MS = 60_000

/**
 * The NDJSON usage log. Appends are serialized through one file handle, so concurrent requests
 * never interleave or lose lines. Before each append the path is checked: a log that was moved or
 * removed (logrotate, `rm`) is reopened, so no event goes to a file nobody reads; SIGHUP reopens
 * it too. Every line starts on a fresh line, even after a torn write (a full disk). A log that
 * cannot be written is reported once per failure and skipped: answering requests matters more
 * than the ledger. With a rotation policy the ledger renames the file itself (by size or by day)
 * before the append that would cross the line. Queries go through `index` (hourly rollups of the
 * log and its rotated files), which reads what the ledger wrote.
 */
export class UsageLedger {
  readonly path: string
  readonly index: UsageIndex
  readonly #log: Logger
  readonly #rotation: RotationPolicy
  #rotateFailedAt = 0
  #open: OpenLog | undefined
  #chain: Promise<void> = Promise.resolve()
  #failing = false
  #reopen = false
  /** The file may end without a newline (found at open, or after a failed write). */
  #checkTail = true

  constructor (path: string, log: Logger, rotation: RotationPolicy = NO_ROTATION) {
    this.path = path
    this.#log = log
    this.#rotation = rotation
    this.index = new UsageIndex(path, log, async () => { await this.flush() })
  }

  append (event: UsageEvent): void {
    const line = `${JSON.stringify(event)}\n`
    const ms = Date.parse(event.ts)
    const day = utcDay(Number.isNaN(ms) ? Date.now() : ms)
    this.#chain = this.#chain.then(async () => {
      try {
        let open = await this.#current()
        if (this.#rotationDue(open, Buffer.byteLength(line), day)) open = await this.#rotate(open)
        const prefix = this.#checkTail && await endsMidLine(open.handle) ? '\n' : ''
        this.#checkTail = false
        const bytes = Buffer.from(prefix + line, 'utf8')
        await writeAll(open.handle, bytes)
        open.size += bytes.length
        open.day = day
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
    await this.index.save()
    const open = this.#open
    this.#open = undefined
    await open?.handle.close()
  }

  #rotationDue (open: OpenLog, bytes: number, day: string): boolean {
    if (open.size === 0 || Date.now() - this.#rotateFailedAt < ROTATE_RETRY_MS) return false
    const { maxBytes, daily } = this.#rotation
    return (maxBytes > 0 && open.size + bytes > maxBytes) || (daily && open.day !== undefined && open.day !== day)
  }

  /**
   * Renames the live log to a rotated name beside it and opens a new one. The rotated file keeps
   * its rollups (the index knows it by inode), so totals stay whole; a rename that fails leaves
   * the events going to the old file, and is tried again a minute later.
   */
  async #rotate (open: OpenLog): Promise<OpenLog> {
    const stamp = this.#rotation.daily && open.day !== undefined && (this.#rotation.maxBytes === 0 || open.size < this.#rotation.maxBytes)
      ? open.day
      : compactStamp(Date.now())
    let target = `${this.path}.${stamp}`
    for (let n = 1; await stat(target).then(() => true, () => false); n++) target = `${this.path}.${stamp}-${n}`
    try {
      await rename(this.path, target)
    } catch (err) {
      this.#rotateFailedAt = Date.now()
      this.#log.warn({ err, path: this.path }, 'usage log: could not rotate it; events still go to the current file')
      return open
    }
    this.#log.info({ path: this.path, rotated: target }, 'usage log rotated')
    this.#open = undefined
    await open.handle.close().catch(() => {})
    return await this.#current()
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
    this.#open = { handle, dev: stats.dev, ino: stats.ino, size: stats.size, day: stats.size > 0 ? utcDay(stats.mtimeMs) : undefined }
    return this.#open
  }

  #fail (err: unknown): void {
    if (this.#failing) return
    this.#failing = true
    this.#log.error({ err, path: this.path }, 'usage log is not writable (TOKEN_LOG_PATH); requests are still answered but not recorded')
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
