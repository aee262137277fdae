import { createHash } from 'node:crypto'
import { open, unlink, type FileHandle } from 'node:fs/promises'
import type { Logger } from '../logger.js'
import { newDimensions, type Dimensions } from './dimensions.js'
import { eventKeyName, parseEvent } from './event-line.js'
import type { UsageEvent } from './ledger.js'
import { logFiles, type LogFile } from './log-files.js'
import { scanLineBatches, scanLines } from './line-scanner.js'
import { RollupTable } from './rollup-table.js'
import { readSidecar, writeSidecar, type SidecarFile } from './sidecar.js'
import { SummaryBuilder, type UsageQuery } from './summary-builder.js'
import type { UsageSummary } from './summary-schema.js'
import { eventHour, eventValues, HOUR_MS, VALUE_COUNT } from './usage-values.js'

/** No event line is anywhere near this long (a few hundred bytes); longer lines are skipped. */
export const MAX_LINE_BYTES = 64 * 1024
/** The head of a file whose hash tells it apart from another file that got the same inode. */
const HEAD_BYTES = 4096

interface IndexedFile {
  path: string
  dev: number
  ino: number
  mtimeMs: number
  current: boolean
  /** Bytes folded into the table: everything before is counted, nothing after. */
  indexed: number
  head: string
  headLength: number
  /** By hour (with the byte ranges of each hour's lines). */
  table: RollupTable
  /** The same by day, for long windows (kept in memory only: built from `table` at load). */
  days: RollupTable
}

/** Which events a raw listing returns. */
export interface EventFilter {
  keys?: readonly string[] | undefined
  models?: readonly string[] | undefined
  routes?: readonly string[] | undefined
}

const fileId = (f: { dev: number, ino: number }): string => `${f.dev}:${f.ino}`

const matchesEvent = (event: UsageEvent, filter: EventFilter): boolean =>
  (filter.keys === undefined || filter.keys.includes(eventKeyName(event))) &&
  (filter.models === undefined || filter.models.includes(event.effective_model)) &&
  (filter.routes === undefined || filter.routes.includes(event.route))

async function headHash (handle: FileHandle, length: number): Promise<string> {
  const buf = Buffer.alloc(length)
  const { bytesRead } = await handle.read(buf, 0, length, 0)
  return createHash('sha256').update(buf.subarray(0, bytesRead)).digest('hex')
}

const tablesFrom = (table: RollupTable): { table: RollupTable, days: RollupTable } => ({ table, days: table.daily() })

/**
 * Adds a table's periods [from, to): period by period when that is a small part of what the table
 * spans, else in one pass over all its rows.
 */
function addPeriods (builder: SummaryBuilder, table: RollupTable, from: number, to: number, hoursPer: number): void {
  const lo = Math.max(from, table.minPeriod)
  const hi = Math.min(to, table.maxPeriod + 1)
  if (lo >= hi) return
  if ((hi - lo) * 2 > table.maxPeriod - table.minPeriod) {
    builder.addRows(table, undefined, lo, hi, hoursPer)
    return
  }
  for (let period = lo; period < hi; period++) builder.addRows(table, table.rowsOf(period), period, period + 1, hoursPer)
}

/** The events of one hour in one file, with the offset of each line. */
async function * readHour (handle: FileHandle, file: IndexedFile, hour: number): AsyncGenerator<UsageEvent & { at: number }> {
  const span = file.table.spans.get(hour)
  if (span === undefined) return
  for await (const line of scanLines(handle, span.start, span.end, MAX_LINE_BYTES)) {
    const event = line.skipped ? undefined : parseEvent(line.text)
    if (event !== undefined && eventHour(event) === hour) yield { ...event, at: line.start }
  }
}

/**
 * Hourly and daily rollups of the usage log and its rotated files, so `/v1/usage` answers from a
 * few ten thousand rows instead of reading every line. The log stays the source of truth: each
 * query first folds in whatever was appended since (by byte offset, only whole lines: a torn or
 * unfinished last line waits), a file that shrank or whose head changed is re-read, a file that
 * is gone no longer counts, and a rotated file keeps its rollup (it is the same inode under a new
 * name). The rollups are saved beside the log (`<log>.index`) and loaded at start, so a restart
 * reads only what was appended after the last save; without it (or when it is stale) the log is
 * read once, in the background of the first query.
 */
