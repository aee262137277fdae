/**
 * The lines of a byte stream, each at most `maxBytes` long. A longer line is skipped whole (and
 * reported) instead of being gathered: a file of one endless line (a mis-pointed /dev/zero, a
 * corrupted log) costs at most `maxBytes` of memory, never a string V8 cannot hold.
 */
export async function * boundedLines (source: AsyncIterable<Buffer | string>, maxBytes: number, onSkipped?: (bytes: number) => void): AsyncGenerator<string> {
  let parts: Buffer[] = []
  let size = 0
  let skipping = false
  let skipped = 0
  const finish = (): string | undefined => {
    if (skipping) {
      onSkipped?.(skipped)
      skipping = false
      skipped = 0
      return undefined
    }
    const line = parts.length === 1 ? (parts[0] as Buffer).toString('utf8') : Buffer.concat(parts).toString('utf8')
    parts = []
    size = 0
    return line
  }
  const take = (piece: Buffer): void => {
    if (skipping) {
      skipped += piece.length
      return
    }
    if (size + piece.length > maxBytes) {
      skipping = true
      skipped = size + piece.length
      parts = []
      size = 0
      return
    }
    if (piece.length > 0) parts.push(piece)
    size += piece.length
  }
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw
    let start = 0
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      take(chunk.subarray(start, nl))
      const line = finish()
      if (line !== undefined) yield line
      start = nl + 1
    }
    if (start < chunk.length) take(chunk.subarray(start))
  }
  if (skipping || size > 0) {
    const line = finish()
    if (line !== undefined) yield line
  }
}
