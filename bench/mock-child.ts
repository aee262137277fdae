// The mock Responses API in a process of its own, so that its work (SSE to Codex) does not share
// an event loop with the bench's clients and skew their timestamps. Run with `node --import tsx`.
import { startMockUpstream } from '../test/fixtures/mock-upstream.mjs'

const slowDelayMs = Number(process.env.BENCH_MOCK_SLOW_DELAY_MS ?? 100)
const mock = await startMockUpstream({ slowDelayMs })

// The mock keeps a record of every request for tests; thousands of them are not wanted here.
mock.events.on('ended', () => {
  if (mock.requests.length >= 200) mock.reset()
})

process.send?.({ type: 'ready', url: mock.url })

const stop = (): void => {
  mock.close().then(() => process.exit(0), () => process.exit(1))
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
// The bench died without stopping us: do not linger.
process.on('disconnect', stop)
