import { closeSync, openSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { isObject, nextMessage } from './ipc.js'
import type { Lab } from './lab.js'
import { spawnTracked, stopTracked } from './processes.js'

export const BENCH_KEY = 'bench-key-0123456789'

/** What the proxy process reports about itself over IPC. */
export interface ProxyStats {
  workerPids: number[]
  /** Threads its app-server workers still hold; null on other backends. */
  loadedThreads: number | null
  liveChildren: number
  openStreams: number
  heapUsedKb: number
  /** What the `/v1/responses` store holds. */
  storedResponses: { entries: number, bytes: number }
  /** Conversations held for their next round (app-server backend). */
  conversations: { held: number, parked: number, bytes: number } | null
}

/** Monotonic timestamps (ms, CLOCK_MONOTONIC) of one request inside the proxy (BENCH_PROFILE=1). */
export interface RequestMarks {
  /** The raw HTTP server's 'request' event: headers parsed. */
  request?: number
  /** The backend's complete() was called: body parsed, validated, admitted. */
  complete?: number
  /** The backend reported the turn started (thread/start and turn/start answered). */
  started?: number
  /** The backend yielded the first text delta. */
  firstText?: number
  /** The first write of the response body (headers go out with it). */
  firstWrite?: number
}

export interface ProxyProcess {
  pid: number
  baseUrl: string
  /** Where its stdout/stderr (the JSON logs) go. */
  logPath: string
  stats: (opts?: { gc?: boolean }) => Promise<ProxyStats>
  /** Marks recorded since the last call, by x-request-id (BENCH_PROFILE=1 only). */
  marks: () => Promise<Record<string, RequestMarks>>
  stop: () => Promise<void>
}

let nextId = 0
let statsId = 0

/**
 * Starts bench/proxy-child.mjs (the built server) with a production-like environment: default log
 * level (logs go to a file, as they would to a collector), the lab's CODEX_HOME, and `env` on top.
 * Resolves once the backend is ready.
 */
export async function startProxy (lab: Lab, env: Record<string, string>): Promise<ProxyProcess> {
  const dir = join(lab.scratch, `proxy-${nextId++}`)
  await mkdir(dir, { recursive: true })
  const logPath = join(dir, 'proxy.log')
  const logFd = openSync(logPath, 'a')
  // BENCH_PROXY_NODE_ARGS: extra node flags for the proxy processes, for finding where their time
  // goes (`--cpu-prof --cpu-prof-dir=/tmp/prof`, or `--perf-basic-prof` for `perf record`).
  const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0)
  const child = spawnTracked(process.execPath, ['--expose-gc', ...nodeArgs, join(lab.repoRoot, 'bench/proxy-child.mjs')], {
    cwd: lab.repoRoot,
    // Only what a deployment would set: nothing of the developer's shell (keys, RUST_LOG) leaks in.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      CODEX_HOME: lab.home.dir,
      PROXY_API_KEY: BENCH_KEY,
      PROXY_CODEX_WORKDIR: join(dir, 'work'),
      TOKEN_LOG_PATH: join(dir, 'usage.ndjson'),
      ...env
    },
    stdio: ['ignore', logFd, logFd, 'ipc']
  })
  closeSync(logFd)
  const pid = child.pid ?? -1
  const tail = (): string => {
    try {
      return readFileSync(logPath, 'utf8').split('\n').slice(-5).join('\n')
    } catch {
      return ''
    }
  }
  let port: number
  try {
    const answer = await nextMessage(child, (m) => {
      if (!isObject(m)) return undefined
      if (m.type === 'failed') return new Error(`proxy not ready: ${String(m.reason)}`)
      return m.type === 'ready' && typeof m.port === 'number' ? m.port : undefined
    }, 90_000, 'proxy start')
    if (answer instanceof Error) throw answer
    port = answer
  } catch (err) {
    await stopTracked(child)
    throw new Error(`${(err as Error).message}\n${tail()}`)
  }
  return {
    pid,
    baseUrl: `http://127.0.0.1:${port}`,
    logPath,
    stats: async (opts = {}) => {
      const id = ++statsId
      child.send({ type: 'stats', id, gc: opts.gc === true })
      return await nextMessage(child, (m) => (isObject(m) && m.type === 'stats' && m.id === id ? m as unknown as ProxyStats : undefined), 15_000, 'proxy stats')
    },
    marks: async () => {
      const id = ++statsId
      child.send({ type: 'marks', id })
      return await nextMessage(child, (m) => (isObject(m) && m.type === 'marks' && m.id === id ? m.marks as Record<string, RequestMarks> : undefined), 15_000, 'proxy marks')
    },
    stop: async () => { await stopTracked(child, 15_000) }
  }
}
