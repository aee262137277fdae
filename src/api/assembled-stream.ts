import type { BackendEvent } from '../backends/types.js'

/** A dialect's answer built up event by event: what to send first, per event, and at the end. */
export interface StreamAssembler<Wire> {
  start: () => Wire[]
  push: (event: BackendEvent) => Wire[]
  finish: () => Wire[]
}

/** A non-streamed answer: every event pushed, then finished; the assembler holds the result. */
export async function foldAssembled<A extends StreamAssembler<unknown>> (events: AsyncIterable<BackendEvent>, assembler: A): Promise<A> {
  for await (const event of events) assembler.push(event)
  assembler.finish()
  return assembler
}

/**
 * The frames of a stream that an assembler builds (the Responses and Messages APIs): its opening
 * events, each backend event's, and its closing ones; a failure ends the stream with the dialect's
 * failure frames instead. `onFinished` is told when the stream ended normally.
 */
export async function * assembledFrames<Wire> (
  events: AsyncIterable<BackendEvent>,
  assembler: StreamAssembler<Wire>,
  frame: (wire: Wire) => string,
  failure: (err: unknown) => string,
  onFinished: () => void = () => {}
): AsyncGenerator<string> {
  for (const wire of assembler.start()) yield frame(wire)
  try {
    for await (const event of events) {
      for (const wire of assembler.push(event)) yield frame(wire)
    }
  } catch (err) {
    yield failure(err)
    return
  }
  for (const wire of assembler.finish()) yield frame(wire)
  onFinished()
}
