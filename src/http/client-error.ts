import type { Socket } from 'node:net'
import { chatErrorEnvelope } from '../api/chat/errors.js'
import { ApiError } from '../errors.js'

const KNOWN: Readonly<Record<string, () => ApiError>> = {
  ERR_HTTP_REQUEST_TIMEOUT: () => new ApiError(408, 'The request did not arrive in time (PROXY_REQUEST_TIMEOUT_MS).', { kind: 'timeout', code: 'request_timeout' }),
  HPE_HEADER_OVERFLOW: () => new ApiError(431, 'The request headers are too large (at most 16 KiB).', { kind: 'invalid_request', code: 'request_headers_too_large' }),
  HPE_INVALID_METHOD: () => new ApiError(400, 'The request method is not one HTTP knows.', { kind: 'invalid_request', code: 'invalid_method' })
}

/** Errors Node's HTTP parser reports before there is a request (and so before any route or dialect). */
export function clientErrorOf (err: NodeJS.ErrnoException): ApiError {
  const known = err.code === undefined ? undefined : KNOWN[err.code]
  return known?.() ?? new ApiError(400, 'The request is not valid HTTP/1.1.', { kind: 'invalid_request', code: 'bad_request' })
}

/**
 * Fastify's clientErrorHandler: the same OpenAI error envelope as every other error (a client
 * reading the body learns what went wrong), then the connection is closed, as Node does.
 */
export function writeClientError (err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (socket.writable) {
    const error = clientErrorOf(err)
    const body = JSON.stringify(chatErrorEnvelope(error))
    const reason = error.statusCode === 408 ? 'Request Timeout' : error.statusCode === 431 ? 'Request Header Fields Too Large' : 'Bad Request'
    socket.write(`HTTP/1.1 ${error.statusCode} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
