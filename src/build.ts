import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { registerApp, type AppOptions } from './app.js'
import { writeClientError } from './http/client-error.js'
import { requestIdFor } from './http/request-id.js'

/**
 * One structured access-log line per request (method, path, status, time, request id); the
 * incoming-request line only at debug. Headers and query strings are never logged, so keys
 * cannot leak.
 */
export class AccessLog extends LogController {
  constructor () {
    super({ requestIdLogLabel: 'requestId' })
  }

  override incomingRequest (request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ method: request.method, url: request.url.split('?', 1)[0] }, 'incoming request')
  }

  override requestCompleted (error: unknown, request: Parameters<LogController['requestCompleted']>[1], reply: Parameters<LogController['requestCompleted']>[2]): void {
    const line = {
      method: request.method,
      url: request.url.split('?', 1)[0],
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      ua: request.headers['user-agent']
    }
    if (error !== undefined && error !== null) reply.log.warn({ ...line, err: error }, 'request errored')
    else reply.log.info(line, 'request completed')
  }
}

export interface BuildOptions extends AppOptions {
  /** pino options or false; defaults to JSON logs at LOG_LEVEL. */
  logger?: boolean | Record<string, unknown> | undefined
}

/**
 * Builds the Fastify instance: server limits and timeouts (so slow clients cannot hold sockets),
 * request ids, the access log and key redaction, JSON-only bodies, and the app itself.
 */
export async function buildApp (opts: BuildOptions): Promise<FastifyInstance> {
  const { config } = opts
  const app = Fastify({
    logger: opts.logger ?? {
      level: config.LOG_LEVEL,
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'], censor: '[redacted]' }
    },
    bodyLimit: config.PROXY_BODY_LIMIT_BYTES,
    // Socket-level limits, so slow clients cannot hold sockets: headers and the whole request
    // must arrive in time (checked every second), idle keep-alive sockets are closed, headers are
    // at most 16 KiB. Responses themselves (long streams) are not limited here.
    connectionTimeout: 0,
    requestTimeout: config.PROXY_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.PROXY_KEEPALIVE_TIMEOUT_MS,
    // A request without Host is answered by the browser guard in the envelope, not by Node with an empty 400.
    http: { headersTimeout: config.PROXY_HEADERS_TIMEOUT_MS, maxHeaderSize: 16 * 1024, connectionsCheckingInterval: 1000, requireHostHeader: false },
    clientErrorHandler: writeClientError,
    requestIdHeader: false,
    genReqId: requestIdFor,
    logController: new AccessLog(),
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true }
  }).withTypeProvider<TypeBoxTypeProvider>()

  // JSON only: a text/plain body is a 415, not a string handed to the JSON schema.
  app.removeContentTypeParser(['text/plain'])

  await registerApp(app, opts)
  return app
}
