import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { jsonOf, runCliInSandbox, type CliRun } from './cli-run.js'

const require = createRequire(import.meta.url)

/**
 * The Claude Code binary of the pinned `@anthropic-ai/claude-code` (its platform package: the
 * wrapper's own bin is a stub until its postinstall ran).
 */
export function claudeCodeBinary (): string {
  const bin = join(dirname(require.resolve('@anthropic-ai/claude-code-linux-x64/package.json')), 'claude')
  if (!existsSync(bin)) throw new Error(`Claude Code binary not found at ${bin}`)
  return bin
}

/** A run; `lines` are `--output-format stream-json`'s lines. */
export interface ClaudeRun extends CliRun {
  /** `--output-format json`: the result object. */
  json: Record<string, unknown> | undefined
}

export interface ClaudeOptions {
  /** `api_key` → x-api-key (ANTHROPIC_API_KEY); `auth_token` → Bearer (ANTHROPIC_AUTH_TOKEN). */
  auth?: 'api_key' | 'auth_token'
  env?: Record<string, string> | undefined
  /** Runs in the fresh work directory before Claude Code starts (files for a Read round). */
  setup?: (work: string) => Promise<void>
  timeoutMs?: number
}

/**
 * Runs `claude` (Claude Code 2.1.332) against this server: ANTHROPIC_BASE_URL pointing at it, a
 * fresh HOME, CLAUDE_CONFIG_DIR and TMPDIR (it writes its state there), telemetry, updates, error
 * reports and other non-essential traffic off, one retry at most and a bounded request time, so
 * that a run is offline, leaves nothing behind and cannot loop for minutes.
 */
export async function runClaudeCode (baseUrl: string, apiKey: string, args: (work: string) => string[], opts: ClaudeOptions = {}): Promise<ClaudeRun> {
  const run = await runCliInSandbox('claude-client-', ['home', 'config', 'work', 'tmp'], async ({ dirs: { home, config, work, tmp } }) => {
    await opts.setup?.(work)
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: home,
      CLAUDE_CONFIG_DIR: config,
      CLAUDE_CODE_TMPDIR: tmp,
      TMPDIR: tmp,
      SHELL: '/bin/bash',
      LANG: 'C.UTF-8',
      ANTHROPIC_BASE_URL: baseUrl,
      ...(opts.auth === 'auth_token' ? { ANTHROPIC_AUTH_TOKEN: apiKey } : { ANTHROPIC_API_KEY: apiKey }),
      DISABLE_TELEMETRY: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_MAX_RETRIES: '1',
      API_TIMEOUT_MS: '30000',
      ...opts.env
    }
    return { bin: claudeCodeBinary(), args: args(work), env, cwd: work }
  }, opts.timeoutMs)
  return { ...run, json: jsonOf(run) }
}
