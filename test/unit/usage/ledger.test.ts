import { mkdtemp, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { UsageLedger, usageLogProblem, type UsageEvent } from '../../../src/usage/ledger.js'
import { MAX_LINE_BYTES } from '../../../src/usage/usage-index.js'
import { fakeLogger } from '../support.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-ledger-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

function event (i: number, ts = new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString(), extra: Partial<UsageEvent> = {}): UsageEvent {
  return {
    ts,
    route: '/v1/chat/completions',
    method: 'POST',
    requested_model: 'codex-5',
    effective_model: 'gpt-5',
    stream: i % 2 === 0,
    prompt_tokens_est: i,
    completion_tokens_est: 2 * i,
    total_tokens_est: 3 * i,
    duration_ms: 10,
    status: 200,
    user_agent: 'test',
    request_id: `req-${i}`,
    ...extra
  }
}

describe('UsageLedger appends', () => {
  it('writes 200 concurrent appends as 200 complete JSON lines', async () => {
    const { log, calls } = fakeLogger()
    const ledger = new UsageLedger(join(dir, 'nested', 'deeper', 'usage.ndjson'), log)
    for (let i = 0; i < 200; i++) ledger.append(event(i, undefined, { user_agent: 'x'.repeat(i * 7) }))
    await ledger.flush()
    const text = await readFile(ledger.path, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    const lines = text.split('\n').slice(0, -1)
    expect(lines).toHaveLength(200)
    const parsed = lines.map((l) => JSON.parse(l) as UsageEvent)
    expect(parsed.map((e) => e.request_id)).toEqual(Array.from({ length: 200 }, (_, i) => `req-${i}`))
    expect(parsed[199]).toEqual(event(199, undefined, { user_agent: 'x'.repeat(199 * 7) }))
    expect(calls.error).toHaveLength(0)
    await ledger.close()
  })

  it('appends to an existing file', async () => {
    const path = join(dir, 'usage.ndjson')
    await writeFile(path, `${JSON.stringify(event(1))}\n`)
    const ledger = new UsageLedger(path, fakeLogger().log)
    ledger.append(event(2))
    await ledger.close()
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-2'])
  })

  it('logs one error for an unwritable path and never throws', async () => {
    const file = join(dir, 'a-regular-file')
    await writeFile(file, 'not a directory')
    const { log, calls } = fakeLogger()
    const ledger = new UsageLedger(join(file, 'sub', 'usage.ndjson'), log)
    for (let i = 0; i < 5; i++) ledger.append(event(i))
    await expect(ledger.flush()).resolves.toBeUndefined()
    ledger.append(event(6))
    await ledger.flush()
    expect(calls.error).toHaveLength(1)
    expect(calls.error[0]?.[0]).toMatchObject({ path: join(file, 'sub', 'usage.ndjson') })
    expect(String(calls.error[0]?.[1])).toContain('TOKEN_LOG_PATH')
    await expect(ledger.index.recent(10)).resolves.toEqual([])
    await expect(ledger.close()).resolves.toBeUndefined()
  })
})

describe('UsageLedger.tail', () => {
  it('returns [] for a missing file', async () => {
    const ledger = new UsageLedger(join(dir, 'missing.ndjson'), fakeLogger().log)
    await expect(ledger.index.recent(5)).resolves.toEqual([])
  })

  it('returns the last n events oldest first, across 64 KiB chunks', async () => {
    const path = join(dir, 'usage.ndjson')
    const ledger = new UsageLedger(path, fakeLogger().log)
    const total = 1500
    // ~250 bytes a line: the file spans several 64 KiB chunks, lines straddle their edges.
    for (let i = 0; i < total; i++) ledger.append(event(i, undefined, { user_agent: 'ua'.repeat(40 + (i % 13)) }))
    await ledger.flush()
    expect((await stat(path)).size).toBeGreaterThan(4 * 64 * 1024)
    for (const n of [1, 7, 300, 700, total - 1, total]) {
      const tail = await ledger.index.recent(n)
      expect(tail.map((e) => e.request_id)).toEqual(Array.from({ length: n }, (_, k) => `req-${total - n + k}`))
    }
    expect((await ledger.index.recent(total + 500)).length).toBe(total)
    expect(await ledger.index.recent(0)).toEqual([])
    const [last] = await ledger.index.recent(1)
    expect(last).toEqual(event(total - 1, undefined, { user_agent: 'ua'.repeat(40 + ((total - 1) % 13)) }))
    await ledger.close()
  })

  it('reads a file without a trailing newline and skips lines that are not events', async () => {
    const path = join(dir, 'usage.ndjson')
    await writeFile(path, [JSON.stringify(event(1)), 'garbage{', '', '{"no":"ts"}', JSON.stringify(event(2))].join('\n'))
    const ledger = new UsageLedger(path, fakeLogger().log)
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-2'])
  })

  it('sees appends that are still queued', async () => {
    const ledger = new UsageLedger(join(dir, 'usage.ndjson'), fakeLogger().log)
    ledger.append(event(1))
    ledger.append(event(2))
    expect((await ledger.index.recent(1)).map((e) => e.request_id)).toEqual(['req-2'])
    await ledger.close()
  })
})

describe('UsageLedger.summarize', () => {
  async function filled (): Promise<UsageLedger> {
    const ledger = new UsageLedger(join(dir, 'usage.ndjson'), fakeLogger().log)
    ledger.append(event(1, '2025-01-01T09:59:59.999Z'))
    ledger.append(event(2, '2025-01-01T10:00:00.000Z')) // the window's start: in
    ledger.append(event(3, '2025-01-01T10:30:00.000Z'))
    ledger.append(event(4, '2025-01-01T11:15:00.000Z'))
    ledger.append(event(5, '2025-01-02T08:00:00.000Z'))
    ledger.append(event(6, '2025-01-03T00:00:00.000Z')) // the window's end: out
    ledger.append(event(7, 'not a date'))
    await ledger.flush()
    return ledger
  }
  const START = new Date('2025-01-01T10:00:00.000Z')
  const END = new Date('2025-01-03T00:00:00.000Z')

  it('totals the events with start <= ts < end', async () => {
    const ledger = await filled()
    expect(await ledger.index.summarize({ start: START, end: END })).toMatchObject({
      start: '2025-01-01T10:00:00.000Z',
      end: '2025-01-03T00:00:00.000Z',
      total_requests: 4,
      prompt_tokens_est: 2 + 3 + 4 + 5,
      completion_tokens_est: 2 * 14,
      total_tokens_est: 3 * 14
    })
    await ledger.close()
  })

  it('buckets by hour', async () => {
    const ledger = await filled()
    const summary = await ledger.index.summarize({ start: START, end: END, group: 'hour' })
    expect(summary.group).toBe('hour')
    expect(summary.buckets).toMatchObject([
      { ts: '2025-01-01T10:00:00.000Z', requests: 2, prompt_tokens_est: 5, completion_tokens_est: 10, total_tokens_est: 15 },
      { ts: '2025-01-01T11:00:00.000Z', requests: 1, prompt_tokens_est: 4, completion_tokens_est: 8, total_tokens_est: 12 },
      { ts: '2025-01-02T08:00:00.000Z', requests: 1, prompt_tokens_est: 5, completion_tokens_est: 10, total_tokens_est: 15 }
    ])
    await ledger.close()
  })

  it('buckets by day', async () => {
    const ledger = await filled()
    const summary = await ledger.index.summarize({ start: new Date('2025-01-01T00:00:00Z'), end: new Date('2025-01-04T00:00:00Z'), group: 'day' })
    expect(summary.total_requests).toBe(6)
    expect(summary.buckets).toMatchObject([
      { ts: '2025-01-01T00:00:00.000Z', requests: 4, prompt_tokens_est: 10, completion_tokens_est: 20, total_tokens_est: 30 },
      { ts: '2025-01-02T00:00:00.000Z', requests: 1, prompt_tokens_est: 5, completion_tokens_est: 10, total_tokens_est: 15 },
      { ts: '2025-01-03T00:00:00.000Z', requests: 1, prompt_tokens_est: 6, completion_tokens_est: 12, total_tokens_est: 18 }
    ])
    await ledger.close()
  })

  it('answers zeros (and no buckets) for a missing file', async () => {
    const ledger = new UsageLedger(join(dir, 'missing.ndjson'), fakeLogger().log)
    expect(await ledger.index.summarize({ start: START, end: END })).toEqual({
      start: START.toISOString(),
      end: END.toISOString(),
      total_requests: 0,
      prompt_tokens_est: 0,
      completion_tokens_est: 0,
      total_tokens_est: 0,
      cached_tokens: 0,
      reasoning_tokens: 0,
      error_requests: 0,
      estimated_requests: 0,
      total_duration_ms: 0
    })
    expect(await ledger.index.summarize({ start: START, end: END, group: 'day' })).toMatchObject({ group: 'day', buckets: [] })
  })
})

describe('UsageLedger and log rotation', () => {
  it('follows the path when the log is moved away (logrotate) or removed', async () => {
    const path = join(dir, 'usage.ndjson')
    const ledger = new UsageLedger(path, fakeLogger().log)
    ledger.append(event(1))
    await ledger.flush()
    await rename(path, `${path}.1`)
    ledger.append(event(2))
    await ledger.flush()
    const ids = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as UsageEvent).request_id ?? '')
    expect(await ids(path)).toEqual(['req-2'])
    expect(await ids(`${path}.1`)).toEqual(['req-1'])
    // The rotated file still counts.
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-2'])
    await unlink(path)
    ledger.append(event(3))
    await ledger.flush()
    expect(await ids(path)).toEqual(['req-3'])
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-3'])
    await ledger.close()
  })

  it('reopens on request (SIGHUP) even when the path still names a file', async () => {
    const path = join(dir, 'usage.ndjson')
    const ledger = new UsageLedger(path, fakeLogger().log)
    ledger.append(event(1))
    await ledger.flush()
    await rename(path, `${path}.old`)
    await writeFile(path, '')
    ledger.reopen()
    ledger.append(event(2))
    await ledger.close()
    expect((await readFile(path, 'utf8')).trim()).toBe(JSON.stringify(event(2)))
  })

  it('never glues an event to a torn last line', async () => {
    const path = join(dir, 'usage.ndjson')
    await writeFile(path, `${JSON.stringify(event(1))}\n{"ts":"2025-01-01T00:00:02.000Z","route":"/v1/chat/compl`)
    const ledger = new UsageLedger(path, fakeLogger().log)
    ledger.append(event(3))
    ledger.append(event(4))
    await ledger.close()
    const lines = (await readFile(path, 'utf8')).split('\n')
    expect(lines.at(-1)).toBe('')
    expect(lines.slice(-3, -1).map((l) => (JSON.parse(l) as UsageEvent).request_id)).toEqual(['req-3', 'req-4'])
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-3', 'req-4'])
  })

  it('skips lines longer than any event when reading, forwards and backwards', async () => {
    const path = join(dir, 'usage.ndjson')
    const huge = 'x'.repeat(3 * MAX_LINE_BYTES)
    await writeFile(path, [JSON.stringify(event(1)), huge, JSON.stringify(event(2)), huge].join('\n') + '\n' + huge)
    const { log, calls } = fakeLogger()
    const ledger = new UsageLedger(path, log)
    expect((await ledger.index.recent(10)).map((e) => e.request_id)).toEqual(['req-1', 'req-2'])
    const summary = await ledger.index.summarize({ start: new Date(0), end: new Date('2030-01-01') })
    expect(summary.total_requests).toBe(2)
    expect(calls.warn.length).toBeGreaterThan(0)
  })

  it('refuses a path that is not a regular file', async () => {
    expect(usageLogProblem('/dev/zero')).toMatch(/not a regular file/)
    expect(usageLogProblem(dir)).toMatch(/not a regular file/)
    expect(usageLogProblem(join(dir, 'missing.ndjson'))).toBeUndefined()
  })
})

