import { toOpenAIError } from '../errors.js'

export const SSE_DONE = 'data: [DONE]\n\n'

export function sseData (value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`
}

/**
 * SSE frames for a stream of JSON values, always ending in `[DONE]`. An error after the headers
 * went out cannot change the status any more: it becomes one `data: {"error":…}` frame.
 */
export async function * sseFrames (values: AsyncIterable<unknown>): AsyncGenerator<string> {
  try {
    for await (const value of values) yield sseData(value)
  } catch (err) {
    yield sseData(toOpenAIError(err).toEnvelope())
  }
  yield SSE_DONE
}
