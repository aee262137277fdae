import type { BackendEvent } from '../backends/types.js'
import { tokenCounter } from './tokenizer.js'

/** Text kept to count exactly; beyond it the count is extrapolated, so memory stays bounded. */
const KEPT_CHARS = 64 * 1024

/**
 * What a turn produced (text, reasoning, tool calls), for the estimate of its output tokens when
 * Codex reports no counts: the first 64 K characters are tokenized, the rest scaled from them.
 */
export class CompletionTally {
  readonly #kept: string[] = []
  #keptChars = 0
  #chars = 0

  add (event: BackendEvent): void {
    if (event.type === 'text' || event.type === 'reasoning') this.#push(event.text)
    else if (event.type === 'tool_call') this.#push(event.name + event.arguments)
  }

  #push (text: string): void {
    this.#chars += text.length
    const room = KEPT_CHARS - this.#keptChars
    if (room <= 0) return
    const piece = text.length <= room ? text : text.slice(0, room)
    this.#kept.push(piece)
    this.#keptChars += piece.length
  }

  get chars (): number {
    return this.#chars
  }

  async tokens (): Promise<number> {
    if (this.#chars === 0) return 0
    const count = await tokenCounter()
    const kept = count(this.#kept.join(''))
    return this.#chars === this.#keptChars ? kept : Math.ceil(kept * this.#chars / this.#keptChars)
  }
}
