// `npm run bench`: the performance numbers of docs/benchmarks.md, measured offline against the
// mock Responses API on 127.0.0.1. Not a test: nothing here asserts a time; it prints a report.
import { writeFileSync } from 'node:fs'
import { ensureBuilt } from './build.js'
import { openLab, REPO_ROOT, type Lab } from './lab.js'
import { affinitySection } from './affinity.js'
import { loadSection } from './load.js'
import { loadAverage, machineTable } from './machine.js'
import type { SectionResult } from './markdown.js'
import { memorySection } from './memory.js'
import { parseOptions, USAGE, type Options, type SectionId } from './options.js'
import { killAllNow, trackedCount } from './processes.js'
import { soakSection } from './soak.js'
import { sseSection } from './sse.js'
import { ttftSection } from './ttft.js'
import { turnsSection } from './turns.js'
import { usageSection } from './usage.js'

const log = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

// Whatever happens (Ctrl-C, a crash, a failed section), no process started here outlives the run.
process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping every process the bench started`)
    killAllNow()
    process.exit(130)
  })
}

function runSection (id: SectionId, lab: Lab, opts: Options): Promise<SectionResult> {
  const p = opts.profile
  switch (id) {
    case 'ttft': return ttftSection(lab, p.ttft)
    case 'load': return loadSection(lab, p.load)
    case 'memory': return memorySection(lab, p.memory)
    case 'sse': return sseSection(lab, p.sse)
    case 'turns': return turnsSection(lab, p.turns)
    case 'soak': return soakSection(lab, p.soak)
    case 'affinity': return affinitySection(lab, p.affinity)
    case 'usage': return usageSection(lab, p.usage)
  }
}

async function main (): Promise<number> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  let opts: Options
  try {
    opts = parseOptions(process.argv.slice(2), process.env)
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  ensureBuilt(REPO_ROOT, opts.build, log)
  const startedAt = new Date()
  const loadAtStart = loadAverage()
  log(`profile ${opts.profile.name}; sections ${opts.only.join(', ')}`)
  const lab = await openLab({ slowDelayMs: opts.profile.turns.slowDelayMs })
  const results: SectionResult[] = []
  const t0 = performance.now()
  try {
    for (const id of opts.only) {
      const started = performance.now()
      log(`${id}: running`)
      try {
        results.push(await runSection(id, lab, opts))
      } catch (err) {
        results.push({ id, title: `${id}: failed`, blocks: [`**The section failed:** ${(err as Error).stack ?? String(err)}`], ok: false })
      }
      // Only the mock upstream should be left between sections.
      const left = trackedCount()
      log(`${id}: ${((performance.now() - started) / 1000).toFixed(1)} s${left === 1 ? '' : ` (${left - 1} stray processes)`}`)
    }
  } finally {
    await lab.close()
    killAllNow()
  }
  const totalS = ((performance.now() - t0) / 1000).toFixed(0)
  const report = [
    `# Benchmark results (${opts.profile.name} run)`,
    machineTable(lab.codexVersion, `${opts.profile.name}; sections: ${opts.only.join(', ')}; ${totalS} s in total`, startedAt, loadAtStart),
    ...results.flatMap((r) => [`## ${r.title}`, ...r.blocks, ...(r.ok ? [] : ['**Not every request succeeded or an invariant did not hold: see above.**'])])
  ].join('\n\n') + '\n'
  process.stdout.write(report)
  if (opts.out !== undefined) {
    writeFileSync(opts.out, report)
    log(`written to ${opts.out}`)
  }
  return results.every((r) => r.ok) ? 0 : 1
}

process.exitCode = await main()
