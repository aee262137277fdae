import type { ChildProcess } from 'node:child_process'

/** Resolves with the first IPC message the child sends that `accept` takes, or rejects on exit/timeout. */
export async function nextMessage<T> (child: ChildProcess, accept: (msg: unknown) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    const onMessage = (msg: unknown): void => {
      const value = accept(msg)
      if (value === undefined) return
      cleanup()
      resolve(value)
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      cleanup()
      reject(new Error(`${what}: process exited (${code ?? signal ?? '?'})`))
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${what}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

export const isObject = (msg: unknown): msg is Record<string, unknown> => typeof msg === 'object' && msg !== null
