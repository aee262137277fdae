import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { KeyLabels } from '../src/metric-labels.js'
import type { TurnOutcome } from '../src/turns/run-turn.js'
import type { UsageEvent } from '../src/usage/ledger.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: {
      registry: Registry
      /** Records a finished turn (its outcome and its usage-log line): time to first token, tokens, outcome. */
      observeTurn: (outcome: TurnOutcome, event: UsageEvent) => void
    }
  }
}

/** At most this many key names appear as `key` label values; the rest are `other`. */
const MAX_KEY_LABELS = 50

/**
 * Prometheus metrics (one registry per app, so tests can build many): HTTP requests by route and
 * key name and latency by route, time to first token, active streams, queued requests, workers
 * and their restarts, tokens by route, key name and kind. Gauges are read from their owners at
 * scrape time, never kept in step by hand. Key names come from the configured keys and are
 * capped (KeyLabels); the key itself is never a label.
 */
const metricsPlugin: FastifyPluginAsync = async (fastify) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'codex_api_' })

  const keyLabels = new KeyLabels(MAX_KEY_LABELS, (name) => fastify.apiKeys.names().includes(name))
  const requests = new Counter({ name: 'codex_api_http_requests_total', help: 'HTTP requests by route, method, status and API key name (none: no valid key; other: past the cap).', labelNames: ['route', 'method', 'status', 'key'], registers: [registry] })
  const latency = new Histogram({
    name: 'codex_api_http_request_duration_seconds',
    help: 'HTTP request duration (for streams: until the stream ends).',
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry]
  })
  const ttft = new Histogram({
    name: 'codex_api_time_to_first_token_seconds',
    help: 'From request start to the first text, reasoning or tool call.',
    labelNames: ['dialect', 'stream'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry]
  })
  const turns = new Counter({ name: 'codex_api_turns_total', help: 'Codex turns by API dialect and outcome status.', labelNames: ['dialect', 'status'], registers: [registry] })
  const rounds = new Counter({
    name: 'codex_api_conversation_rounds_total',
    help: 'Rounds on the app-server backend: continued on a held conversation\'s thread, or fresh, with why (none_held, history_changed, settings_changed, busy, expired, evicted, worker_gone).',
    labelNames: ['dialect', 'result', 'reason'],
    registers: [registry]
  })
  const tokens = new Counter({
    name: 'codex_api_tokens_total',
    help: 'Tokens by API dialect, route, API key name, kind (prompt and completion; cached is part of prompt, reasoning part of completion) and source (codex: reported by Codex; estimate: counted with the o200k tokenizer).',
    labelNames: ['dialect', 'route', 'key', 'kind', 'source'],
    registers: [registry]
  })

  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_active_turns',
    help: 'Turns running now.',
    registers: [registry],
    collect () { this.set(fastify.admission.stats().active) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_queued_requests',
    help: 'Requests waiting for a turn slot.',
    registers: [registry],
    collect () { this.set(fastify.admission.stats().queued) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_active_streams',
    help: 'Open SSE streams.',
    registers: [registry],
    collect () { this.set(fastify.openStreams()) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_workers',
    help: 'Codex app-server workers by state.',
    labelNames: ['state'],
    registers: [registry],
    collect () {
      this.reset()
      for (const state of ['starting', 'ready', 'stopping', 'stopped', 'failed']) this.set({ state }, 0)
      for (const w of fastify.codex.health().workers ?? []) this.inc({ state: w.state })
    }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_worker_restarts',
    help: 'Times Codex app-server workers were replaced since start.',
    registers: [registry],
    collect () { this.set((fastify.codex.health().workers ?? []).reduce((n, w) => n + w.restarts, 0)) }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_conversations_held',
    help: 'Conversations held for their next round (each a Codex thread), by state.',
    labelNames: ['state'],
    registers: [registry],
    collect () {
      const stats = fastify.codex.health().conversations
      this.set({ state: 'idle' }, stats === undefined ? 0 : stats.held - stats.parked)
      this.set({ state: 'parked' }, stats?.parked ?? 0)
    }
  })
  new Gauge({ // eslint-disable-line no-new -- registered through `registers`; read at scrape time
    name: 'codex_api_backend_ready',
    help: '1 when the Codex backend can take a turn.',
    registers: [registry],
    collect () { this.set(fastify.codex.health().ready ? 1 : 0) }
  })

  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    requests.inc({ route, method: request.method, status: String(reply.statusCode), key: keyLabels.of(request.apiKeyName) })
    latency.observe({ route, method: request.method }, reply.elapsedTime / 1000)
  })

  fastify.decorate('metrics', {
    registry,
    observeTurn (outcome, event) {
      const dialect = event.dialect ?? 'chat'
      const source = event.usage_source ?? 'estimate'
      turns.inc({ dialect, status: String(outcome.status) })
      const conversation = outcome.conversation
      if (conversation !== undefined) rounds.inc({ dialect, result: conversation.continued ? 'continued' : 'fresh', reason: conversation.continued ? '' : conversation.reason })
      if (outcome.firstTokenMs !== undefined) ttft.observe({ dialect, stream: String(event.stream) }, outcome.firstTokenMs / 1000)
      const labels = { dialect, source, route: event.route, key: keyLabels.of(event.key_name) }
      tokens.inc({ ...labels, kind: 'prompt' }, event.prompt_tokens_est)
      tokens.inc({ ...labels, kind: 'completion' }, event.completion_tokens_est)
      tokens.inc({ ...labels, kind: 'cached' }, event.cached_tokens ?? 0)
      tokens.inc({ ...labels, kind: 'reasoning' }, event.reasoning_tokens ?? 0)
    }
  })
}

export default fp(metricsPlugin, { name: 'metrics', fastify: '5.x', dependencies: ['admission', 'codex', 'sse', 'api-keys'] })