export class UsageIndex {
  readonly path: string
  readonly sidecarPath: string
  readonly #log: Logger
  #dims: Dimensions = newDimensions()
  #files = new Map<string, IndexedFile>()
  #refreshing: Promise<void> | undefined
  #again = false
  #loaded: Promise<void> | undefined
  #dirty = false
  #saving: Promise<void> = Promise.resolve()

  /** Resolves once the writer's queued appends are in the file (the ledger's flush). */
  readonly #flush: () => Promise<void>

  constructor (path: string, log: Logger, flush: () => Promise<void> = async () => {}) {
    this.#flush = flush
    this.path = path
    this.sidecarPath = `${path}.index`
    this.#log = log
  }

  /** Loads the saved rollups (once); what they miss is read at the next refresh. */
  async #load (): Promise<void> {
    this.#loaded ??= (async () => {
      const sidecar = await readSidecar(this.sidecarPath)
      if (sidecar === undefined) return
      this.#dims = newDimensions(sidecar.header.dimensions)
      sidecar.header.files.forEach((file: SidecarFile, i) => {
        const columns = sidecar.tables[i]
        if (columns === undefined) return
        this.#files.set(fileId(file), {
          path: file.path,
          dev: file.dev,
          ino: file.ino,
          mtimeMs: 0,
          current: false,
          indexed: file.indexed,
          head: file.head,
          headLength: file.headLength,
          ...tablesFrom(RollupTable.fromColumns(columns))
        })
      })
      this.#log.debug({ files: this.#files.size }, 'usage index: loaded the saved rollups')
    })()
    await this.#loaded
  }

  /** Folds everything the log files hold now into the rollups; concurrent callers share one pass. */
  async refresh (): Promise<void> {
    await this.#flush()
    await this.#load()
    if (this.#refreshing !== undefined) {
      // A pass is running but may have listed the files before the caller's event was written.
      this.#again = true
      await this.#refreshing
      return
    }
    this.#refreshing = (async () => {
      try {
        do {
          this.#again = false
          await this.#refreshOnce()
        } while (this.#again)
      } finally {
        this.#refreshing = undefined
      }
    })()
    await this.#refreshing
  }

  async #refreshOnce (): Promise<void> {
    const files = await logFiles(this.path)
    const seen = new Set<string>()
    for (const file of files) {
      seen.add(fileId(file))
      await this.#catchUp(file)
    }
    for (const id of [...this.#files.keys()]) {
      if (!seen.has(id)) {
        this.#files.delete(id)
        this.#dirty = true
      }
    }
  }

  async #catchUp (file: LogFile): Promise<void> {
    const id = fileId(file)
    let known = this.#files.get(id)
    // Loaded from the sidecar and not looked at since: its head must still be the same file's.
    const unverified = known !== undefined && known.mtimeMs === 0
    if (known !== undefined) {
      if (known.current && !file.current) {
        known.table.freeze()
        known.days.freeze()
      }
      known.path = file.path
      known.current = file.current
      known.mtimeMs = file.mtimeMs
      if (!unverified && known.indexed === file.size) return
    }
    let handle: FileHandle
    try {
      handle = await open(file.path, 'r')
    } catch {
      return
    }
    try {
      if (known !== undefined && (file.size < known.indexed || (known.headLength > 0 && await headHash(handle, known.headLength) !== known.head))) {
        this.#log.info({ path: file.path }, 'usage index: a log file was truncated or replaced; reading it again')
        known = undefined
      }
      if (known === undefined) {
        known = { path: file.path, dev: file.dev, ino: file.ino, mtimeMs: file.mtimeMs, current: file.current, indexed: 0, head: '', headLength: 0, ...tablesFrom(new RollupTable()) }
        this.#files.set(id, known)
        this.#dirty = true
      }
      if (file.size > known.indexed) await this.#fold(handle, known, file.size)
      const headLength = Math.min(known.indexed, HEAD_BYTES)
      if (headLength !== known.headLength) {
        known.head = await headHash(handle, headLength)
        known.headLength = headLength
      }
    } finally {
      await handle.close()
    }
  }

  /** Adds the whole lines of bytes [indexed, size) to the file's rollup. */
  async #fold (handle: FileHandle, file: IndexedFile, size: number): Promise<void> {
    const values = new Float64Array(VALUE_COUNT)
    const dims = this.#dims
    for await (const batch of scanLineBatches(handle, file.indexed, size, MAX_LINE_BYTES)) {
      for (const line of batch) {
        const event = line.skipped ? undefined : parseEvent(line.text)
        // An unfinished last line (always the last of the last batch) waits for its newline: it
        // may still be being written.
        if (!line.complete && event === undefined) break
        file.indexed = line.end
        this.#dirty = true
        if (line.skipped) this.#log.warn({ path: file.path, bytes: line.end - line.start }, 'usage log: skipped a line longer than any event')
        const hour = event === undefined ? undefined : eventHour(event)
        if (event === undefined || hour === undefined) continue
        eventValues(event, values)
        const key = dims.key.id(eventKeyName(event))
        const model = dims.model.id(event.effective_model)
        const route = dims.route.id(event.route)
        file.table.add(hour, key, model, route, values, line)
        file.days.add(Math.floor(hour / 24), key, model, route, values)
      }
    }
  }

  /** Totals, buckets and breakdowns of events with start <= ts < end that pass the query's filters. */
  async summarize (query: UsageQuery): Promise<UsageSummary> {
    await this.refresh()
    const builder = new SummaryBuilder(query, this.#dims, this.#hourRange())
    const startMs = query.start.getTime()
    const endMs = query.end.getTime()
    // Whole days come from the daily rollups (unless the buckets are hours), the whole hours
    // around them from the hourly ones, and an hour the window cuts is read from the log.
    const firstWhole = Math.ceil(startMs / HOUR_MS)
    const endWhole = Math.floor(endMs / HOUR_MS)
    const firstDay = Math.ceil(firstWhole / 24)
    const endDay = Math.floor(endWhole / 24)
    let hourRanges: Array<[number, number]> = [[firstWhole, endWhole]]
    if (query.group !== 'hour' && firstDay < endDay) {
      for (const file of this.#files.values()) addPeriods(builder, file.days, firstDay, endDay, 24)
      hourRanges = [[firstWhole, firstDay * 24], [endDay * 24, endWhole]]
    }
    for (const [from, to] of hourRanges) {
      for (const file of this.#files.values()) addPeriods(builder, file.table, from, to, 1)
    }
    const partial: Array<[number, number]> = []
    if (firstWhole > endWhole) partial.push([startMs, endMs])
    else {
      if (startMs < firstWhole * HOUR_MS) partial.push([startMs, firstWhole * HOUR_MS])
      if (endMs > endWhole * HOUR_MS) partial.push([endWhole * HOUR_MS, endMs])
    }
    const values = new Float64Array(VALUE_COUNT)
    for (const [from, to] of partial) {
      if (from >= to) continue
      for await (const event of this.#eventsOfHour(Math.floor(from / HOUR_MS))) {
        const ms = Date.parse(event.ts)
        if (ms < from || ms >= to) continue
        const key = this.#dims.key.find(eventKeyName(event)) ?? 0
        const model = this.#dims.model.find(event.effective_model) ?? 0
        const route = this.#dims.route.find(event.route) ?? 0
        if (!builder.matches(key, model, route)) continue
        eventValues(event, values)
        builder.add(Math.floor(ms / HOUR_MS), key, model, route, values, 0)
      }
    }
    return builder.result()
  }

  /** The first and last hour any file holds events of. */
  #hourRange (): { min: number, max: number } {
    let min = Number.POSITIVE_INFINITY
    let max = Number.NEGATIVE_INFINITY
    for (const file of this.#files.values()) {
      min = Math.min(min, file.table.minPeriod)
      max = Math.max(max, file.table.maxPeriod)
    }
    return { min, max }
  }

  /** The events of one hour, read from the byte ranges its lines lie in (every file). */
  async * #eventsOfHour (hour: number): AsyncGenerator<UsageEvent & { at: number }> {
    for (const file of this.#files.values()) {
      if (!file.table.spans.has(hour)) continue
      const handle = await open(file.path, 'r').catch(() => undefined)
      if (handle === undefined) continue
      try {
        yield * readHour(handle, file, hour)
      } finally {
        await handle.close()
      }
    }
  }

  /**
   * The last `limit` events that pass the filter, oldest first: hours are read newest first, only
   * those whose rollup rows say they hold a matching event, so a rare key's few events are found
   * without reading the whole log.
   */
  async recent (limit: number, filter: EventFilter = {}): Promise<UsageEvent[]> {
    await this.refresh()
    if (limit <= 0) return []
    const builder = new SummaryBuilder({ start: new Date(0), end: new Date(0), keys: filter.keys, models: filter.models, routes: filter.routes }, this.#dims)
    const found: UsageEvent[] = []
    const newestFirst = [...this.#files.values()].sort((a, b) => Number(b.current) - Number(a.current) || b.mtimeMs - a.mtimeMs)
    for (const file of newestFirst) {
      const t = file.table
      // Newest hours first, only those whose rows hold a matching event; within an hour, events
      // in the order they were written.
      const hasMatch = (hour: number): boolean => t.rowsOf(hour).some((row) => builder.matches(t.keys[row] ?? 0, t.models[row] ?? 0, t.routes[row] ?? 0))
      const ordered = function * (): Generator<number> {
        for (let hour = t.maxPeriod; hour >= t.minPeriod; hour--) if (hasMatch(hour)) yield hour
      }
      const handle = await open(file.path, 'r').catch(() => undefined)
      if (handle === undefined) continue
      try {
        for (const hour of ordered()) {
          const events: Array<UsageEvent & { at: number }> = []
          for await (const event of readHour(handle, file, hour)) if (matchesEvent(event, filter)) events.push(event)
          events.sort((a, b) => b.at - a.at)
          for (const { at: _at, ...event } of events) {
            found.push(event)
            if (found.length >= limit) return found.reverse()
          }
        }
      } finally {
        await handle.close()
      }
    }
    return found.reverse()
  }

  /** Saves the rollups beside the log when they changed; a failure is logged, never thrown. */
  async save (): Promise<void> {
    // One save at a time (the timer's and the one at close share the temporary file's name).
    const saving = this.#saving.then(async () => { await this.#save() })
    this.#saving = saving.catch(() => {})
    await saving
  }

  async #save (): Promise<void> {
    if (!this.#dirty || this.#loaded === undefined) return
    await this.refresh()
    this.#dirty = false
    if (this.#files.size === 0) {
      await unlink(this.sidecarPath).catch(() => {})
      return
    }
    const files = [...this.#files.values()]
    const tables = files.map((f) => f.table.columns())
    try {
      await writeSidecar(this.sidecarPath, {
        header: {
          format: 1,
          values: VALUE_COUNT,
          dimensions: { key: [...this.#dims.key.names()], model: [...this.#dims.model.names()], route: [...this.#dims.route.names()] },
          files: files.map((f, i) => ({
            path: f.path,
            dev: f.dev,
            ino: f.ino,
            indexed: f.indexed,
            head: f.head,
            headLength: f.headLength,
            rows: tables[i]?.rows ?? 0,
            spans: tables[i]?.spanHours.length ?? 0
          }))
        },
        tables
      })
    } catch (err) {
      this.#dirty = true
      this.#log.warn({ err, path: this.sidecarPath }, 'usage index: could not save the rollups beside the log (they are rebuilt from the log at the next start)')
    }
  }

  /** What the index holds (for the bench and the status endpoint). */
  stats (): { files: number, rows: number, indexedBytes: number } {
    let rows = 0
    let indexedBytes = 0
    for (const f of this.#files.values()) {
      rows += f.table.rows
      indexedBytes += f.indexed
    }
    return { files: this.#files.size, rows, indexedBytes }
  }
}
