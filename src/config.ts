import { availableParallelism, tmpdir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_KEY } from './auth/api-keys.js'

/** The model-id character set: what may ever be handed to Codex as a model slug. */
export const MODEL_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$'
const PROVIDER_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$'
const CLAUDE_FAMILY = '[a-z0-9.-]{1,64}=[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}'

const Milliseconds = (def: number, description: string) =>
  Type.Integer({ minimum: 0, maximum: 86_400_000, default: def, description })

/**
 * Every environment variable the service reads. The schema is the type, the defaults, the
 * validator and (through `docs/config.md` and the README table) the documentation.
 */
export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 11435, description: 'HTTP port to listen on.' }),
  HOST: Type.String({ minLength: 1, default: '127.0.0.1', description: 'Listen address. A non-loopback address requires a non-default PROXY_API_KEY.' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'Log level (pino); logs are JSON lines on stdout.' }
  ),
  PROXY_API_KEY: Type.Optional(Type.String({
    minLength: 1,
    docDefault: '`codex-local-secret` when no key is configured',
    description: 'A key clients send as `Authorization: Bearer …` or `x-api-key`; its name is `default`. Without any configured key the well-known `codex-local-secret` works (loopback only).'
  })),
  PROXY_API_KEYS: Type.Optional(Type.String({ minLength: 1, description: 'More keys, each with a name: `alice=key1,ci=key2` (names: letters, digits, . _ -, at most 64; not `other`, `none` or `anonymous`). Usage, stored responses and conversations belong to the name.' })),
  PROXY_API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'A file of `name=key` lines (`#` comments), re-read when it changes: keys are added and revoked without a restart.' })),
  PROXY_ADMIN_KEY_NAMES: Type.String({ default: 'default', description: 'Comma-separated key names that see every key\'s usage (`/v1/usage`, the dashboard); the others see their own.' }),

  CODEX_BACKEND: Type.Union([Type.Literal('app-server'), Type.Literal('exec'), Type.Literal('proto')], {
    default: 'app-server',
    description: 'app-server: warm pool of `codex app-server` processes; exec: `codex exec --json` per request; proto: legacy `codex proto` per request (and the dev shim).'
  }),
  CODEX_MODEL: Type.Optional(Type.String({ pattern: MODEL_ID_PATTERN, description: 'Model the `codex-5*` aliases run. Unset: Codex\'s own default model.' })),
  PROXY_CLAUDE_MODELS: Type.String({
    pattern: `^${CLAUDE_FAMILY}(,${CLAUDE_FAMILY})*$`,
    default: 'opus=codex-5-high,sonnet=codex-5-medium,haiku=codex-5-low,claude=codex-5',
    description: 'What `claude-*` model ids run on `/v1/messages`: comma-separated `family=model id`, the first family whose name the id contains wins (`claude` matches every one). The model id is any id of `GET /v1/models` (`codex-5-high`, `gpt-5.5`, `gpt-5.5-low`); the effort a request asks for (thinking, `output_config.effort`) wins over its suffix.'
  }),
  CODEX_BIN: Type.Optional(Type.String({ minLength: 1, description: 'Codex executable. Default: the pinned `@openai/codex` binary from node_modules.' })),
  CODEX_HOME: Type.String({ minLength: 1, default: '.codex-api', description: 'Codex home (config.toml, auth.json, state). Must exist and be writable.' }),
  CODEX_FORCE_PROVIDER: Type.Optional(Type.String({ pattern: PROVIDER_ID_PATTERN, description: 'Force `model_provider` to this provider id from config.toml.' })),
  PROXY_SANDBOX_MODE: Type.Union([Type.Literal('read-only'), Type.Literal('workspace-write'), Type.Literal('danger-full-access')], {
    default: 'read-only', description: 'Codex sandbox for any command the model could run.'
  }),
  PROXY_CODEX_WORKDIR: Type.String({ minLength: 1, default: join(tmpdir(), 'codex-work'), docDefault: '`$TMPDIR/codex-work`', description: 'Working directory of Codex threads and children; created if missing.' }),
  PROXY_APP_SERVER_WORKERS: Type.Integer({ minimum: 1, maximum: 32, default: 1, description: 'Number of `codex app-server` processes.' }),
  PROXY_HEALTH_CHECK_MS: Milliseconds(5000, 'How often CODEX_HOME is checked and each app-server worker is pinged; a worker that does not answer within this time is replaced. 0: off.'),
  PROXY_APP_SERVER_MAX_TURNS: Type.Integer({ minimum: 0, maximum: 100_000_000, default: 10_000, description: 'Replace an app-server worker (without dropping a turn) after this many turns; Codex grows a few KB per turn. 0: never.' }),

  PROXY_ENABLE_CORS: Type.Boolean({ default: true, description: 'Answer CORS preflights in the app (turn off when the edge does it).' }),
  PROXY_CORS_ORIGINS: Type.Optional(Type.String({
    docDefault: '`*`; with the default key, this machine\'s pages and desktop apps only',
    description: 'Comma-separated browser origins allowed to call the API (`*` wildcards: `http://my-host:*`), or `*`. With the default PROXY_API_KEY they are added to the origins always allowed (loopback pages, `app://`, `vscode-webview://`, `tauri://`, `file://`), `*` is refused, and any other origin gets a 403.'
  })),
  PROXY_ALLOWED_HOSTS: Type.Optional(Type.String({
    docDefault: 'any; with the default key, loopback names only',
    description: 'Comma-separated host names (Host header; `*.example.com` wildcards) the server answers to; others get a 403 (against DNS rebinding). With the default PROXY_API_KEY they are added to the loopback names always served, and `*` is refused.'
  })),
  PROXY_PROTECT_MODELS: Type.Boolean({ default: false, description: 'Require the API key for `/v1/models`.' }),
  PROXY_METRICS_PUBLIC: Type.Boolean({ default: false, description: 'Serve `/metrics` without the API key (otherwise it needs a key named in PROXY_ADMIN_KEY_NAMES).' }),

  PROXY_TIMEOUT_MS: Milliseconds(300_000, 'Longest a request may run in total.'),
  PROXY_IDLE_TIMEOUT_MS: Milliseconds(15_000, 'Longest Codex may take to acknowledge a request (start the turn); a Codex that says nothing is hung.'),
  PROXY_STREAM_IDLE_TIMEOUT_MS: Milliseconds(300_000, 'Longest silence between events once a turn runs (streaming and non-streaming).'),
  PROXY_PROTO_IDLE_MS: Milliseconds(120_000, 'The same silence limit for `codex proto` children.'),
  PROXY_KILL_ON_DISCONNECT: Type.Boolean({ default: true, description: 'Cancel the turn (kill the child / interrupt the thread) when the client disconnects.' }),
  SSE_KEEPALIVE_MS: Milliseconds(15_000, '`: keepalive` comment interval on streams; 0 turns it off. Alias: PROXY_SSE_KEEPALIVE_MS.'),
  PROXY_STREAM_MODE: Type.Union([Type.Literal('incremental'), Type.Literal('buffered')], {
    default: 'incremental', description: 'incremental: forward deltas as they arrive; buffered: one content chunk when the answer is complete.'
  }),

  PROXY_MAX_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 4096, default: Math.max(4, availableParallelism() * 8), docDefault: '8 × CPU cores (at least 4)', description: 'Turns run at once; more wait in the queue.' }),
  PROXY_MAX_QUEUE: Type.Integer({ minimum: 0, maximum: 100_000, default: 64, description: 'Requests that may wait for a turn slot; beyond it 429.' }),
  PROXY_QUEUE_TIMEOUT_MS: Milliseconds(30_000, 'Longest a request waits in the queue before 429.'),
  PROXY_RATE_LIMIT_ENABLED: Type.Boolean({ default: false, description: 'In-app request rate limit per API key (for deployments without Traefik).' }),
  RATE_LIMIT_AVG: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 200, description: 'Average requests per second (Traefik, and the in-app limit).' }),
  RATE_LIMIT_BURST: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 400, description: 'Burst size (Traefik, and the in-app limit).' }),

  PROXY_HEADERS_TIMEOUT_MS: Milliseconds(15_000, 'A client must send its request headers within this time, or the socket is closed (slow clients cannot hold sockets).'),
  PROXY_REQUEST_TIMEOUT_MS: Milliseconds(60_000, 'A client must send its whole request (headers and body) within this time (408 otherwise). Responses may take longer.'),
  PROXY_KEEPALIVE_TIMEOUT_MS: Milliseconds(10_000, 'An idle keep-alive connection is closed after this time.'),
  PROXY_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, maximum: 256 * 1024 * 1024, default: 20 * 1024 * 1024, description: 'Largest request body (images arrive inline).' }),
  PROXY_IMAGE_MAX_BYTES: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024, default: 10 * 1024 * 1024, description: 'Largest image the proxy downloads for an http(s) image_url.' }),
  PROXY_IMAGE_FETCH_TIMEOUT_MS: Milliseconds(10_000, 'Timeout of an image download.'),
  PROXY_IMAGE_ALLOW_PRIVATE: Type.Boolean({ default: false, description: 'Allow image downloads from loopback, private and link-local addresses.' }),

  PROXY_CONVERSATION_AFFINITY: Type.Boolean({ default: true, description: 'Run the rounds of one conversation on one Codex thread (app-server backend): the upstream sees one prompt cache key, Codex gets only what is new, tool rounds continue the same turn. false: a fresh thread per request.' }),
  PROXY_CONVERSATIONS_MAX: Type.Integer({ minimum: 0, maximum: 100_000, default: 200, description: 'Conversations held at once (each a Codex thread, about 1 MB of worker memory); the least recently used go first. 0: none.' }),
  PROXY_CONVERSATIONS_MAX_BYTES: Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024 * 1024, default: 256 * 1024 * 1024, description: 'History (texts, images, call arguments and results, in bytes) the held conversations may stand for in all; Codex keeps it in memory.' }),
  PROXY_CONVERSATION_TTL_MS: Milliseconds(1_800_000, 'A held conversation without a new round for this long is dropped (its thread unloaded); the next round starts fresh.'),
  PROXY_TOOL_CALL_TIMEOUT_MS: Milliseconds(600_000, 'A conversation waiting for tool results this long is dropped (its turn interrupted); a later round starts fresh.'),
  PROXY_STRICT_TOOL_RETRIES: Type.Integer({ minimum: 0, maximum: 10, default: 2, description: 'How often a strict tool call whose arguments break its schema is sent back to the model with the errors before it goes out as it is.' }),

  PROXY_RESPONSES_STORE_MAX_ENTRIES: Type.Integer({ minimum: 0, maximum: 10_000_000, default: 10_000, description: 'Stored responses (`/v1/responses` with `store` not false) kept at most; least recently used go first. 0 stores none.' }),
  PROXY_RESPONSES_STORE_MAX_BYTES: Type.Integer({ minimum: 0, maximum: 64 * 1024 * 1024 * 1024, default: 256 * 1024 * 1024, description: 'Bytes (as JSON) the stored responses may take in memory.' }),
  PROXY_RESPONSES_STORE_TTL_MS: Milliseconds(86_400_000, 'How long a stored response can be retrieved or continued (`previous_response_id`).'),

  PROXY_THINKING_SIGNATURE_SECRET: Type.Optional(Type.String({
    minLength: 16,
    docDefault: 'random, per process',
    description: 'Secret that signs the `thinking` blocks of `/v1/messages`, so that a client can send them back and the reasoning is replayed. Set it (the same on every replica) to keep them valid across restarts.'
  })),

  TOKEN_LOG_PATH: Type.String({ minLength: 1, default: join(tmpdir(), 'codex-usage.ndjson'), docDefault: '`$TMPDIR/codex-usage.ndjson`', description: 'NDJSON usage log: one line per request (/v1/usage reads it). Hourly rollups are kept beside it in `<path>.index`.' }),
  TOKEN_LOG_ROTATE: Type.Union([Type.Literal('none'), Type.Literal('daily')], {
    default: 'none', description: 'daily: the server starts a new usage log with the first request of each UTC day (the old one becomes `<path>.YYYY-MM-DD`). Rotated files still count in /v1/usage.'
  }),
  TOKEN_LOG_ROTATE_BYTES: Type.Integer({ minimum: 0, maximum: 1024 * 1024 * 1024 * 1024, default: 0, description: 'Start a new usage log before it would grow past this many bytes (the old one becomes `<path>.<UTC time>`); 0: no size limit. Rotated files still count in /v1/usage.' }),
  PROXY_SHUTDOWN_GRACE_MS: Milliseconds(10_000, 'On SIGTERM/SIGINT, the longest the server waits for open work before exiting.')
}, { additionalProperties: false })

