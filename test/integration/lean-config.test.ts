import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codexEnv, resolveCodexBinary } from '../../src/backends/codex-command.js'
import { leanArgs, writeLeanCatalog } from '../../src/backends/lean-config.js'
import { loadConfig } from '../../src/config.js'

// Every lean flag must still mean something to the pinned Codex: `--strict-config` refuses an
// unknown key or feature, so a Codex upgrade that renames one fails here, not silently in production.

const run = promisify(execFile)
const binary = resolveCodexBinary({})
let home: string

beforeAll(async () => { home = await mkdtemp(join(tmpdir(), 'codex-home-lean-')) })
afterAll(async () => { await rm(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) })

async function startupConfig (args: string[]): Promise<{ code: number, out: string }> {
  const env = codexEnv(loadConfig({ CODEX_HOME: home }), binary)
  try {
    const { stdout } = await run(binary.path, ['app-server', '--strict-config', '--print-startup-config', ...args], { env, timeout: 30_000 })
    return { code: 0, out: stdout }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

describe('lean Codex configuration', () => {
  it('is accepted by the pinned Codex under --strict-config, with the generated model catalog', async () => {
    const catalog = await writeLeanCatalog(binary.path, codexEnv(loadConfig({ CODEX_HOME: home }), binary), join(home, 'catalog'))
    expect(catalog.models.length).toBeGreaterThan(0)
    const args = leanArgs({ catalogPath: catalog.path, sandbox: 'read-only' })
    const result = await startupConfig(args)
    expect(result.out).not.toMatch(/error/i)
    expect(result.code).toBe(0)
  })

  it('would catch a renamed key or feature (the check above can fail)', async () => {
    const key = await startupConfig([...leanArgs({ sandbox: 'read-only' }), '-c', 'tools.no_such_tool.enabled=false'])
    expect(key.code).not.toBe(0)
    expect(key.out).toMatch(/unknown configuration field/)
    const feature = await startupConfig([...leanArgs({ sandbox: 'read-only' }), '--disable', 'no_such_feature'])
    expect(feature.code).not.toBe(0)
    expect(feature.out).toMatch(/Unknown feature flag/)
  })
})
