import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface CliRun {
  code: number | null
  stdout: string
  stderr: string
  /** Every stdout line that is a JSON object (JSONL output); the others left out. */
  lines: Array<Record<string, unknown>>
  ms: number
}

export interface CliSandbox<N extends string> {
  /** The fresh directory itself, and one subdirectory per name asked for. */
  root: string
  dirs: Record<N, string>
}

const parse = (text: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** stdout as one JSON object (`--output-format json`), or undefined. */
export const jsonOf = (run: CliRun): Record<string, unknown> | undefined => parse(run.stdout)

/**
 * Runs a client CLI (Claude Code, Codex) to its end in a fresh temporary directory with the named
 * subdirectories (its HOME, work directory, TMPDIR, …), killed after `timeoutMs`; the directory
 * is removed afterwards, whatever happened.
 */
export async function runCliInSandbox<N extends string> (
  prefix: string,
  names: readonly N[],
  command: (box: CliSandbox<N>) => Promise<{ bin: string, args: string[], env: Record<string, string>, cwd: string }>,
  timeoutMs = 60_000
): Promise<CliRun> {
  const root = await mkdtemp(join(tmpdir(), prefix))
  try {
    const dirs = Object.fromEntries(names.map((name) => [name, join(root, name)])) as Record<N, string>
    for (const name of names) await mkdir(dirs[name])
    const { bin, args, env, cwd } = await command({ root, dirs })
    const started = Date.now()
    return await new Promise<CliRun>((resolve, reject) => {
      const child = spawn(bin, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
      child.on('error', (e) => { clearTimeout(timer); reject(e) })
      child.on('close', (code) => {
        clearTimeout(timer)
        const lines = stdout.split('\n').flatMap((l) => { const line = l.length > 0 ? parse(l) : undefined; return line === undefined ? [] : [line] })
        resolve({ code, stdout, stderr, lines, ms: Date.now() - started })
      })
    })
  } finally {
    await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  }
}
