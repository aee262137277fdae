import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MockRequest } from '../fixtures/mock-upstream.mjs'
import { TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { runClaudeCode, type ClaudeRun } from '../helpers/claude-code.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'

// Claude Code 2.1.332 itself (`claude -p`) on this server's /v1/messages, through the real Codex
// app-server and the mock upstream: every request Claude Code made is in the server's usage log
// and every request Codex made in the mock's log.

let h: CodexUpstreamApp
let root: string

beforeAll(async () => {
  h = await startCodexUpstreamApp({ listen: true })
  root = baseUrl(h.app)
})
afterAll(async () => { await h.close() })

const since = (): (() => MockRequest[]) => {
  const n = h.upstream.requests.length
  return () => h.upstream.requests.slice(n)
}
const json = (run: ClaudeRun): Record<string, unknown> => {
  if (run.json === undefined) throw new Error(`no JSON result (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`)
  return run.json
}

describe('Claude Code on /v1/messages', () => {
  it('answers a prompt (x-api-key), exit 0, with the usage', async () => {
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'hello claude c1', '--output-format', 'json'])
    const result = json(run)
    expect(run.code).toBe(0)
    expect(result).toMatchObject({ type: 'result', subtype: 'success', is_error: false })
    expect(String(result.result)).toMatch(/^ECHO: .*hello claude c1$/s)
    expect((result.usage as { output_tokens?: number }).output_tokens).toBeGreaterThan(0)
  })

  it('authenticates with ANTHROPIC_AUTH_TOKEN (Bearer)', async () => {
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'hello bearer c2', '--output-format', 'json'], { auth: 'auth_token' })
    expect(run.code).toBe(0)
    expect(String(json(run).result)).toContain('hello bearer c2')
  })

  it('runs a Read tool round: the file content reaches the model as the tool output', async () => {
    const upstream = since()
    const run = await runClaudeCode(root, TEST_KEY, (work) => ['-p', `read it c3 [tool:Read:${JSON.stringify({ file_path: join(work, 'hello.txt') })}]`, '--output-format', 'json'], {
      setup: async (work) => { await writeFile(join(work, 'hello.txt'), 'hello file content 42\n') }
    })
    expect(run.code, run.stdout).toBe(0)
    expect(String(json(run).result)).toContain('hello file content 42')
    const requests = upstream()
    expect(requests.length).toBeGreaterThanOrEqual(2)
    const second = requests.at(-1)?.body?.input ?? []
    expect(second.find((i) => i.type === 'function_call')).toMatchObject({ name: 'Read' })
    expect(JSON.stringify(second.find((i) => i.type === 'function_call_output'))).toContain('hello file content 42')
    // The tool round continued Claude Code's conversation on its thread: one prompt cache key.
    expect(new Set(requests.map((r) => r.body?.prompt_cache_key)).size).toBe(1)
  })

  it('runs a Bash tool round (a read-only command runs without flags)', async () => {
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'say hi c4 [tool:Bash:{"command":"echo hi-from-bash","description":"Print hi"}]', '--output-format', 'json'])
    expect(run.code, run.stdout).toBe(0)
    const result = json(run)
    expect(String(result.result)).toMatch(/TOOL RESULT: .*hi-from-bash/s)
    expect(result.permission_denials).toEqual([])
  })

  it('streams with --output-format stream-json: init, assistant, result', async () => {
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'hello stream c5', '--output-format', 'stream-json', '--verbose'])
    expect(run.code).toBe(0)
    const kinds = run.lines.map((l) => `${String(l.type)}${l.subtype === undefined ? '' : `/${String(l.subtype)}`}`)
    expect(kinds[0]).toBe('system/init')
    expect(kinds).toContain('assistant')
    expect(run.lines.at(-1)).toMatchObject({ type: 'result', is_error: false })
    expect(String(run.lines.at(-1)?.result)).toContain('hello stream c5')
  })

  it('works with CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1 (every tool inline, no context management)', async () => {
    const upstream = since()
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'betas off c6', '--output-format', 'json'], { env: { CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS: '1' } })
    expect(run.code).toBe(0)
    expect(String(json(run).result)).toContain('betas off c6')
    expect(upstream().at(-1)?.body?.tools?.length).toBeGreaterThan(10)
  })

  it('a claude-sonnet model with thinking enabled: the signed thinking block survives a Bash round', async () => {
    const upstream = since()
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'think, then say hi c7 [reason] [tool:Bash:{"command":"echo hi","description":"Print hi"}]', '--output-format', 'json', '--model', 'claude-sonnet-4-5-20250929'])
    expect(run.code, run.stdout).toBe(0)
    expect(String(json(run).result)).toMatch(/TOOL RESULT: .*hi/s)
    const requests = upstream()
    // Thinking with a 31,999-token budget is a high effort; the second round replays the reasoning.
    expect(requests[0]?.body?.reasoning?.effort).toBe('high')
    const replayed = (requests.at(-1)?.body?.input ?? []).find((i) => i.type === 'reasoning')
    expect(replayed).toMatchObject({ id: `rs_mock_${requests[0]?.seq ?? 0}`, encrypted_content: `enc_rs_mock_${requests[0]?.seq ?? 0}` })
  })

  it('an upstream failure ends with exit 1 and is_error within seconds, without looping', async () => {
    const upstream = since()
    const run = await runClaudeCode(root, TEST_KEY, () => ['-p', 'please c8 [fail500]', '--output-format', 'json'])
    expect(run.code).toBe(1)
    expect(json(run)).toMatchObject({ is_error: true })
    expect(run.ms).toBeLessThan(30_000)
    // One attempt and the one retry CLAUDE_CODE_MAX_RETRIES=1 allows (Codex itself does not retry a 500 here).
    expect(upstream().filter((r) => JSON.stringify(r.body?.input).includes('c8 [fail500]')).length).toBe(2)
  })
})
