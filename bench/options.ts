/** Sections in the order they run. */
export const SECTIONS = ['ttft', 'load', 'memory', 'sse', 'turns', 'soak', 'affinity', 'usage'] as const
export type SectionId = typeof SECTIONS[number]

/** Sizes of one run. `full` keeps the whole run under ~10 minutes on 2 cores; `quick` about a minute. */
export interface Profile {
  name: 'full' | 'quick'
  ttft: { warmup: number, n: number, execWarmup: number, execN: number }
  load: { requests: number, concurrency: number }
  memory: { requests: number, every: number }
  sse: { streams: number, durationMs: number, deltaMs: number, keepaliveMs: number, rampBatch: number, rampEveryMs: number, protoStreams: number, protoDelayMs: number }
  turns: { counts: number[], slowDelayMs: number }
  soak: { requests: number, every: number }
  affinity: { conversations: number, rounds: number, historyKb: number, held: number, heldEvery: number, cap: number }
  /** /v1/usage over a synthetic log of `events` spread over `days`; each query `repeats` times. */
  usage: { events: number, days: number, repeats: number }
}

export const FULL: Profile = {
  name: 'full',
  ttft: { warmup: 10, n: 100, execWarmup: 2, execN: 20 },
  load: { requests: 400, concurrency: 8 },
  memory: { requests: 1000, every: 100 },
  sse: { streams: 1000, durationMs: 15_000, deltaMs: 2000, keepaliveMs: 1000, rampBatch: 100, rampEveryMs: 100, protoStreams: 50, protoDelayMs: 3000 },
  turns: { counts: [16, 32, 64], slowDelayMs: 100 },
  soak: { requests: 5000, every: 500 },
  affinity: { conversations: 6, rounds: 10, historyKb: 30, held: 1000, heldEvery: 100, cap: 200 },
  usage: { events: 1_000_000, days: 365, repeats: 50 }
}

export const QUICK: Profile = {
  name: 'quick',
  ttft: { warmup: 3, n: 20, execWarmup: 1, execN: 3 },
  load: { requests: 80, concurrency: 8 },
  memory: { requests: 150, every: 50 },
  sse: { streams: 200, durationMs: 3000, deltaMs: 1000, keepaliveMs: 1000, rampBatch: 100, rampEveryMs: 100, protoStreams: 8, protoDelayMs: 750 },
  turns: { counts: [8, 16], slowDelayMs: 25 },
  soak: { requests: 200, every: 50 },
  affinity: { conversations: 2, rounds: 10, historyKb: 30, held: 120, heldEvery: 30, cap: 40 },
  usage: { events: 50_000, days: 30, repeats: 10 }
}

export interface Options {
  profile: Profile
  only: SectionId[]
  out: string | undefined
  /** 'auto' rebuilds dist/ only when a source file is newer. */
  build: 'auto' | 'always' | 'never'
}

export const USAGE = `npm run bench -- [--quick] [--only=${SECTIONS.join(',')}] [--out=FILE] [--build|--no-build]
  env: BENCH_QUICK=1, BENCH_ONLY=ttft,load, BENCH_OUT=FILE`

/** argv wins over the environment; unknown arguments are an error, not silently ignored. */
export function parseOptions (argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  let quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true'
  let only = env.BENCH_ONLY
  let out = env.BENCH_OUT
  let build: Options['build'] = 'auto'
  for (const arg of argv) {
    const [key, value] = arg.split(/=(.*)/s, 2)
    if (key === '--quick') quick = true
    else if (key === '--full') quick = false
    else if (key === '--only' && value !== undefined) only = value
    else if (key === '--out' && value !== undefined) out = value
    else if (key === '--build') build = 'always'
    else if (key === '--no-build') build = 'never'
    else if (key === '--help' || key === '-h') throw new Error(USAGE)
    else throw new Error(`unknown argument ${arg}\n${USAGE}`)
  }
  const selected = only === undefined || only.trim() === '' ? [...SECTIONS] : only.split(',').map((s) => s.trim())
  const unknown = selected.filter((s) => !(SECTIONS as readonly string[]).includes(s))
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${SECTIONS.join(', ')}`)
  return {
    profile: quick ? QUICK : FULL,
    only: SECTIONS.filter((s) => selected.includes(s)),
    out: out === '' ? undefined : out,
    build
  }
}
