import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { codexEnv, resolveCodexBinary } from '../src/backends/codex-command.js'
import { customProviderId, leanArgs, writeLeanCatalog } from '../src/backends/lean-config.js'
import { makeCodexHome, type CodexHome } from '../test/helpers/codex-home.js'
import { startMock, type MockProcess } from './mock.js'

export const REPO_ROOT = resolve(import.meta.dirname, '..')

/**
 * What every section shares: the mock upstream, a throwaway CODEX_HOME pointing Codex at it, the
 * pinned Codex binary, and the exact lean arguments the proxy's backends start Codex with.
 */
export interface Lab {
  repoRoot: string
  mock: MockProcess
  home: CodexHome
  /** Scratch space (workdirs, logs) removed at the end. */
  scratch: string
  codexBin: string
  codexVersion: string
  /** Environment Codex children get (as the proxy builds it). */
  codexEnv: NodeJS.ProcessEnv
  /** `-c` / `--disable` flags with the lean catalog, as the app-server and exec backends pass them. */
  lean: string[]
  close: () => Promise<void>
}

function removeOnExit (dir: string): void {
  process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
}

export async function openLab (opts: { slowDelayMs: number }): Promise<Lab> {
  const scratch = await mkdtemp(join(tmpdir(), 'cca-bench-'))
  // Ctrl-C exits without the async cleanup below: the scratch space goes anyway.
  removeOnExit(scratch)
  const cleanups: Array<() => Promise<void>> = [async () => { await rm(scratch, { recursive: true, force: true }) }]
  const close = async (): Promise<void> => {
    for (const step of cleanups.reverse()) await step().catch(() => {})
  }
  try {
    const mock = await startMock(REPO_ROOT, opts.slowDelayMs)
    cleanups.push(mock.stop)
    const home = await makeCodexHome({ upstreamUrl: mock.url })
    removeOnExit(home.dir)
    cleanups.push(home.cleanup)
    const binary = resolveCodexBinary({})
    const env = codexEnv({ CODEX_HOME: home.dir }, binary)
    const catalog = await writeLeanCatalog(binary.path, env, join(scratch, 'catalog'))
    const lean = leanArgs({
      catalogPath: catalog.path,
      providerId: customProviderId({ CODEX_HOME: home.dir }),
      sandbox: 'read-only'
    })
    const codexVersion = execFileSync(binary.path, ['--version'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    return { repoRoot: REPO_ROOT, mock, home, scratch, codexBin: binary.path, codexVersion, codexEnv: env, lean, close }
  } catch (err) {
    await close()
    throw err
  }
}
