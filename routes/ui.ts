import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { UI_CONTENT_SECURITY_POLICY, uiAssets } from '../src/ui-assets.js'

/**
 * The dashboard (`/ui`): static files only, public (the page holds no data; it asks for an API
 * key and calls /v1/status, /v1/usage and /v1/usage/raw with it, from the same origin).
 */
const uiRoutes: FastifyPluginAsyncTypebox = async (fastify) => {
  const assets = uiAssets()
  for (const [url, asset] of assets) {
    fastify.get(url, async (_request, reply) => await reply
      .header('content-type', asset.type)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', UI_CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .send(asset.body))
  }
}

export default uiRoutes
