/** A pino logger configuration whose output the test can read: every line, as text and parsed. */
export interface LogCapture {
  /** Pass as `logger` to startTestApp / buildTestApp (Fastify 5 hands `stream` to pino). */
  options: Record<string, unknown>
  /** Every line written so far, as written. */
  lines: () => string[]
  /** Every line written so far, parsed. */
  records: () => Array<Record<string, unknown> & { level: number, msg?: string }>
}

export function captureLogs (level = 'trace'): LogCapture {
  const lines: string[] = []
  const stream = {
    write (chunk: string): void {
      for (const line of String(chunk).split('\n')) if (line.length > 0) lines.push(line)
    }
  }
  return {
    options: { level, stream },
    lines: () => [...lines],
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown> & { level: number, msg?: string })
  }
}
