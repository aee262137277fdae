import type { BackendEvent } from '../../backends/types.js'
import { sseEvent } from '../../http/sse.js'
import { assembledFrames } from '../assembled-stream.js'
import { messagesErrorFrame } from './errors.js'
import type { MessageAssembler } from './response.js'

/**
 * A turn's events as the Messages stream, every frame with its `event:` line (Anthropic's SDK
 * skips frames without one). A failure after the stream started is one `event: error` with
 * Anthropic's error body, as the API sends it; the message is then not finished.
 */
export function messagesSse (events: AsyncIterable<BackendEvent>, assembler: MessageAssembler): AsyncIterable<string> {
  return assembledFrames(events, assembler, (event) => sseEvent(event.type, event), messagesErrorFrame)
}
