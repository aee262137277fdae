import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveCodexBinary } from '../../src/backends/codex-command.js'

export interface CodexClientRun {
  code: number | null
  /** The JSONL events `codex exec --json` printed. */
  events: Array<Record<string, unknown>>
  stderr: string
  ms: number
}

/**
 * Runs Codex CLI itself (the pinned binary) as a client of this server: `codex exec --json` with
 * a provider whose `base_url` is the server, `wire_api = "responses"`, the key through `env_key`.
 * Offline and bounded: a fresh CODEX_HOME, HOME and TMPDIR; no retries; plugins (a git fetch of
 * github.com), analytics and endless connection retries off.
 */
export async function runCodexClient (baseUrl: string, apiKey: string, prompt: string, opts: { model?: string, timeoutMs?: number } = {}): Promise<CodexClientRun> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-client-'))
  const [home, work, tmp] = ['home', 'work', 'tmp'].map((d) => join(dir, d)) as [string, string, string]
  for (const d of [home, work, tmp]) await mkdir(d)
  await writeFile(join(dir, 'config.toml'), [
    'model_provider = "proxy"',
    `model = ${JSON.stringify(opts.model ?? 'gpt-5.5')}`,
    '',
    '[model_providers.proxy]',
    'name = "codex-completions-api under test"',
    `base_url = ${JSON.stringify(`${baseUrl}/v1`)}`,
    'wire_api = "responses"',
    'env_key = "PROXY_TEST_KEY"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    'stream_idle_timeout_ms = 20000',
    '',
    '[features]',
    'plugins = false',
    'unbounded_connection_retries = false',
    '',
    '[analytics]',
    'enabled = false',
    ''
  ].join('\n'))
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: home, CODEX_HOME: dir, TMPDIR: tmp, PROXY_TEST_KEY: apiKey, LANG: 'C.UTF-8' }
  const args = ['exec', '--json', '--strict-config', '--skip-git-repo-check', '--color', 'never', '-C', work, prompt]
  const started = Date.now()
  try {
    return await new Promise<CodexClientRun>((resolve, reject) => {
      const child = spawn(resolveCodexBinary({}).path, args, { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 60_000)
      child.on('error', (e) => { clearTimeout(timer); reject(e) })
      child.on('close', (code) => {
        clearTimeout(timer)
        const events = out.split('\n').filter((l) => l.length > 0).flatMap((l) => { try { return [JSON.parse(l) as Record<string, unknown>] } catch { return [] } })
        resolve({ code, events, stderr: err, ms: Date.now() - started })
      })
    })
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  }
}

/** The items of one type the run reported complete (`agent_message`, `reasoning`, `command_execution`). */
export const completedItems = (run: CodexClientRun, type: string): Array<Record<string, unknown>> =>
  run.events.filter((e) => e.type === 'item.completed' && (e.item as { type?: string } | undefined)?.type === type).map((e) => e.item as Record<string, unknown>)
