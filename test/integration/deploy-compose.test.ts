// compose.yaml, compose.dev.yaml and compose.dev.codex.yaml, resolved by Compose itself
// (`docker-compose config` — Debian package `docker-compose`; or `docker compose config` where
// the v2 plugin exists). `config` needs no Docker engine. The files are copied into a scratch
// directory with a test .env, so a developer's real .env never leaks into the test.
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { REPO_ROOT } from '../helpers/paths.js'

const DOMAIN = 'api.example.test'
const TEST_KEY = 'compose-test-key-4f1a0c'

const REQUIRED_CORS_HEADERS = [
  'Authorization', 'Content-Type', 'Accept', 'OpenAI-Organization', 'OpenAI-Project', 'OpenAI-Beta',
  'X-Request-Id', 'X-No-Keepalive',
  'X-Stainless-OS', 'X-Stainless-Lang', 'X-Stainless-Arch', 'X-Stainless-Runtime',
  'X-Stainless-Runtime-Version', 'X-Stainless-Package-Version', 'X-Stainless-Timeout',
  'X-Stainless-Retry-Count', 'X-Stainless-Async', 'X-Stainless-Helper-Method',
  'X-Stainless-Poll-Helper', 'X-Stainless-Custom-Poll-Interval'
]

/** The Compose command: `docker-compose` (v1, Debian), else `docker compose` (v2). */
function composeCommand (): string[] {
  const probe = (cmd: string[]): boolean => spawnSync(cmd[0] ?? '', [...cmd.slice(1), 'version'], { encoding: 'utf8' }).status === 0
  if (probe(['docker-compose'])) return ['docker-compose']
  if (probe(['docker', 'compose'])) return ['docker', 'compose']
  throw new Error(
    'Neither `docker-compose` nor `docker compose` is available, so the compose files cannot be resolved. ' +
    'Install the Debian package: `apt-get install -y docker-compose` (CI must do this).'
  )
}

// Resolved once at load: a missing Compose fails every test here with the message above.
let COMPOSE: string[] | Error
try {
  COMPOSE = composeCommand()
} catch (err) {
  COMPOSE = err as Error
}

const scratchDirs: string[] = []
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true })
})

interface Resolved { status: number | null, stdout: string, stderr: string, dir: string }

/** Copies the compose files into a scratch dir with `dotenv` as .env and runs `config`. */
function resolveCompose (files: string[], opts: { dotenv?: string, env?: Record<string, string> } = {}): Resolved {
  if (COMPOSE instanceof Error) throw COMPOSE
  const dir = mkdtempSync(join(tmpdir(), 'cca-compose-'))
  scratchDirs.push(dir)
  for (const file of files) copyFileSync(join(REPO_ROOT, file), join(dir, file))
  // Build contexts must exist for Compose v1's validation.
  mkdirSync(join(dir, 'deploy/forward-auth'), { recursive: true })
  writeFileSync(join(dir, '.env'), opts.dotenv ?? `DOMAIN=${DOMAIN}\nPROXY_API_KEY=${TEST_KEY}\n`)
  const [cmd, ...pre] = COMPOSE
  const result = spawnSync(cmd ?? '', [...pre, ...files.flatMap((f) => ['-f', join(dir, f)]), 'config'], {
    cwd: dir,
    encoding: 'utf8',
    // Only what Compose needs, so variables of the machine running the tests cannot leak in.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', ...opts.env }
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, dir }
}

type Obj = Record<string, unknown>
const asObj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Obj : {})
const str = (v: unknown): string => (v === undefined || v === null ? '' : String(v))

function resolvedModel (files: string[], opts: { dotenv?: string, env?: Record<string, string> } = {}): { model: Obj, dir: string } {
  const r = resolveCompose(files, opts)
  if (r.status !== 0) throw new Error(`compose config failed (${String(r.status)}):\n${r.stderr}`)
  return { model: asObj(parse(r.stdout)), dir: r.dir }
}

function service (model: Obj, name: string): Obj {
  const svc = asObj(asObj(model.services)[name])
  if (Object.keys(svc).length === 0) throw new Error(`no service ${name}`)
  return svc
}

