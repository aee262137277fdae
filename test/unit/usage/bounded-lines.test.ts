import { describe, expect, it } from 'vitest'
import { boundedLines } from '../../../src/usage/bounded-lines.js'
import { collect } from '../support.js'

async function * chunks (...parts: string[]): AsyncGenerator<Buffer> {
  for (const p of parts) yield Buffer.from(p, 'utf8')
}

describe('boundedLines', () => {
  it('splits lines across chunk boundaries, with or without a last newline', async () => {
    expect(await collect(boundedLines(chunks('a\nb', 'c\n', '\nd'), 100))).toEqual(['a', 'bc', '', 'd'])
    expect(await collect(boundedLines(chunks('ü', '€\n'), 100))).toEqual(['ü€'])
  })

  it('skips a line longer than the limit whole, however it is chunked, and reports it', async () => {
    const skipped: number[] = []
    const lines = await collect(boundedLines(chunks('ok1\n', 'x'.repeat(30), 'y'.repeat(30), 'z\nok2\n', 'w'.repeat(11)), 10, (n) => skipped.push(n)))
    expect(lines).toEqual(['ok1', 'ok2'])
    expect(skipped).toEqual([61, 11])
  })

  it('holds at most the limit of an endless line (a /dev/zero-like source)', async () => {
    const megabyte = Buffer.alloc(1024 * 1024)
    async function * endless (): AsyncGenerator<Buffer> { for (let i = 0; i < 200; i++) yield megabyte }
    const before = process.memoryUsage().arrayBuffers
    let peak = 0
    const skipped: number[] = []
    for await (const line of boundedLines(endless(), 64 * 1024, (n) => skipped.push(n))) expect(line).toBe('never')
    peak = process.memoryUsage().arrayBuffers - before
    expect(skipped).toEqual([200 * 1024 * 1024])
    expect(peak).toBeLessThan(64 * 1024 * 1024)
  })
})
