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
export async function * scanLines (handle: FileHandle, from: number, to: number, maxLineBytes: number): AsyncGenerator<ScannedLine> {
  for await (const batch of scanLineBatches(handle, from, to, maxLineBytes)) yield * batch
}

/**
 * scanLines, a read's worth of lines at a time: one await per megabyte instead of one per line,
 * which is most of the cost of reading a million-line log.
 */
export async function * scanLineBatches (handle: FileHandle, from: number, to: number, maxLineBytes: number): AsyncGenerator<ScannedLine[]> {
  // A line is never gathered past one chunk, whatever the caller allows.
  const maxLine = Math.min(maxLineBytes, CHUNK)
  const chunkSize = Math.max(1, Math.min(CHUNK, to - from))
  // The unfinished line of the last read (at most maxLine bytes) is moved to the front, and the
  // next read lands after it: one buffer for the whole scan, however long the file.
  const buffer = Buffer.allocUnsafe(chunkSize + maxLine + 1)
  let carried = 0
  /** File offset of buffer[0]. */
  let carryStart = from
  /** Inside a line that is too long, which started here. */
  let skipFrom: number | undefined
  let position = from
  while (position < to) {
    const { bytesRead } = await handle.read(buffer, carried, Math.min(chunkSize, to - position), position)
    if (bytesRead === 0) break
    position += bytesRead
    const length = carried + bytesRead
    const data = buffer.subarray(0, length)
    const batch: ScannedLine[] = []
    let lineStart = 0
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, lineStart)) {
      const start = skipFrom ?? carryStart + lineStart
      const end = carryStart + nl + 1
      if (skipFrom !== undefined || nl - lineStart > maxLine) batch.push({ text: '', start, end, complete: true, skipped: true })
      else batch.push({ text: data.toString('utf8', lineStart, nl), start, end, complete: true, skipped: false })
      skipFrom = undefined
      lineStart = nl + 1
    }
    if (batch.length > 0) yield batch
    if (skipFrom !== undefined || length - lineStart > maxLine) {
      // Inside an endless line: its bytes are dropped until its newline.
      skipFrom ??= carryStart + lineStart
      carried = 0
      carryStart = position
    } else {
      buffer.copy(buffer, 0, lineStart, length)
      carried = length - lineStart
      carryStart += lineStart
    }
  }
  const carry = buffer.subarray(0, carried)
  if (skipFrom !== undefined) yield [{ text: '', start: skipFrom, end: position, complete: false, skipped: true }]
  else if (carry.length > 0) yield [{ text: carry.toString('utf8'), start: carryStart, end: carryStart + carry.length, complete: false, skipped: false }]
}
