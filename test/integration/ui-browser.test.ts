import { writeFile } from 'node:fs/promises'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UsageEvent } from '../../src/usage/ledger.js'
import type { UsageSummary } from '../../src/usage/summary-schema.js'
import { baseUrl, startTestApp, TEST_KEY, type StartedTestApp } from '../helpers/build-test-app.js'
import { hasChromium, launchBrowser, type Browser } from '../helpers/browser.js'
import { syntheticEvents } from '../helpers/usage-log.js'

// The dashboard in a real browser (Debian's headless Chromium through playwright-core) against a
// server on 127.0.0.1 with a prepared usage log: what it shows is what /v1/usage says, a wrong key
// is refused, a key that is not an admin sees its own usage only, it refreshes in place, and the
// page asks nothing of any other host. CI installs Chromium (.ci/run); without it, on a developer's
// machine, these tests are skipped, never in CI.

const ALICE = 'alice-ui-key-0123456789abcdef'
const NOW = Date.now()
const EVENTS: UsageEvent[] = [...syntheticEvents({ count: 2500, startMs: NOW - 6 * 86_400_000, endMs: NOW - 5000, seed: 42 })]

interface PageState {
  query: string
  summary: UsageSummary
  status: { caller: { key_name: string, admin: boolean } }
  recent: { events: UsageEvent[] }
  chartData: { requests: number[][], tokens: number[][], by: { names: string[], data: number[][] } }
  updates: number
}

// The callbacks given to page.evaluate/waitForFunction run in the page, which has these (the
// project's TypeScript has no DOM library: it is a server).
declare const window: { dashboard?: PageState }
declare const document: {
  addEventListener: (type: 'securitypolicyviolation', listener: (e: { violatedDirective: string, blockedURI: string }) => void) => void
  querySelector: (selector: string) => { textContent: string | null } | null
}
declare const sessionStorage: { length: number } & Record<string, string>

const run = hasChromium() || process.env.CI === 'true'

