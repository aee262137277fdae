import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ErrorEnvelopeSchema } from '../../src/api/openai-envelope.js'
import { ANONYMOUS_KEY_NAME } from '../../src/metric-labels.js'
import { codexLoggedIn, codexVersion, ServerStatusSchema } from '../../src/server-status.js'
import { packageVersion } from '../../src/version.js'

/**
 * `GET /v1/status`: the live state the dashboard shows, behind the API key (unlike /readyz it
 * names the caller and the usage log's state; it holds no secret, no path and no other key).
 */
const statusRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const startedAt = new Date()
  const versions = { server: packageVersion(), codex: codexVersion(fastify.config) }
  const { TOKEN_LOG_ROTATE, TOKEN_LOG_ROTATE_BYTES, PROXY_MAX_CONCURRENCY, CODEX_HOME } = fastify.config
  const rotate = [TOKEN_LOG_ROTATE === 'daily' ? 'daily' : '', TOKEN_LOG_ROTATE_BYTES > 0 ? `${TOKEN_LOG_ROTATE_BYTES} bytes` : ''].filter((x) => x !== '').join(', ') || 'none'

  fastify.get('/status', {
    schema: { response: { 200: ServerStatusSchema, '4xx': ErrorEnvelopeSchema } }
  }, async (request) => {
    const health = fastify.codex.health()
    const { active, queued } = fastify.admission.stats()
    const index = fastify.usage.index.stats()
    const keyName = request.apiKeyName ?? ANONYMOUS_KEY_NAME
    return {
      ok: health.ready,
      backend: fastify.codex.kind,
      ...(health.reason === undefined ? {} : { reason: health.reason }),
      workers: health.workers ?? [],
      active,
      queued,
      max_concurrency: PROXY_MAX_CONCURRENCY,
      open_streams: fastify.openStreams(),
      codex: { logged_in: codexLoggedIn(CODEX_HOME, health), version: versions.codex },
      server: { version: versions.server, node: process.version, started_at: startedAt.toISOString(), uptime_s: Math.floor((Date.now() - startedAt.getTime()) / 1000) },
      usage_log: { files: index.files, rollup_rows: index.rows, indexed_bytes: index.indexedBytes, rotate },
      caller: { key_name: keyName, admin: fastify.usageAdmins.has(keyName) }
    }
  })
}

export default statusRoutes
