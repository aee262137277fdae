// The Dockerfiles and .dockerignore, read as text (no Docker engine is needed or used).
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../helpers/paths.js'

const read = (rel: string): string => readFileSync(resolve(REPO_ROOT, rel), 'utf8')

interface Instruction { op: string, args: string }
interface Stage { index: number, base: string, name: string | undefined, instructions: Instruction[] }

/** Splits a Dockerfile into stages of instructions (comments dropped, continuations joined). */
function parseDockerfile (text: string): Stage[] {
  const logical: string[] = []
  let current = ''
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (current === '' && (line === '' || line.startsWith('#'))) continue
    if (current !== '' && line.startsWith('#')) continue // comment inside a continuation
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `
      continue
    }
    logical.push(`${current}${line}`.trim())
    current = ''
  }
  if (current.trim() !== '') logical.push(current.trim())

  const stages: Stage[] = []
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line)
    if (match === null) continue
    const op = (match[1] ?? '').toUpperCase()
    const args = match[2] ?? ''
    if (op === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      stages.push({ index: stages.length, base: from?.[1] ?? '', name: from?.[2]?.toLowerCase(), instructions: [] })
      continue
    }
    const stage = stages.at(-1)
    if (stage !== undefined) stage.instructions.push({ op, args })
  }
  return stages
}

/** ENV instructions of a stage as a map (`ENV A=b C="d e"` and legacy `ENV A b`). */
function envOf (stage: Stage): Map<string, string> {
  const env = new Map<string, string>()
  for (const { op, args } of stage.instructions) {
    if (op !== 'ENV') continue
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
      const [key, ...rest] = args.split(/\s+/)
      if (key !== undefined) env.set(key, rest.join(' '))
      continue
    }
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g)) {
      const key = m[1]
      const value = (m[2] ?? '').replace(/^(["'])(.*)\1$/, '$2')
      if (key !== undefined) env.set(key, value)
    }
  }
  return env
}

/** The chain of stages a stage builds on (itself first), following `FROM <stage name>`. */
function lineage (stages: Stage[], stage: Stage): Stage[] {
  const chain = [stage]
  let cur = stage
  for (;;) {
    const parent = stages.find((s) => s.name !== undefined && s.name === cur.base.toLowerCase() && s.index < cur.index)
    if (parent === undefined) return chain
    chain.push(parent)
    cur = parent
  }
}

const ops = (chain: Stage[], op: string): Instruction[] =>
  chain.flatMap((s) => s.instructions.filter((i) => i.op === op))
/** The effective value of a single-valued instruction (the last one along the chain). */
const last = (chain: Stage[], op: string): string | undefined =>
  [...chain].reverse().flatMap((s) => s.instructions).filter((i) => i.op === op).at(-1)?.args

/**
 * Docker's .dockerignore semantics (moby patternmatcher): patterns are relative to the context,
 * `*` and `?` do not cross `/`, `**` crosses any number of directories, a pattern that matches a
 * directory excludes what is inside it, `!` re-includes, and the last matching pattern wins.
 */
function dockerignore (text: string): (path: string) => boolean {
  const rules = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!')
    const pattern = (negate ? l.slice(1) : l).trim().replace(/^\/+/, '').replace(/\/+$/, '')
    let re = ''
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i] ?? ''
      if (ch === '*' && pattern[i + 1] === '*') {
        i++
        if (pattern[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
      } else if (ch === '*') re += '[^/]*'
      else if (ch === '?') re += '[^/]'
      else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')
    }
    return { negate, re: new RegExp(`^${re}$`) }
  })
  return (path) => {
    const parts = path.split('/')
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
    let excluded = false
    for (const rule of rules) {
      if (prefixes.some((p) => rule.re.test(p))) excluded = !rule.negate
    }
    return excluded
  }
}

describe('Dockerfile', () => {
  const stages = parseDockerfile(read('Dockerfile'))
  const byName = (name: string): Stage => {
    const stage = stages.find((s) => s.name === name)
    if (stage === undefined) throw new Error(`no stage named ${name}`)
    return stage
  }
  const final = stages.at(-1)
  if (final === undefined) throw new Error('Dockerfile has no stage')
  const runtime = byName('runtime')
  const build = stages[0]
  if (build === undefined) throw new Error('Dockerfile has no stage')
  const finalChain = lineage(stages, final)

  it('is multi-stage on a Node LTS bookworm-slim image (Node >= 20)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const text = read('Dockerfile')
    const nodeVersion = /^ARG NODE_VERSION=(\d+)$/m.exec(text)?.[1]
    expect(Number(nodeVersion)).toBeGreaterThanOrEqual(20)
    expect(Number(nodeVersion) % 2).toBe(0) // LTS lines are even
    for (const stage of stages.filter((s) => !stages.some((o) => o.name === s.base.toLowerCase()))) {
      expect(stage.base).toMatch(/^node:(\$\{NODE_VERSION\}|2\d)-bookworm-slim$/)
    }
  })

  it('installs all dependencies and builds in the first stage', () => {
    const runs = build.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)
    expect(runs.some((r) => /\bnpm ci\b/.test(r) && !r.includes('--omit'))).toBe(true)
    expect(runs.some((r) => /\bnpm run build\b/.test(r))).toBe(true)
  })

  it('installs production dependencies only in the runtime stage, and copies the build and the launcher', () => {
    const runs = runtime.instructions.filter((i) => i.op === 'RUN').map((i) => i.args)
    expect(runs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true)
    expect(runs.some((r) => /npm run build|tsc/.test(r))).toBe(false)
    const copies = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args)
    expect(copies.some((c) => new RegExp(`--from=(${build.name ?? '0'}|0)\\b.*/app/dist`).test(c))).toBe(true)
    expect(copies.some((c) => c.includes('scripts/launch.mjs') && c.includes('scripts/launch-lib.mjs'))).toBe(true)
    expect(copies.some((c) => c.includes('.codev/config.toml') && /seed\/?$/.test(c))).toBe(true)
    // No operator instructions are baked into the image: a model API sends only what its client sent.
    expect(copies.some((c) => c.includes('AGENTS'))).toBe(false)
    expect(copies.some((c) => c.includes('package-lock.json'))).toBe(true)
  })

  it('the default target (last stage) is the runtime image, without the fake Codex', () => {
    expect(finalChain).toContain(runtime)
    expect(finalChain.map((s) => s.name)).not.toContain('dev')
    expect(ops(finalChain, 'COPY').some((c) => c.args.includes('test/'))).toBe(false)
  })

  it('runs as the non-root user node', () => {
    expect(last(finalChain, 'USER')).toBe('node')
    // USER comes after the last root-only step of the runtime stage.
    const userAt = runtime.instructions.findIndex((i) => i.op === 'USER')
    const lastRun = runtime.instructions.map((i) => i.op).lastIndexOf('RUN')
    expect(userAt).toBeGreaterThan(lastRun)
  })

  it('sets CODEX_HOME, the Codex workdir under /tmp, HOST and PORT', () => {
    const env = new Map(finalChain.slice().reverse().flatMap((s) => [...envOf(s)]))
    expect(env.get('CODEX_HOME')).toBe('/app/.codex-api')
    expect(env.get('PROXY_CODEX_WORKDIR')).toMatch(/^\/tmp\//)
    expect(env.get('HOST')).toBe('0.0.0.0')
    expect(env.get('PORT')).toBe('11435')
  })

  it('starts through tini and the launcher, with a HEALTHCHECK on /healthz', () => {
    const runs = ops(finalChain, 'RUN').map((i) => i.args).join('\n')
    expect(runs).toMatch(/apt-get install[^\n]*\btini\b/)
    const entrypoint = JSON.parse(last(finalChain, 'ENTRYPOINT') ?? 'null') as string[]
    expect(entrypoint[0]).toMatch(/\/tini$/)
    expect(entrypoint).toContain('--')
    const cmd = JSON.parse(last(finalChain, 'CMD') ?? 'null') as string[]
    expect(cmd).toEqual(['node', 'scripts/launch.mjs'])
    const health = last(finalChain, 'HEALTHCHECK') ?? ''
    expect(health).toMatch(/\bCMD\b/)
    expect(health).toContain('/healthz')
    expect(health).not.toMatch(/\bcurl\b|\bwget\b/)
  })

  it('has a dev target with the fake Codex', () => {
    const dev = byName('dev')
    expect(lineage(stages, dev)).toContain(runtime)
    expect(dev.instructions.some((i) => i.op === 'COPY' && i.args.includes('test/fixtures/codex-shim'))).toBe(true)
  })

  it('copies only sources that exist and that .dockerignore lets into the context', () => {
    const ignored = dockerignore(read('.dockerignore'))
    for (const stage of stages) {
      for (const { args } of stage.instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
        const words = args.split(/\s+/).filter((w) => !w.startsWith('--'))
        for (const src of words.slice(0, -1)) {
          expect(existsSync(resolve(REPO_ROOT, src)), `COPY source ${src} exists`).toBe(true)
          expect(ignored(src), `COPY source ${src} is not ignored`).toBe(false)
        }
      }
    }
    expect(ignored('test/fixtures/codex-shim/codex-proto.mjs')).toBe(false)
    expect(ignored('test/fixtures/codex-shim/shim-core.mjs')).toBe(false)
  })
})

describe('.dockerignore', () => {
  const text = read('.dockerignore')
  const entries = new Set(text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')))
  const ignored = dockerignore(text)

  it('lists the required entries', () => {
    for (const entry of ['.git', 'node_modules', 'dist', '.env', '.env.*', '*.log', '.codex-api/**', '.codev/**', 'test/**']) {
      expect(entries, entry).toContain(entry)
    }
  })

  it('keeps secrets, Codex state, tests, dependencies and build output out of the context', () => {
    for (const path of [
      '.env', '.env.secret', '.env.production', '.codex-api/auth.json', '.codex-api/config.toml',
      '.codex-api/sessions/2025/x.jsonl', '.codev/auth.json', '.codev/sessions/a.jsonl', '.codev/log/codex-tui.log',
      'node_modules/fastify/package.json', 'dist/src/server.js', '.git/config', 'server.log', 'logs/app.log', 'src/debug.log',
      'test/unit/config.test.ts', 'test/integration/smoke.test.ts', 'test/fixtures/mock-upstream.mjs'
    ]) {
      expect(ignored(path), path).toBe(true)
    }
  })

  it('lets in what the image needs: sources, the lockfile, the launcher and the two seed files', () => {
    for (const path of [
      'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src/server.ts',
      'plugins/cors.ts', 'routes/health.ts', 'scripts/launch.mjs', 'scripts/launch-lib.mjs',
      '.codev/config.toml'
    ]) {
      expect(ignored(path), path).toBe(false)
    }
  })
})

describe('deploy/forward-auth/Dockerfile', () => {
  const stages = parseDockerfile(read('deploy/forward-auth/Dockerfile'))
  const final = stages.at(-1)
  if (final === undefined) throw new Error('no stage')
  const chain = lineage(stages, final)

  it('runs server.mjs as node on loopback port 18080 by default', () => {
    expect(final.base).toMatch(/^node:(\$\{NODE_VERSION\}|2\d)-bookworm-slim$/)
    expect(last(chain, 'USER')).toBe('node')
    expect(JSON.parse(last(chain, 'CMD') ?? 'null')).toEqual(['node', 'server.mjs'])
    const env = envOf(final)
    expect(env.get('HOST')).toBe('127.0.0.1')
    expect(env.get('PORT')).toBe('18080')
    expect(last(chain, 'HEALTHCHECK') ?? '').toContain('/healthz')
    for (const { args } of ops(chain, 'COPY')) {
      const src = args.split(/\s+/).filter((w) => !w.startsWith('--')).slice(0, -1)
      for (const s of src) expect(existsSync(resolve(REPO_ROOT, 'deploy/forward-auth', s)), s).toBe(true)
    }
  })
})
