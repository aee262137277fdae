import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

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

export interface ClaudeRun {
  code: number | null
  stdout: string
  stderr: string
  /** `--output-format json`: the result object. */
  json: Record<string, unknown> | undefined
  /** `--output-format stream-json`: every line. */
  lines: Array<Record<string, unknown>>
  ms: number
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
  const dir = await mkdtemp(join(tmpdir(), 'claude-client-'))
  const [home, config, work, tmp] = ['home', 'config', 'work', 'tmp'].map((d) => join(dir, d)) as [string, string, string, string]
  for (const d of [home, config, work, tmp]) await mkdir(d)
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
  const started = Date.now()
  try {
    return await new Promise<ClaudeRun>((resolve, reject) => {
      const child = spawn(claudeCodeBinary(), args(work), { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
      child.on('error', (e) => { clearTimeout(timer); reject(e) })
      child.on('close', (code) => {
        clearTimeout(timer)
        const parse = (text: string): Record<string, unknown> | undefined => { try { return JSON.parse(text) as Record<string, unknown> } catch { return undefined } }
        const lines = stdout.split('\n').filter((l) => l.length > 0).flatMap((l): Array<Record<string, unknown>> => { const line = parse(l); return line === undefined ? [] : [line] })
        resolve({ code, stdout, stderr, json: parse(stdout), lines, ms: Date.now() - started })
      })
    })
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  }
}
