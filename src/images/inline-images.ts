import { mapParts, partsOf, type CompletionRequest, type ContentPart } from '../backends/types.js'
import { fetchImageAsDataUrl, type ImageFetchOptions } from './fetch-image.js'

/** At most this many downloads at once for one request. */
const PARALLEL = 4

/**
 * Replaces every http(s) image URL in the conversation, tool results included, with the downloaded
 * image as a data URL (Codex refuses remote image URLs). Order and everything else stay as they
 * were; a failed download fails the request with a 400 naming the image.
 */
export async function inlineRemoteImages (request: CompletionRequest, opts: ImageFetchOptions, signal: AbortSignal): Promise<CompletionRequest> {
  const remote = new Set<string>()
  for (const item of request.items) {
    for (const part of partsOf(item)) if (part.type === 'image' && !part.url.startsWith('data:')) remote.add(part.url)
  }
  if (remote.size === 0) return request

  const fetched = new Map<string, string>()
  const queue = [...remote]
  const worker = async (): Promise<void> => {
    for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
      fetched.set(url, await fetchImageAsDataUrl(url, opts, signal))
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker))

  const inline = (part: ContentPart): ContentPart => (part.type === 'image' ? { ...part, url: fetched.get(part.url) ?? part.url } : part)
  return { ...request, items: request.items.map((item) => mapParts(item, inline)) }
}
