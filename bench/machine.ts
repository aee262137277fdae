import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg, release, totalmem } from 'node:os'
import { table } from './markdown.js'
import { openFileLimit } from './procfs.js'

function cpuModel (): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'))
    return line?.split(':')[1]?.trim() ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

export const loadAverage = (): string => loadavg().map((x) => x.toFixed(2)).join(' ')

/** The facts a reader needs to weigh the numbers. */
export function machineTable (codexVersion: string, profile: string, startedAt: Date, loadAtStart: string): string {
  return table(['Machine', ''], [
    ['Date', startedAt.toString()],
    ['CPU', `${availableParallelism()} × ${cpuModel()}`],
    ['Memory', `${(totalmem() / 2 ** 30).toFixed(1)} GiB`],
    ['Kernel', `Linux ${release()}`],
    ['Node', process.version],
    ['Codex', codexVersion],
    ['Open-file limit', openFileLimit()],
    ['Load average at start / end', `${loadAtStart} / ${loadAverage()}`],
    ['Profile', profile]
  ])
}
