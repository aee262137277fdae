import type { FastifyInstance } from 'fastify'
import type { CodexBackend } from './backends/types.js'
import type { Config } from './config.js'
import admissionPlugin from '../plugins/admission.js'
import apiKeysPlugin from '../plugins/api-keys.js'
import authPlugin from '../plugins/auth.js'
import browserGuard from '../plugins/browser-guard.js'
import codexPlugin from '../plugins/codex.js'
import configPlugin from '../plugins/config.js'
import corsPlugin from '../plugins/cors.js'
import errorHandler from '../plugins/error-handler.js'
import jsonBodyGuard from '../plugins/json-body-guard.js'
import metricsPlugin from '../plugins/metrics.js'
import rateLimitPlugin from '../plugins/rate-limit.js'
import requestIdPlugin from '../plugins/request-id.js'
import responseStorePlugin from '../plugins/response-store.js'
import thinkingSignaturesPlugin from '../plugins/thinking-signatures.js'
import ssePlugin from '../plugins/sse.js'
import turnSignalPlugin from '../plugins/turn-signal.js'
import turnsPlugin from '../plugins/turns.js'
import usagePlugin from '../plugins/usage.js'
import healthRoutes from '../routes/health.js'
import metricsRoutes from '../routes/metrics.js'
import uiRoutes from '../routes/ui.js'
import chatCompletionsRoutes from '../routes/v1/chat-completions.js'
import modelsRoutes from '../routes/v1/models.js'
import messagesRoutes from '../routes/v1/messages.js'
import responsesRoutes from '../routes/v1/responses.js'
import statusRoutes from '../routes/v1/status.js'
import usageRoutes from '../routes/v1/usage.js'

export interface AppOptions {
  config: Config
  /** A ready-made backend instead of the one CODEX_BACKEND names (tests, embedding). */
  backend?: CodexBackend | undefined
}

/** The one place that knows the order of plugins and routes. */
export async function registerApp (app: FastifyInstance, opts: AppOptions): Promise<void> {
  await app.register(configPlugin, { config: opts.config })
  await app.register(apiKeysPlugin)
  await app.register(errorHandler)
  await app.register(requestIdPlugin)
  await app.register(jsonBodyGuard)
  await app.register(browserGuard)
  await app.register(corsPlugin)
  await app.register(usagePlugin)
  await app.register(admissionPlugin)
  await app.register(turnSignalPlugin)
  await app.register(ssePlugin)
  await app.register(codexPlugin, { backend: opts.backend })
  await app.register(metricsPlugin)
  await app.register(turnsPlugin)
  await app.register(responseStorePlugin)
  await app.register(thinkingSignaturesPlugin)

  await app.register(healthRoutes)
  await app.register(uiRoutes)
  await app.register(async (scope) => {
    await scope.register(authPlugin, { public: opts.config.PROXY_METRICS_PUBLIC })
    await scope.register(metricsRoutes)
  })
  // The encapsulation boundary is the auth boundary: the key is checked for the API routes only.
  // They are served under /v1 and, for clients configured with a base URL without it, at the root,
  // with one rate limit per key across both (a key must not get a second burst at the root).
  await app.register(async (api) => {
    await api.register(authPlugin)
    await api.register(rateLimitPlugin)
    for (const prefix of ['/v1', '']) {
      await api.register(async (routes) => {
        await routes.register(modelsRoutes)
        await routes.register(chatCompletionsRoutes)
        await routes.register(responsesRoutes)
        await routes.register(messagesRoutes)
        await routes.register(usageRoutes)
        await routes.register(statusRoutes)
      }, { prefix })
    }
  })
}
