// `npm run docs:screenshots`: the dashboard's pictures in docs/ (docs/dashboard.png for an admin
// key, docs/dashboard-own-key.png for a key that sees only its own usage), taken in Debian's
// headless Chromium against a server on 127.0.0.1 with a made-up week of usage.
import { join } from 'node:path'
import { baseUrl, startTestApp, TEST_KEY } from '../test/helpers/build-test-app.js'
import { launchBrowser } from '../test/helpers/browser.js'
import { REPO_ROOT } from '../test/helpers/paths.js'
import { syntheticEvents, writeUsageLog } from '../test/helpers/usage-log.js'

// The waitForFunction callback runs in the page (the project's TypeScript has no DOM library).
declare const window: { dashboard?: { updates: number } }

const ALICE = 'alice-screenshot-key-0123456789'
const app = await startTestApp({ listen: true, env: { PROXY_API_KEYS: `alice=${ALICE}` } })
const browser = await launchBrowser({ width: 1280, height: 1000 })
try {
  const now = Date.now()
  const events = syntheticEvents({ count: 4000, startMs: now - 7 * 86_400_000, endMs: now - 1000, seed: 7 })
  await writeUsageLog(app.config.TOKEN_LOG_PATH, events)
  for (const [key, file] of [[TEST_KEY, 'dashboard.png'], [ALICE, 'dashboard-own-key.png']] as const) {
    const page = await browser.context.newPage()
    await page.goto(`${baseUrl(app.app)}/ui#key=${key}`)
    await page.waitForFunction(() => (window.dashboard?.updates ?? 0) > 0)
    // The page down to the first rows of the recent requests.
    await page.screenshot({ path: join(REPO_ROOT, 'docs', file), clip: { x: 0, y: 0, width: 1280, height: 1000 } })
    process.stdout.write(`docs/${file}\n`)
    await page.close()
  }
} finally {
  await browser.close()
  app.app.server.closeAllConnections()
  await app.close()
}
