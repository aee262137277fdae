import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AUTH, buildTestApp } from '../helpers/build-test-app.js'
import { REPO_ROOT } from '../helpers/paths.js'
import { declaredMetrics, parsePrometheus } from '../helpers/prometheus.js'

// deploy/grafana/codex-api-dashboard.json imports into Grafana (the fields its importer needs)
// and every query in it names a metric the server really exports, as scraped from /metrics.

interface Target { expr: string, refId: string, datasource?: { uid?: string } }
interface Panel { id: number, type: string, title: string, gridPos: { x: number, y: number, w: number, h: number }, datasource?: { type?: string, uid?: string }, targets?: Target[] }
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  panels: Panel[]
  templating: { list: Array<{ name: string, type: string, query?: unknown }> }
}

// Grafana's variable syntax, not a template string.
// eslint-disable-next-line no-template-curly-in-string
const DATASOURCE_UID = '${datasource}'
const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy/grafana/codex-api-dashboard.json'), 'utf8')) as Dashboard
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))

/** PromQL functions and keywords, which look like metric names to a plain tokenizer. */
const PROMQL_WORDS = new Set(['sum', 'by', 'rate', 'increase', 'histogram_quantile', 'clamp_min', 'max', 'le', 'route', 'key', 'kind', 'status', 'dialect', 'state', 'source'])

/** The metric names an expression selects: identifiers outside label matchers and strings. */
function metricNames (expr: string): string[] {
  const bare = expr.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '').replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, '')
  return [...bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w) && !/^\d/.test(w))
}

describe('the Grafana dashboard', () => {
  it('has what Grafana\'s importer needs: title, uid, schemaVersion, panels with ids and positions', () => {
    expect(dashboard.title).toBe('codex-completions-api')
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/)
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(dashboard.panels.length).toBeGreaterThan(8)
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const p of dashboard.panels) {
      expect(p.title.length, `panel ${p.id}`).toBeGreaterThan(0)
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
    }
  })

  it('asks for a Prometheus data source, and every panel and query uses it', () => {
    const source = dashboard.templating.list.find((v) => v.type === 'datasource')
    expect(source).toMatchObject({ name: 'datasource', query: 'prometheus' })
    for (const p of dashboard.panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE_UID })
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(DATASOURCE_UID)
    }
  })

  it('every query is balanced and names only metrics the server exports', async () => {
    const { app } = await buildTestApp()
    // Every labelled series appears once something happened: a turn, a streamed turn, a 404.
    for (const stream of [false, true]) {
      await app.inject({ method: 'POST', url: '/v1/chat/completions', headers: AUTH, payload: { stream, messages: [{ role: 'user', content: 'hello' }] } })
    }
    await app.inject({ method: 'GET', url: '/v1/nope', headers: AUTH })
    const text = (await app.inject({ method: 'GET', url: '/metrics', headers: AUTH })).body
    const exported = new Set([...declaredMetrics(text), ...parsePrometheus(text).map((s) => s.name)])
    expect(exprs.length).toBeGreaterThan(10)
    for (const expr of exprs) {
      for (const [open, close] of [['(', ')'], ['{', '}'], ['[', ']']] as const) {
        expect(expr.split(open).length, `${expr}: ${open}${close}`).toBe(expr.split(close).length)
      }
      const names = metricNames(expr)
      expect(names.length, expr).toBeGreaterThan(0)
      for (const name of names) expect(exported.has(name), `${name} in ${expr}`).toBe(true)
    }
    // The variables' own query, too.
    expect(exported.has('codex_api_http_requests_total')).toBe(true)
    // The labels the dashboard groups by exist on the series it groups.
    const samples = parsePrometheus(text)
    expect(samples.some((s) => s.name === 'codex_api_http_requests_total' && s.labels.key === 'default' && s.labels.route === '/v1/chat/completions')).toBe(true)
    expect(new Set(samples.filter((s) => s.name === 'codex_api_tokens_total').map((s) => s.labels.kind))).toEqual(new Set(['prompt', 'completion', 'cached', 'reasoning']))
  })
})
