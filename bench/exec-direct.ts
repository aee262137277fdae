import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { execArgs } from '../src/backends/exec.js'
import { loadConfig } from '../src/config.js'
import type { Lab } from './lab.js'
import { peakRssKb } from './procfs.js'
import { spawnTracked } from './processes.js'

// The other baseline: a Codex process per request, as the exec backend (and the original
// service) runs it, spawned here directly with the exec backend's own argument list.

export interface ExecRun {
  /** spawn → the `agent_message` (exec prints the whole answer at once). */
  ttftMs: number | undefined
  /** spawn → process exit. */
  exitMs: number
  /** Peak RSS of the process, read just before it finishes (kB). */
  peakKb: number | undefined
  error: string | undefined
}

export async function execArgsFor (lab: Lab): Promise<{ args: string[], cwd: string }> {
  const cwd = join(lab.scratch, 'exec-work')
  await mkdir(cwd, { recursive: true })
  const config = loadConfig({ CODEX_HOME: lab.home.dir, PROXY_CODEX_WORKDIR: cwd })
  return { args: execArgs(config, lab.lean, { model: undefined, effort: undefined }), cwd }
}

export async function runExec (lab: Lab, spec: { args: string[], cwd: string }, prompt: string): Promise<ExecRun> {
  const out: ExecRun = { ttftMs: undefined, exitMs: Number.NaN, peakKb: undefined, error: undefined }
  const t0 = performance.now()
  const child = spawnTracked(lab.codexBin, spec.args, { cwd: spec.cwd, env: lab.codexEnv, stdio: ['pipe', 'pipe', 'pipe'] })
  const pid = child.pid
  child.stderr?.resume()
  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: { type?: string, item?: { type?: string, text?: string } }
      try {
        event = JSON.parse(line) as typeof event
      } catch {
        return
      }
      if (event.type === 'item.completed' && event.item?.type === 'agent_message') out.ttftMs ??= performance.now() - t0
      // The last moment the process is certainly alive: its peak memory is final by now.
      if (event.type === 'turn.completed' && pid !== undefined) out.peakKb = peakRssKb(pid)
      if (event.type === 'turn.failed') out.error = 'turn.failed'
    })
  }
  child.stdin?.end(prompt)
  const code = await new Promise<number | null>((resolve) => {
    child.once('close', (c: number | null) => { resolve(c) })
    child.once('error', () => { resolve(null) })
  })
  out.exitMs = performance.now() - t0
  if (code !== 0) out.error ??= `exit ${String(code)}`
  if (out.ttftMs === undefined) out.error ??= 'no agent_message'
  return out
}
