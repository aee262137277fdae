#!/usr/bin/env node
// ForwardAuth service for Traefik: answers 200 when the request carries one of the API keys, with
// the key's name in `X-Auth-User` (Traefik copies it onto the forwarded request through
// authResponseHeaders), and 401 (with an OpenAI-shaped error body, which Traefik hands to the
// client as is) otherwise.
//
//   PROXY_API_KEY=… | PROXY_API_KEYS=alice=…,ci=… | PROXY_API_KEYS_FILE=/path \
//     [HOST=127.0.0.1] [PORT=18080] node deploy/forward-auth/server.mjs
//
// The same keys as the app, by the same rules: PROXY_API_KEY is named `default`; PROXY_API_KEYS
// and the keys file hold `name=key` entries (names [A-Za-z0-9._-]{1,64}, unique; keys without
// spaces, unique; `#` comment lines in the file); the file is re-read when it changes (an
// invalid file keeps the keys it had). Routes: any method on /verify (Traefik's forwardAuth
// address), GET /healthz. The key is read from `Authorization: Bearer <key>` (the scheme is
// case-insensitive) or `x-api-key: <key>`, and compared as SHA-256 digests in constant time with
// every key. No key is ever logged: problems name the entry and the name, never the key. No
// dependencies (its own small image), so the rules are written here a second time; the test
// suite checks that both accept and refuse the same configurations.
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { createServer } from 'node:http'

/** Keys that are public knowledge (the app's default and the .env.example placeholder). */
const WELL_KNOWN_KEYS = new Set(['codex-local-secret', 'change-me-to-a-long-random-secret'])
const NAME = /^[A-Za-z0-9._-]{1,64}$/
// As the app's RESERVED_KEY_NAMES: the names its usage rollups and metrics use themselves.
const RESERVED = new Set(['other', 'none', 'anonymous'])
const RELOAD_CHECK_MS = 2000

const log = (msg) => process.stdout.write(`forward-auth: ${msg}\n`)
const fail = (msg) => {
  process.stderr.write(`forward-auth: ${msg}\n`)
  process.exit(78) // EX_CONFIG
}

const digest = (value) => createHash('sha256').update(value, 'utf8').digest()

/** `name=key` entries (as the app's parseKeyPairs): the keys, and what is wrong by position. */
function parsePairs (entries, source) {
  const keys = []
  const problems = []
  entries.forEach((raw, i) => {
    const entry = raw.trim()
    if (entry === '' || entry.startsWith('#')) return
    const at = `${source} entry ${i + 1}`
    const eq = entry.indexOf('=')
    const name = eq === -1 ? '' : entry.slice(0, eq).trim()
    const key = eq === -1 ? '' : entry.slice(eq + 1).trim()
    if (!NAME.test(name)) problems.push(`${at}: expected name=key with a name of letters, digits and . _ - (at most 64)`)
    else if (RESERVED.has(name)) problems.push(`${at}: the name ${name} is reserved (${[...RESERVED].join(', ')}); choose another`)
    else if (key === '' || /\s/.test(key)) problems.push(`${at} (${name}): the key is empty or contains spaces`)
    else keys.push({ name, key })
  })
  return { keys, problems }
}

function readKeysFile (path) {
  try {
    return parsePairs(readFileSync(path, 'utf8').split(/\r?\n/), `PROXY_API_KEYS_FILE ${path}`)
  } catch (err) {
    return { keys: [], problems: [`PROXY_API_KEYS_FILE ${path} cannot be read: ${err.code ?? 'error'}`] }
  }
}

/** Every key from the environment and the keys file, or the problems that forbid using them. */
function configuredKeys (env) {
  const lists = []
  if (env.PROXY_API_KEY !== undefined && env.PROXY_API_KEY.trim() !== '') lists.push({ keys: [{ name: 'default', key: env.PROXY_API_KEY.trim() }], problems: [] })
  if (env.PROXY_API_KEYS !== undefined && env.PROXY_API_KEYS.trim() !== '') lists.push(parsePairs(env.PROXY_API_KEYS.split(','), 'PROXY_API_KEYS'))
  if (env.PROXY_API_KEYS_FILE !== undefined && env.PROXY_API_KEYS_FILE.trim() !== '') lists.push(readKeysFile(env.PROXY_API_KEYS_FILE.trim()))
  const keys = []
  const problems = lists.flatMap((l) => l.problems)
  for (const k of lists.flatMap((l) => l.keys)) {
    if (keys.some((o) => o.name === k.name)) problems.push(`the key name ${k.name} is configured twice`)
    else if (keys.some((o) => o.key === k.key)) problems.push(`the key named ${k.name} is the same as another`)
    else if (WELL_KNOWN_KEYS.has(k.key)) problems.push(`the key named ${k.name} is a well-known default: set a secret key (e.g. \`openssl rand -hex 32\`)`)
    else keys.push(k)
  }
  if (keys.length === 0 && problems.length === 0) problems.push('PROXY_API_KEY is not set (nor PROXY_API_KEYS, PROXY_API_KEYS_FILE): refusing to start')
  return { keys: keys.map((k) => ({ name: k.name, digest: digest(k.key) })), problems }
}

