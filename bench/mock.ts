import { join } from 'node:path'
import { nextMessage, isObject } from './ipc.js'
import { spawnTracked, stopTracked } from './processes.js'

export interface MockProcess {
  url: string
  pid: number
  stop: () => Promise<void>
}

/** Starts bench/mock-child.ts (the test suite's mock Responses API) in its own process. */
export async function startMock (repoRoot: string, slowDelayMs: number): Promise<MockProcess> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench/mock-child.ts')], {
    cwd: repoRoot,
    env: { ...process.env, BENCH_MOCK_SLOW_DELAY_MS: String(slowDelayMs) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  try {
    const url = await nextMessage(child, (m) => (isObject(m) && m.type === 'ready' && typeof m.url === 'string' ? m.url : undefined), 30_000, 'mock upstream')
    return { url, pid: child.pid ?? -1, stop: async () => { await stopTracked(child) } }
  } catch (err) {
    await stopTracked(child)
    throw err
  }
}
