import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { scanLines, type ScannedLine } from '../../../src/usage/line-scanner.js'
import { collect } from '../support.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-scan-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

async function scan (content: string | Buffer, maxLine: number, from = 0): Promise<ScannedLine[]> {
  const path = join(dir, 'f')
  await writeFile(path, content)
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    return await collect(scanLines(handle, from, size, maxLine))
  } finally {
    await handle.close()
  }
}

describe('scanLines', () => {
  it('gives every line with its byte offsets, the last one marked when no newline ends it', async () => {
    expect(await scan('a\nbc\n\nü€\nd', 100)).toEqual([
      { text: 'a', start: 0, end: 2, complete: true, skipped: false },
      { text: 'bc', start: 2, end: 5, complete: true, skipped: false },
      { text: '', start: 5, end: 6, complete: true, skipped: false },
      { text: 'ü€', start: 6, end: 12, complete: true, skipped: false },
      { text: 'd', start: 12, end: 13, complete: false, skipped: false }
    ])
    expect((await scan('a\nbc\n', 100, 2)).map((l) => l.text)).toEqual(['bc'])
  })

  it('marks a line longer than the limit as skipped without gathering it, across chunks', async () => {
    const long = 'x'.repeat(3 * 1024 * 1024)
    const lines = await scan(`ok1\n${long}\nok2\n${long}`, 1000)
    expect(lines.map((l) => [l.text, l.skipped, l.complete])).toEqual([['ok1', false, true], ['', true, true], ['ok2', false, true], ['', true, false]])
    expect(lines[1]).toMatchObject({ start: 4, end: 4 + long.length + 1 })
    expect(lines[2]).toMatchObject({ start: 4 + long.length + 1 })
  })

  it('holds at most a chunk and the limit of an endless line (a /dev/zero-like file)', async () => {
    const path = join(dir, 'zeros')
    const handle = await open(path, 'w+')
    try {
      const megabyte = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < 64; i++) await handle.write(megabyte, 0, megabyte.length, i * megabyte.length)
      const before = process.memoryUsage().arrayBuffers
      let peak = 0
      const lines: ScannedLine[] = []
      for await (const line of scanLines(handle, 0, 64 * megabyte.length, 64 * 1024)) {
        peak = Math.max(peak, process.memoryUsage().arrayBuffers - before)
        lines.push(line)
      }
      expect(lines).toEqual([{ text: '', start: 0, end: 64 * megabyte.length, complete: false, skipped: true }])
      expect(peak).toBeLessThan(16 * megabyte.length)
    } finally {
      await handle.close()
    }
  })
})
