import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveCodexBinary } from '../../src/backends/codex-command.js'
import { runCliInSandbox, type CliRun } from './cli-run.js'

export interface CodexClientRun extends CliRun {
  /** The JSONL events `codex exec --json` printed (its `lines`). */
  events: Array<Record<string, unknown>>
}

/**
 * Runs Codex CLI itself (the pinned binary) as a client of this server: `codex exec --json` with
 * a provider whose `base_url` is the server, `wire_api = "responses"`, the key through `env_key`.
 * Offline and bounded: a fresh CODEX_HOME, HOME and TMPDIR; no retries; plugins (a git fetch of
 * github.com), analytics and endless connection retries off.
 */
export async function runCodexClient (baseUrl: string, apiKey: string, prompt: string, opts: { model?: string, timeoutMs?: number } = {}): Promise<CodexClientRun> {
  const run = await runCliInSandbox('codex-client-', ['home', 'work', 'tmp'], async ({ root: dir, dirs: { home, work, tmp } }) => {
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
    return { bin: resolveCodexBinary({}).path, args, env, cwd: work }
  }, opts.timeoutMs)
  return { ...run, events: run.lines }
}

/** The items of one type the run reported complete (`agent_message`, `reasoning`, `command_execution`). */
export const completedItems = (run: CodexClientRun, type: string): Array<Record<string, unknown>> =>
  run.events.filter((e) => e.type === 'item.completed' && (e.item as { type?: string } | undefined)?.type === type).map((e) => e.item as Record<string, unknown>)
