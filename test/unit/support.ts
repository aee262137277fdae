import { readFileSync } from 'node:fs'
import type { Logger } from '../../src/logger.js'

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'

/** A logger that records every call, per level, so tests can count them. */
export interface FakeLogger {
  log: Logger
  calls: Record<LogLevelName, unknown[][]>
}

export function fakeLogger (): FakeLogger {
  const calls: Record<LogLevelName, unknown[][]> = { fatal: [], error: [], warn: [], info: [], debug: [], trace: [] }
  const record = (level: LogLevelName) => (...args: unknown[]): void => { calls[level].push(args) }
  const log = {
    level: 'trace',
    fatal: record('fatal'),
    error: record('error'),
    warn: record('warn'),
    info: record('info'),
    debug: record('debug'),
    trace: record('trace'),
    silent: () => {},
    child: () => log,
    isLevelEnabled: () => true
  }
  // The fake implements the methods src/ calls; pino's full Logger surface is not needed.
  return { log: log as unknown as Logger, calls }
}

/** Whether a process exists and is not a zombie (PID 1 here may not reap orphans). */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Collects an async iterable into an array. */
export async function collect<T> (source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const value of source) out.push(value)
  return out
}

/** The rejection of a promise (fails the test if it resolves). */
export async function rejectionOf (promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject, but it resolved')
}

/** What a synchronous function throws (fails the test if it returns). */
export function thrownBy (fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  throw new Error('expected the function to throw, but it returned')
}

/** `promise`, or a rejection naming `what` after `ms`: a hang fails fast instead of at the test timeout. */
export async function within<T> (ms: number, promise: Promise<T>, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} did not finish within ${ms} ms`)) }, ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
