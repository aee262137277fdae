import type { Config } from '../config.js'
import { serverError, type ApiError } from '../errors.js'
import type { CodexChild } from './child-process.js'
import { childExitError } from './child-json-lines.js'
import { binaryProblem, codexEnv } from './codex-command.js'
import { setupProblem } from './codex-home.js'
import { ProcessPerTurnBackend, type ProcessPerTurnOptions, type TurnProcess } from './process-per-turn.js'
import { joinTranscript } from './transcript.js'
import type { BackendEvent, CodexModel, CompletionRequest, TokenUsage } from './types.js'

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

/**
 * The legacy `codex proto` backend (Codex CLIs before `app-server`; reference §6), one child per
 * request, as the original service ran it. The deterministic dev shim speaks this protocol too.
 */
export class ProtoBackend extends ProcessPerTurnBackend {
  readonly kind = 'proto' as const
  protected readonly idleMs: number
  #problem: ApiError | undefined

  constructor (opts: ProcessPerTurnOptions) {
    super(opts, 'proto')
    this.idleMs = opts.config.PROXY_PROTO_IDLE_MS
  }

  protected async prepare (): Promise<void> {
    const problem = setupProblem(this.config) ?? binaryProblem(this.binary.path)
    this.#problem = problem === undefined ? undefined : serverError(503, problem, 'codex_unavailable')
    if (problem !== undefined) this.log.error(problem)
  }

  async models (): Promise<readonly CodexModel[]> {
    return []
  }

  protected setupProblem (): ApiError | undefined {
    return this.#problem
  }

  protected process (request: CompletionRequest): TurnProcess {
    return {
      args: protoArgs(this.config, request),
      env: codexEnv(this.config, this.binary),
      // The prompt goes over stdin as a submission, never on the command line.
      feed: (child) => {
        child.writeLine(JSON.stringify({ id: '1', op: { type: 'user_input', items: [{ type: 'text', text: joinTranscript(request.items) }] } }))
      }
    }
  }

  protected async * events (lines: AsyncIterable<Record<string, unknown>>, child: CodexChild, request: CompletionRequest): AsyncGenerator<BackendEvent> {
    // proto events carry no item ids: one message and one reasoning item per turn.
    const textId = 'msg_proto_0'
    const reasoningId = 'rs_proto_0'
    let sawText = false
    let reasoning = ''
    let started = false
    let approvals = 0
    for await (const event of lines) {
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
            yield { type: 'text', itemId: textId, text: msg.delta }
          }
          break
        case 'agent_message':
          if (!sawText && typeof msg.message === 'string' && msg.message.length > 0) {
            sawText = true
            yield { type: 'text', itemId: textId, text: msg.message }
          }
          break
        case 'agent_reasoning_delta':
          if (typeof msg.delta === 'string' && msg.delta.length > 0) {
            reasoning += msg.delta
            yield { type: 'reasoning', itemId: reasoningId, summaryIndex: 0, text: msg.delta }
          }
          break
        case 'agent_reasoning':
          if (reasoning.length === 0 && typeof msg.text === 'string' && msg.text.length > 0) {
            reasoning = msg.text
            yield { type: 'reasoning', itemId: reasoningId, summaryIndex: 0, text: msg.text }
          }
          if (reasoning.length > 0) yield { type: 'reasoning_done', item: { type: 'reasoning', id: reasoningId, summary: [reasoning], encryptedContent: undefined } }
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
          // Codex's message (an upstream status, its body and URL) is mapped as on the other backends.
          yield * this.failedTurn(msg.message ?? 'Codex reported an error', request)
          return
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
    throw childExitError(child, this.binary.path, this.log, request.requestId)
  }
}