/** Labels or environment as a map whatever the form (mapping or `KEY=value` list). */
function kv (value: unknown, lowerKeys = false): Map<string, string> {
  const map = new Map<string, string>()
  if (Array.isArray(value)) {
    for (const item of value) {
      const text = str(item)
      const eq = text.indexOf('=')
      const key = eq === -1 ? text : text.slice(0, eq)
      map.set(lowerKeys ? key.toLowerCase() : key, eq === -1 ? '' : text.slice(eq + 1))
    }
  } else {
    for (const [key, v] of Object.entries(asObj(value))) map.set(lowerKeys ? key.toLowerCase() : key, str(v))
  }
  return map
}

/** Compose durations: 20s, 1m30s, 1500ms, 1h. */
function durationMs (value: string): number {
  let total = 0
  for (const m of value.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) {
    const n = Number(m[1])
    total += n * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 }[m[2] as 'h' | 'm' | 's' | 'ms' | 'us'])
  }
  return total
}

interface Mount { source: string, target: string, readOnly: boolean }
function mounts (svc: Obj): Mount[] {
  return (Array.isArray(svc.volumes) ? svc.volumes : []).map((v: unknown): Mount => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':')
      return { source, target, readOnly: mode.split(',').includes('ro') }
    }
    const o = asObj(v)
    return { source: str(o.source), target: str(o.target), readOnly: o.read_only === true }
  })
}

interface Port { hostIp: string, published: string, target: string }
function ports (svc: Obj): Port[] {
  return (Array.isArray(svc.ports) ? svc.ports : []).map((p: unknown): Port => {
    if (typeof p === 'string' || typeof p === 'number') {
      const parts = String(p).replace(/\/(tcp|udp)$/, '').split(':')
      if (parts.length === 3) return { hostIp: parts[0] ?? '', published: parts[1] ?? '', target: parts[2] ?? '' }
      if (parts.length === 2) return { hostIp: '', published: parts[0] ?? '', target: parts[1] ?? '' }
      return { hostIp: '', published: '', target: parts[0] ?? '' }
    }
    const o = asObj(p)
    return { hostIp: str(o.host_ip), published: str(o.published), target: str(o.target) }
  })
}

/** The Traefik view of the app's labels: routers, middlewares (with their type) and services. */
function traefik (labels: Map<string, string>): {
  router: (name: string) => Map<string, string>
  middleware: (name: string) => { type: string, options: Map<string, string> }
  middlewareNames: () => string[]
} {
  const prefixed = (prefix: string): Map<string, string> => {
    const out = new Map<string, string>()
    for (const [k, v] of labels) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v)
    return out
  }
  return {
    router: (name) => prefixed(`traefik.http.routers.${name}.`),
    middleware: (name) => {
      const all = prefixed(`traefik.http.middlewares.${name}.`)
      const types = new Set([...all.keys()].map((k) => k.split('.')[0]))
      if (types.size !== 1) throw new Error(`middleware ${name} has types ${[...types].join(', ') || '(none)'}`)
      const type = [...types][0] ?? ''
      return { type, options: prefixed(`traefik.http.middlewares.${name}.${type}.`) }
    },
    middlewareNames: () => [...new Set([...labels.keys()].filter((k) => k.startsWith('traefik.http.middlewares.')).map((k) => k.split('.')[3] ?? ''))]
  }
}

