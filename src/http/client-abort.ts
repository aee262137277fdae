import type { ServerResponse } from 'node:http'

/** What a turn is cancelled with when its client goes away. */
export class ClientGoneError extends Error {
  constructor () {
    super('The client closed the connection.')
    this.name = 'ClientGoneError'
  }
}

/**
 * Calls `onGone` when the client disconnects before the response was fully written. The response
 * socket is the one reliable signal: `request.raw` 'close' (and `request.signal`) fire as soon
 * as a POST body has been read.
 */
export function onClientGone (res: ServerResponse, onGone: () => void): () => void {
  const listener = (): void => {
    if (!res.writableEnded) onGone()
  }
  res.once('close', listener)
  return () => { res.off('close', listener) }
}
