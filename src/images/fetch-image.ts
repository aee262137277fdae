import { lookup } from 'node:dns/promises'
import { BlockList, isIP, type LookupFunction } from 'node:net'
import { Agent, request } from 'undici'
import { invalidSubject, isApiError, type ApiError } from '../errors.js'

export interface ImageFetchOptions {
  maxBytes: number
  timeoutMs: number
  /** Allow loopback, private and link-local addresses (tests, trusted LANs). */
  allowPrivate: boolean
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
const MAX_REDIRECTS = 3

/** Addresses an image URL may not point at: this host, private networks, link-local, multicast. */
const blocked = new BlockList()
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4]
] as const) blocked.addSubnet(net, prefix, 'ipv4')
for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) blocked.addSubnet(net, prefix, 'ipv6')

export function isBlockedAddress (address: string): boolean {
  const family = isIP(address)
  if (family === 4) return blocked.check(address, 'ipv4')
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
    if (mapped?.[1] !== undefined) return blocked.check(mapped[1], 'ipv4')
    return blocked.check(address, 'ipv6')
  }
  return true
}

/** Magic numbers of the accepted formats: the content type a server claims is not trusted alone. */
function sniff (bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png'
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg'
  if (bytes.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif'
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp'
  return undefined
}

// The image may stand anywhere in the conversation (a message, a tool result) of any dialect:
// the subject lets each name its own field (`messages`, `input`).
const refuse = (url: string, why: string): ApiError =>
  invalidSubject(`Image ${url.length > 120 ? `${url.slice(0, 117)}...` : url} could not be used: ${why}`, 'conversation', 'invalid_image_url')

/**
 * Downloads an http(s) image and returns it as a data URL (Codex accepts only inline images).
 * The host is resolved once, every address is checked, and the connection is pinned to the
 * checked address, so DNS cannot be switched to an internal one between check and connect.
 * Redirects are followed (a few) and checked the same way; size, time and type are bounded.
 */
export async function fetchImageAsDataUrl (url: string, opts: ImageFetchOptions, signal: AbortSignal): Promise<string> {
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(opts.timeoutMs)])
  let current = new URL(url)
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw refuse(url, 'only http and https URLs can be fetched')
    const host = current.hostname.replace(/^\[|\]$/g, '')
    let addresses: Array<{ address: string, family: number }>
    try {
      addresses = isIP(host) !== 0 ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true })
    } catch {
      throw refuse(url, `the host ${host} could not be resolved`)
    }
    const first = addresses[0]
    if (first === undefined) throw refuse(url, `the host ${host} has no address`)
    if (!opts.allowPrivate && addresses.some((a) => isBlockedAddress(a.address))) {
      throw refuse(url, 'it points at a loopback, private or link-local address')
    }
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if (typeof options === 'object' && options.all === true) callback(null, [first])
      else callback(null, first.address, first.family)
    }
    const dispatcher = new Agent({ connect: { lookup: pinned }, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs })
    try {
      const res = await request(current, { method: 'GET', signal: deadline, dispatcher, headers: { accept: 'image/png, image/jpeg, image/gif, image/webp' } })
      if (res.statusCode >= 300 && res.statusCode < 400 && typeof res.headers.location === 'string') {
        await res.body.dump()
        current = new URL(res.headers.location, current)
        continue
      }
      if (res.statusCode !== 200) {
        await res.body.dump()
        throw refuse(url, `the server answered HTTP ${res.statusCode}`)
      }
      const declared = String(res.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? ''
      if (!IMAGE_TYPES.has(declared)) {
        await res.body.dump()
        throw refuse(url, `its content type ${declared === '' ? '(none)' : declared} is not PNG, JPEG, GIF or WebP`)
      }
      const length = Number(res.headers['content-length'] ?? 0)
      if (length > opts.maxBytes) {
        await res.body.dump()
        throw refuse(url, `it is larger than ${opts.maxBytes} bytes`)
      }
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length
        if (size > opts.maxBytes) {
          res.body.destroy()
          throw refuse(url, `it is larger than ${opts.maxBytes} bytes`)
        }
        chunks.push(chunk as Buffer)
      }
      const bytes = Buffer.concat(chunks)
      const actual = sniff(bytes)
      if (actual === undefined) throw refuse(url, 'its bytes are not a PNG, JPEG, GIF or WebP image')
      return `data:${actual};base64,${bytes.toString('base64')}`
    } catch (err) {
      if (signal.aborted) throw signal.reason
      if (deadline.aborted) throw refuse(url, `the download took longer than ${opts.timeoutMs} ms`)
      if (isApiError(err)) throw err
      throw refuse(url, `the download failed (${err instanceof Error ? err.message : String(err)})`)
    } finally {
      await dispatcher.close()
    }
  }
  throw refuse(url, `more than ${MAX_REDIRECTS} redirects`)
}
