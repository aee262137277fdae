// The dashboard at /ui: usage over time from /v1/usage, the live state from /v1/status, the latest
// requests from /v1/usage/raw, refreshed in place. The API key is kept in this tab's
// sessionStorage only and sent to this server only; `#key=…` logs in and leaves the URL at once.
// Everything from the server is shown with textContent, never parsed as HTML.
/** uPlot, loaded before this module by index.html from the npm package (no CDN). */
const UPlot = window.uPlot

const KEY_STORE = 'codex-completions-api.key'
const DAY_MS = 86_400_000
const params = new URLSearchParams(window.location.search)
const REFRESH_MS = Math.max(500, Number(params.get('refresh')) || 5000)

/** What the page shows, as it got it from the server (also read by the browser tests). */
const state = { key: null, query: '', summary: null, status: null, recent: null, chartData: {}, updates: 0 }
window.dashboard = state
const charts = {}
let timer

const $ = (id) => document.getElementById(id)
const show = (el, on = true) => { el.hidden = !on }
const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–')

function takeKeyFromUrl () {
  const match = /(?:^#|&)key=([^&]*)/.exec(window.location.hash)
  if (match === null) return
  sessionStorage.setItem(KEY_STORE, decodeURIComponent(match[1]))
  // The key must not stay in the address bar, the history or a bookmark.
  window.history.replaceState(null, '', window.location.pathname + window.location.search)
}

class RefusedError extends Error {}

async function api (path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${state.key}` }, cache: 'no-store', credentials: 'omit' })
  if (res.status === 401) throw new RefusedError('The server refused this API key.')
  const body = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`)
  return body
}

function el (tag, text, className) {
  const node = document.createElement(tag)
  if (text !== undefined) node.textContent = String(text)
  if (className !== undefined) node.className = className
  return node
}

function fillRows (table, rows) {
  const body = table.tBodies[0]
  body.replaceChildren(...rows.map((cells) => {
    const tr = el('tr')
    for (const cell of cells) tr.append(typeof cell === 'object' && cell !== null ? el('td', cell.text, cell.className) : el('td', cell, typeof cell === 'number' ? 'num' : undefined))
    return tr
  }))
}

// --- login -------------------------------------------------------------------------------------

function showLogin (message) {
  stop()
  state.key = null
  sessionStorage.removeItem(KEY_STORE)
  show($('dashboard'), false)
  show($('logout'), false)
  show($('who'), false)
  show($('login'))
  show($('login-error'), message !== undefined)
  $('login-error').textContent = message ?? ''
  $('key').focus()
}

async function logIn (key) {
  state.key = key
  try {
    state.status = await api('/v1/status')
  } catch (err) {
    showLogin(err instanceof RefusedError ? err.message : `The server could not be asked: ${err.message}`)
    return
  }
  sessionStorage.setItem(KEY_STORE, key)
  show($('login'), false)
  show($('dashboard'))
  show($('logout'))
  await refresh()
}

// --- usage -------------------------------------------------------------------------------------

function usageQuery () {
  const days = Number($('range').value)
  const end = new Date()
  const query = new URLSearchParams({
    start: new Date(end.getTime() - days * DAY_MS).toISOString(),
    end: end.toISOString(),
    group: $('group').value,
    by: $('by').value
  })
  for (const [name, id] of [['key', 'f-key'], ['model', 'f-model'], ['route', 'f-route']]) {
    const value = $(id).value.trim()
    if (value !== '') query.set(name, value)
  }
  return query.toString()
}

const TOTALS = [
  ['total_requests', 'Requests'],
  ['prompt_tokens_est', 'Input tokens'],
  ['cached_tokens', 'Cached input'],
  ['completion_tokens_est', 'Output tokens'],
  ['reasoning_tokens', 'Reasoning'],
  ['error_requests', 'Errors'],
  ['estimated_requests', 'Estimated counts']
]

function renderTotals (summary) {
  $('totals').replaceChildren(...TOTALS.map(([field, label]) => {
    const card = el('div', undefined, 'card')
    const value = el('span', fmt(summary[field]), 'value')
    value.dataset.field = field
    card.append(el('span', label, 'label'), value)
    return card
  }))
  $('scope').textContent = summary.scope === 'own' ? 'This key sees its own usage only.' : 'All keys (admin key).'
}

/** One x value per bucket of the window (seconds), empty buckets as 0, so gaps read as gaps. */
function slots (summary) {
  const step = summary.group === 'day' ? 86_400 : 3_600
  const start = Math.floor(Date.parse(summary.start) / 1000 / step) * step
  const end = Date.parse(summary.end) / 1000
  const xs = []
  for (let t = start; t < end; t += step) xs.push(t)
  return xs
}

const PALETTE = ['#2e90fa', '#f79009', '#12b76a', '#7a5af8', '#f04438', '#0ba5ec', '#ee46bc', '#667085', '#84cc16', '#b54708']

function drawChart (id, names, data) {
  const target = $(id)
  const width = Math.max(300, target.clientWidth)
  const shape = names.join('\u0000')
  if (charts[id] === undefined || charts[id].shape !== shape) {
    charts[id]?.plot.destroy()
    const plot = new UPlot({
      width,
      height: 220,
      series: [{}, ...names.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5, points: { show: false } }))],
      axes: [{}, { size: 60, values: (_u, ticks) => ticks.map((v) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v))) }],
      scales: { x: { time: true } },
      legend: { live: false }
    }, data, target)
    charts[id] = { plot, shape }
  } else {
    charts[id].plot.setData(data)
  }
}

