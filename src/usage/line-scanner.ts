import type { FileHandle } from 'node:fs/promises'

export interface ScannedLine {
  /** The line without its newline; '' for a skipped line. */
  text: string
  /** Byte offset of the line's first byte. */
  start: number
  /** Byte offset just past the line (past its newline, when it has one). */
  end: number
  /** False for the last bytes of the range when no newline ends them (a torn or still unfinished line). */
  complete: boolean
  /** The line was longer than `maxLine` and its bytes were dropped unread. */
  skipped: boolean
}

const CHUNK = 1024 * 1024

/**
 * The lines of bytes [from, to) of a file, with their offsets, so that an index can say exactly
 * how far it has read. A line longer than `maxLine` is reported as skipped, its text never
 * gathered: a corrupted log costs at most one chunk and `maxLine` of memory, never a giant string.
 */
export async function * scanLines (handle: FileHandle, from: number, to: number, maxLine: number): AsyncGenerator<ScannedLine> {
  const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK, to - from)))
  let carry: Buffer = Buffer.alloc(0)
  /** File offset of carry[0] (or of the next read when there is no carry). */
  let carryStart = from
  /** Inside a line that is too long, which started here. */
  let skipFrom: number | undefined
  let position = from
  while (position < to) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, to - position), position)
    if (bytesRead === 0) break
    position += bytesRead
    const data = carry.length === 0 ? chunk.subarray(0, bytesRead) : Buffer.concat([carry, chunk.subarray(0, bytesRead)])
    let lineStart = 0
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, lineStart)) {
      const start = skipFrom ?? carryStart + lineStart
      const end = carryStart + nl + 1
      if (skipFrom !== undefined || nl - lineStart > maxLine) yield { text: '', start, end, complete: true, skipped: true }
      else yield { text: data.toString('utf8', lineStart, nl), start, end, complete: true, skipped: false }
      skipFrom = undefined
      lineStart = nl + 1
    }
    if (skipFrom !== undefined || data.length - lineStart > maxLine) {
      // Inside an endless line: its bytes are dropped until its newline.
      skipFrom ??= carryStart + lineStart
      carry = Buffer.alloc(0)
      carryStart = position
    } else {
      // Copied: `chunk` is overwritten by the next read.
      carry = Buffer.from(data.subarray(lineStart))
      carryStart += lineStart
    }
  }
  if (skipFrom !== undefined) yield { text: '', start: skipFrom, end: position, complete: false, skipped: true }
  else if (carry.length > 0) yield { text: carry.toString('utf8'), start: carryStart, end: carryStart + carry.length, complete: false, skipped: false }
}
