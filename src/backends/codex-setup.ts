import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { serverError, type ApiError } from '../errors.js'
import type { Logger } from '../logger.js'
import { startupError } from './child-process.js'
import { codexEnv, spawnProblem, type CodexBinary } from './codex-command.js'
import { setupProblem } from './codex-home.js'
import { customProviderId, leanArgs, writeLeanCatalog } from './lean-config.js'
import type { CodexModel } from './types.js'

/** What the real-Codex backends (app-server, exec) need before they can start a process. */
export interface CodexSetup {
  env: NodeJS.ProcessEnv
  /** The lean `-c` / `--disable` arguments, pointing at the rewritten model catalog. */
  lean: string[]
  models: CodexModel[]
  /** Where the catalog lives; removed by disposeCodexSetup. */
  dir: string
}

/**
 * Checks CODEX_HOME and the workdir, then writes the lean model catalog (which also proves the
 * binary runs). Any problem is returned, logged once, as the 503 every request will get.
 */
export async function prepareCodex (config: Config, binary: CodexBinary, log: Logger): Promise<CodexSetup | ApiError> {
  const problem = setupProblem(config)
  if (problem !== undefined) {
    log.error(problem)
    return serverError(503, problem, 'codex_home_unusable')
  }
  const env = codexEnv(config, binary)
  const dir = mkdtempSync(join(tmpdir(), 'codex-completions-api-'))
  try {
    const catalog = await writeLeanCatalog(binary.path, env, dir)
    const lean = leanArgs({ catalogPath: catalog.path, providerId: customProviderId(config), sandbox: config.PROXY_SANDBOX_MODE })
    return { env, lean, models: catalog.models, dir }
  } catch (err) {
    rmSync(dir, { recursive: true, force: true })
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT'
      ? spawnProblem(binary.path, err as NodeJS.ErrnoException)
      : `Codex could not start (codex debug models): ${startupError(String((err as { stderr?: unknown }).stderr ?? '')) ?? (err as Error).message.split('\n', 1)[0] ?? ''}`
    log.error({ err }, why)
    return serverError(503, why, 'codex_unavailable')
  }
}

export function disposeCodexSetup (setup: CodexSetup | undefined): void {
  if (setup !== undefined) rmSync(setup.dir, { recursive: true, force: true })
}
