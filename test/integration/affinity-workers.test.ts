import OpenAI from 'openai'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { AUTH, TEST_KEY, baseUrl } from '../helpers/build-test-app.js'
import { startCodexUpstreamApp, type CodexUpstreamApp } from '../helpers/codex-upstream-app.js'
import { expectOnlyHeldThreads } from '../helpers/threads.js'
import { waitFor } from '../helpers/wait.js'

// Held conversations and the workers under them, with the real Codex app-server and the mock
// upstream: a round goes to the worker that holds its thread; a recycled or crashed worker's
// conversations start fresh on their next round, and a round running on a worker that is being
// recycled finishes untouched.

type ChatMessage = OpenAI.Chat.ChatCompletionMessageParam

const apps: CodexUpstreamApp[] = []
afterEach(async () => { await Promise.all(apps.splice(0).map(async (a) => { await a.close() })) })

async function start (env: Record<string, string>): Promise<{ h: CodexUpstreamApp, client: OpenAI, backend: AppServerBackend }> {
  const h = await startCodexUpstreamApp({ listen: true, env })
  apps.push(h)
  return { h, client: new OpenAI({ baseURL: `${baseUrl(h.app)}/v1`, apiKey: TEST_KEY, maxRetries: 0, timeout: 20_000 }), backend: h.app.codex as AppServerBackend }
}

/** The prompt_cache_key (Codex's thread id) of the first upstream request carrying `marker` (later ones carry it as history). */
function cacheKey (h: CodexUpstreamApp, marker: string): string {
  const found = h.upstream.requests.find((r) => JSON.stringify(r.body?.input ?? []).includes(marker))
  if (found === undefined) throw new Error(`no upstream request with ${marker}`)
  return String(found.body?.prompt_cache_key)
}

async function round (client: OpenAI, history: ChatMessage[], content: string): Promise<string> {
  history.push({ role: 'user', content })
  const completion = await client.chat.completions.create({ model: 'codex-5', messages: history })
  const text = completion.choices[0]?.message.content ?? ''
  history.push({ role: 'assistant', content: text })
  return text
}

async function freshRounds (h: CodexUpstreamApp, reason: string): Promise<number> {
  const res = await request(`${baseUrl(h.app)}/metrics`, { headers: AUTH })
  const line = (await res.body.text()).split('\n').find((l) => l.startsWith(`codex_api_conversation_rounds_total{dialect="chat",result="fresh",reason="${reason}"}`))
  return Number(line?.split(' ').at(-1) ?? 0)
}

describe('held conversations and their workers', () => {
  it('routes each round to the worker holding its thread', async () => {
    const { h, client, backend } = await start({ PROXY_APP_SERVER_WORKERS: '2' })
    await waitFor(() => backend.health().workers?.every((w) => w.state === 'ready') === true, 15_000, 'both workers')
    const histories: ChatMessage[][] = [[], [], [], []]
    // Four conversations at once: least-in-flight routing spreads them over both workers.
    await Promise.all(histories.map(async (history, i) => await round(client, history, `[slow] start w${i}`)))
    const perWorker = await backend.loadedThreadCounts()
    expect(perWorker).toHaveLength(2)
    expect(perWorker.every((n) => n > 0)).toBe(true)
    // Each continues on its own thread, wherever it lives: a thread of one worker does not exist on the other.
    for (const [i, history] of histories.entries()) {
      const first = cacheKey(h, `start w${i}`)
      expect(await round(client, history, `next w${i}`)).toBe(`ECHO: next w${i}`)
      expect(cacheKey(h, `next w${i}`)).toBe(first)
    }
    expect(await backend.loadedThreadCounts()).toEqual(perWorker)
    await expectOnlyHeldThreads(backend)
  })

  it('/v1/status says logged in as Codex does: a custom provider needs no auth.json', async () => {
    const { h } = await start({})
    const status = await request(`${baseUrl(h.app)}/v1/status`, { headers: AUTH })
    expect(((await status.body.json()) as { codex: { logged_in: boolean } }).codex.logged_in).toBe(true)
  })

  it('starts a crashed worker\'s conversations fresh on their next round, with the whole history', async () => {
    const { h, client, backend } = await start({})
    const history: ChatMessage[] = []
    await round(client, history, 'before the crash x1')
    const [pid] = backend.workerPids()
    process.kill(pid as number, 'SIGKILL')
    await waitFor(() => backend.health().ready && !backend.workerPids().includes(pid as number), 15_000, 'a replacement worker')
    expect(backend.health().conversations?.held).toBe(0)
    const before = await freshRounds(h, 'worker_gone')
    expect(await round(client, history, 'after the crash x1')).toBe('ECHO: after the crash x1')
    expect(cacheKey(h, 'after the crash x1')).not.toBe(cacheKey(h, 'before the crash x1'))
    const upstream = JSON.stringify(h.upstream.requests.at(-1)?.body?.input)
    expect(upstream).toContain('ECHO: before the crash x1')
    expect(await freshRounds(h, 'worker_gone')).toBe(before + 1)
  })

  it('lets a continued round finish on a worker being recycled, then starts that conversation fresh', async () => {
    const { h, client, backend } = await start({ PROXY_APP_SERVER_MAX_TURNS: '2' })
    const history: ChatMessage[] = []
    await round(client, history, 'one r1')
    const [pid] = backend.workerPids()
    // The second round continues the held thread (turn 2 of 2) and runs slowly...
    history.push({ role: 'user', content: '[slow] two r1' })
    const slow = client.chat.completions.create({ model: 'codex-5', messages: [...history] })
    await waitFor(() => h.upstream.requests.some((r) => JSON.stringify(r.body?.input ?? []).includes('two r1')), 10_000, 'the slow round upstream')
    // ...while another request finds the worker worn and recycles it.
    const other = await client.chat.completions.create({ model: 'codex-5', messages: [{ role: 'user', content: 'meanwhile r1' }] })
    expect(other.choices[0]?.message.content).toBe('ECHO: meanwhile r1')
    const answer = (await slow).choices[0]?.message.content ?? ''
    expect(answer).toMatch(/^ECHO: \[slow\] two r1\.*$/)
    expect(cacheKey(h, 'two r1')).toBe(cacheKey(h, 'one r1'))
    history.push({ role: 'assistant', content: answer })

    await waitFor(() => !backend.workerPids().includes(pid as number), 15_000, 'the worn worker to stop')
    const before = await freshRounds(h, 'worker_gone')
    expect(await round(client, history, 'three r1')).toBe('ECHO: three r1')
    expect(cacheKey(h, 'three r1')).not.toBe(cacheKey(h, 'one r1'))
    expect(await freshRounds(h, 'worker_gone')).toBe(before + 1)
    await expectOnlyHeldThreads(backend)
  })
})
