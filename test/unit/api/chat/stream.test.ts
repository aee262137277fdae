import { describe, expect, it } from 'vitest'
import { chatFrames } from '../../../../src/api/chat/stream.js'
import { SSE_DONE, sseData, sseEvent } from '../../../../src/http/sse.js'
import { rateLimited } from '../../../../src/errors.js'
import { collect } from '../../support.js'

async function * values (list: unknown[], fail?: unknown): AsyncGenerator<unknown> {
  for (const v of list) yield v
  if (fail !== undefined) throw fail
}

describe('SSE frames', () => {
  it('frames one JSON value per data line', () => {
    expect(sseData({ a: 'b\nc' })).toBe('data: {"a":"b\\nc"}\n\n')
    expect(SSE_DONE).toBe('data: [DONE]\n\n')
    expect(sseEvent('ping', { type: 'ping' })).toBe('event: ping\ndata: {"type":"ping"}\n\n')
  })

  it('ends every stream with [DONE]', async () => {
    expect(await collect(chatFrames(values([{ n: 1 }, { n: 2 }])))).toEqual(['data: {"n":1}\n\n', 'data: {"n":2}\n\n', 'data: [DONE]\n\n'])
    expect(await collect(chatFrames(values([])))).toEqual(['data: [DONE]\n\n'])
  })

  it('turns an error after the first frame into one error frame, then [DONE]', async () => {
    const frames = await collect(chatFrames(values([{ n: 1 }], rateLimited('slow down', 3))))
    expect(frames).toEqual([
      'data: {"n":1}\n\n',
      'data: {"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}\n\n',
      'data: [DONE]\n\n'
    ])
  })

  it('hides the details of an unknown error', async () => {
    const frames = await collect(chatFrames(values([], new Error('secret internals'))))
    expect(frames).toEqual([
      'data: {"error":{"message":"Internal server error.","type":"server_error","param":null,"code":"internal_error"}}\n\n',
      'data: [DONE]\n\n'
    ])
  })
})