function renderCharts (summary) {
  const xs = slots(summary)
  const at = new Map(xs.map((x, i) => [x, i]))
  const column = (pick) => {
    const ys = xs.map(() => 0)
    for (const b of summary.buckets ?? []) {
      const i = at.get(Date.parse(b.ts) / 1000)
      if (i !== undefined) ys[i] = pick(b)
    }
    return ys
  }
  const requests = [xs, column((b) => b.requests)]
  const tokens = [xs, column((b) => b.prompt_tokens_est), column((b) => b.cached_tokens), column((b) => b.completion_tokens_est), column((b) => b.reasoning_tokens)]
  // The largest values of the breakdown, one line each (their total tokens per bucket).
  const names = (summary.breakdown ?? []).slice(0, PALETTE.length).map((r) => r.name)
  const by = [xs, ...names.map((name) => column((b) => b.breakdown?.find((r) => r.name === name)?.total_tokens_est ?? 0))]
  state.chartData = { requests, tokens, by: { names, data: by } }
  drawChart('chart-requests', ['requests'], requests)
  drawChart('chart-tokens', ['input', 'cached', 'output', 'reasoning'], tokens)
  drawChart('chart-by', names.length > 0 ? names : ['(none)'], names.length > 0 ? by : [xs, xs.map(() => 0)])
  $('chart-by-caption').textContent = `Tokens by ${summary.by ?? 'key'}`
}

function renderBreakdown (summary) {
  $('breakdown-name').textContent = { key: 'Key', model: 'Model', route: 'Route' }[summary.by] ?? 'Name'
  fillRows($('breakdown'), (summary.breakdown ?? []).map((r) => [r.name, r.requests, r.prompt_tokens_est, r.cached_tokens, r.completion_tokens_est, r.reasoning_tokens, r.error_requests]))
}

// --- live state and recent requests ------------------------------------------------------------

function renderStatus (status) {
  $('live-ready').textContent = status.ok ? 'ready' : 'not ready'
  $('live-ready').className = `value ${status.ok ? 'ok' : 'bad'}`
  $('live-reason').textContent = status.reason ?? status.backend
  $('live-turns').textContent = `${status.active} / ${status.queued}`
  $('live-streams').textContent = String(status.open_streams)
  $('live-login').textContent = status.codex.logged_in ? 'yes' : 'no'
  $('live-login').className = `value ${status.codex.logged_in ? 'ok' : 'bad'}`
  $('live-versions').textContent = `server ${status.server.version} · Codex ${status.codex.version ?? '(CODEX_BIN)'} · Node ${status.server.node} · up ${Math.round(status.server.uptime_s / 60)} min`
  fillRows($('workers'), status.workers.map((w) => [w.id, w.pid ?? '–', { text: w.state, className: w.state === 'ready' ? 'ok' : 'bad' }, w.inFlight, w.restarts]))
  $('who').textContent = `key: ${status.caller.key_name}${status.caller.admin ? ' (admin)' : ''}`
  show($('who'))
}

function renderRecent (recent) {
  fillRows($('recent'), [...recent.events].reverse().map((e) => [
    new Date(e.ts).toLocaleString(), e.key_name ?? 'default', e.route, e.effective_model,
    { text: e.status, className: e.status >= 400 ? 'num bad' : 'num' }, `${fmt(e.duration_ms)} ms`,
    e.prompt_tokens_est, e.cached_tokens ?? 0, e.completion_tokens_est, e.reasoning_tokens ?? 0
  ]))
}

// --- refresh loop ------------------------------------------------------------------------------

function stop () {
  clearTimeout(timer)
  timer = undefined
}

async function refresh () {
  stop()
  if (state.key === null) return
  try {
    const query = usageQuery()
    const [status, summary, recent] = await Promise.all([api('/v1/status'), api(`/v1/usage?${query}`), api('/v1/usage/raw?limit=50')])
    Object.assign(state, { status, summary, recent, query })
    renderStatus(status)
    renderTotals(summary)
    renderCharts(summary)
    renderBreakdown(summary)
    renderRecent(recent)
    show($('usage-error'), false)
    state.updates++
    $('updated').textContent = `Updated ${new Date().toLocaleTimeString()}; every ${REFRESH_MS / 1000} s.`
  } catch (err) {
    if (err instanceof RefusedError) {
      showLogin('The server no longer accepts this API key.')
      return
    }
    $('usage-error').textContent = err.message
    show($('usage-error'))
  }
  if (!document.hidden) timer = setTimeout(() => { refresh() }, REFRESH_MS)
}

function start () {
  takeKeyFromUrl()
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault()
    logIn($('key').value.trim())
  })
  $('logout').addEventListener('click', () => { showLogin() })
  $('range').addEventListener('change', () => {
    $('group').value = Number($('range').value) > 7 ? 'day' : 'hour'
    refresh()
  })
  for (const id of ['group', 'by']) $(id).addEventListener('change', () => { refresh() })
  for (const id of ['f-key', 'f-model', 'f-route']) $(id).addEventListener('change', () => { refresh() })
  document.addEventListener('visibilitychange', () => { if (!document.hidden && state.key !== null) refresh() })
  window.addEventListener('resize', () => {
    for (const { plot } of Object.values(charts)) plot.setSize({ width: Math.max(300, plot.root.parentElement.clientWidth), height: 220 })
  })
  const key = sessionStorage.getItem(KEY_STORE)
  if (key === null) showLogin()
  else logIn(key)
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
else start()
