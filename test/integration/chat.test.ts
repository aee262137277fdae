import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Config } from '../../src/config.js'
import { AUTH, TEST_KEY, buildTestApp } from '../helpers/build-test-app.js'
import { REPO_ROOT } from '../helpers/paths.js'
import { postChat, recordingBackend, sharedTestApp, userMessage, type Chunk, type StreamResult } from '../helpers/http.js'

const CHAT = '/v1/chat/completions'
const tokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4))

const HISTORY = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'first question' },
  { role: 'assistant', content: 'first answer' },
  { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
  { role: 'user', content: 'second question' }
]

/** Checks the invariants every stream must keep, and returns its chunks split by kind. */
function checkStream (res: StreamResult, model: string): { chunks: Chunk[], choiceChunks: Chunk[], usageChunks: Chunk[] } {
  expect(res.status).toBe(200)
  expect(res.headers['content-type']).toMatch(/^text\/event-stream/)
  expect(res.headers['cache-control']).toBe('no-cache')
  expect(res.headers['x-accel-buffering']).toBe('no')
  expect(res.headers['content-encoding']).toBeUndefined()
  expect(res.raw.endsWith('data: [DONE]\n\n')).toBe(true)
  expect(res.doneIndex).toBe(res.dataCount - 1)
  expect(res.raw.split('data: [DONE]').length).toBe(2)

  const chunks = res.frames as Chunk[]
  expect(chunks.length).toBeGreaterThan(2)
  const first = chunks[0] as Chunk
  expect(first.id).toMatch(/^chatcmpl-[A-Za-z0-9]+$/)
  for (const chunk of chunks) {
    expect(chunk.object).toBe('chat.completion.chunk')
    expect(chunk.id).toBe(first.id)
    expect(chunk.created).toBe(first.created)
    expect(chunk.model).toBe(model)
  }
  expect(Math.abs(first.created - Date.now() / 1000)).toBeLessThan(60)
  expect(first.choices[0]?.delta.role).toBe('assistant')

  const choiceChunks = chunks.filter((c) => c.choices.length > 0)
  const usageChunks = chunks.filter((c) => c.choices.length === 0)
  for (const c of choiceChunks) {
    expect(c.choices).toHaveLength(1)
    expect(c.choices[0]?.index).toBe(0)
  }
  // Exactly one finish_reason, on the last chunk that has a choice.
  const finishing = choiceChunks.filter((c) => c.choices[0]?.finish_reason !== null)
  expect(finishing).toHaveLength(1)
  expect(choiceChunks.at(-1)).toBe(finishing[0])
  // A chunk with no choices may only ever be the very last one (Cline reads choices[0] unguarded).
  if (usageChunks.length > 0) {
    expect(usageChunks).toHaveLength(1)
    expect(chunks.at(-1)).toBe(usageChunks[0])
  }
  return { chunks, choiceChunks, usageChunks }
}

const contentOf = (chunks: readonly Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
const reasoningOf = (chunks: readonly Chunk[]): string => chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('')

describe('POST /v1/chat/completions, non-streaming', () => {
  const shared = sharedTestApp()

  it('answers in the exact chat.completion shape', async () => {
    const { app } = shared()
    const before = Math.floor(Date.now() / 1000)
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage('hello there') } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    const body = res.json()
    expect(Object.keys(body).sort()).toEqual(['choices', 'created', 'id', 'model', 'object', 'usage'])
    expect(body.id).toMatch(/^chatcmpl-[A-Za-z0-9]+$/)
    expect(body.object).toBe('chat.completion')
    expect(body.created).toBeGreaterThanOrEqual(before)
    expect(body.created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000))
    expect(body.model).toBe('codex-5')
    expect(body.choices).toEqual([{
      index: 0,
      message: { role: 'assistant', content: 'echo: hello there', refusal: null },
      logprobs: null,
      finish_reason: 'stop'
    }])
    // The fake Codex reports real counts (about 4 characters a token of what it saw and said): a
    // conversation of one user message reaches it as that message's plain text.
    const prompt = tokens('hello there')
    const completion = tokens('echo: hello there')
    expect(body.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 }
    })
  })

  it('echoes the requested model id and gives every response its own id', async () => {
    const { app } = shared()
    const ids = new Set<string>()
    for (const model of ['codex-5-high', 'codex-5-minimal', 'codex-5']) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model, messages: userMessage(`as ${model}`) } })
      expect(res.statusCode).toBe(200)
      expect(res.json().model).toBe(model)
      expect(res.json().choices[0].message.content).toBe(`echo: as ${model}`)
      ids.add(res.json().id)
    }
    expect(ids.size).toBe(3)
  })

  it('defaults the model to codex-5 and treats stream: false and null as non-streaming', async () => {
    const { app } = shared()
    for (const extra of [{}, { stream: false }, { stream: null }]) {
      const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { messages: userMessage('no model'), ...extra } })
      expect(res.statusCode).toBe(200)
      expect(res.json().object).toBe('chat.completion')
      expect(res.json().model).toBe('codex-5')
    }
  })

  it('returns reasoning as message.reasoning_content', async () => {
    const { app } = shared()
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage('[reason] why') } })
    expect(res.statusCode).toBe(200)
    const message = res.json().choices[0].message
    expect(message.content).toBe('echo: [reason] why')
    expect(message.reasoning_content).toBe('Thinking about the echo.')
  })

  it('keeps non-ASCII text intact across deltas', async () => {
    const { app } = shared()
    const text = 'héllo wörld 世界 📦🎉 ünïcödé — “quotes” ok'
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe(`echo: ${text}`)
  })

  it('passes a 2 MB prompt over stdin, not argv (no E2BIG)', async () => {
    const { app } = shared()
    const text = 'lorem ipsum dolor sit amet '.repeat(80_000).trim()
    expect(text.length).toBeGreaterThan(2_000_000)
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: userMessage(text) } })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe(`echo: ${text}`)
  })

  it('answers a conversation with history through the real proto shim', async () => {
    const { app } = shared()
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: HISTORY } })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('echo: second question')
    // The whole transcript was the prompt the fake Codex counted.
    const transcript = '[system] Be brief.\n[user] first question\n[assistant] first answer\n[developer] Answer in English.\n[user] second question'
    expect(res.json().usage.prompt_tokens).toBe(tokens(transcript))
  })
})

