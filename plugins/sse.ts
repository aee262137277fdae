import { PassThrough } from 'node:stream'
import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { Dialect } from '../src/api/dialect.js'
import { shuttingDown, type ApiError } from '../src/errors.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * Streams SSE frames with backpressure and keepalives. When the client leaves, the frames are
     * abandoned (their iterator is returned), unless PROXY_KILL_ON_DISCONNECT=false, in which case
     * they are read to the end and discarded. A stream still open at shutdown is ended with
     * `closing` (a stream that knows its own state), else the dialect's closing frames.
     */
    sse: (frames: AsyncIterable<string>, dialect: Dialect, closing?: ((err: ApiError) => string) | undefined) => FastifyReply
  }
  interface FastifyInstance {
    /** Number of SSE streams open now. */
    openStreams: () => number
  }
}

const SHUTDOWN_GRACE_MS = 2000

/** Clients whose SSE parsers choke on comment lines: opted out by header, query or user agent. */
export function wantsKeepalive (request: FastifyRequest): boolean {
  if (request.headers['x-no-keepalive'] === '1') return false
  const query = request.query as Record<string, unknown> | undefined
  if (query?.no_keepalive === '1' || query?.no_keepalive === 'true') return false
  return !/obsidian|electron/i.test(request.headers['user-agent'] ?? '')
}

/** Resolves when a backed-up stream can take more, or is gone. */
async function drained (out: PassThrough): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
}

const ssePlugin: FastifyPluginAsync = async (fastify) => {
  const keepaliveMs = fastify.config.SSE_KEEPALIVE_MS
  const drainOnClose = !fastify.config.PROXY_KILL_ON_DISCONNECT
  const open = new Map<PassThrough, { done: Promise<void>, closing: (err: ApiError) => string }>()
  fastify.decorate('openStreams', () => open.size)

  fastify.decorateReply('sse', function (this: FastifyReply, frames: AsyncIterable<string>, dialect: Dialect, closing?: (err: ApiError) => string): FastifyReply {
    const out = new PassThrough()
    const keepalive = keepaliveMs > 0 && wantsKeepalive(this.request)
      ? setInterval(() => {
        if (!out.writableNeedDrain && !out.writableEnded && !out.destroyed) out.write(dialect.keepaliveFrame)
      }, keepaliveMs)
      : undefined
    keepalive?.unref()
    const log = this.log

    const pump = async (): Promise<void> => {
      const iterator = frames[Symbol.asyncIterator]()
      try {
        for (;;) {
          const next = await iterator.next()
          if (next.done === true) break
          if (out.destroyed || out.writableEnded) {
            if (drainOnClose) continue
            break
          }
          if (!out.write(next.value)) await drained(out)
        }
      } catch (err) {
        // Each dialect's stream turns errors into frames; anything reaching here is a bug worth a log line.
        log.error({ err }, 'SSE producer failed after the headers were sent')
      } finally {
        clearInterval(keepalive)
        if (!out.writableEnded && !out.destroyed) out.end()
        // Stopped early (client gone): closing the iterator cancels the turn behind it.
        await iterator.return?.()
      }
    }
    const done = pump()
    open.set(out, { done, closing: closing ?? dialect.closingFrames })
    void done.finally(() => { open.delete(out) })

    return this
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('connection', 'keep-alive')
      .header('x-accel-buffering', 'no')
      .send(out)
  })

  // Turns are interrupted by the turn-signal plugin and their streams end with an error frame;
  // whatever is still open after a grace period is ended here, or server.close() would wait forever.
  fastify.addHook('preClose', async () => {
    if (open.size === 0) return
    const all = Promise.allSettled([...open.values()].map((o) => o.done))
    let timer: NodeJS.Timeout | undefined
    await Promise.race([all, new Promise((resolve) => { timer = setTimeout(resolve, SHUTDOWN_GRACE_MS) })])
    clearTimeout(timer)
    const reason = shuttingDown()
    for (const [out, { closing }] of open) {
      if (!out.writableEnded && !out.destroyed) out.end(closing(reason))
    }
  })
}

export default fp(ssePlugin, { name: 'sse', fastify: '5.x', dependencies: ['config', 'turn-signal'] })
