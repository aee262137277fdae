import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  decideBackend, describeSettings, findSeedDir, isSecretName, layerEnv, loadEnvFiles, loginHint,
  parseEnv, resolveCodexHome, seedCodexHome, SHIM_RELATIVE_PATH, SHOWN_SETTINGS
} from '../../scripts/launch-lib.mjs'
import { REPO_ROOT } from '../helpers/paths.js'

const dirs: string[] = []
const scratch = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'cca-launch-'))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('parseEnv', () => {
  it('reads assignments, export, comments and blank lines', () => {
    const { vars, badLines } = parseEnv([
      '# comment',
      '',
      'A=1',
      '  B = two  ',
      'export C=3',
      'D=has # a comment',
      'E=url#fragment',
      'EMPTY=',
      'DOTTED.KEY=x'
    ].join('\n'))
    expect({ ...vars }).toEqual({ A: '1', B: 'two', C: '3', D: 'has', E: 'url#fragment', EMPTY: '', 'DOTTED.KEY': 'x' })
    expect(badLines).toEqual([])
  })

  it('understands quotes: double with escapes, single and backtick literal, multi-line', () => {
    const { vars } = parseEnv([
      'DQ="a\\nb \\"q\\" # not a comment"   # comment',
      "SQ='a\\nb # kept'",
      'BT=`x y`',
      'ML="line 1',
      'line 2"',
      'AFTER=ok'
    ].join('\n'))
    expect({ ...vars }).toEqual({ DQ: 'a\nb "q" # not a comment', SQ: 'a\\nb # kept', BT: 'x y', ML: 'line 1\nline 2', AFTER: 'ok' })
  })

  it('does not expand variables', () => {
    const text = 'A=$' + '{HOME}/x'
    expect(parseEnv(text).vars.A).toBe(text.slice(2))
  })

  it('reports unparsable lines by number only, and keeps going', () => {
    const { vars, badLines } = parseEnv('A=1\nnot an assignment\n1BAD=x\nB=2\nC="unterminated')
    expect({ ...vars }).toEqual({ A: '1', B: '2' })
    expect(badLines).toEqual([2, 3, 5])
  })

  it('handles CRLF and a BOM; the last assignment of a key wins', () => {
    expect({ ...parseEnv('\uFEFFA=1\r\nB=2\r\nA=3\r\n').vars }).toEqual({ A: '3', B: '2' })
  })
})

describe('layerEnv / loadEnvFiles', () => {
  it('lets later files win, but never overrides the real environment (even an empty value)', () => {
    const { set, source } = layerEnv({ REAL: 'env', EMPTY: '' }, [
      { name: '.env', vars: { REAL: 'file', EMPTY: 'file', A: 'env-file', B: 'env-file' } },
      { name: '.env.secret', vars: { B: 'secret-file', C: 'secret-file' } }
    ])
    expect({ ...set }).toEqual({ A: 'env-file', B: 'secret-file', C: 'secret-file' })
    expect({ ...source }).toEqual({ A: '.env', B: '.env.secret', C: '.env.secret' })
  })

  it('reads .env then .env.secret from a directory into an env object', () => {
    const dir = scratch()
    writeFileSync(join(dir, '.env'), 'PORT=1234\nPROXY_API_KEY=from-env\nbroken line\n')
    writeFileSync(join(dir, '.env.secret'), 'PROXY_API_KEY=from-secret\n')
    const env: Record<string, string | undefined> = { PORT: '9999' }
    const result = loadEnvFiles(dir, env)
    expect(result.loaded).toEqual(['.env', '.env.secret'])
    expect(result.applied.sort()).toEqual(['PROXY_API_KEY'])
    expect(result.badLines).toEqual(['.env:3'])
    expect(env).toEqual({ PORT: '9999', PROXY_API_KEY: 'from-secret' })
  })

  it('is a no-op without env files', () => {
    const env: Record<string, string | undefined> = {}
    expect(loadEnvFiles(scratch(), env)).toEqual({ loaded: [], applied: [], badLines: [] })
    expect(env).toEqual({})
  })
})

