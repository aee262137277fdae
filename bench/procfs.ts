import { readdirSync, readFileSync } from 'node:fs'

// Linux /proc readers: measuring another process's memory, fds and children needs nothing from it.

function statusField (pid: number, field: string): number | undefined {
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return undefined
  }
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)
  return match?.[1] === undefined ? undefined : Number(match[1])
}

/** Resident memory now (kB), or undefined when the process is gone. */
export const rssKb = (pid: number): number | undefined => statusField(pid, 'VmRSS')

/** Anonymous resident memory (kB): the heap, not mapped files such as the binary or sqlite pages. */
export const anonRssKb = (pid: number): number | undefined => statusField(pid, 'RssAnon')

/** Peak resident memory so far (kB). */
export const peakRssKb = (pid: number): number | undefined => statusField(pid, 'VmHWM')

/** Open file descriptors (sockets, pipes, files). */
export function fdCount (pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return undefined
  }
}

interface ProcInfo { ppid: number, startTime: string }

/**
 * The fields of /proc/<pid>/stat after the command name (which may contain spaces and
 * parentheses, so the line is split after the last ')'): index 0 is field 3 of the full line.
 */
function statFields (pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

function procInfo (pid: number): ProcInfo | undefined {
  const fields = statFields(pid)
  if (fields === undefined) return undefined
  // After the comm: state(0) ppid(1) … starttime is field 22 of the full line, index 19 here.
  const ppid = Number(fields[1])
  const startTime = fields[19]
  return Number.isFinite(ppid) && startTime !== undefined ? { ppid, startTime } : undefined
}

/** A process identity that survives pid reuse: pid plus its kernel start time. */
export interface ProcId { pid: number, startTime: string }

/** Every live descendant of `root` (children, grandchildren, …), found by scanning /proc. */
export function descendants (root: number): ProcId[] {
  const byParent = new Map<number, ProcId[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const info = procInfo(pid)
    if (info === undefined) continue
    const list = byParent.get(info.ppid) ?? []
    list.push({ pid, startTime: info.startTime })
    byParent.set(info.ppid, list)
  }
  const out: ProcId[] = []
  const todo = [root]
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    for (const child of byParent.get(pid) ?? []) {
      out.push(child)
      todo.push(child.pid)
    }
  }
  return out
}

/** Whether this exact process (not a later one with the same pid) is still alive. */
export function stillAlive (proc: ProcId): boolean {
  return procInfo(proc.pid)?.startTime === proc.startTime
}

/** The soft limit on open files of this process (what `ulimit -n` shows). */
export function openFileLimit (): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const parts = line?.trim().split(/\s{2,}/) ?? []
    return `${parts[1] ?? '?'} soft / ${parts[2] ?? '?'} hard`
  } catch {
    return 'unknown'
  }
}

/** Kernel clock ticks per second (USER_HZ): 100 on every mainstream Linux build. */
const TICKS_PER_SECOND = 100

/** CPU time (user + system) the process has used so far, in ms. */
export function cpuMs (pid: number): number | undefined {
  const fields = statFields(pid)
  if (fields === undefined) return undefined
  // utime and stime: fields 14 and 15 of the full line, 11 and 12 after the comm.
  const ticks = Number(fields[11]) + Number(fields[12])
  return Number.isFinite(ticks) ? ticks * 1000 / TICKS_PER_SECOND : undefined
}
