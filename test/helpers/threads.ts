import type { AppServerBackend } from '../../src/backends/app-server/app-server-backend.js'
import { waitFor } from './wait.js'

const loaded = async (backend: AppServerBackend): Promise<number> => (await backend.loadedThreadCounts()).reduce((a, b) => a + b, 0)

/**
 * Waits until the workers hold exactly the threads of the conversations the backend keeps for
 * their next round: a thread of a request that was cancelled, failed or dropped is not left behind.
 */
export async function expectOnlyHeldThreads (backend: AppServerBackend, timeoutMs = 3000): Promise<void> {
  let seen = ''
  await waitFor(async () => {
    const held = backend.health().conversations?.held ?? 0
    const threads = await loaded(backend)
    seen = `${threads} loaded, ${held} held`
    return threads === held
  }, timeoutMs, `only the held conversations' threads to stay loaded (${seen})`)
}
