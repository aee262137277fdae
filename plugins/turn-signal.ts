import fp from 'fastify-plugin'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { shuttingDown } from '../src/errors.js'
import { ClientGoneError, onClientGone } from '../src/http/client-abort.js'

declare module 'fastify' {
  interface FastifyReply {
    /**
     * The signal that cancels this request's Codex turn: aborted when the client disconnects
     * (unless PROXY_KILL_ON_DISCONNECT=false) and when the server shuts down.
     */
    turnSignal: () => AbortSignal
  }
}

/** Every running turn can be cancelled from one place, so shutdown interrupts them all. */
const turnSignalPlugin: FastifyPluginAsync = async (fastify) => {
  const running = new Set<AbortController>()
  const killOnDisconnect = fastify.config.PROXY_KILL_ON_DISCONNECT

  fastify.decorateReply('turnSignal', function (this: FastifyReply): AbortSignal {
    const controller = new AbortController()
    running.add(controller)
    const stop = killOnDisconnect ? onClientGone(this.raw, () => { controller.abort(new ClientGoneError()) }) : () => {}
    this.raw.once('close', () => {
      stop()
      running.delete(controller)
    })
    return controller.signal
  })

  fastify.addHook('preClose', async () => {
    const reason = shuttingDown('The server is shutting down; the turn was interrupted. Retry on another instance or shortly.')
    for (const controller of running) controller.abort(reason)
    running.clear()
  })
}

export default fp(turnSignalPlugin, { name: 'turn-signal', fastify: '5.x', dependencies: ['config'] })
