import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Logger } from '../logger.js'
import { AsyncQueue } from './async-queue.js'

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Set when the process could not be started (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException | undefined
}

export interface ChildOptions {
  bin: string
  args: readonly string[]
  cwd: string
  env: NodeJS.ProcessEnv
  log: Logger
  /** A stdout line longer than this is a protocol error: the child is killed. */
  maxLineBytes?: number | undefined
  /** How much of the end of stderr is kept for error messages. */
  stderrTailBytes?: number | undefined
  /** Between SIGTERM and SIGKILL. */
  killGraceMs?: number | undefined
}

const live = new Set<CodexChild>()

/** Every Codex child this process has started and not yet seen exit. */
export function liveChildren (): ReadonlySet<CodexChild> {
  return live
}

/** SIGKILLs every live child's process group, synchronously: for an exit that cannot wait. */
export function killAllChildrenNow (): void {
  for (const child of live) child.killNow()
}

/**
 * One Codex process speaking newline-delimited text on stdout. It runs in its own process group
 * so that killing it also kills what Codex itself spawned (sandbox helpers, shells).
 */
export class CodexChild {
  readonly pid: number | undefined
  readonly exited: Promise<ChildExit>
  readonly #proc: ChildProcessWithoutNullStreams
  readonly #log: Logger
  readonly #maxLineBytes: number
  readonly #stderrTailBytes: number
  readonly #killGraceMs: number
  readonly #lineListeners: Array<(line: string) => void> = []
  #pending: Buffer[] = []
  #pendingBytes = 0
  #stderrTail = ''
  #exit: ChildExit | undefined
  #protocolError: Error | undefined

