import type { Logger } from '../logger.js'
import type { Config } from '../config.js'
import { serverError } from '../errors.js'
import { CodexChild } from './child-process.js'
import { childExitError, childJsonLines } from './child-json-lines.js'
import { binaryProblem, codexEnv, setupProblem, resolveCodexBinary, type CodexBinary } from './codex-command.js'
import { joinTranscript } from './transcript.js'
import type { BackendEvent, BackendHealth, CodexBackend, CodexModel, CompletionRequest, TokenUsage } from './types.js'

/**
 * The legacy `codex proto` backend (Codex CLIs before `app-server`; reference §6), one child per
 * request, as the original service ran it. The deterministic dev shim speaks this protocol too.
 */
export interface ProtoBackendOptions {
  config: Config
  log: Logger
}

/** Config overrides the original service passed; request values are enum- or pattern-checked. */
export function protoArgs (config: Config, request: Pick<CompletionRequest, 'model' | 'effort'>): string[] {
  const args = [
    '-c', 'project_doc_max_bytes=0',
    '-c', 'history.persistence="none"',
    '-c', 'tools.web_search=false',
    '-c', `sandbox_mode="${config.PROXY_SANDBOX_MODE}"`
  ]
  if (config.CODEX_FORCE_PROVIDER !== undefined) args.push('-c', `model_provider="${config.CODEX_FORCE_PROVIDER}"`)
  if (request.model !== undefined) args.push('-c', `model="${request.model}"`)
  if (request.effort !== undefined) {
    args.push('-c', `model_reasoning_effort="${request.effort}"`, '-c', `reasoning.effort="${request.effort}"`)
  }
  args.push('proto')
  return args
}

interface ProtoUsageFields {
  input_tokens?: number
  cached_input_tokens?: number | null
  output_tokens?: number
  reasoning_output_tokens?: number | null
  total_tokens?: number
}

interface ProtoMsg extends ProtoUsageFields {
  type?: string
  delta?: string
  message?: string
  text?: string
  reason?: string
  info?: { total_token_usage?: ProtoUsageFields } | null
}

/** `token_count` in either shape: flat (early proto) or `{info:{total_token_usage}}` (later). */
export function protoUsage (msg: ProtoMsg): TokenUsage | undefined {
  const fields = msg.info === undefined ? msg : msg.info?.total_token_usage
  if (fields === undefined || fields === null || typeof fields.input_tokens !== 'number' || typeof fields.output_tokens !== 'number') return undefined
  return {
    promptTokens: fields.input_tokens,
    completionTokens: fields.output_tokens,
    totalTokens: fields.total_tokens ?? fields.input_tokens + fields.output_tokens,
    cachedTokens: fields.cached_input_tokens ?? undefined,
    reasoningTokens: fields.reasoning_output_tokens ?? undefined
  }
}

export class ProtoBackend implements CodexBackend {
  readonly kind = 'proto' as const
  readonly capabilities = { tools: false, images: false, structuredOutput: false }
  readonly #config: Config
  readonly #log: Logger
  readonly #binary: CodexBinary
  readonly #children = new Set<CodexChild>()
  #closed = false
  #problem: string | undefined

  constructor (opts: ProtoBackendOptions) {
    this.#config = opts.config
    this.#log = opts.log
    this.#binary = resolveCodexBinary(opts.config)
  }

  async start (): Promise<void> {
    this.#problem = setupProblem(this.#config) ?? binaryProblem(this.#binary.path)
    if (this.#problem !== undefined) this.#log.error(this.#problem)
  }

  health (): BackendHealth {
    if (this.#closed) return { ready: false, reason: 'shutting down' }
    return this.#problem === undefined ? { ready: true } : { ready: false, reason: this.#problem }
  }

  async models (): Promise<readonly CodexModel[]> {
    return []
  }

  async * complete (request: CompletionRequest, signal: AbortSignal): AsyncGenerator<BackendEvent> {
    if (this.#closed) throw serverError(503, 'The server is shutting down.', 'shutting_down')
    if (this.#problem !== undefined) throw serverError(503, this.#problem, 'codex_unavailable')
    signal.throwIfAborted()

    const child = new CodexChild({
      bin: this.#binary.path,
      args: protoArgs(this.#config, request),
      cwd: this.#config.PROXY_CODEX_WORKDIR,
      env: codexEnv(this.#config, this.#binary),
      log: this.#log.child({ backend: 'proto', requestId: request.requestId })
    })
    this.#children.add(child)
    try {
      // The prompt goes over stdin as a submission, never on the command line.
      child.writeLine(JSON.stringify({ id: '1', op: { type: 'user_input', items: [{ type: 'text', text: joinTranscript(request.items) }] } }))
      let sawText = false
      let sawReasoning = false
      let started = false
      let approvals = 0
      for await (const event of childJsonLines(child, signal, this.#config.PROXY_PROTO_IDLE_MS)) {
        const msg = event.msg as ProtoMsg | undefined
        if (typeof msg !== 'object' || msg === null || typeof msg.type !== 'string') {
          throw serverError(502, 'Codex wrote an event this proxy does not understand.', 'codex_protocol_error')
        }
        if (!started) {
          started = true
          yield { type: 'started' }
        }
        switch (msg.type) {
          case 'agent_message_delta':
            if (typeof msg.delta === 'string' && msg.delta.length > 0) {
              sawText = true
              yield { type: 'text', text: msg.delta }
            }
            break
          case 'agent_message':
            if (!sawText && typeof msg.message === 'string' && msg.message.length > 0) {
              sawText = true
              yield { type: 'text', text: msg.message }
            }
            break
          case 'agent_reasoning_delta':
            if (typeof msg.delta === 'string' && msg.delta.length > 0) {
              sawReasoning = true
              yield { type: 'reasoning', text: msg.delta }
            }
            break
          case 'agent_reasoning':
            if (!sawReasoning && typeof msg.text === 'string' && msg.text.length > 0) yield { type: 'reasoning', text: msg.text }
            break
          case 'token_count': {
            const usage = protoUsage(msg)
            if (usage !== undefined) yield { type: 'usage', usage }
            break
          }
          case 'task_complete':
            yield { type: 'done', finishReason: 'stop' }
            return
          case 'error':
            throw serverError(502, `Codex failed: ${msg.message ?? 'unknown error'}`, 'codex_error')
          case 'turn_aborted':
            throw serverError(502, `Codex aborted the turn (${msg.reason ?? 'unknown reason'}).`, 'codex_error')
          case 'exec_approval_request':
          case 'apply_patch_approval_request':
            // The proxy is a model API: nothing the model asks to run on this host is approved.
            approvals += 1
            child.writeLine(JSON.stringify({
              id: `deny-${approvals}`,
              op: { type: msg.type === 'exec_approval_request' ? 'exec_approval' : 'patch_approval', id: event.id, decision: 'denied' }
            }))
            break
          default:
            break
        }
      }
      throw childExitError(child, this.#binary.path)
    } finally {
      await child.kill()
      this.#children.delete(child)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#children].map(async (child) => await child.kill()))
  }
}
