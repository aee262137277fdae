// The launcher's logic (scripts/launch.mjs), kept apart so that tests can import it: env-file
// parsing and layering, which settings may be shown, Codex HOME seeding, and the decision to fall
// back to the fake Codex when there is no Codex login. Plain JavaScript: `node` runs it as is.
import { constants, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** Env files the launcher reads from the repository root, in order (later ones win). */
export const ENV_FILES = Object.freeze(['.env', '.env.secret'])
export const DEFAULT_CODEX_HOME = '.codex-api'
/** The deterministic fake Codex (proto protocol), relative to the repository root. */
export const SHIM_RELATIVE_PATH = 'test/fixtures/codex-shim/codex-proto.mjs'
/**
 * Files copied into a Codex HOME that lacks them. Not AGENTS.md: whatever it holds goes upstream
 * with every request, and a model API sends only what its client sent.
 */
export const SEED_FILES = Object.freeze(['config.toml'])

const KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/
const DOUBLE_QUOTE_ESCAPES = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', $: '$' }

/**
 * Parses dotenv text: `KEY=value`, optional `export `, `#` comments (also after an unquoted
 * value, when preceded by whitespace), single, double and backtick quotes (which may span lines;
 * double quotes understand \n \r \t \" \\). Values are literal: no `${VAR}` expansion.
 * Lines that are not assignments are reported by number, never by content.
 */
export function parseEnv (text) {
  const vars = Object.create(null)
  const badLines = []
  const src = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n')
  let i = 0
  let line = 1
  const n = src.length
  const skipToEol = () => {
    while (i < n && src[i] !== '\n') i++
  }
  while (i < n) {
    const startLine = line
    // Leading whitespace and blank lines.
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++
    if (i >= n) break
    if (src[i] === '\n') { i++; line++; continue }
    if (src[i] === '#') { skipToEol(); continue }

    const eq = src.indexOf('=', i)
    const eol = src.indexOf('\n', i) === -1 ? n : src.indexOf('\n', i)
    if (eq === -1 || eq > eol) { badLines.push(startLine); i = eol; continue }
    let key = src.slice(i, eq).trim()
    if (key.startsWith('export ') || key.startsWith('export\t')) key = key.slice(7).trim()
    if (!KEY_PATTERN.test(key)) { badLines.push(startLine); i = eol; continue }

    i = eq + 1
    while (i < n && (src[i] === ' ' || src[i] === '\t')) i++
    const quote = src[i]
    let value
    if (quote === '"' || quote === "'" || quote === '`') {
      let j = i + 1
      let out = ''
      let closed = false
      while (j < n) {
        const ch = src[j]
        if (ch === '\\' && quote === '"' && j + 1 < n) {
          const next = src[j + 1]
          out += DOUBLE_QUOTE_ESCAPES[next] ?? `\\${next}`
          j += 2
          continue
        }
        if (ch === quote) { closed = true; break }
        if (ch === '\n') line++
        out += ch
        j++
      }
      if (!closed) { badLines.push(startLine); i = n; break }
      value = out
      i = j + 1
      // Anything after the closing quote up to the end of the line must be a comment.
      const restEnd = src.indexOf('\n', i) === -1 ? n : src.indexOf('\n', i)
      const rest = src.slice(i, restEnd).trim()
      i = restEnd
      if (rest !== '' && !rest.startsWith('#')) { badLines.push(startLine); continue }
    } else {
      const end = src.indexOf('\n', i) === -1 ? n : src.indexOf('\n', i)
      let raw = src.slice(i, end)
      const hash = raw.search(/\s#/)
      if (hash !== -1) raw = raw.slice(0, hash)
      value = raw.trim()
      i = end
    }
    vars[key] = value
  }
  return { vars, badLines }
}

/**
 * Layers env files over a real environment: later files win over earlier ones, and nothing
 * overrides a variable the real environment already has (even an empty one). Returns what to set.
 * @param {Record<string, string | undefined>} env the real environment
 * @param {{ name: string, vars: Record<string, string> }[]} layers in load order
 */
export function layerEnv (env, layers) {
  const set = Object.create(null)
  const source = Object.create(null)
  for (const { name, vars } of layers) {
    for (const [key, value] of Object.entries(vars)) {
      if (env[key] !== undefined) continue
      set[key] = value
      source[key] = name
    }
  }
  return { set, source }
}

/**
 * Reads the ENV_FILES that exist under `root` and applies them to `env` (process.env) without
 * overriding what it already has. Returns the names of the files read and any unparsable lines.
 */
export function loadEnvFiles (root, env, files = ENV_FILES) {
  const layers = []
  const badLines = []
  for (const name of files) {
    const path = join(root, name)
    if (!existsSync(path)) continue
    const parsed = parseEnv(readFileSync(path, 'utf8'))
    layers.push({ name, vars: parsed.vars })
    for (const lineNo of parsed.badLines) badLines.push(`${name}:${lineNo}`)
  }
  const { set } = layerEnv(env, layers)
  for (const [key, value] of Object.entries(set)) env[key] = value
  return { loaded: layers.map((l) => l.name), applied: Object.keys(set), badLines }
}

/** Whether a variable's value must never be printed. */
export function isSecretName (name) {
  return /KEY|SECRET|TOKEN|PASSW|CREDENTIAL|AUTH|COOKIE|PRIVATE|SESSION/i.test(name)
}

/** The settings the launcher may show: a fixed list of non-secret names. */
export const SHOWN_SETTINGS = Object.freeze(['HOST', 'PORT', 'CODEX_BACKEND', 'CODEX_BIN', 'CODEX_HOME', 'CODEX_MODEL', 'LOG_LEVEL', 'PROXY_ENABLE_CORS'])

/** One line of non-secret settings; secrets appear only as "set" / "not set". */
export function describeSettings (env) {
  const parts = []
  for (const name of SHOWN_SETTINGS) {
    if (isSecretName(name)) continue
    const value = env[name]
    if (value !== undefined && value !== '') parts.push(`${name}=${value}`)
  }
  const key = env.PROXY_API_KEY
  parts.push(`PROXY_API_KEY ${key !== undefined && key !== '' ? 'set' : 'not set (built-in default)'}`)
  return parts.join(' ')
}

/** The absolute Codex HOME: CODEX_HOME (default `.codex-api`) relative to the repository root. */
export function resolveCodexHome (env, root) {
  const value = env.CODEX_HOME
  return resolve(root, value !== undefined && value.trim() !== '' ? value.trim() : DEFAULT_CODEX_HOME)
}

/** Where seed files come from: `seed/` (the Docker image) or `.codev/` (the repository). */
export function findSeedDir (root, exists = existsSync) {
  for (const dir of [join(root, 'seed'), join(root, '.codev')]) {
    if (exists(join(dir, 'config.toml'))) return dir
  }
  return undefined
}

/**
 * Creates `home` if missing and copies each SEED_FILES entry from `seedDir` that `home` lacks.
 * Never overwrites. Returns the files copied; throws only when `home` cannot be created.
 */
export function seedCodexHome (home, seedDir) {
  mkdirSync(home, { recursive: true })
  const copied = []
  if (seedDir === undefined || resolve(seedDir) === resolve(home)) return copied
  for (const file of SEED_FILES) {
    const from = join(seedDir, file)
    if (!existsSync(from)) continue
    try {
      copyFileSync(from, join(home, file), constants.COPYFILE_EXCL)
      copied.push(file)
    } catch (err) {
      if (err?.code !== 'EEXIST') throw err
    }
  }
  return copied
}

const isSet = (v) => v !== undefined && v.trim() !== ''

/**
 * What to do about the backend before the server starts.
 * - `configured`: CODEX_BACKEND was set explicitly and nothing needs saying;
 * - `ready`: Codex has credentials (auth.json in CODEX_HOME, or CODEX_API_KEY);
 * - `shim`: no backend chosen, no credentials, no CODEX_BIN, and the fake Codex exists (a
 *   checkout, not the Docker image): run it (`env` holds the variables to set) and warn loudly;
 * - `not-logged-in`: start anyway (so /readyz can report it) and print the login hint.
 * @param {{ env: Record<string, string | undefined>, hasAuth: boolean, shimPath: string, shimExists: boolean }} input
 */
export function decideBackend ({ env, hasAuth, shimPath, shimExists }) {
  const hasCredentials = hasAuth || isSet(env.CODEX_API_KEY)
  if (isSet(env.CODEX_BACKEND)) {
    return env.CODEX_BACKEND.trim() === 'proto' || hasCredentials ? { kind: 'configured' } : { kind: 'not-logged-in' }
  }
  if (hasCredentials) return { kind: 'ready' }
  if (!isSet(env.CODEX_BIN) && shimExists) {
    return { kind: 'shim', env: { CODEX_BACKEND: 'proto', CODEX_BIN: shimPath } }
  }
  return { kind: 'not-logged-in' }
}

/** How to log Codex in for this home (lines without a trailing newline). */
export function loginHint (home) {
  return [
    `Log Codex in (ChatGPT plan) with:  CODEX_HOME=${home} npx codex login`,
    `  on a headless machine:            CODEX_HOME=${home} npx codex login --device-auth`,
    '  or set CODEX_API_KEY. In Docker, see docs/deploy.md ("Provision .codex-api").'
  ]
}
