import type { Logger } from '../../logger.js'

/** A JSON-RPC message as `codex app-server` frames it (JSON-RPC 2.0 without the "jsonrpc" member). */
export interface RpcMessage {
  id?: number | string
  method?: string
  params?: unknown
  result?: unknown
  error?: { code: number, message: string, data?: unknown }
}

export class RpcError extends Error {
  readonly code: number
  readonly data: unknown
  constructor (code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    this.data = data
  }
}

/** A call that got no answer in time: the process is treated as hung. */
export class RpcTimeoutError extends Error {
  readonly method: string
  constructor (method: string, ms: number) {
    super(`codex app-server did not answer ${method} within ${ms} ms`)
    this.name = 'RpcTimeoutError'
    this.method = method
  }
}

export interface RpcTransport {
  writeLine: (line: string) => boolean
}

export interface RpcClientOptions {
  transport: RpcTransport
  log: Logger
  /** Default time a call may take before it is failed. */
  timeoutMs: number
  onNotification: (method: string, params: Record<string, unknown>) => void
  /** Answers a server→client request (a value, or a promise of one); throw or reject to answer with an error. */
  onServerRequest: (method: string, params: Record<string, unknown>) => unknown
  /** Output that is not protocol JSON: the process cannot be trusted any more. */
  onProtocolError: (problem: string) => void
  onTimeout: (err: RpcTimeoutError) => void
}

interface Pending {
  method: string
  resolve: (value: unknown) => void
  reject: (err: unknown) => void
  timer: NodeJS.Timeout
}

/**
 * Newline-delimited JSON-RPC over a child's stdio: numbered requests with timeouts, responses
 * matched by id, notifications and server requests handed to callbacks, and every pending call
 * rejected at once when the process goes away.
 */
export class RpcClient {
  readonly #opts: RpcClientOptions
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed: Error | undefined

  constructor (opts: RpcClientOptions) {
    this.#opts = opts
  }

  get pendingCount (): number {
    return this.#pending.size
  }

  async request<T = unknown> (method: string, params: unknown, timeoutMs = this.#opts.timeoutMs): Promise<T> {
    if (this.#closed !== undefined) throw this.#closed
    const id = this.#nextId++
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        const err = new RpcTimeoutError(method, timeoutMs)
        reject(err)
        this.#opts.onTimeout(err)
      }, timeoutMs)
      this.#pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject, timer })
      if (!this.#opts.transport.writeLine(JSON.stringify({ id, method, params }))) {
        clearTimeout(timer)
        this.#pending.delete(id)
        reject(this.#closed ?? new Error('codex app-server stdin is closed'))
      }
    })
  }

  notify (method: string, params?: unknown): void {
    if (this.#closed !== undefined) return
    this.#opts.transport.writeLine(JSON.stringify(params === undefined ? { method } : { method, params }))
  }

  /** Feeds one line of the child's stdout. */
  handleLine (line: string): void {
    let msg: RpcMessage
    try {
      msg = JSON.parse(line) as RpcMessage
    } catch {
      this.#opts.onProtocolError(`not JSON: ${line.slice(0, 120)}`)
      return
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.#opts.onProtocolError(`not a JSON-RPC message: ${line.slice(0, 120)}`)
      return
    }
    if (typeof msg.method === 'string') {
      const params = (typeof msg.params === 'object' && msg.params !== null ? msg.params : {}) as Record<string, unknown>
      if (msg.id === undefined) {
        this.#opts.onNotification(msg.method, params)
      } else {
        this.#answer(msg.id, msg.method, params)
      }
      return
    }
    if (typeof msg.id !== 'number') {
      this.#opts.onProtocolError(`response without a numeric id: ${line.slice(0, 120)}`)
      return
    }
    const pending = this.#pending.get(msg.id)
    if (pending === undefined) {
      // A late answer to a call that already timed out.
      this.#opts.log.debug({ id: msg.id }, 'app-server answered an unknown request id')
      return
    }
    this.#pending.delete(msg.id)
    clearTimeout(pending.timer)
    if (msg.error !== undefined) pending.reject(new RpcError(msg.error.code, msg.error.message, msg.error.data))
    else pending.resolve(msg.result)
  }

  #answer (id: number | string, method: string, params: Record<string, unknown>): void {
    const fail = (err: unknown): void => {
      this.#write({ id, error: { code: -32601, message: err instanceof Error ? err.message : String(err) } })
    }
    let result: unknown
    try {
      result = this.#opts.onServerRequest(method, params)
    } catch (err) {
      fail(err)
      return
    }
    if (result instanceof Promise) {
      result.then((value: unknown) => { this.#write({ id, result: value }) }, fail)
    } else {
      this.#write({ id, result })
    }
  }

  #write (message: Record<string, unknown>): void {
    if (this.#closed !== undefined) return
    this.#opts.transport.writeLine(JSON.stringify(message))
  }

  /** Fails every pending call and refuses new ones. */
  close (reason: Error): void {
    if (this.#closed !== undefined) return
    this.#closed = reason
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer)
      pending.reject(reason)
      this.#pending.delete(id)
    }
  }
}
