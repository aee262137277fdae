// A throwaway CODEX_HOME pointing the real Codex binary at a mock Responses API (report §1, §4).
// Only the provider lives here; everything else (lean flags, unload delay, …) is what the code
// under test passes with `-c`, so tests exercise the proxy's real command line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface CodexHome {
  dir: string
  cleanup: () => Promise<void>
}

export async function makeCodexHome (opts: { upstreamUrl: string, extraToml?: string | undefined }): Promise<CodexHome> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-home-'))
  // No `env_key`: a custom provider then sends no Authorization header and needs no login.
  // Retries off, or a 500 costs ~25 s of "Reconnecting…" (report §2.6, §7). Every key here is
  // accepted by `codex exec --strict-config`. JSON string syntax is valid TOML basic-string syntax.
  // extraToml sits between the top-level key and the provider table, so both its top-level keys
  // and its own [tables] parse as meant; add provider keys with `-c model_providers.mock.<key>=…`.
  const extra = opts.extraToml === undefined || opts.extraToml.trim() === '' ? [] : [opts.extraToml.trimEnd(), '']
  const toml = [
    'model_provider = "mock"',
    '',
    ...extra,
    '[model_providers.mock]',
    'name = "Mock Responses API"',
    `base_url = ${JSON.stringify(opts.upstreamUrl)}`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    ''
  ].join('\n')
  await writeFile(join(dir, 'config.toml'), toml)
  return {
    dir,
    // Codex may still be closing its sqlite files when a killed child's exit is reported.
    cleanup: () => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
  }
}