export type Config = Readonly<Static<typeof ConfigSchema>>

export class ConfigError extends Error {
  readonly problems: readonly string[]
  constructor (problems: readonly string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

const ALIASES: Readonly<Record<string, string>> = { PROXY_SSE_KEEPALIVE_MS: 'SSE_KEEPALIVE_MS' }
const SECRET_KEYS = new Set(['PROXY_API_KEY', 'PROXY_API_KEYS', 'PROXY_THINKING_SIGNATURE_SECRET'])
const PATH_KEYS = ['CODEX_HOME', 'PROXY_CODEX_WORKDIR', 'TOKEN_LOG_PATH', 'CODEX_BIN', 'PROXY_API_KEYS_FILE'] as const

/**
 * Reads the configuration from an environment: picks the known keys, applies aliases and
 * defaults, converts strings, and reports every invalid variable at once. The result is frozen.
 */
export function loadConfig (env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value.trim()
  }
  for (const [alias, key] of Object.entries(ALIASES)) {
    const value = env[alias]
    if (raw[key] === undefined && value !== undefined && value !== '') raw[key] = value.trim()
  }

  const given: Readonly<Record<string, unknown>> = { ...raw }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw)) as Record<string, unknown>
  // TypeBox converts integers with parseInt ("1e3" → 1, "1.5" → 1, "0x10" → 16): only whole
  // decimal numbers are accepted; anything else stays a string and is reported.
  for (const [key, value] of Object.entries(given)) {
    const schema: TSchema | undefined = (ConfigSchema.properties as Record<string, TSchema>)[key]
    if (schema?.type === 'integer' && typeof value === 'string') converted[key] = /^[+-]?\d+$/.test(value) ? Number(value) : value
  }
  const problems = [...Value.Errors(ConfigSchema, converted)].map((e) => {
    const key = e.path.replace(/^\//, '')
    const shown = SECRET_KEYS.has(key) ? '<redacted>' : JSON.stringify(given[key])
    const choices = ((ConfigSchema.properties as Record<string, { anyOf?: Array<{ const?: unknown }> }>)[key]?.anyOf ?? [])
      .map((s) => s.const).filter((c) => c !== undefined)
    return `${key}=${shown}: ${choices.length > 0 ? `expected one of ${choices.map(String).join(', ')}` : e.message}`
  })
  if (problems.length === 0) {
    const c = converted as Static<typeof ConfigSchema>
    if (c.PROXY_REQUEST_TIMEOUT_MS > 0 && c.PROXY_HEADERS_TIMEOUT_MS > c.PROXY_REQUEST_TIMEOUT_MS) {
      problems.push(`PROXY_HEADERS_TIMEOUT_MS=${c.PROXY_HEADERS_TIMEOUT_MS}: must not be longer than PROXY_REQUEST_TIMEOUT_MS=${c.PROXY_REQUEST_TIMEOUT_MS}`)
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)

  const config = converted as Static<typeof ConfigSchema>
  for (const key of PATH_KEYS) {
    const value = config[key]
    // A bare command name (CODEX_BIN=codex) is looked up on PATH, not made relative to cwd.
    if (value !== undefined && !isAbsolute(value) && (key !== 'CODEX_BIN' || value.includes('/'))) {
      config[key] = resolve(cwd, value)
    }
  }
  return Object.freeze(config)
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
}

/** Whether clients can use the well-known default key: then anyone who can reach the server (any web page, too) can. */
export function usesDefaultKey (config: Pick<Config, 'PROXY_API_KEY' | 'PROXY_API_KEYS' | 'PROXY_API_KEYS_FILE'>): boolean {
  if (config.PROXY_API_KEY !== undefined) return config.PROXY_API_KEY === DEFAULT_KEY
  return config.PROXY_API_KEYS === undefined && config.PROXY_API_KEYS_FILE === undefined
}

/** Refuses settings that are valid one by one but unsafe together. */
export function assertSafeToListen (config: Config): void {
  if (!usesDefaultKey(config)) return
  const problems: string[] = []
  if (!isLoopbackHost(config.HOST)) {
    problems.push(`HOST=${config.HOST}: refusing to listen on a non-loopback address with the default PROXY_API_KEY; set a secret key`)
  }
  const everything = (list: string | undefined): boolean => (list ?? '').split(',').some((v) => v.trim() === '*')
  if (everything(config.PROXY_CORS_ORIGINS)) {
    problems.push('PROXY_CORS_ORIGINS=*: with the default PROXY_API_KEY every web page could use this server; list the origins, or set a secret key')
  }
  if (everything(config.PROXY_ALLOWED_HOSTS)) {
    problems.push('PROXY_ALLOWED_HOSTS=*: with the default PROXY_API_KEY a web page could reach this server by DNS rebinding; list the host names, or set a secret key')
  }
  if (problems.length > 0) throw new ConfigError(problems)
}
