import { accessSync, constants, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Why CODEX_HOME cannot be used, or undefined when it can. Codex writes state there even for
 * ephemeral threads; a read-only home once produced empty 200 answers, so it is refused loudly.
 */
export function codexHomeProblem (home: string): string | undefined {
  let isDir: boolean
  try {
    isDir = statSync(home).isDirectory()
  } catch {
    return `CODEX_HOME ${home} does not exist: create it (with config.toml and auth.json) or point CODEX_HOME elsewhere`
  }
  if (!isDir) return `CODEX_HOME ${home} is not a directory`
  // access() alone is not enough (root passes it on read-only mounts): really write a file.
  const probe = join(home, `.write-test-${process.pid}`)
  try {
    accessSync(home, constants.W_OK)
    writeFileSync(probe, '')
    unlinkSync(probe)
  } catch {
    return `CODEX_HOME ${home} is not writable by this user: Codex keeps its state there; mount it read-write`
  }
  return undefined
}

/** Creates the working directory of Codex children if it is missing; why it cannot be, if so. */
export function workdirProblem (dir: string): string | undefined {
  try {
    mkdirSync(dir, { recursive: true })
    return undefined
  } catch (err) {
    return `PROXY_CODEX_WORKDIR ${dir} cannot be created: ${(err as Error).message}`
  }
}

/** The first reason Codex cannot run here (CODEX_HOME, then the workdir), or undefined. */
export function setupProblem (config: { CODEX_HOME: string, PROXY_CODEX_WORKDIR: string }): string | undefined {
  return codexHomeProblem(config.CODEX_HOME) ?? workdirProblem(config.PROXY_CODEX_WORKDIR)
}

/**
 * Watches CODEX_HOME while the server runs: a home deleted, made read-only or replaced after the
 * start is noticed within one interval (and so is its repair), instead of every turn failing
 * while /readyz says ready. Codex without its home can even fall back to its default provider.
 */
export class CodexHomeWatch {
  readonly #home: string
  readonly #intervalMs: number
  readonly #onChange: (problem: string | undefined) => void
  #problem: string | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (home: string, intervalMs: number, onChange: (problem: string | undefined) => void = () => {}) {
    this.#home = home
    this.#intervalMs = intervalMs
    this.#onChange = onChange
    this.#problem = codexHomeProblem(home)
  }

  /** Why CODEX_HOME cannot be used now (as of the last check), or undefined. */
  get problem (): string | undefined {
    return this.#problem
  }

  start (): void {
    if (this.#intervalMs === 0 || this.#timer !== undefined) return
    this.#timer = setInterval(() => { this.check() }, this.#intervalMs)
    this.#timer.unref()
  }

  check (): void {
    const problem = codexHomeProblem(this.#home)
    if (problem === this.#problem) return
    this.#problem = problem
    this.#onChange(problem)
  }

  stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}
