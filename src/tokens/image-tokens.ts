import { imageSize } from 'image-size'

/** What OpenAI's vision models charge for an image whose size cannot be read (a 1024 × 1024 at high detail). */
export const UNKNOWN_IMAGE_TOKENS = 765
const LOW_DETAIL_TOKENS = 85
const TILE_TOKENS = 170
const TILE = 512

/**
 * OpenAI's published rule for GPT-4o / GPT-5 image inputs: fit within 2048 × 2048, scale the
 * shorter side down to 768, then 85 tokens plus 170 per 512-pixel tile (85 in all at low detail).
 */
export function imageTokensForSize (width: number, height: number, detail: 'auto' | 'low' | 'high' | undefined): number {
  if (detail === 'low') return LOW_DETAIL_TOKENS
  if (width <= 0 || height <= 0) return UNKNOWN_IMAGE_TOKENS
  let w = width
  let h = height
  const fit = Math.min(1, 2048 / Math.max(w, h))
  w *= fit
  h *= fit
  const shorter = Math.min(1, 768 / Math.min(w, h))
  w *= shorter
  h *= shorter
  return LOW_DETAIL_TOKENS + TILE_TOKENS * Math.ceil(w / TILE) * Math.ceil(h / TILE)
}

const DATA_URL = /^data:[^;,]*;base64,/

/** Tokens of an image given as a data URL (its size read from its header), or the usual figure for anything else. */
export function imageTokens (url: string, detail: 'auto' | 'low' | 'high' | undefined): number {
  if (detail === 'low') return LOW_DETAIL_TOKENS
  const prefix = DATA_URL.exec(url)
  if (prefix === null) return UNKNOWN_IMAGE_TOKENS
  try {
    // The header is at the start: a few KB of base64 are enough for every format image-size reads.
    const head = Buffer.from(url.slice(prefix[0].length, prefix[0].length + 64 * 1024), 'base64')
    const { width, height } = imageSize(head)
    return imageTokensForSize(width, height, detail)
  } catch {
    return UNKNOWN_IMAGE_TOKENS
  }
}
