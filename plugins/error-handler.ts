import fp from 'fastify-plugin'
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { DialectName } from '../src/api/dialect.js'
import { dialectOf } from '../src/api/dialects.js'
import { ApiError, invalidRequest, isApiError, notFound, serverError, type ErrorKind } from '../src/errors.js'
import { ClientGoneError } from '../src/http/client-abort.js'
import { mainIssue, validationParam } from '../src/http/validation-param.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The API dialect this route speaks: its errors are rendered that way (default: OpenAI's envelope). */
    dialect?: DialectName | undefined
  }
}

const KIND_BY_STATUS: Readonly<Record<number, ErrorKind>> = {
  401: 'authentication',
  403: 'permission',
  404: 'not_found',
  429: 'rate_limit'
}

/** Fastify's own errors (body parsing, validation, limits) as ApiErrors. */
function fromFastifyError (err: FastifyError): ApiError {
  if (err.validation !== undefined) {
    const main = mainIssue(err.validation)
    const param = main === undefined ? null : validationParam(main.issue, err.validationContext)
    return invalidRequest(`Invalid request: ${param ?? err.validationContext ?? 'body'} ${main?.problem ?? 'is invalid'}.`, param, 'invalid_value')
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'Unsupported Content-Type: send the request body as application/json.', { kind: 'invalid_request', code: 'unsupported_media_type' })
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'The request body is too large.', { kind: 'invalid_request', code: 'request_too_large' })
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidRequest('The request body is empty; send a JSON object.', null, 'invalid_json')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return invalidRequest('The request body is not valid JSON.', null, 'invalid_json')
  }
  const status = err.statusCode ?? 500
  if (status === 400 && err instanceof SyntaxError) return invalidRequest('The request body is not valid JSON.', null, 'invalid_json')
  if (status >= 400 && status < 500) {
    return new ApiError(status, err.message, { kind: KIND_BY_STATUS[status] ?? 'invalid_request', code: err.code ?? null })
  }
  if (status === 503) return serverError(503, 'The server is not accepting requests right now.', 'unavailable', err)
  return serverError(500, 'Internal server error.', 'internal_error', err)
}

interface KnownRoute {
  method: string
  pattern: RegExp
}

function patternOf (url: string): RegExp {
  const escaped = url.split('/').map((seg) => {
    if (seg === '*') return '.*'
    if (seg.startsWith(':')) return '[^/]+'
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  })
  return new RegExp(`^${escaped.join('/')}/?$`)
}

/**
 * Every error, in the dialect of the route it happened on: Fastify's errors, ours, unknown routes
 * (404) and known routes asked with the wrong method (405). 5xx details are logged, never sent.
 */
const errorHandler: FastifyPluginAsync = async (fastify) => {
  const routes: KnownRoute[] = []
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) routes.push({ method, pattern: patternOf(route.url) })
  })

  const render = async (err: ApiError, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const path = request.url.split('?', 1)[0] ?? '/'
    const answer = dialectOf(request.routeOptions.config?.dialect, path, request.headers['anthropic-version'] !== undefined).httpError(err)
    for (const [name, value] of Object.entries(answer.headers)) void reply.header(name, value)
    await reply.code(answer.status).send(answer.body)
  }
  const send = async (err: ApiError, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (err.statusCode >= 500) request.log.error({ err: err.cause ?? err, code: err.code }, err.message)
    else request.log.info({ status: err.statusCode, code: err.code, param: err.param }, err.message)
    await render(err, request, reply)
  }

  fastify.setErrorHandler(async (error, request, reply) => {
    if (error instanceof ClientGoneError) {
      // Nobody is listening any more; 499 is what the access log will say.
      request.log.debug('client went away before the answer')
      await render(new ApiError(499, error.message, { kind: 'invalid_request', code: 'client_closed_request' }), request, reply)
      return
    }
    const err = isApiError(error) ? error : fromFastifyError(error as FastifyError)
    await send(err, request, reply)
  })

  fastify.setNotFoundHandler(async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/'
    const allowed = [...new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method))]
    // CORS answers OPTIONS on every path; that alone does not make a path a known route.
    if (allowed.some((m) => m !== 'OPTIONS' && m !== 'HEAD')) {
      void reply.header('allow', allowed.join(', '))
      await send(new ApiError(405, `Method ${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}.`, {
        kind: 'invalid_request', code: 'method_not_allowed'
      }), request, reply)
      return
    }
    await send(notFound(`Unknown route: ${request.method} ${path}.`, 'unknown_url'), request, reply)
  })
}

export default fp(errorHandler, { name: 'error-handler', fastify: '5.x' })
