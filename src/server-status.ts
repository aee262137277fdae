import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Type, type Static } from '@sinclair/typebox'
import { resolveCodexBinary } from './backends/codex-command.js'
import { WorkerStatusSchema, type BackendHealth } from './backends/types.js'
import type { Config } from './config.js'

/** What the dashboard's live panel shows: readiness, workers, turns, Codex's login, versions. */
export const ServerStatusSchema = Type.Object({
  ok: Type.Boolean({ description: 'A Codex worker can take a turn (as /readyz).' }),
  backend: Type.String(),
  reason: Type.Optional(Type.String({ description: 'Why not ready.' })),
  workers: Type.Array(WorkerStatusSchema),
  active: Type.Integer({ description: 'Turns running now.' }),
  queued: Type.Integer({ description: 'Requests waiting for a turn slot.' }),
  max_concurrency: Type.Integer(),
  open_streams: Type.Integer(),
  codex: Type.Object({
    logged_in: Type.Boolean({ description: 'CODEX_HOME holds a login (auth.json) and Codex has not said it is logged out.' }),
    version: Type.Union([Type.String(), Type.Null()], { description: 'The pinned @openai/codex version; null with CODEX_BIN.' })
  }),
  server: Type.Object({
    version: Type.String(),
    node: Type.String(),
    started_at: Type.String(),
    uptime_s: Type.Integer()
  }),
  usage_log: Type.Object({
    files: Type.Integer({ description: 'The live log and its rotated files.' }),
    rollup_rows: Type.Integer(),
    indexed_bytes: Type.Integer(),
    rotate: Type.String({ description: 'none, daily, or the size limit.' })
  }),
  caller: Type.Object({ key_name: Type.String(), admin: Type.Boolean() })
})
export type ServerStatus = Static<typeof ServerStatusSchema>

/** The pinned Codex CLI's version (from its package), or null when CODEX_BIN names another binary. */
export function codexVersion (config: Pick<Config, 'CODEX_BIN'>): string | null {
  const binary = resolveCodexBinary(config)
  if (binary.packageRoot === undefined) return null
  try {
    const pkg = JSON.parse(readFileSync(join(binary.packageRoot, 'package.json'), 'utf8')) as { version?: unknown }
    return typeof pkg.version === 'string' ? pkg.version : null
  } catch {
    return null
  }
}

/**
 * Whether Codex is logged in: what Codex said (app-server asks it), else (the per-request
 * backends, or before a worker answered) whether its credentials exist and were not refused.
 */
export function codexLoggedIn (home: string, health: BackendHealth): boolean {
  return health.loggedIn ?? (existsSync(join(home, 'auth.json')) && !/not logged in/i.test(health.reason ?? ''))
}
