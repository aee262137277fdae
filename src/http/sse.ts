/** SSE framing shared by every dialect (which events to send is the dialect's business). */

export const SSE_DONE = 'data: [DONE]\n\n'

/** A data-only frame (OpenAI chat completions). */
export function sseData (value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`
}

/** A frame with an `event:` line (the Responses and Messages APIs; Anthropic's SDK needs it). */
export function sseEvent (event: string, value: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(value)}\n\n`
}
