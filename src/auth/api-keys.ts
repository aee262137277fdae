import { readFileSync, statSync } from 'node:fs'
import { ANONYMOUS_KEY_NAME, NO_KEY_LABEL } from '../metric-labels.js'
import { OTHER } from '../usage/dimensions.js'
import type { NamedKey } from './key-ring.js'

/** The key every install knows: accepted only when no key is configured at all. */
export const DEFAULT_KEY = 'codex-local-secret'
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/
/**
 * Names the usage rollups and the metrics use themselves (what a full dictionary folds new names
 * into, what a request without a key counts as): a key named so would share their counts, and
 * a non-admin key so named would see them as its own usage.
 */
export const RESERVED_KEY_NAMES: ReadonlySet<string> = new Set([OTHER, NO_KEY_LABEL, ANONYMOUS_KEY_NAME])

export interface ParsedKeys {
  keys: NamedKey[]
  /** What is wrong, by position; never a key's value. */
  problems: string[]
}

/**
 * `name=key` pairs, one per entry (`PROXY_API_KEYS` splits at commas, a keys file at lines; `#`
 * starts a comment line in a file). Names are `[A-Za-z0-9._-]{1,64}`, unique; keys non-empty,
 * without spaces, unique. The key is everything after the first `=`.
 */
export function parseKeyPairs (entries: readonly string[], source: string): ParsedKeys {
  const parsed: ParsedKeys = { keys: [], problems: [] }
  const names = new Set<string>()
  const values = new Set<string>()
  for (const [i, raw] of entries.entries()) {
    const entry = raw.trim()
    if (entry.length === 0 || entry.startsWith('#')) continue
    const at = `${source} entry ${i + 1}`
    const eq = entry.indexOf('=')
    const name = eq === -1 ? '' : entry.slice(0, eq).trim()
    const key = eq === -1 ? '' : entry.slice(eq + 1).trim()
    const problem = !KEY_NAME_PATTERN.test(name)
      ? `${at}: expected name=key with a name of letters, digits and . _ - (at most 64)`
      : RESERVED_KEY_NAMES.has(name)
        ? `${at}: the name ${name} is reserved (${[...RESERVED_KEY_NAMES].join(', ')}); choose another`
        : key.length === 0 || /\s/.test(key)
          ? `${at} (${name}): the key is empty or contains spaces`
          : names.has(name)
            ? `${at}: the name ${name} is used twice`
            : values.has(key)
              ? `${at} (${name}): the same key is configured twice`
              : key === DEFAULT_KEY ? `${at} (${name}): that is the well-known default key; choose a secret one` : undefined
    if (problem !== undefined) {
      parsed.problems.push(problem)
      continue
    }
    names.add(name)
    values.add(key)
    parsed.keys.push({ name, key })
  }
  return parsed
}

export interface KeySources {
  PROXY_API_KEY?: string | undefined
  PROXY_API_KEYS?: string | undefined
  PROXY_API_KEYS_FILE?: string | undefined
}

export function readKeysFile (path: string): ParsedKeys {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    return { keys: [], problems: [`PROXY_API_KEYS_FILE ${path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`] }
  }
  return parseKeyPairs(text.split(/\r?\n/), `PROXY_API_KEYS_FILE ${path}`)
}

/** A keys file's identity, to notice it changed (mtime and size), or undefined when it is missing. */
export function keysFileStamp (path: string): string | undefined {
  try {
    const stats = statSync(path)
    return `${stats.mtimeMs}:${stats.size}:${stats.ino}`
  } catch {
    return undefined
  }
}

/**
 * Every key the server accepts, with its name: PROXY_API_KEY as `default`, then PROXY_API_KEYS,
 * then the keys file. With none configured, the well-known default key (as `default`), so that a
 * fresh local install works; never alongside keys of one's own.
 */
export function configuredKeys (sources: KeySources): ParsedKeys {
  const keys: NamedKey[] = []
  const problems: string[] = []
  if (sources.PROXY_API_KEY !== undefined) keys.push({ name: 'default', key: sources.PROXY_API_KEY })
  const lists: ParsedKeys[] = []
  if (sources.PROXY_API_KEYS !== undefined) lists.push(parseKeyPairs(sources.PROXY_API_KEYS.split(','), 'PROXY_API_KEYS'))
  if (sources.PROXY_API_KEYS_FILE !== undefined) lists.push(readKeysFile(sources.PROXY_API_KEYS_FILE))
  for (const list of lists) {
    problems.push(...list.problems)
    for (const k of list.keys) {
      if (keys.some((o) => o.name === k.name)) problems.push(`the key name ${k.name} is configured twice`)
      else if (keys.some((o) => o.key === k.key)) problems.push(`the key named ${k.name} is the same as another`)
      else keys.push(k)
    }
  }
  if (keys.length === 0 && problems.length === 0 && sources.PROXY_API_KEYS_FILE === undefined) keys.push({ name: 'default', key: DEFAULT_KEY })
  return { keys, problems }
}