describe('POST /v1/chat/completions, streaming', () => {
  const shared = sharedTestApp({ listen: true })

  it('streams chunks that join to the answer, with one finish_reason and no usage chunk', async () => {
    const { app } = shared()
    const res = await postChat(app, { model: 'codex-5', messages: userMessage('one two three four five six'), stream: true })
    const { choiceChunks, usageChunks } = checkStream(res, 'codex-5')
    expect(contentOf(choiceChunks)).toBe('echo: one two three four five six')
    // Incremental: the fake Codex's several deltas arrive as several chunks.
    expect(choiceChunks.filter((c) => (c.choices[0]?.delta.content ?? '').length > 0).length).toBeGreaterThan(1)
    expect(choiceChunks.at(-1)?.choices[0]?.finish_reason).toBe('stop')
    expect(usageChunks).toHaveLength(0)
    for (const chunk of res.frames as Chunk[]) expect(chunk.usage ?? null).toBeNull()
  })

  it('with stream_options.include_usage ends with a usage chunk with choices: [] before [DONE]', async () => {
    const { app } = shared()
    const res = await postChat(app, { model: 'codex-5-low', messages: userMessage('count me'), stream: true, stream_options: { include_usage: true } })
    const { choiceChunks, usageChunks } = checkStream(res, 'codex-5-low')
    expect(contentOf(choiceChunks)).toBe('echo: count me')
    expect(usageChunks).toHaveLength(1)
    const prompt = tokens('count me')
    const completion = tokens('echo: count me')
    expect(usageChunks[0]?.usage).toEqual({
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 }
    })
    for (const chunk of choiceChunks) expect(chunk.usage ?? null).toBeNull()
  })

  it('include_usage: false is the same as leaving it out', async () => {
    const { app } = shared()
    const res = await postChat(app, { model: 'codex-5', messages: userMessage('no usage'), stream: true, stream_options: { include_usage: false } })
    const { usageChunks } = checkStream(res, 'codex-5')
    expect(usageChunks).toHaveLength(0)
  })

  it('streams reasoning as delta.reasoning_content before the content', async () => {
    const { app } = shared()
    const res = await postChat(app, { model: 'codex-5', messages: userMessage('[reason] think'), stream: true })
    const { choiceChunks } = checkStream(res, 'codex-5')
    expect(reasoningOf(choiceChunks)).toBe('Thinking about the echo.')
    expect(contentOf(choiceChunks)).toBe('echo: [reason] think')
    const lastReasoning = choiceChunks.findLastIndex((c) => c.choices[0]?.delta.reasoning_content !== undefined)
    const firstContent = choiceChunks.findIndex((c) => (c.choices[0]?.delta.content ?? '').length > 0)
    expect(lastReasoning).toBeGreaterThan(0)
    expect(lastReasoning).toBeLessThan(firstContent)
  })

  it('with PROXY_STREAM_MODE=buffered sends the answer as one content chunk', async () => {
    const { app } = await buildTestApp({ listen: true, env: { PROXY_STREAM_MODE: 'buffered' } })
    const res = await postChat(app, { model: 'codex-5', messages: userMessage('one two three four five six'), stream: true, stream_options: { include_usage: true } })
    const { choiceChunks, usageChunks } = checkStream(res, 'codex-5')
    const withContent = choiceChunks.filter((c) => (c.choices[0]?.delta.content ?? '').length > 0)
    expect(withContent).toHaveLength(1)
    expect(withContent[0]?.choices[0]?.delta.content).toBe('echo: one two three four five six')
    expect(usageChunks).toHaveLength(1)
  })

  it('keeps non-ASCII text intact across chunks', async () => {
    const { app } = shared()
    const text = 'héllo wörld 世界 📦🎉 ünïcödé — “quotes” ok'
    const res = await postChat(app, { model: 'codex-5', messages: userMessage(text), stream: true })
    const { choiceChunks } = checkStream(res, 'codex-5')
    expect(contentOf(choiceChunks)).toBe(`echo: ${text}`)
  })

  it('streams a conversation with history', async () => {
    const { app } = shared()
    const res = await postChat(app, { model: 'codex-5', messages: HISTORY, stream: true })
    const { choiceChunks } = checkStream(res, 'codex-5')
    expect(contentOf(choiceChunks)).toBe('echo: second question')
  })
})

