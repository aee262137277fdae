import type { BackendEvent } from '../../backends/types.js'
import { sseEvent } from '../../http/sse.js'
import { errorEvent } from './errors.js'
import { assembledFrames } from '../assembled-stream.js'
import type { ResponseAssembler, WireEvent } from './response.js'

export interface ResponsesStream {
  frames: AsyncIterable<string>
  /** What ends the stream when the server has to close it: response.failed and error, in sequence. */
  closing: (err: unknown) => string
}

/**
 * A turn's events as Responses stream events: every event with an `event:` line and a
 * `sequence_number`, no event outside the API (the openai SDK's helper throws on one), and the
 * stream always ends with response.completed, response.incomplete or response.failed + error.
 * `onFinished` is told when the response completed (to store it).
 */
export function responsesSse (events: AsyncIterable<BackendEvent>, assembler: ResponseAssembler, onFinished: () => void): ResponsesStream {
  let sequence = 0
  const frame = (event: WireEvent): string => sseEvent(event.type, { ...event, sequence_number: sequence++ })
  const failure = (error: unknown): string => assembler.fail(errorEvent(error)).map(frame).join('')
  return { frames: assembledFrames(events, assembler, frame, failure, onFinished), closing: failure }
}
