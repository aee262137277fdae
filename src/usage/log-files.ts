import { readdir, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export interface LogFile {
  path: string
  /** The live log (TOKEN_LOG_PATH) rather than a rotated one. */
  current: boolean
  dev: number
  ino: number
  size: number
  mtimeMs: number
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Names a rotated log goes by, next to the live one: this server's own (`usage.ndjson.2026-11-30`,
 * `usage.ndjson.20261130T101500Z`, with `-N` when taken) and logrotate's (`usage.ndjson.1`,
 * `usage.ndjson-20261130`). Compressed ones (`.gz`) are not read: they no longer count.
 */
export function rotatedPattern (logPath: string): RegExp {
  return new RegExp(`^${escape(basename(logPath))}[.-]\\d[0-9TZ-]*$`)
}

/** The live log and its rotated files that exist now, oldest (least recently written) first. */
export async function logFiles (logPath: string): Promise<LogFile[]> {
  const dir = dirname(logPath)
  const pattern = rotatedPattern(logPath)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const candidates = [logPath, ...names.filter((n) => pattern.test(n)).map((n) => join(dir, n))]
  const files = await Promise.all(candidates.map(async (path): Promise<LogFile | undefined> => {
    const s = await stat(path).catch(() => undefined)
    if (s === undefined || !s.isFile()) return undefined
    return { path, current: path === logPath, dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs }
  }))
  return files.filter((f): f is LogFile => f !== undefined).sort((a, b) => Number(a.current) - Number(b.current) || a.mtimeMs - b.mtimeMs)
}

const pad = (n: number): string => String(n).padStart(2, '0')

/** `2026-11-30`: the UTC day of a time. */
export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

/** `20261130T101500Z`: a rotation's moment, for size-based rotation. */
export function compactStamp (ms: number): string {
  const d = new Date(ms)
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}Z`
}
