import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { ClientGoneError, onClientGone } from '../../../src/http/client-abort.js'

/** The two things onClientGone reads of a response. */
class FakeResponse extends EventEmitter {
  writableEnded = false
}
const asResponse = (r: FakeResponse): ServerResponse => r as unknown as ServerResponse

describe('onClientGone', () => {
  it('fires when the socket closes before the response ended', () => {
    const res = new FakeResponse()
    let gone = 0
    onClientGone(asResponse(res), () => { gone += 1 })
    res.emit('close')
    res.emit('close')
    expect(gone).toBe(1)
  })
  it('does not fire after a complete response', () => {
    const res = new FakeResponse()
    let gone = 0
    onClientGone(asResponse(res), () => { gone += 1 })
    res.writableEnded = true
    res.emit('close')
    expect(gone).toBe(0)
  })
  it('can be unsubscribed', () => {
    const res = new FakeResponse()
    let gone = 0
    const off = onClientGone(asResponse(res), () => { gone += 1 })
    off()
    res.emit('close')
    expect(gone).toBe(0)
    expect(res.listenerCount('close')).toBe(0)
  })
  it('ClientGoneError names itself', () => {
    const e = new ClientGoneError()
    expect(e.name).toBe('ClientGoneError')
    expect(e.message).toBe('The client closed the connection.')
  })
})
