import { isIP } from 'node:net'

/**
 * Origins a browser page may call this server from even with the default key: pages served from
 * this machine, and the desktop and IDE apps that embed a browser (Obsidian's `app://obsidian.md`,
 * VS Code webviews, Tauri apps). The same list as Ollama's defaults.
 */
export const LOCAL_ORIGINS: readonly string[] = [
  ...['localhost', '127.0.0.1', '[::1]'].flatMap((host) => [`http://${host}`, `https://${host}`, `http://${host}:*`, `https://${host}:*`]),
  'app://*',
  'file://*',
  'tauri://*',
  'vscode-webview://*',
  'vscode-file://*'
]

/** A comma-separated list with `*` wildcards (`http://my-host:*`), or `*` for everything. */
export type NamePattern = '*' | RegExp

export function namePattern (entries: readonly string[]): NamePattern {
  if (entries.includes('*')) return '*'
  const alternatives = entries.map((e) => e.toLowerCase().split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('[^/]*'))
  // Matches nothing when the list is empty.
  return new RegExp(`^(?:${alternatives.length === 0 ? '(?!)' : alternatives.join('|')})$`)
}

export const listOf = (value: string): string[] => value.split(',').map((v) => v.trim()).filter((v) => v.length > 0)

export interface BrowserPolicy {
  /** Origins whose pages may read this server's answers (CORS) and, with the default key, call it at all. */
  origins: NamePattern
  /** Host names this server answers to (besides loopback names, with the default key). */
  hosts: NamePattern
  /** The default key is in use: anyone's browser could present it, so origins and hosts are enforced. */
  enforce: boolean
}

/**
 * With the default key (which every web page knows), only this machine's pages and desktop apps
 * may call the server, and only under loopback host names (DNS rebinding); PROXY_CORS_ORIGINS and
 * PROXY_ALLOWED_HOSTS extend those lists. With a key of one's own, CORS allows what
 * PROXY_CORS_ORIGINS says (default `*`) and any Host is served unless PROXY_ALLOWED_HOSTS is set.
 */
export function browserPolicy (opts: { corsOrigins: string | undefined, allowedHosts: string | undefined, defaultKey: boolean }): BrowserPolicy {
  const origins = listOf(opts.corsOrigins ?? '')
  const hosts = listOf(opts.allowedHosts ?? '')
  if (opts.defaultKey) return { origins: namePattern([...LOCAL_ORIGINS, ...origins]), hosts: namePattern(hosts), enforce: true }
  return {
    origins: namePattern(opts.corsOrigins === undefined ? ['*'] : origins),
    hosts: namePattern(opts.allowedHosts === undefined ? ['*'] : hosts),
    enforce: opts.allowedHosts !== undefined
  }
}

/** The host name of a Host header (`[::1]:11435` → `::1`), lowercased. */
export function hostName (host: string): string {
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

export function isLoopbackName (name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (isIP(name) === 4) return name.startsWith('127.')
  return name === '::1'
}

const matches = (pattern: NamePattern, value: string): boolean => pattern === '*' || pattern.test(value.toLowerCase())

/** Whether a request under this Host header is served. */
export function hostAllowed (policy: BrowserPolicy, host: string): boolean {
  if (!policy.enforce || policy.hosts === '*') return true
  const name = hostName(host)
  return isLoopbackName(name) || matches(policy.hosts, name)
}

/** Whether a page from `origin` may call the server; a page of the server's own origin always may. */
export function originAllowed (policy: BrowserPolicy, origin: string, host: string | undefined): boolean {
  if (matches(policy.origins, origin)) return true
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase()
  } catch {
    return false
  }
}