const list = (value: string | undefined): string[] => (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
const stripProvider = (name: string): string => name.replace(/@docker$/, '')

describe('Compose is available', () => {
  it('docker-compose (Debian package `docker-compose`) or docker compose v2 is installed', () => {
    if (COMPOSE instanceof Error) throw COMPOSE
    expect(COMPOSE.length).toBeGreaterThan(0)
  })
})

describe('compose.yaml (production)', () => {
  const get = (() => {
    let cached: { model: Obj, dir: string } | undefined
    return () => (cached ??= resolvedModel(['compose.yaml']))
  })()
  const app = (): Obj => service(get().model, 'app')
  const labels = (): Map<string, string> => kv(app().labels, true)
  const t = () => traefik(labels())

  it('builds the app from the Dockerfile\'s production target, with init and a restart policy', () => {
    const build = asObj(app().build)
    expect(build.context).toBe(get().dir)
    expect(build.target).toBe('production')
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^FROM \S+ AS production$/m)
    expect(app().init).toBe(true)
    expect(app().restart).toBe('unless-stopped')
  })

  it('reads .env and pins what the labels and volume rely on; CORS is Traefik\'s', () => {
    const env = kv(app().environment)
    expect(env.get('PROXY_API_KEY')).toBe(TEST_KEY) // from env_file: .env
    expect(env.get('PROXY_ENABLE_CORS')).toBe('false')
    expect(env.get('HOST')).toBe('0.0.0.0')
    expect(env.get('PORT')).toBe('11435')
    expect(env.get('CODEX_HOME')).toBe('/app/.codex-api')
  })

  it('is on the external `traefik` network and publishes no host port', () => {
    const networks = app().networks
    const names = Array.isArray(networks) ? networks.map(str) : Object.keys(asObj(networks))
    expect(names).toEqual(['traefik'])
    const net = asObj(asObj(get().model.networks).traefik)
    expect(net.external === true || asObj(net.external).name === 'traefik').toBe(true)
    expect(str(net.name || 'traefik')).toBe('traefik')
    expect(app().ports).toBeUndefined()
    expect(app().network_mode).toBeUndefined()
  })

  it('mounts ./.codex-api read-write at /app/.codex-api', () => {
    const home = mounts(app()).find((m) => m.target === '/app/.codex-api')
    expect(home).toBeDefined()
    expect(home?.source).toBe(join(get().dir, '.codex-api'))
    expect(home?.readOnly).toBe(false)
  })

  it('gives more time to stop than PROXY_SHUTDOWN_GRACE_MS (10 s)', () => {
    expect(durationMs(str(app().stop_grace_period))).toBeGreaterThan(10_000)
  })

  it('enables Traefik on the traefik network, service port 11435', () => {
    expect(labels().get('traefik.enable')).toBe('true')
    expect(labels().get('traefik.docker.network')).toBe('traefik')
    expect(labels().get('traefik.http.services.codex-api.loadbalancer.server.port')).toBe('11435')
  })

  it('routes Host && PathPrefix(/v1) on websecure with TLS through CORS, security headers, rate limit, then ForwardAuth', () => {
    const api = t().router('codex-api')
    expect(api.get('rule')).toBe(`Host(\`${DOMAIN}\`) && PathPrefix(\`/v1\`)`)
    expect(list(api.get('entrypoints'))).toEqual(['websecure'])
    expect(api.get('tls')).toBe('true')
    expect(api.get('tls.certresolver')).toBe('letsencrypt')
    expect(api.get('service')).toBe('codex-api')
    const chain = list(api.get('middlewares')).map(stripProvider)
    const types = chain.map((name) => t().middleware(name).type)
    expect(types).toEqual(['headers', 'headers', 'ratelimit', 'forwardauth'])
    const [cors, security] = chain.map((name) => t().middleware(name).options)
    expect(cors?.has('accesscontrolallowheaders')).toBe(true)
    expect(security?.has('stsseconds')).toBe(true)
    expect(types.indexOf('ratelimit')).toBeLessThan(types.indexOf('forwardauth'))
  })

  it('never compresses (SSE): no compress middleware at all', () => {
    for (const name of t().middlewareNames()) expect(t().middleware(name).type).not.toBe('compress')
    for (const [key] of labels()) expect(key).not.toMatch(/compress/)
  })

  it('asks ForwardAuth on the host loopback, trusting forwarded headers', () => {
    const name = list(t().router('codex-api').get('middlewares')).map(stripProvider).at(-1) ?? ''
    const auth = t().middleware(name)
    expect(auth.type).toBe('forwardauth')
    expect(auth.options.get('address')).toBe('http://127.0.0.1:18080/verify')
    expect(auth.options.get('trustforwardheader')).toBe('true')
    expect(list(auth.options.get('authresponseheaders')).length).toBeGreaterThan(0)
    expect(list(auth.options.get('authrequestheaders')).map((h) => h.toLowerCase())).toContain('authorization')
  })

  it('serves /healthz publicly (no ForwardAuth)', () => {
    const health = t().router('codex-api-health')
    expect(health.get('rule')).toBe(`Host(\`${DOMAIN}\`) && Path(\`/healthz\`)`)
    expect(list(health.get('entrypoints'))).toEqual(['websecure'])
    expect(health.get('tls')).toBe('true')
    expect(health.get('service')).toBe('codex-api')
    for (const name of list(health.get('middlewares')).map(stripProvider)) {
      expect(t().middleware(name).type).not.toBe('forwardauth')
    }
  })

  it('serves the dashboard /ui publicly (no ForwardAuth: the page asks for a key and calls /v1 with it)', () => {
    const ui = t().router('codex-api-ui')
    expect(ui.get('rule')).toBe(`Host(\`${DOMAIN}\`) && PathPrefix(\`/ui\`)`)
    expect(list(ui.get('entrypoints'))).toEqual(['websecure'])
    expect(ui.get('tls')).toBe('true')
    expect(ui.get('service')).toBe('codex-api')
    const types = list(ui.get('middlewares')).map(stripProvider).map((name) => t().middleware(name).type)
    expect(types).toEqual(['headers', 'ratelimit'])
  })

  it('answers OPTIONS preflights on noop@internal with the CORS middleware, ahead of the API router', () => {
    const preflight = t().router('codex-api-preflight')
    expect(preflight.get('rule')).toBe(`Host(\`${DOMAIN}\`) && Method(\`OPTIONS\`)`)
    expect(preflight.get('service')).toBe('noop@internal')
    expect(list(preflight.get('entrypoints'))).toEqual(['websecure'])
    expect(preflight.get('tls')).toBe('true')
    const middlewares = list(preflight.get('middlewares')).map(stripProvider)
    expect(middlewares).toEqual([list(t().router('codex-api').get('middlewares')).map(stripProvider)[0]])
    const priority = Number(preflight.get('priority'))
    // Default priorities are the rule lengths: beat every other router by a wide margin.
    const longestRule = Math.max(...['codex-api', 'codex-api-health', 'codex-api-ui'].map((r) => (t().router(r).get('rule') ?? '').length))
    expect(priority).toBeGreaterThan(longestRule)
  })

  it('allows every header the official SDKs send in CORS preflights', () => {
    const cors = t().middleware(stripProvider(list(t().router('codex-api').get('middlewares'))[0] ?? '')).options
    const allowed = list(cors.get('accesscontrolallowheaders')).map((h) => h.toLowerCase())
    for (const header of REQUIRED_CORS_HEADERS) expect(allowed, header).toContain(header.toLowerCase())
    // DELETE: /v1/responses/{id}.
    expect(list(cors.get('accesscontrolallowmethods')).sort()).toEqual(['DELETE', 'GET', 'OPTIONS', 'POST'])
    expect(list(cors.get('accesscontrolalloworiginlist'))).toEqual(['*'])
    expect(Number(cors.get('accesscontrolmaxage'))).toBeGreaterThan(0)
    expect(cors.get('addvaryheader')).toBe('true')
  })

  it('sends security headers: HSTS, frame deny, nosniff, referrer and permissions policies', () => {
    const security = t().middleware(stripProvider(list(t().router('codex-api').get('middlewares'))[1] ?? '')).options
    expect(Number(security.get('stsseconds'))).toBeGreaterThanOrEqual(31_536_000)
    expect(security.get('stsincludesubdomains')).toBe('true')
    expect(security.get('stspreload')).toBe('true')
    expect(security.get('framedeny')).toBe('true')
    expect(security.get('contenttypenosniff')).toBe('true')
    expect(security.get('referrerpolicy')).toBeTruthy()
    expect(security.get('permissionspolicy')).toBeTruthy()
  })

  it('rate limits 200/s average with a burst of 400 by default', () => {
    const rl = t().middleware(stripProvider(list(t().router('codex-api').get('middlewares'))[2] ?? '')).options
    expect(rl.get('average')).toBe('200')
    expect(rl.get('burst')).toBe('400')
  })

  it('runs ForwardAuth as service `auth` on the host network, loopback 18080, with the same .env key', () => {
    const auth = service(get().model, 'auth')
    expect(auth.network_mode).toBe('host')
    expect(auth.ports).toBeUndefined()
    expect(str(asObj(auth.build).context)).toBe(join(get().dir, 'deploy/forward-auth'))
    const env = kv(auth.environment)
    expect(env.get('HOST')).toBe('127.0.0.1')
    expect(env.get('PORT')).toBe('18080')
    expect(env.get('PROXY_API_KEY')).toBe(TEST_KEY)
    expect(auth.restart).toBe('unless-stopped')
    expect(auth.init).toBe(true)
    expect(readFileSync(join(REPO_ROOT, 'deploy/forward-auth/Dockerfile'), 'utf8')).toContain('server.mjs')
  })

  it('takes rate limits, origins, cert resolver and ForwardAuth port from the environment', () => {
    const { model } = resolvedModel(['compose.yaml'], {
      env: {
        RATE_LIMIT_AVG: '5',
        RATE_LIMIT_BURST: '7',
        CORS_ORIGINS: 'https://a.example,https://b.example',
        TRAEFIK_CERTRESOLVER: 'cloudflare',
        AUTH_PORT: '18181'
      }
    })
    const tt = traefik(kv(service(model, 'app').labels, true))
    const chain = list(tt.router('codex-api').get('middlewares')).map(stripProvider)
    const [cors, , rl, auth] = chain.map((n) => tt.middleware(n).options)
    expect(rl?.get('average')).toBe('5')
    expect(rl?.get('burst')).toBe('7')
    expect(list(cors?.get('accesscontrolalloworiginlist'))).toEqual(['https://a.example', 'https://b.example'])
    expect(tt.router('codex-api').get('tls.certresolver')).toBe('cloudflare')
    expect(auth?.get('address')).toBe('http://127.0.0.1:18181/verify')
    expect(kv(service(model, 'auth').environment).get('PORT')).toBe('18181')
  })

  it('refuses to resolve without DOMAIN, saying so', () => {
    const r = resolveCompose(['compose.yaml'], { dotenv: `PROXY_API_KEY=${TEST_KEY}\n` })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/DOMAIN/)
  })
})