describe('UsageLedger rotating the log itself', () => {
  const lines = async (file: string): Promise<string[]> => (await readFile(file, 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as UsageEvent).request_id ?? '')

  it('daily: the first event of a new UTC day starts a new file; the old one is named by its day', async () => {
    const path = join(dir, 'usage.ndjson')
    const ledger = new UsageLedger(path, fakeLogger().log, { maxBytes: 0, daily: true })
    ledger.append(event(1, '2025-01-01T10:00:00.000Z'))
    ledger.append(event(2, '2025-01-01T23:59:59.999Z'))
    ledger.append(event(3, '2025-01-02T00:00:00.000Z'))
    ledger.append(event(4, '2025-01-03T08:00:00.000Z'))
    await ledger.flush()
    expect(await lines(`${path}.2025-01-01`)).toEqual(['req-1', 'req-2'])
    expect(await lines(`${path}.2025-01-02`)).toEqual(['req-3'])
    expect(await lines(path)).toEqual(['req-4'])
    const summary = await ledger.index.summarize({ start: new Date('2025-01-01T00:00:00Z'), end: new Date('2025-01-04T00:00:00Z'), group: 'day' })
    expect(summary).toMatchObject({ total_requests: 4, prompt_tokens_est: 10 })
    expect(summary.buckets?.map((b) => b.requests)).toEqual([2, 1, 1])
    await ledger.close()
  })

  it('by size: never past the limit, and a name that is taken gets a suffix', async () => {
    const path = join(dir, 'usage.ndjson')
    const one = Buffer.byteLength(`${JSON.stringify(event(1))}\n`)
    const ledger = new UsageLedger(path, fakeLogger().log, { maxBytes: 2 * one + 10, daily: false })
    for (let i = 1; i <= 9; i++) ledger.append(event(i))
    await ledger.flush()
    const { readdir } = await import('node:fs/promises')
    const rotated = (await readdir(dir)).filter((n) => n !== 'usage.ndjson' && !n.endsWith('.index')).sort()
    expect(rotated.length).toBe(4)
    for (const name of rotated) expect(name).toMatch(/^usage\.ndjson\.\d{8}T\d{6}Z(-\d+)?$/)
    const all = [...(await Promise.all(rotated.map(async (n) => await lines(join(dir, n))))).flat(), ...await lines(path)]
    expect(all.sort()).toEqual(Array.from({ length: 9 }, (_, i) => `req-${i + 1}`).sort())
    expect((await ledger.index.recent(100)).map((e) => e.request_id)).toEqual(Array.from({ length: 9 }, (_, i) => `req-${i + 1}`))
    await ledger.close()
  })
})
