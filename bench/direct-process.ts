import { join } from 'node:path'
import type { DirectTurn } from './app-server-direct.js'
import { isObject, nextMessage } from './ipc.js'
import type { Lab } from './lab.js'
import { spawnTracked, stopTracked } from './processes.js'

/** The direct app-server client of bench/direct-child.ts, driven over IPC. */
export interface DirectProcess {
  /** pid of the Node driver (its Codex child is below it). */
  pid: number
  turn: (text: string) => Promise<DirectTurn>
  loadedThreads: () => Promise<number>
  stop: () => Promise<void>
}

export async function startDirect (lab: Lab): Promise<DirectProcess> {
  const spec = { scratch: lab.scratch, codexBin: lab.codexBin, codexEnv: lab.codexEnv, lean: lab.lean }
  const child = spawnTracked(process.execPath, ['--import', 'tsx', join(lab.repoRoot, 'bench/direct-child.ts')], {
    cwd: lab.repoRoot,
    env: { ...process.env, BENCH_DIRECT_SPEC: JSON.stringify(spec) },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  try {
    await nextMessage(child, (m) => (isObject(m) && m.type === 'ready' ? true : undefined), 60_000, 'direct app-server')
  } catch (err) {
    await stopTracked(child)
    throw err
  }
  // One listener for every call in flight (a burst of 64 turns would otherwise add 64 listeners).
  let nextId = 0
  const pending = new Map<number, { resolve: (msg: Record<string, unknown>) => void, reject: (err: Error) => void }>()
  child.on('message', (msg: unknown) => {
    if (!isObject(msg) || typeof msg.id !== 'number') return
    pending.get(msg.id)?.resolve(msg)
    pending.delete(msg.id)
  })
  child.once('exit', () => {
    for (const p of pending.values()) p.reject(new Error('direct app-server driver exited'))
    pending.clear()
  })
  const call = async (msg: Record<string, unknown>): Promise<Record<string, unknown>> => {
    const id = ++nextId
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => { pending.set(id, { resolve, reject }) })
    child.send({ ...msg, id })
    return await reply
  }
  return {
    pid: child.pid ?? -1,
    turn: async (text) => (await call({ type: 'turn', text })).result as DirectTurn,
    loadedThreads: async () => Number((await call({ type: 'loaded' })).count),
    stop: async () => { await stopTracked(child, 5000) }
  }
}