describe('what the launcher prints', () => {
  it('recognises secret names', () => {
    for (const name of ['PROXY_API_KEY', 'CODEX_API_KEY', 'OPENAI_API_KEY', 'DB_PASSWORD', 'GITHUB_TOKEN', 'CLIENT_SECRET', 'AUTH_HEADER']) {
      expect(isSecretName(name), name).toBe(true)
    }
    for (const name of ['PORT', 'HOST', 'CODEX_HOME', 'CODEX_BACKEND', 'LOG_LEVEL']) expect(isSecretName(name), name).toBe(false)
    for (const name of SHOWN_SETTINGS) expect(isSecretName(name), name).toBe(false)
  })

  it('shows non-secret settings and only whether the key is set', () => {
    const env = { PORT: '11435', HOST: '0.0.0.0', CODEX_BACKEND: 'app-server', PROXY_API_KEY: 'sk-very-secret', CODEX_API_KEY: 'sk-other', OPENAI_API_KEY: 'sk-third' }
    const line = describeSettings(env)
    expect(line).toContain('PORT=11435')
    expect(line).toContain('HOST=0.0.0.0')
    expect(line).toContain('CODEX_BACKEND=app-server')
    expect(line).toContain('PROXY_API_KEY set')
    expect(line).not.toMatch(/sk-/)
    expect(describeSettings({})).toContain('PROXY_API_KEY not set')
  })
})

describe('Codex HOME', () => {
  it('defaults to .codex-api relative to the repository root; keeps absolute paths', () => {
    expect(resolveCodexHome({}, '/repo')).toBe('/repo/.codex-api')
    expect(resolveCodexHome({ CODEX_HOME: '' }, '/repo')).toBe('/repo/.codex-api')
    expect(resolveCodexHome({ CODEX_HOME: '.codev' }, '/repo')).toBe('/repo/.codev')
    expect(resolveCodexHome({ CODEX_HOME: '/app/.codex-api' }, '/repo')).toBe('/app/.codex-api')
  })

  it('finds seed files in seed/ (the image) before .codev/ (a checkout)', () => {
    const exists = (set: string[]) => (p: string) => set.includes(p)
    expect(findSeedDir('/app', exists(['/app/seed/config.toml', '/app/.codev/config.toml']))).toBe('/app/seed')
    expect(findSeedDir('/repo', exists(['/repo/.codev/config.toml']))).toBe('/repo/.codev')
    expect(findSeedDir('/x', exists([]))).toBeUndefined()
    expect(findSeedDir(REPO_ROOT)).toBe(join(REPO_ROOT, '.codev'))
  })

  it('creates the home and copies config.toml when missing, never overwriting, and never AGENTS.md', () => {
    const dir = scratch()
    const seed = join(dir, 'seed')
    mkdirSync(seed)
    writeFileSync(join(seed, 'config.toml'), 'model = "seed"\n')
    writeFileSync(join(seed, 'AGENTS.md'), 'seed agents\n')
    const home = join(dir, 'deep/home')
    // Operator instructions would go upstream with every request: a new home gets none.
    expect(seedCodexHome(home, seed)).toEqual(['config.toml'])
    expect(existsSync(join(home, 'AGENTS.md'))).toBe(false)
    expect(readFileSync(join(home, 'config.toml'), 'utf8')).toBe('model = "seed"\n')

    writeFileSync(join(home, 'config.toml'), 'model = "mine"\n')
    expect(seedCodexHome(home, seed)).toEqual([])
    expect(readFileSync(join(home, 'config.toml'), 'utf8')).toBe('model = "mine"\n')
  })

  it('does nothing more when the home is the seed directory or there is no seed', () => {
    const dir = scratch()
    writeFileSync(join(dir, 'config.toml'), 'x\n')
    expect(seedCodexHome(dir, dir)).toEqual([])
    const home = join(dir, 'h')
    expect(seedCodexHome(home, undefined)).toEqual([])
    expect(existsSync(home)).toBe(true)
  })
})

