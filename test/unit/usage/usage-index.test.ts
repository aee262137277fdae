import { appendFile, mkdtemp, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../../src/usage/ledger.js'
import type { UsageQuery } from '../../../src/usage/summary-builder.js'
import type { UsageSummary } from '../../../src/usage/summary-schema.js'
import { UsageIndex } from '../../../src/usage/usage-index.js'
import { seeded } from '../../helpers/seeded.js'
import { referenceSummary, syntheticEvents, writeUsageLog } from '../../helpers/usage-log.js'
import { fakeLogger } from '../support.js'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'cca-index-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

const HOUR = 3_600_000
const START = Date.UTC(2025, 0, 1)
const events = (count: number, seed: number, days = 3): UsageEvent[] => [...syntheticEvents({ count, startMs: START, endMs: START + days * 24 * HOUR, seed })]

/** The index's answer must be the oracle's: every total, bucket and breakdown row. */
function expectMatches (summary: UsageSummary, all: readonly UsageEvent[], q: UsageQuery): void {
  const ref = referenceSummary(all, q)
  const { requests = 0, ...totals } = ref.totals
  expect(summary).toMatchObject({ total_requests: requests, ...(requests === 0 ? {} : totals) })
  if (q.group !== undefined) {
    expect(summary.buckets?.map((b) => b.ts)).toEqual([...ref.buckets.keys()].sort())
    for (const b of summary.buckets ?? []) expect(b).toMatchObject(ref.buckets.get(b.ts) ?? {})
  }
  if (q.by !== undefined) {
    expect(new Set(summary.breakdown?.map((r) => r.name))).toEqual(new Set(ref.breakdown.keys()))
    for (const r of summary.breakdown ?? []) expect(r).toMatchObject(ref.breakdown.get(r.name) ?? {})
  }
}

describe('UsageIndex answers what reading every event would', () => {
  it('for random windows (whole and cut hours), groups, breakdowns and filters', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(3000, 7)
    await writeUsageLog(path, all)
    const index = new UsageIndex(path, fakeLogger().log)
    const random = seeded(99)
    for (let i = 0; i < 60; i++) {
      const a = START - HOUR + Math.floor(random() * 80 * HOUR)
      const b = a + Math.floor(random() * (i % 3 === 0 ? HOUR / 2 : 40 * HOUR))
      const q: UsageQuery = {
        start: new Date(a),
        end: new Date(b),
        group: i % 3 === 0 ? undefined : i % 3 === 1 ? 'hour' : 'day',
        by: (['key', 'model', 'route', undefined] as const)[i % 4],
        keys: i % 5 === 0 ? ['alice', 'bob'] : undefined,
        models: i % 7 === 0 ? ['gpt-5.5'] : undefined,
        routes: i % 6 === 0 ? ['/v1/responses'] : undefined
      }
      expectMatches(await index.summarize(q), all, q)
    }
  })

  it('a filter on a value never logged matches nothing', async () => {
    const path = join(dir, 'usage.ndjson')
    await writeUsageLog(path, events(100, 1))
    const index = new UsageIndex(path, fakeLogger().log)
    const summary = await index.summarize({ start: new Date(START), end: new Date(START + 72 * HOUR), keys: ['nobody'], by: 'key' })
    expect(summary).toMatchObject({ total_requests: 0, breakdown: [] })
  })

  it('folds in what is appended between queries, and waits for an unfinished last line', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(400, 3)
    const [first, second] = [all.slice(0, 200), all.slice(200)]
    await writeUsageLog(path, first)
    const index = new UsageIndex(path, fakeLogger().log)
    const window = { start: new Date(START), end: new Date(START + 72 * HOUR) }
    expect((await index.summarize(window)).total_requests).toBe(200)
    const line = JSON.stringify(second[0])
    await appendFile(path, line.slice(0, 40))
    expect((await index.summarize(window)).total_requests).toBe(200)
    await appendFile(path, `${line.slice(40)}\n`)
    await writeUsageLog(path, second.slice(1), 'a')
    expectMatches(await index.summarize({ ...window, group: 'hour', by: 'model' }), all, { ...window, group: 'hour', by: 'model' })
  })

  it('skips a torn line (a killed writer) and the lines that are not events', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(50, 4)
    const torn = JSON.stringify(all[10]).slice(0, 30)
    await writeFile(path, [...all.slice(0, 10).map((e) => JSON.stringify(e)), torn, 'not json', '{"no":"ts"}', ...all.slice(10).map((e) => JSON.stringify(e))].join('\n') + '\n')
    const index = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START), end: new Date(START + 72 * HOUR), group: 'day' as const }
    expectMatches(await index.summarize(q), all, q)
    expect((await index.recent(1000)).map((e) => e.request_id)).toEqual(all.map((e) => e.request_id))
  })
})

