#!/usr/bin/env node
// ForwardAuth service for Traefik: answers 200 when the request carries the API key, 401 (with
// an OpenAI-shaped error body, which Traefik hands to the client as is) otherwise.
//
//   PROXY_API_KEY=… [HOST=127.0.0.1] [PORT=18080] node deploy/forward-auth/server.mjs
//
// Routes: any method on /verify (Traefik's forwardAuth address), GET /healthz. The key is read
// from `Authorization: Bearer <key>` (the scheme is case-insensitive) or `x-api-key: <key>`,
// and compared as SHA-256 digests in constant time. The key is never logged. No dependencies.
import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'

/** Keys that are public knowledge (the app's default and the .env.example placeholder). */
const WELL_KNOWN_KEYS = new Set(['codex-local-secret', 'change-me-to-a-long-random-secret'])

const log = (msg) => process.stdout.write(`forward-auth: ${msg}\n`)
const fail = (msg) => {
  process.stderr.write(`forward-auth: ${msg}\n`)
  process.exit(78) // EX_CONFIG
}

const key = process.env.PROXY_API_KEY ?? ''
if (key.trim() === '') fail('PROXY_API_KEY is not set: refusing to start')
if (WELL_KNOWN_KEYS.has(key.trim())) fail('PROXY_API_KEY is a well-known default: set a secret key (e.g. `openssl rand -hex 32`)')

const host = process.env.HOST || '127.0.0.1'
const portText = process.env.PORT || '18080'
const port = Number(portText)
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`PORT=${JSON.stringify(portText)} is not a port number`)

const digest = (value) => createHash('sha256').update(value, 'utf8').digest()
const expected = digest(key.trim())

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
  if (!timingSafeEqual(digest(presented.key), expected)) {
    deny(res, 'mismatch')
    return
  }
  // Traefik copies this onto the forwarded request (authResponseHeaders), replacing any value
  // the client sent; the app and the access log can see that ForwardAuth let it through.
  send(res, 200, { ok: true }, { 'x-auth-user': 'api-key' })
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