describe('what reaches the backend', () => {
  const backend = recordingBackend()
  const shared = sharedTestApp({ backend })

  it('translates history, system and developer messages into conversation items', async () => {
    const { app } = shared()
    backend.requests.length = 0
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5', messages: HISTORY } })
    expect(res.statusCode).toBe(200)
    expect(res.json().choices[0].message.content).toBe('ok')
    expect(backend.requests).toHaveLength(1)
    expect(backend.requests[0]?.items).toEqual([
      { type: 'message', role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'first question' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
      { type: 'message', role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
      { type: 'message', role: 'user', content: [{ type: 'text', text: 'second question' }] }
    ])
    expect(backend.requests[0]?.tools).toEqual([])
    expect(backend.requests[0]?.toolChoice).toBe('none')
  })

  it.each([
    ['codex-5', {}, undefined],
    ['codex-5-minimal', {}, 'minimal'],
    ['codex-5-low', {}, 'low'],
    ['codex-5-medium', {}, 'medium'],
    ['codex-5-high', {}, 'high'],
    ['codex-5', { reasoning: { effort: 'high' } }, 'high'],
    ['codex-5', { reasoning_effort: 'high' }, 'high'],
    ['codex-5-high', { reasoning: { effort: 'low' } }, 'low'],
    ['codex-5-low', { reasoning_effort: 'medium' }, 'medium'],
    ['codex-5-high', { reasoning_effort: null }, 'high']
  ] as const)('model %s with %j runs effort %s', async (model, extra, effort) => {
    const { app } = shared()
    backend.requests.length = 0
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model, messages: userMessage('effort'), ...extra } })
    expect(res.statusCode).toBe(200)
    expect(backend.requests[0]?.effort).toBe(effort)
    // CODEX_MODEL unset: Codex's own default model.
    expect(backend.requests[0]?.model).toBeUndefined()
  })

  it('runs CODEX_MODEL for the codex-5 aliases when it is set', async () => {
    const backend = recordingBackend()
    const { app } = await buildTestApp({ backend, env: { CODEX_MODEL: 'gpt-5.5' } })
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload: { model: 'codex-5-high', messages: userMessage('which model') } })
    expect(res.statusCode).toBe(200)
    expect(res.json().model).toBe('codex-5-high')
    expect(backend.requests[0]?.model).toBe('gpt-5.5')
    expect(backend.requests[0]?.effort).toBe('high')
  })
})