  constructor (opts: ChildOptions) {
    this.#log = opts.log
    this.#maxLineBytes = opts.maxLineBytes ?? 64 * 1024 * 1024
    this.#stderrTailBytes = opts.stderrTailBytes ?? 8 * 1024
    this.#killGraceMs = opts.killGraceMs ?? 2000
    this.#proc = spawn(opts.bin, [...opts.args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      windowsHide: true
    })
    this.pid = this.#proc.pid
    live.add(this)

    let spawnError: NodeJS.ErrnoException | undefined
    this.exited = new Promise<ChildExit>((resolve) => {
      this.#proc.once('error', (err: NodeJS.ErrnoException) => {
        // 'error' without a pid means the process never started; 'close' may not follow.
        if (this.pid === undefined) {
          spawnError = err
          this.#finish({ code: null, signal: null, spawnError: err }, resolve)
        } else {
          this.#log.warn({ err }, 'codex child error')
        }
      })
      this.#proc.once('close', (code, signal) => {
        this.#finish({ code, signal, spawnError }, resolve)
      })
    })

    this.#proc.stdout.on('data', (chunk: Buffer) => { this.#onStdout(chunk) })
    this.#proc.stderr.on('data', (chunk: Buffer) => { this.#onStderr(chunk) })
    // EPIPE when the child dies while we write: the exit handler reports it.
    this.#proc.stdin.on('error', (err) => { this.#log.debug({ err }, 'codex stdin error') })
  }

  #finish (exit: ChildExit, resolve: (e: ChildExit) => void): void {
    if (this.#exit !== undefined) return
    this.#exit = exit
    live.delete(this)
    resolve(exit)
  }

  get exitInfo (): ChildExit | undefined {
    return this.#exit
  }

  get running (): boolean {
    return this.#exit === undefined
  }

  /** Why the child's output was refused (line too long), if it was. */
  get protocolError (): Error | undefined {
    return this.#protocolError
  }

  stderrTail (): string {
    return this.#stderrTail
  }

  onLine (listener: (line: string) => void): void {
    this.#lineListeners.push(listener)
  }

  /** stdout lines as an async iterable; ends when the child exits. */
  lines (limit?: number): AsyncQueue<string> {
    const queue = new AsyncQueue<string>(limit)
    this.onLine((line) => { queue.push(line) })
    void this.exited.then(() => { queue.end() })
    return queue
  }

  /** Writes one line to stdin; false when stdin is closed. */
  writeLine (line: string): boolean {
    if (!this.running || this.#proc.stdin.destroyed || !this.#proc.stdin.writable) return false
    this.#proc.stdin.write(line.endsWith('\n') ? line : `${line}\n`)
    return true
  }

  /** Closes stdin, after writing `text` (as is) if given. */
  endStdin (text?: string): void {
    if (this.#proc.stdin.destroyed) return
    if (text === undefined) this.#proc.stdin.end()
    else this.#proc.stdin.end(text)
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves on exit. */
  async kill (): Promise<ChildExit> {
    if (this.#exit !== undefined) return this.#exit
    this.#signal('SIGTERM')
    const timer = setTimeout(() => { this.#signal('SIGKILL') }, this.#killGraceMs)
    timer.unref()
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }

  /** SIGKILL without waiting (the process is about to exit). */
  killNow (): void {
    this.#signal('SIGKILL')
  }

  #signal (signal: NodeJS.Signals): void {
    if (this.pid === undefined || this.#exit !== undefined) return
    try {
      process.kill(-this.pid, signal)
    } catch {
      // The group may already be gone; fall back to the process itself.
      try { this.#proc.kill(signal) } catch { /* already exited */ }
    }
  }

  #onStdout (chunk: Buffer): void {
    // After a protocol error the child is being killed: nothing more it says is read.
    if (this.#protocolError !== undefined) return
    let start = 0
    let nl = chunk.indexOf(0x0a, start)
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl)
      if (this.#tooLong(this.#pendingBytes + piece.length)) return
      const line = this.#pendingBytes === 0
        ? piece.toString('utf8')
        : Buffer.concat([...this.#pending, piece]).toString('utf8')
      this.#pending = []
      this.#pendingBytes = 0
      this.#emitLine(line.endsWith('\r') ? line.slice(0, -1) : line)
      start = nl + 1
      nl = chunk.indexOf(0x0a, start)
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      this.#pendingBytes += rest.length
      if (this.#tooLong(this.#pendingBytes)) return
      this.#pending.push(rest)
    }
  }

  /** A line (complete or not) over the limit is a protocol error: the child is killed. */
  #tooLong (bytes: number): boolean {
    if (bytes <= this.#maxLineBytes) return false
    this.#pending = []
    this.#pendingBytes = 0
    this.#protocolError = new Error(`codex wrote a line longer than ${this.#maxLineBytes} bytes`)
    this.#log.error({ pid: this.pid }, this.#protocolError.message)
    void this.kill()
    return true
  }

  #emitLine (line: string): void {
    if (line.length === 0) return
    for (const listener of this.#lineListeners) listener(line)
  }

  #onStderr (chunk: Buffer): void {
    const text = chunk.toString('utf8')
    this.#log.debug({ pid: this.pid, stderr: text.trimEnd() }, 'codex stderr')
    this.#stderrTail = (this.#stderrTail + text).slice(-this.#stderrTailBytes)
  }
}

/**
 * How a child ended, in words ("exited with code 1", "was killed by SIGKILL", or `unfinished`
 * while it has not). What it said on stderr is for the log only: it may hold another client's
 * text (a worker serves many) or the upstream's internals.
 */
export function describeExit (child: CodexChild, unfinished: string): string {
  const exit = child.exitInfo
  return exit === undefined ? unfinished : exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`
}

/**
 * Why Codex refused to start, from its stderr: the `Error: …` line it prints before its
 * backtrace (a read-only CODEX_HOME: "failed to initialize sqlite state runtime …"). Said before
 * any request reached the process, so it holds no client's text.
 */
export function startupError (tail: string): string | undefined {
  return tail.split('\n').map((l) => l.trim()).find((l) => l.startsWith('Error: '))?.slice(0, 300)
}

/** The last meaningful stderr line: what Codex said before it died. */
export function lastStderrLine (tail: string): string | undefined {
  const lines = tail.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('WARNING: proceeding'))
  return lines.at(-1)
}
