import type * as FsPromises from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { AUTH, startTestApp, type StartedTestApp } from '../helpers/build-test-app.js'
import { expectEnvelope } from '../helpers/http.js'

// Issue 10: "read errors answered as 500 for that request only". A disk that fails a read (EIO)
// cannot be made on demand, so the usage index's `open` hands out, while `failing` names a path,
// a handle whose reads of that file fail; everything else is the real file system.
const failing = vi.hoisted(() => ({ path: undefined as string | undefined, reads: 0 }))
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>()
  const open: typeof real.open = async (...args) => {
    const handle = await real.open(...args)
    if (failing.path === undefined || String(args[0]) !== failing.path) return handle
    return new Proxy(handle, {
      get (target, prop) {
        if (prop === 'read') {
          return async () => {
            failing.reads += 1
            throw Object.assign(new Error(`EIO: i/o error, read ${failing.path ?? ''}`), { code: 'EIO', errno: -5, syscall: 'read' })
          }
        }
        const value = Reflect.get(target, prop, target) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      }
    })
  }
  return { ...real, open, default: { ...real, open } }
})

let h: StartedTestApp
beforeAll(async () => { h = await startTestApp() })
afterAll(async () => { await h.close() })

const chat = async (content: string): Promise<ReturnType<typeof h.app.inject>> =>
  await h.app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { messages: [{ role: 'user', content }] } })
const raw = async (): Promise<ReturnType<typeof h.app.inject>> => await h.app.inject({ method: 'GET', url: '/v1/usage/raw', headers: AUTH })

describe('a usage log that fails to read', () => {
  it('is a 500 for the requests that read it, and only for them; once it reads again, all is there', async () => {
    expect((await chat('first')).statusCode).toBe(200)
    await h.app.usage.flush()
    expect((await raw()).json<{ count: number }>().count).toBe(1)

    failing.path = h.config.TOKEN_LOG_PATH
    try {
      // A new event to fold in, so that every kind of query has to read the file.
      expect((await chat('second')).statusCode).toBe(200)
      await h.app.usage.flush()
      for (const res of [raw(), h.app.inject({ method: 'GET', url: '/v1/usage?group=hour', headers: AUTH })]) {
        const answer = await res
        expect(answer.statusCode).toBe(500)
        const error = expectEnvelope(answer.json(), { type: 'server_error', code: 'internal_error' })
        // Neither the path nor the system error reach the client.
        expect(error.message).not.toMatch(/EIO|usage\.ndjson|\//)
      }
      // The same in a chat: `usage today` is answered from the log.
      const inChat = await chat('usage today')
      expect(inChat.statusCode).toBe(500)
      expect(expectEnvelope(inChat.json(), { type: 'server_error' }).message).toContain(String(inChat.headers['x-request-id']))
      expect(failing.reads).toBeGreaterThan(0)
      // Everything else is still answered meanwhile, and the events still go to the log.
      expect((await chat('third')).statusCode).toBe(200)
      expect((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200)
    } finally {
      failing.path = undefined
    }
    await h.app.usage.flush()
    const after = await raw()
    expect(after.statusCode).toBe(200)
    // first, second, the failed `usage today` (its 500 is recorded too), third.
    expect(after.json<{ count: number }>().count).toBe(4)
  })
})
