import { afterAll, beforeAll } from 'vitest'

/**
 * For the enclosing describe: every fetch to a host other than this machine is refused (as a
 * network without internet refuses it, so a client's own retry logic still runs) and recorded,
 * so a test can also assert that a client tried to phone nowhere. Clients' telemetry and
 * tokenizer downloads never leave the machine, and a test never depends on the network.
 */
export function offlineFetch (): { blocked: () => string[] } {
  const blocked: string[] = []
  let real: typeof fetch | undefined
  beforeAll(() => {
    real = globalThis.fetch
    const original = real
    globalThis.fetch = async (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
        blocked.push(url.href)
        throw new TypeError('fetch failed', { cause: new Error(`offline test: ${url.host} is not reachable`) })
      }
      return await original(input, init)
    }
  })
  afterAll(() => { if (real !== undefined) globalThis.fetch = real })
  return { blocked: () => [...blocked] }
}