describe('compose.dev.yaml (+ compose.dev.codex.yaml)', () => {
  it('runs the dev target with the fake Codex, .codev as CODEX_HOME, debug logs, on 127.0.0.1 only', () => {
    const { model, dir } = resolvedModel(['compose.dev.yaml'], { dotenv: '' })
    const dev = service(model, 'dev')
    expect(asObj(dev.build).target).toBe('dev')
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/^FROM \S+ AS dev$/m)
    const env = kv(dev.environment)
    expect(env.get('CODEX_BACKEND')).toBe('proto')
    expect(env.get('CODEX_BIN')).toBe('/app/test/fixtures/codex-shim/codex-proto.mjs')
    expect(env.get('CODEX_HOME')).toBe('/app/.codev')
    expect(env.get('LOG_LEVEL')).toBe('debug')
    expect(env.get('PROXY_API_KEY')).not.toBe('codex-local-secret') // the app refuses it on 0.0.0.0
    const home = mounts(dev).find((m) => m.target === '/app/.codev')
    expect(home?.source).toBe(join(dir, '.codev'))
    expect(home?.readOnly).toBe(false)
    const published = ports(dev)
    expect(published).toEqual([{ hostIp: '127.0.0.1', published: '18000', target: '11435' }])
  })

  it('takes the port from DEV_PORT, still on loopback', () => {
    const { model } = resolvedModel(['compose.dev.yaml'], { dotenv: '', env: { DEV_PORT: '18777' } })
    expect(ports(service(model, 'dev'))).toEqual([{ hostIp: '127.0.0.1', published: '18777', target: '11435' }])
  })

  it('with compose.dev.codex.yaml, runs the host Codex binary (CODEX_HOST_BIN) on the app-server backend', () => {
    const { model } = resolvedModel(['compose.dev.yaml', 'compose.dev.codex.yaml'], {
      dotenv: '',
      env: { CODEX_HOST_BIN: '/opt/codex/bin/codex' }
    })
    const dev = service(model, 'dev')
    const env = kv(dev.environment)
    expect(env.get('CODEX_BACKEND')).toBe('app-server')
    const bin = mounts(dev).find((m) => m.source === '/opt/codex/bin/codex')
    expect(bin).toBeDefined()
    expect(bin?.readOnly).toBe(true)
    expect(env.get('CODEX_BIN')).toBe(bin?.target)
    expect(ports(dev).every((p) => p.hostIp === '127.0.0.1')).toBe(true)
  })

  it('with compose.dev.codex.yaml, refuses to resolve without CODEX_HOST_BIN, saying so', () => {
    const r = resolveCompose(['compose.dev.yaml', 'compose.dev.codex.yaml'], { dotenv: '' })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toMatch(/CODEX_HOST_BIN/)
  })
})
