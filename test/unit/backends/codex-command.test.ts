import { existsSync } from 'node:fs'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { codexEnv, resolveCodexBinary, spawnProblem } from '../../../src/backends/codex-command.js'
import { codexHomeProblem, workdirProblem } from '../../../src/backends/codex-home.js'

afterEach(() => { vi.unstubAllEnvs() })

describe('resolveCodexBinary', () => {
  it('uses CODEX_BIN as given', () => {
    expect(resolveCodexBinary({ CODEX_BIN: '/opt/codex' })).toEqual({ path: '/opt/codex' })
  })
  it('finds the pinned @openai/codex package otherwise', () => {
    const bin = resolveCodexBinary({})
    expect(bin.packageRoot).toMatch(/node_modules\/@openai\/codex$/)
    expect(existsSync(bin.path)).toBe(true)
    expect(bin.path).toMatch(/\/(codex|codex\.js)$/)
  })
})

describe('codexEnv', () => {
  it('keeps the environment but not the proxy\'s own variables', () => {
    vi.stubEnv('PROXY_API_KEY', 'sk-secret')
    vi.stubEnv('TOKEN_LOG_PATH', '/tmp/x')
    vi.stubEnv('RATE_LIMIT_AVG', '5')
    vi.stubEnv('SOME_TOOL_VAR', 'kept')
    const env = codexEnv({ CODEX_HOME: '/data/codex' }, { path: '/opt/codex' }, { EXTRA: '1' })
    expect(env.PROXY_API_KEY).toBeUndefined()
    expect(env.TOKEN_LOG_PATH).toBeUndefined()
    expect(env.RATE_LIMIT_AVG).toBeUndefined()
    expect(env.SOME_TOOL_VAR).toBe('kept')
    expect(env.CODEX_HOME).toBe('/data/codex')
    expect(env.EXTRA).toBe('1')
    expect(env.CODEX_MANAGED_BY_NPM).toBeUndefined()
    for (const key of Object.keys(env)) expect(key.startsWith('PROXY_')).toBe(false)
  })
  it('tells Codex about its npm package root', () => {
    const env = codexEnv({ CODEX_HOME: '/h' }, { path: '/p/codex', packageRoot: '/p' })
    expect(env.CODEX_MANAGED_BY_NPM).toBe('1')
    expect(env.CODEX_MANAGED_PACKAGE_ROOT).toBe('/p')
  })
})

describe('codexHomeProblem / workdirProblem', () => {
  it('accepts a writable directory and explains the others', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cca-home-'))
    try {
      expect(codexHomeProblem(dir)).toBeUndefined()
      expect(codexHomeProblem(join(dir, 'missing'))).toContain('does not exist')
      await writeFile(join(dir, 'file'), 'x')
      expect(codexHomeProblem(join(dir, 'file'))).toContain('is not a directory')
      expect(workdirProblem(join(dir, 'a', 'b'))).toBeUndefined()
      expect(existsSync(join(dir, 'a', 'b'))).toBe(true)
      await writeFile(join(dir, 'blocker'), 'x')
      expect(workdirProblem(join(dir, 'blocker', 'work'))).toMatch(/PROXY_CODEX_WORKDIR .* cannot be created/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
  it('refuses a read-only directory', async () => {
    // Root ignores mode bits, so the check must really try to write: /proc/sys refuses even root.
    expect(codexHomeProblem('/proc/sys')).toContain('is not writable')
    if (process.getuid?.() === 0) return
    const dir = await mkdtemp(join(tmpdir(), 'cca-home-'))
    try {
      await chmod(dir, 0o500)
      expect(codexHomeProblem(dir)).toContain('is not writable')
    } finally {
      await chmod(dir, 0o700)
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('spawnProblem', () => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`spawn ${code}`), { code })
  it('explains ENOENT and EACCES', () => {
    expect(spawnProblem('/x/codex', err('ENOENT'))).toBe('Codex binary not found: /x/codex (install dependencies with npm ci, or set CODEX_BIN)')
    expect(spawnProblem('/x/codex', err('EACCES'))).toBe('Codex binary is not executable: /x/codex')
    expect(spawnProblem('/x/codex', err('EMFILE'))).toBe('Codex could not be started (/x/codex): spawn EMFILE')
  })
})