describe('the Codex command line and prompt (recording shim)', () => {
  const saved = process.env.SHIM_RECORD_DIR
  const dirs: string[] = []
  afterEach(async () => {
    if (saved === undefined) delete process.env.SHIM_RECORD_DIR
    else process.env.SHIM_RECORD_DIR = saved
    await Promise.all(dirs.splice(0).map(async (d) => { await rm(d, { recursive: true, force: true }) }))
  })

  /** Runs one request against the recording shim and returns the child's argv and stdin. */
  async function recorded (env: Record<string, string>, payload: Record<string, unknown>): Promise<{ argv: string[], stdin: string, content: string, childEnv: Record<string, string>, cwd: string, config: Config }> {
    const dir = await mkdtemp(join(tmpdir(), 'cca-record-'))
    dirs.push(dir)
    process.env.SHIM_RECORD_DIR = dir
    const { app, config } = await buildTestApp({ env: { CODEX_BIN: join(REPO_ROOT, 'test/fixtures/codex-shim/codex-record.mjs'), ...env } })
    const res = await app.inject({ method: 'POST', url: CHAT, headers: AUTH, payload })
    expect(res.statusCode).toBe(200)
    const files = await readdir(dir)
    const argvFiles = files.filter((f) => f.endsWith('.argv.json'))
    expect(argvFiles).toHaveLength(1)
    const pid = (argvFiles[0] ?? '').replace('.argv.json', '')
    return {
      argv: JSON.parse(await readFile(join(dir, `${pid}.argv.json`), 'utf8')) as string[],
      stdin: await readFile(join(dir, `${pid}.stdin`), 'utf8'),
      content: res.json().choices[0].message.content as string,
      childEnv: JSON.parse(await readFile(join(dir, `${pid}.env.json`), 'utf8')) as Record<string, string>,
      cwd: await readFile(join(dir, `${pid}.cwd`), 'utf8'),
      config
    }
  }

  /** The values of every `-c key=value` pair. */
  const overrides = (argv: readonly string[]): string[] => argv.flatMap((a, i) => (argv[i - 1] === '-c' ? [a] : []))

  it('passes the model variant\'s effort as model_reasoning_effort="high"', async () => {
    const { argv, content } = await recorded({}, { model: 'codex-5-high', messages: userMessage('secret prompt text') })
    expect(content).toBe('echo: secret prompt text')
    expect(argv.at(-1)).toBe('proto')
    expect(overrides(argv)).toContain('model_reasoning_effort="high"')
    expect(overrides(argv)).toContain('sandbox_mode="read-only"')
    // Codex's default model: no model override.
    expect(overrides(argv).some((o) => o.startsWith('model='))).toBe(false)
    // Nothing from the body is ever an argument.
    expect(argv.join(' ')).not.toContain('secret prompt text')
  })

  it('passes reasoning_effort and reasoning.effort from the body, over the variant', async () => {
    const a = await recorded({}, { model: 'codex-5-high', reasoning_effort: 'low', messages: userMessage('x') })
    expect(overrides(a.argv)).toContain('model_reasoning_effort="low"')
    expect(overrides(a.argv)).not.toContain('model_reasoning_effort="high"')
    const b = await recorded({}, { model: 'codex-5', reasoning: { effort: 'medium' }, messages: userMessage('x') })
    expect(overrides(b.argv)).toContain('model_reasoning_effort="medium"')
  })

  it('passes no effort for plain codex-5, and CODEX_MODEL as model="…"', async () => {
    const plain = await recorded({}, { model: 'codex-5', messages: userMessage('x') })
    expect(overrides(plain.argv).some((o) => o.startsWith('model_reasoning_effort='))).toBe(false)
    const configured = await recorded({ CODEX_MODEL: 'gpt-5.5' }, { model: 'codex-5-minimal', messages: userMessage('x') })
    expect(overrides(configured.argv)).toContain('model="gpt-5.5"')
    expect(overrides(configured.argv)).toContain('model_reasoning_effort="minimal"')
  })

  it('runs Codex in PROXY_CODEX_WORKDIR with CODEX_HOME set and none of the proxy\'s secrets', async () => {
    // As in production, where the configuration comes from the server's own environment.
    const saved = { key: process.env.PROXY_API_KEY, log: process.env.TOKEN_LOG_PATH }
    process.env.PROXY_API_KEY = TEST_KEY
    process.env.TOKEN_LOG_PATH = '/tmp/should-not-leak.ndjson'
    let result
    try {
      result = await recorded({}, { model: 'codex-5', messages: userMessage('env') })
    } finally {
      if (saved.key === undefined) delete process.env.PROXY_API_KEY
      else process.env.PROXY_API_KEY = saved.key
      if (saved.log === undefined) delete process.env.TOKEN_LOG_PATH
      else process.env.TOKEN_LOG_PATH = saved.log
    }
    const { childEnv, cwd, config } = result
    expect(cwd).toBe(config.PROXY_CODEX_WORKDIR)
    expect(childEnv.CODEX_HOME).toBe(config.CODEX_HOME)
    expect(Object.keys(childEnv).filter((k) => k.startsWith('PROXY_') || k === 'TOKEN_LOG_PATH')).toEqual([])
    expect(JSON.stringify(childEnv)).not.toContain(TEST_KEY)
  })

  it('sends the history as `[role] content` lines over stdin', async () => {
    const { stdin, content } = await recorded({}, { model: 'codex-5', messages: HISTORY })
    expect(content).toBe('echo: second question')
    const lines = stdin.split('\n').filter((l) => l.length > 0)
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? '')).toEqual({
      id: '1',
      op: {
        type: 'user_input',
        items: [{ type: 'text', text: '[system] Be brief.\n[user] first question\n[assistant] first answer\n[developer] Answer in English.\n[user] second question' }]
      }
    })
  })
})
