import { constants, existsSync, accessSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, join } from 'node:path'
import type { Config } from '../config.js'

const TARGETS: Readonly<Record<string, { triple: string, pkg: string }>> = {
  'linux-x64': { triple: 'x86_64-unknown-linux-musl', pkg: '@openai/codex-linux-x64' },
  'linux-arm64': { triple: 'aarch64-unknown-linux-musl', pkg: '@openai/codex-linux-arm64' },
  'darwin-x64': { triple: 'x86_64-apple-darwin', pkg: '@openai/codex-darwin-x64' },
  'darwin-arm64': { triple: 'aarch64-apple-darwin', pkg: '@openai/codex-darwin-arm64' },
  'win32-x64': { triple: 'x86_64-pc-windows-msvc', pkg: '@openai/codex-win32-x64' },
  'win32-arm64': { triple: 'aarch64-pc-windows-msvc', pkg: '@openai/codex-win32-arm64' }
}

export interface CodexBinary {
  path: string
  /** Set for the pinned npm package: the root its launcher would report to Codex. */
  packageRoot?: string | undefined
}

/**
 * The Codex executable: CODEX_BIN, or the native binary inside the pinned `@openai/codex`
 * package. Running the binary directly (not the npm launcher) saves a Node process per child and
 * lets signals reach Codex itself.
 */
export function resolveCodexBinary (config: Pick<Config, 'CODEX_BIN'>): CodexBinary {
  if (config.CODEX_BIN !== undefined) return { path: config.CODEX_BIN }
  const target = TARGETS[`${process.platform}-${process.arch}`]
  const require = createRequire(import.meta.url)
  let packageRoot: string
  try {
    packageRoot = dirname(require.resolve('@openai/codex/package.json'))
  } catch {
    return { path: 'codex' }
  }
  if (target !== undefined) {
    try {
      const platformRoot = dirname(createRequire(join(packageRoot, 'package.json')).resolve(`${target.pkg}/package.json`))
      const path = join(platformRoot, 'vendor', target.triple, 'bin', process.platform === 'win32' ? 'codex.exe' : 'codex')
      if (existsSync(path)) return { path, packageRoot }
    } catch {
      // Optional platform package missing: fall back to the launcher below.
    }
  }
  return { path: join(packageRoot, 'bin', 'codex.js'), packageRoot }
}

/** Variables of the proxy itself that a Codex child has no business seeing. */
const PRIVATE_ENV = /^(PROXY_|TOKEN_LOG_PATH$|RATE_LIMIT_)/

export function codexEnv (config: Pick<Config, 'CODEX_HOME'>, binary: CodexBinary, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!PRIVATE_ENV.test(key)) env[key] = value
  }
  env.CODEX_HOME = config.CODEX_HOME
  // Its reason for failing (`Error: …`) as the last stderr line, not a backtrace's last frame.
  env.RUST_BACKTRACE = '0'
  if (binary.packageRoot !== undefined) {
    env.CODEX_MANAGED_BY_NPM = '1'
    env.CODEX_MANAGED_PACKAGE_ROOT = binary.packageRoot
  }
  return { ...env, ...extra }
}

/** Why the Codex executable cannot be run (missing, not executable), or undefined. */
export function binaryProblem (bin: string): string | undefined {
  const candidates = bin.includes('/') ? [bin] : (process.env.PATH ?? '').split(delimiter).filter((d) => d.length > 0).map((d) => join(d, bin))
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK)
      if (statSync(path).isFile()) return undefined
    } catch {
      // Not here.
    }
  }
  const exists = candidates.some((p) => existsSync(p))
  return exists ? `Codex binary is not executable: ${bin}` : spawnProblem(bin, Object.assign(new Error('not found'), { code: 'ENOENT' }))
}

/** A short human reason for a failed spawn. */
export function spawnProblem (bin: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `Codex binary not found: ${bin} (install dependencies with npm ci, or set CODEX_BIN)`
  if (err.code === 'EACCES') return `Codex binary is not executable: ${bin}`
  return `Codex could not be started (${bin}): ${err.message}`
}
