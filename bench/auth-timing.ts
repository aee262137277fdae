// How long the API-key check takes for the right key, wrong keys of the same length and wrong
// keys of other lengths: the measurement behind "compared in constant time" (docs/reliability.md).
// Not a test (tests make no timing assertions): run it with `npx tsx bench/auth-timing.ts`.
//
// Two levels: the comparison itself (src/auth/key-ring.ts `checkKey`, which is what the auth hook calls)
// and whole rejected requests through the app (`app.inject`, 401 for every wrong key). Variants
// are measured in interleaved rounds, so drift of the machine hits them all alike; medians of the
// per-round means are reported, and the median of each variant's ratio to a reference variant
// measured in the same round.
import { mkdtemp, rm } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkKey, keyDigest } from '../src/auth/key-ring.js'
import { buildApp } from '../src/build.js'
import { loadConfig } from '../src/config.js'

const KEY = 'sk-proxy-3b9f2c71d4e8a6f0b5c2d9e1a7f4c3b2' // 41 characters, like a generated key
const expected = keyDigest(KEY)

const variants: Array<[string, string | undefined]> = [
  ['right key', KEY],
  ['wrong, same length, first character differs', `X${KEY.slice(1)}`],
  ['wrong, same length, last character differs', `${KEY.slice(0, -1)}X`],
  ['wrong, same length, all characters differ', 'Z'.repeat(KEY.length)],
  ['wrong, prefix of the key (20 chars)', KEY.slice(0, 20)],
  ['wrong, key plus one character', `${KEY}x`],
  ['wrong, 1 character', 'x'],
  ['wrong, 1 kB', 'y'.repeat(1024)],
  ['wrong, 10 kB', 'z'.repeat(10 * 1024)],
  ['missing', undefined]
]

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? NaN : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2
}

function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}

interface Timing {
  /** Median of the per-round mean time per call, in nanoseconds. */
  ns: number
  /** Median over rounds of (this variant / the reference variant in the same round) − 1. */
  vsReference: number
}

const REFERENCE = 'wrong, same length, first character differs'

/**
 * Per variant: the median over `rounds` of the mean time of `batch` calls, and the median of its
 * ratio to the reference variant measured in the same round (paired, so that load from other
 * processes, which comes and goes over seconds, cancels out).
 */
async function measure (rounds: number, batch: number, run: (key: string | undefined) => unknown): Promise<Map<string, Timing>> {
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    // Rotate the order every round: no variant always runs first (cold) or last.
    for (let i = 0; i < variants.length; i++) {
      const [name, key] = variants[(i + round) % variants.length] as [string, string | undefined]
      const start = process.hrtime.bigint()
      for (let n = 0; n < batch; n++) {
        const result = run(key)
        if (result instanceof Promise) await result
      }
      samples.get(name)?.push(Number(process.hrtime.bigint() - start) / batch)
    }
  }
  const reference = samples.get(REFERENCE) ?? []
  return new Map([...samples].map(([name, s]) => [name, {
    ns: median(s),
    vsReference: median(s.map((v, round) => v / (reference[round] ?? NaN) - 1))
  }]))
}

const comparison = await measure(300, 2000, (key) => checkKey(key, expected).ok)

const dir = await mkdtemp(join(tmpdir(), 'auth-timing-'))
const config = loadConfig({
  PROXY_API_KEY: KEY,
  CODEX_BACKEND: 'proto',
  CODEX_BIN: '/bin/false',
  CODEX_HOME: dir,
  PROXY_CODEX_WORKDIR: join(dir, 'work'),
  TOKEN_LOG_PATH: join(dir, 'usage.ndjson'),
  PROXY_PROTECT_MODELS: 'true'
})
const app = await buildApp({ config, logger: false })
await app.ready()
// GET /v1/models/nope: the right key gets a 404 (a cheap route), every wrong key a 401.
// An odd batch size: with a round number of requests per batch, garbage collections lined up with
// particular variants and made them look twice as slow as the others.
const requests = await measure(150, 37, async (key) => {
  await app.inject({ method: 'GET', url: '/v1/models/nope', headers: key === undefined ? {} : { authorization: `Bearer ${key}` } })
})
await app.close()
await rm(dir, { recursive: true, force: true })

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`
const rows = variants.map(([name, key]) => {
  const c = comparison.get(name)
  const r = requests.get(name)
  return [name, String(key?.length ?? '—'), (c?.ns ?? NaN).toFixed(0), pct(c?.vsReference ?? NaN), ((r?.ns ?? NaN) / 1000).toFixed(1), pct(r?.vsReference ?? NaN)]
})
process.stdout.write(`Node ${process.version}, ${process.platform}/${process.arch}, ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n`)
process.stdout.write(`${table(['presented key', 'length', 'checkKey (ns)', 'paired vs reference', 'whole request (µs)', 'paired vs reference'], rows)}\n\nReference: ${REFERENCE}.\n`)
