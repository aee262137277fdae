import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

export interface UiAsset {
  body: Buffer
  type: string
}

/**
 * The dashboard's files by URL path: the page, its script and styles (`ui/` at the repository
 * root, found from src/ or dist/src/) and the chart library from its npm package, read once at
 * start. Nothing is fetched from anywhere else.
 */
export function uiAssets (): ReadonlyMap<string, UiAsset> {
  const dir = ['../ui/', '../../ui/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url))).find((d) => existsSync(`${d}index.html`))
  if (dir === undefined) throw new Error('the dashboard files (ui/) are missing next to src/ or dist/')
  const require = createRequire(import.meta.url)
  const js = 'text/javascript; charset=utf-8'
  const css = 'text/css; charset=utf-8'
  const files: Array<[string, string, string]> = [
    ['/ui', `${dir}index.html`, 'text/html; charset=utf-8'],
    ['/ui/app.js', `${dir}app.js`, js],
    ['/ui/app.css', `${dir}app.css`, css],
    ['/ui/vendor/uPlot.iife.min.js', require.resolve('uplot/dist/uPlot.iife.min.js'), js],
    ['/ui/vendor/uPlot.min.css', require.resolve('uplot/dist/uPlot.min.css'), css]
  ]
  return new Map(files.map(([url, path, type]) => [url, { body: readFileSync(path), type }]))
}

/**
 * The page's own rules: its scripts, styles and API calls from this origin only, no inline
 * script, no framing, no referrer (a key in the URL fragment is never sent, but be sure).
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')
