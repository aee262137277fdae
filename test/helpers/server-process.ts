import { spawn, type ChildProcess } from 'node:child_process'
import { request } from 'undici'
import { freePort } from './free-port.js'
import { REPO_ROOT } from './paths.js'
import { waitFor } from './wait.js'

export interface ServerProcess {
  base: string
  proc: ChildProcess
  exited: Promise<number | null>
  /** What it printed so far (stdout and stderr). */
  output: () => string
}

/**
 * The real server process (src/server.ts through tsx) on 127.0.0.1 and a free port, with this
 * process's environment and `env` on top; resolves once /readyz answers 200. The caller stops it.
 */
export async function startServerProcess (env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort()
  let output = ''
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  proc.stdout?.on('data', (d: Buffer) => { output += d.toString() })
  proc.stderr?.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => { resolve(code) }))
  const base = `http://127.0.0.1:${port}`
  await waitFor(async () => await request(`${base}/readyz`).then((r) => r.statusCode === 200, () => false), 30_000, 'the server to be ready')
  return { base, proc, exited, output: () => output }
}