const initial = configuredKeys(process.env)
if (initial.problems.length > 0) fail(initial.problems.join('; '))
let ring = initial.keys
log(`keys loaded: ${ring.map((k) => k.name).join(', ')}`)

const keysFile = process.env.PROXY_API_KEYS_FILE?.trim()
if (keysFile) {
  const stamp = () => {
    try {
      const s = statSync(keysFile)
      return `${s.mtimeMs}:${s.size}:${s.ino}`
    } catch {
      return undefined
    }
  }
  let last = stamp()
  setInterval(() => {
    const now = stamp()
    if (now === last) return
    last = now
    const next = configuredKeys(process.env)
    if (next.problems.length > 0) {
      log(`PROXY_API_KEYS_FILE changed but is invalid, keeping the keys it had: ${next.problems.join('; ')}`)
      return
    }
    ring = next.keys
    log(`PROXY_API_KEYS_FILE changed: keys reloaded: ${ring.map((k) => k.name).join(', ')}`)
  }, RELOAD_CHECK_MS).unref()
}

/** The name of the key presented, compared with every key (no early exit), or undefined. */
function match (presented) {
  const d = digest(presented)
  let name
  for (const k of ring) {
    if (timingSafeEqual(d, k.digest) && name === undefined) name = k.name
  }
  return name
}

const host = process.env.HOST || '127.0.0.1'
const portText = process.env.PORT || '18080'
const port = Number(portText)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT=${JSON.stringify(portText)} is not a port number`)

/** The presented key, or a reason why there is none. */
function presentedKey (headers) {
  const authorization = headers.authorization
  if (typeof authorization === 'string' && authorization !== '') {
    const match = /^(\S+)\s+(.+)$/.exec(authorization.trim())
    if (match === null || match[1].toLowerCase() !== 'bearer') return { reason: 'scheme' }
    return { key: match[2].trim() }
  }
  const apiKey = headers['x-api-key']
  if (typeof apiKey === 'string' && apiKey.trim() !== '') return { key: apiKey.trim() }
  return { reason: 'missing' }
}

const ERROR_MESSAGES = {
  missing: 'Missing API key. Send it as `Authorization: Bearer <key>`.',
  scheme: 'Unsupported authorization scheme. Send the key as `Authorization: Bearer <key>`.',
  mismatch: 'Incorrect API key provided.'
}

function send (res, status, body, headers = {}) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers
  })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}

function deny (res, reason) {
  send(res, 401, {
    error: { message: ERROR_MESSAGES[reason], type: 'authentication_error', param: null, code: 'invalid_api_key' }
  }, { 'www-authenticate': 'Bearer realm=api' })
}

const server = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0]
  if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
    send(res, 200, { ok: true })
    return
  }
  if (path !== '/verify') {
    send(res, 404, { error: { message: `Unknown path ${path}`, type: 'invalid_request_error', param: null, code: 'not_found' } })
    return
  }
  const presented = presentedKey(req.headers)
  if (presented.key === undefined) {
    deny(res, presented.reason)
    return
  }
  const name = match(presented.key)
  if (name === undefined) {
    deny(res, 'mismatch')
    return
  }
  // Traefik copies this onto the forwarded request (authResponseHeaders), replacing any value
  // the client sent: the app's access log and anything behind Traefik see whose key it was.
  send(res, 200, { ok: true }, { 'x-auth-user': name })
})
server.keepAliveTimeout = 65_000
server.headersTimeout = 10_000
server.requestTimeout = 30_000

server.on('error', (err) => fail(`cannot listen on ${host}:${port}: ${err.message}`))
server.listen(port, host, () => {
  const address = server.address()
  const shown = typeof address === 'object' && address !== null ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address)
  log(`listening on http://${shown}`)
})

let stopping = false
function shutdown (signal) {
  if (stopping) return
  stopping = true
  log(`${signal}: shutting down`)
  server.close(() => process.exit(0))
  server.closeIdleConnections()
  // Traefik keeps connections open; do not wait for them longer than a moment.
  setTimeout(() => {
    server.closeAllConnections()
    process.exit(0)
  }, 2_000).unref()
}
process.on('SIGTERM', () => shutdown('SIGTERM'))
process.on('SIGINT', () => shutdown('SIGINT'))