describe('decideBackend', () => {
  const shimPath = '/repo/test/fixtures/codex-shim/codex-proto.mjs'
  const base = { hasAuth: false, shimPath, shimExists: true }

  it('falls back to the shim in a checkout without a login, backend or binary', () => {
    expect(decideBackend({ ...base, env: {} })).toEqual({ kind: 'shim', env: { CODEX_BACKEND: 'proto', CODEX_BIN: shimPath } })
    expect(decideBackend({ ...base, env: { CODEX_BACKEND: '', CODEX_API_KEY: '' } })).toMatchObject({ kind: 'shim' })
  })

  it('never falls back where the shim does not exist (the Docker image): hint instead', () => {
    expect(decideBackend({ ...base, shimExists: false, env: {} })).toEqual({ kind: 'not-logged-in' })
  })

  it('does not fall back with a Codex login (auth.json) or CODEX_API_KEY', () => {
    expect(decideBackend({ ...base, hasAuth: true, env: {} })).toEqual({ kind: 'ready' })
    expect(decideBackend({ ...base, env: { CODEX_API_KEY: 'sk-x' } })).toEqual({ kind: 'ready' })
  })

  it('respects an explicit CODEX_BACKEND, hinting only when a real backend has no login', () => {
    expect(decideBackend({ ...base, env: { CODEX_BACKEND: 'proto' } })).toEqual({ kind: 'configured' })
    expect(decideBackend({ ...base, env: { CODEX_BACKEND: 'app-server' } })).toEqual({ kind: 'not-logged-in' })
    expect(decideBackend({ ...base, hasAuth: true, env: { CODEX_BACKEND: 'exec' } })).toEqual({ kind: 'configured' })
  })

  it('does not replace an explicit CODEX_BIN with the shim', () => {
    expect(decideBackend({ ...base, env: { CODEX_BIN: '/usr/local/bin/codex' } })).toEqual({ kind: 'not-logged-in' })
  })

  it('the shim path it uses exists in this checkout', () => {
    expect(existsSync(join(REPO_ROOT, SHIM_RELATIVE_PATH))).toBe(true)
  })

  it('the login hint names the home, `codex login` and --device-auth', () => {
    const text = loginHint('/srv/home').join('\n')
    expect(text).toContain('CODEX_HOME=/srv/home npx codex login')
    expect(text).toContain('--device-auth')
  })
})

describe('scripts/launch.mjs', () => {
  it('prints which env files it loaded and never a secret value (stops before the server when dist is missing)', () => {
    // A copy of the launcher in a scratch "repo" without dist/: it must do everything up to the
    // import and then fail with a clear message, without starting anything.
    const root = scratch()
    mkdirSync(join(root, 'scripts'))
    for (const f of ['launch.mjs', 'launch-lib.mjs']) {
      writeFileSync(join(root, 'scripts', f), readFileSync(join(REPO_ROOT, 'scripts', f)))
    }
    mkdirSync(join(root, '.codev'))
    writeFileSync(join(root, '.codev/config.toml'), '# seed\n')
    writeFileSync(join(root, '.env'), 'PROXY_API_KEY=sk-launch-secret-123\nPORT=18999\n')
    writeFileSync(join(root, '.env.secret'), 'CODEX_API_KEY=sk-codex-secret-456\n')
    const result = spawnSync(process.execPath, [join(root, 'scripts/launch.mjs')], {
      cwd: root,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1' }
    })
    const output = `${result.stdout}${result.stderr}`
    expect(result.status).toBe(1)
    expect(output).toContain('loaded .env, .env.secret')
    expect(output).toContain('PORT=18999')
    expect(output).toContain('PROXY_API_KEY set')
    expect(output).toMatch(/run `npm run build` first/)
    expect(output).not.toContain('sk-launch-secret-123')
    expect(output).not.toContain('sk-codex-secret-456')
    expect(readFileSync(join(root, '.codex-api/config.toml'), 'utf8')).toBe('# seed\n')
  })
})