describe.skipIf(!run)('the dashboard at /ui, in Chromium', () => {
  let app: StartedTestApp
  let browser: Browser
  let base: string

  beforeAll(async () => {
    app = await startTestApp({ listen: true, env: { PROXY_API_KEYS: `alice=${ALICE}` } })
    base = baseUrl(app.app)
    await writeFile(app.config.TOKEN_LOG_PATH, EVENTS.map((e) => `${JSON.stringify(e)}\n`).join(''))
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await app?.close()
  })

  /** A page whose every request, console error and CSP violation is recorded. */
  async function openPage (path: string): Promise<{ page: Page, requests: string[], problems: string[] }> {
    const page = await browser.context.newPage()
    const requests: string[] = []
    const problems: string[] = []
    page.on('request', (r) => { requests.push(r.url()) })
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()) })
    page.on('pageerror', (err) => { problems.push(err.message) })
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => { console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`) })
    })
    await page.goto(`${base}${path}`)
    return { page, requests, problems }
  }

  const pageState = async (page: Page): Promise<PageState> => await page.evaluate(() => window.dashboard as PageState)
  const updated = async (page: Page, after = 0): Promise<void> => {
    await page.waitForFunction((n) => (window.dashboard?.updates ?? 0) > n, after, { timeout: 15_000 })
  }
  const usage = async (key: string, query: string): Promise<UsageSummary> => {
    const res = await fetch(`${base}/v1/usage?${query}`, { headers: { authorization: `Bearer ${key}` } })
    expect(res.status).toBe(200)
    return await res.json() as UsageSummary
  }

  it('#key= logs in and leaves the URL; the numbers and the charts\' data are /v1/usage\'s', async () => {
    const { page, requests, problems } = await openPage(`/ui#key=${TEST_KEY}`)
    await updated(page)
    expect(page.url()).toBe(`${base}/ui`)
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TEST_KEY])
    const state = await pageState(page)
    const summary = await usage(TEST_KEY, state.query)
    expect(state.summary).toEqual(summary)
    expect(summary).toMatchObject({ scope: 'all', total_requests: EVENTS.length })

    // The totals shown.
    for (const field of ['total_requests', 'prompt_tokens_est', 'cached_tokens', 'completion_tokens_est', 'reasoning_tokens', 'error_requests', 'estimated_requests'] as const) {
      const shown = await page.locator(`[data-field="${field}"]`).textContent()
      expect(Number(shown?.replaceAll(',', '')), field).toBe(summary[field])
    }
    // The charts: one point per bucket of the window, each one the bucket's numbers.
    const [xs = [], requestsY = []] = state.chartData.requests
    const byTs = new Map((summary.buckets ?? []).map((b) => [Date.parse(b.ts) / 1000, b]))
    expect(xs.length).toBeGreaterThanOrEqual(byTs.size)
    xs.forEach((x, i) => { expect(requestsY[i], String(x)).toBe(byTs.get(x)?.requests ?? 0) })
    const [, input = [], cached = [], output = [], reasoning = []] = state.chartData.tokens
    const sum = (ys: number[]): number => ys.reduce((a, b) => a + b, 0)
    expect([sum(input), sum(cached), sum(output), sum(reasoning)]).toEqual([summary.prompt_tokens_est, summary.cached_tokens, summary.completion_tokens_est, summary.reasoning_tokens])
    expect(state.chartData.by.names).toEqual((summary.breakdown ?? []).map((r) => r.name))
    state.chartData.by.names.forEach((name, i) => {
      expect(sum(state.chartData.by.data[i + 1] ?? []), name).toBe(summary.breakdown?.find((r) => r.name === name)?.total_tokens_est)
    })
    expect(await page.locator('#chart-tokens canvas').count()).toBe(1)
    // The breakdown table and the latest requests, newest first.
    expect(await page.locator('#breakdown tbody tr').count()).toBe(summary.breakdown?.length)
    const rows = page.locator('#recent tbody tr')
    expect(await rows.count()).toBe(50)
    const newest = EVENTS.at(-1) as UsageEvent
    expect(await rows.first().textContent()).toContain(`${newest.key_name ?? ''}${newest.route}${newest.effective_model}`)
    expect(await page.locator('#who').textContent()).toBe('key: default (admin)')

    // Every request went to this server; nothing failed or broke the page's CSP.
    expect(requests.length).toBeGreaterThan(5)
    for (const url of requests) expect(new URL(url).origin, url).toBe(base)
    expect(problems).toEqual([])
    await page.close()
  })

  it('a wrong key is refused and not kept; the right one typed in opens the dashboard', async () => {
    const { page, requests } = await openPage('/ui#key=not-a-key')
    await page.locator('#login-error').waitFor({ state: 'visible' })
    expect(await page.locator('#login-error').textContent()).toMatch(/refused/)
    expect(await page.locator('#dashboard').isHidden()).toBe(true)
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
    expect(page.url()).toBe(`${base}/ui`)
    await page.fill('#key', 'still-wrong')
    await page.click('#login-form button')
    await page.waitForFunction(() => document.querySelector('#login-error')?.textContent?.includes('refused') === true && sessionStorage.length === 0)
    await page.fill('#key', ALICE)
    await page.click('#login-form button')
    await updated(page)
    expect(await page.locator('#dashboard').isVisible()).toBe(true)
    for (const url of requests) expect(new URL(url).origin, url).toBe(base)
    await page.close()
  })

  it('a key that is not an admin sees only its own usage and requests', async () => {
    const { page } = await openPage(`/ui#key=${ALICE}`)
    await updated(page)
    const state = await pageState(page)
    const own = EVENTS.filter((e) => e.key_name === 'alice')
    expect(state.summary).toEqual(await usage(ALICE, state.query))
    expect(state.summary).toMatchObject({ scope: 'own', total_requests: own.length })
    expect(state.summary.breakdown?.map((r) => r.name)).toEqual(['alice'])
    expect(state.chartData.by.names).toEqual(['alice'])
    expect(Number((await page.locator('[data-field="total_requests"]').textContent())?.replaceAll(',', ''))).toBe(own.length)
    expect(state.recent.events.every((e) => e.key_name === 'alice')).toBe(true)
    const keysShown = await page.locator('#recent tbody tr td:nth-child(2)').allTextContents()
    expect(new Set(keysShown)).toEqual(new Set(['alice']))
    expect(await page.locator('#who').textContent()).toBe('key: alice')
    expect(await page.locator('#scope').textContent()).toMatch(/own usage only/)
    await page.close()
  })

  it('refreshes in place: a new request shows up without a reload', async () => {
    const { page } = await openPage(`/ui?refresh=500#key=${TEST_KEY}`)
    await updated(page)
    let loads = 0
    page.on('load', () => { loads++ })
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json', 'user-agent': 'ui-test' },
      body: JSON.stringify({ model: 'codex-5', messages: [{ role: 'user', content: 'fresh request' }] })
    })
    expect(res.status).toBe(200)
    await page.waitForFunction((n) => window.dashboard?.summary.total_requests === n, EVENTS.length + 1, { timeout: 15_000 })
    expect(await page.locator('#recent tbody tr').first().textContent()).toContain('alice/v1/chat/completions')
    expect(loads).toBe(0)
    await page.close()
  })

  it('passes the browser guard of a server on the default key (its own loopback origin)', async () => {
    const local = await startTestApp({ listen: true, env: { PROXY_API_KEY: '' } })
    try {
      const page = await browser.context.newPage()
      await page.goto(`${baseUrl(local.app)}/ui#key=codex-local-secret`)
      await updated(page)
      expect((await pageState(page)).status.caller).toEqual({ key_name: 'default', admin: true })
      await page.close()
    } finally {
      // The browser keeps its keep-alive sockets to the server open, and stays running.
      local.app.server.closeAllConnections()
      await local.close()
    }
  })
})
