import { open, readFile, rename, unlink } from 'node:fs/promises'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { RollupColumns } from './rollup-table.js'
import { VALUE_COUNT } from './usage-values.js'

/** Bumped whenever what a rollup row means changes: an older sidecar is then rebuilt from the log. */
const FORMAT = 1
const MAGIC = Buffer.from('codex-usage-rollup\n')

const SidecarFileSchema = Type.Object({
  path: Type.String(),
  dev: Type.Number(),
  ino: Type.Number(),
  /** Bytes of the file folded into the rollup. */
  indexed: Type.Number({ minimum: 0 }),
  /** SHA-256 of the file's first headLength bytes: an inode reused by another file is noticed. */
  head: Type.String(),
  headLength: Type.Integer({ minimum: 0 }),
  rows: Type.Integer({ minimum: 0 }),
  spans: Type.Integer({ minimum: 0 })
})
export type SidecarFile = Static<typeof SidecarFileSchema>

const SidecarHeaderSchema = Type.Object({
  format: Type.Literal(FORMAT),
  values: Type.Literal(VALUE_COUNT),
  dimensions: Type.Object({ key: Type.Array(Type.String()), model: Type.Array(Type.String()), route: Type.Array(Type.String()) }),
  files: Type.Array(SidecarFileSchema)
})
export type SidecarHeader = Static<typeof SidecarHeaderSchema>

export interface Sidecar {
  header: SidecarHeader
  tables: RollupColumns[]
}

/** The byte sizes of one table's columns, in the order they are written. */
const layout = (rows: number, spans: number): number[] => [rows * 4, rows * 2, rows * 2, rows * 2, rows * VALUE_COUNT * 8, spans * 4, spans * 8, spans * 8]

/**
 * Writes the rollups beside the log: a header (JSON) and the typed columns as raw bytes, to a
 * temporary file that is then renamed over the old one, so a crash leaves the old sidecar or
 * the new one, never half of one. It is only a cache: the log stays the truth.
 */
export async function writeSidecar (path: string, sidecar: Sidecar): Promise<void> {
  const header = Buffer.from(JSON.stringify(sidecar.header), 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32LE(header.length)
  const parts: Buffer[] = [MAGIC, length, header]
  for (const t of sidecar.tables) {
    for (const column of [t.periods, t.keys, t.models, t.routes, t.values, t.spanHours, t.spanStarts, t.spanEnds]) {
      parts.push(Buffer.from(column.buffer, column.byteOffset, column.byteLength))
    }
  }
  const temp = `${path}.tmp-${process.pid}`
  const handle = await open(temp, 'w')
  try {
    for (const part of parts) await handle.write(part)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, path).catch(async (err: unknown) => {
    await unlink(temp).catch(() => {})
    throw err
  })
}

/** Copies `bytes` bytes at `at` into a fresh, aligned ArrayBuffer. */
const slice = (data: Buffer, at: number, bytes: number): ArrayBuffer => {
  const out = new ArrayBuffer(bytes)
  new Uint8Array(out).set(data.subarray(at, at + bytes))
  return out
}

/** The sidecar at `path`, or undefined when it is missing, of another format, or damaged in any way. */
export async function readSidecar (path: string): Promise<Sidecar | undefined> {
  let data: Buffer
  try {
    data = await readFile(path)
  } catch {
    return undefined
  }
  try {
    if (!data.subarray(0, MAGIC.length).equals(MAGIC)) return undefined
    const headerLength = data.readUInt32LE(MAGIC.length)
    let at = MAGIC.length + 4
    const header = JSON.parse(data.toString('utf8', at, at + headerLength)) as unknown
    if (!Value.Check(SidecarHeaderSchema, header)) return undefined
    at += headerLength
    const tables: RollupColumns[] = []
    for (const file of header.files) {
      const sizes = layout(file.rows, file.spans)
      if (at + sizes.reduce((a, b) => a + b, 0) > data.length) return undefined
      const take = (i: number): ArrayBuffer => {
        const bytes = sizes[i] ?? 0
        const buffer = slice(data, at, bytes)
        at += bytes
        return buffer
      }
      tables.push({
        rows: file.rows,
        periods: new Int32Array(take(0)),
        keys: new Uint16Array(take(1)),
        models: new Uint16Array(take(2)),
        routes: new Uint16Array(take(3)),
        values: new Float64Array(take(4)),
        spanHours: new Int32Array(take(5)),
        spanStarts: new Float64Array(take(6)),
        spanEnds: new Float64Array(take(7))
      })
    }
    return at === data.length ? { header, tables } : undefined
  } catch {
    return undefined
  }
}