describe('UsageIndex across rotation', () => {
  it('a rotated file (renamed, the same inode) keeps counting, and a removed one stops', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(600, 5)
    await writeUsageLog(path, all.slice(0, 300))
    const index = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START), end: new Date(START + 72 * HOUR), group: 'hour' as const, by: 'key' as const }
    expectMatches(await index.summarize(q), all.slice(0, 300), q)
    await rename(path, `${path}.2025-01-01`)
    await writeUsageLog(path, all.slice(300))
    expectMatches(await index.summarize(q), all, q)
    expect(index.stats().files).toBe(2)
    // Not a rotated name (another service's log beside it): not counted.
    await writeUsageLog(join(dir, 'usage.ndjson.bak'), all.slice(0, 10))
    expectMatches(await index.summarize(q), all, q)
    await rm(`${path}.2025-01-01`)
    expectMatches(await index.summarize(q), all.slice(300), q)
  })

  it('the latest events span the rotated files, newest last', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(300, 6)
    await writeUsageLog(`${path}.1`, all.slice(0, 100))
    await writeUsageLog(path, all.slice(100))
    // logrotate's numbering gives no order: the files' last writes do.
    const old = new Date(START)
    const { utimes } = await import('node:fs/promises')
    await utimes(`${path}.1`, old, old)
    const index = new UsageIndex(path, fakeLogger().log)
    expect((await index.recent(250)).map((e) => e.request_id)).toEqual(all.slice(50).map((e) => e.request_id))
    expect((await index.recent(5, { keys: ['dave'] })).every((e) => e.key_name === 'dave')).toBe(true)
    const dave = all.filter((e) => e.key_name === 'dave').slice(-5).map((e) => e.request_id)
    expect((await index.recent(5, { keys: ['dave'] })).map((e) => e.request_id)).toEqual(dave)
  })

  it('a log truncated or replaced in place is read again', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(200, 8)
    await writeUsageLog(path, all)
    const index = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START), end: new Date(START + 72 * HOUR) }
    expect((await index.summarize(q)).total_requests).toBe(200)
    await truncate(path, 0)
    await writeUsageLog(path, all.slice(0, 20), 'a')
    expectMatches(await index.summarize(q), all.slice(0, 20), q)
  })
})

describe('UsageIndex saved beside the log', () => {
  it('a new index loads the saved rollups and reads only what was appended since', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(2000, 9)
    await writeUsageLog(path, all.slice(0, 1500))
    const first = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START + 5 * HOUR + 1234), end: new Date(START + 60 * HOUR + 999), group: 'hour' as const, by: 'route' as const }
    await first.summarize(q)
    await first.save()
    expect((await stat(first.sidecarPath)).size).toBeGreaterThan(0)
    await writeUsageLog(path, all.slice(1500), 'a')
    const second = new UsageIndex(path, fakeLogger().log)
    expectMatches(await second.summarize(q), all, q)
    expect(second.stats().indexedBytes).toBe((await stat(path)).size)
  })

  it('a damaged or stale sidecar is ignored and the log read again', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(500, 10)
    await writeUsageLog(path, all)
    const first = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START), end: new Date(START + 72 * HOUR), group: 'day' as const }
    await first.summarize(q)
    await first.save()
    const saved = await readFile(first.sidecarPath)
    await writeFile(first.sidecarPath, saved.subarray(0, saved.length - 7))
    expectMatches(await new UsageIndex(path, fakeLogger().log).summarize(q), all, q)
    // The log replaced by another one (same size is not enough to fool the head check).
    await writeFile(first.sidecarPath, saved)
    const other = events(500, 11)
    await writeUsageLog(path, other)
    expectMatches(await new UsageIndex(path, fakeLogger().log).summarize(q), other, q)
  })

  it('saves taken while the log grows (and at once) never count an event twice', async () => {
    const path = join(dir, 'usage.ndjson')
    const all = events(3000, 12)
    await writeUsageLog(path, all.slice(0, 1000))
    const index = new UsageIndex(path, fakeLogger().log)
    const q = { start: new Date(START), end: new Date(START + 72 * HOUR), group: 'hour' as const, by: 'key' as const }
    await index.summarize(q)
    for (let i = 1; i < 3; i++) {
      const appended = writeUsageLog(path, all.slice(i * 1000, (i + 1) * 1000), 'a')
      await Promise.all([index.save(), index.save(), index.summarize(q), appended])
    }
    await index.save()
    expectMatches(await new UsageIndex(path, fakeLogger().log).summarize(q), all, q)
  })
})
