import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { descendants, stillAlive, type ProcId } from './procfs.js'

/*
 * Every process the bench starts is registered here and killed by its pid at the end, on Ctrl-C,
 * and on a crash. Codex workers run in their own process groups (so killing the proxy's group
 * would miss them): the proxy's descendants are remembered and killed one by one as well.
 */

const tracked = new Map<number, ChildProcess>()
const remembered = new Map<number, ProcId>()

export function spawnTracked (command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, [...args], options)
  const pid = child.pid
  if (pid !== undefined) {
    tracked.set(pid, child)
    child.once('exit', () => { tracked.delete(pid) })
  }
  return child
}

/** Records the current descendants of `pid`, so they can be killed even after it is gone. */
export function rememberDescendants (pid: number): void {
  for (const proc of descendants(pid)) remembered.set(proc.pid, proc)
}

const exited = async (child: ChildProcess, ms: number): Promise<boolean> => {
  if (child.exitCode !== null || child.signalCode !== null) return true
  return await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => { child.off('exit', done); resolve(false) }, ms)
    const done = (): void => { clearTimeout(timer); resolve(true) }
    child.once('exit', done)
  })
}

function killPid (pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal)
  } catch {
    // Already gone.
  }
}

/**
 * SIGTERM (the proxy shuts down gracefully and stops its workers), SIGKILL after `graceMs`,
 * then SIGKILL any descendant that outlived it.
 */
export async function stopTracked (child: ChildProcess, graceMs = 5000): Promise<void> {
  const pid = child.pid
  if (pid === undefined) return
  rememberDescendants(pid)
  killPid(pid, 'SIGTERM')
  if (!await exited(child, graceMs)) {
    killPid(pid, 'SIGKILL')
    await exited(child, 2000)
  }
  killLeftovers()
}

function killLeftovers (): void {
  for (const [pid, proc] of remembered) {
    if (stillAlive(proc)) killPid(pid, 'SIGKILL')
    remembered.delete(pid)
  }
}

/** Synchronous last resort (exit handler): SIGKILL everything started and everything seen below it. */
export function killAllNow (): void {
  for (const pid of tracked.keys()) rememberDescendants(pid)
  for (const pid of tracked.keys()) killPid(pid, 'SIGKILL')
  tracked.clear()
  killLeftovers()
}

/** Processes started by the bench that are still running (should be 0 between sections). */
export function trackedCount (): number {
  return tracked.size
}
