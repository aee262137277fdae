import { invalidRequest } from '../errors.js'

/*
 * Bounds on the ids and names a client sends back in a conversation (call ids, item ids, tool and
 * namespace names of earlier calls), the same on every dialect: chat completions holds them in its
 * schema (maxLength), the Responses and Messages translators, whose items are checked one by one,
 * with the helpers below. Real ids are short (`call_…`, `fc_…`, `toolu_…`); the bounds keep a
 * body from carrying megabytes in a field that is copied into every later request, the response
 * store and the upstream history.
 */

/** Longest id: a tool call id, the id of a replayed item. */
export const MAX_ID_LENGTH = 512
/** Longest name of a replayed tool call (or its namespace); declared tools are held to checkToolName. */
export const MAX_NAME_LENGTH = 256

/** A JSON object from a request, before it is checked. */
export type Raw = Record<string, unknown>
export const isObject = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v)

/** `raw[key]` as a non-empty string of at most `max` characters, or a 400 naming `param.key`. */
export function requiredString (raw: Raw, key: string, param: string, max: number): string {
  const value = raw[key]
  if (typeof value !== 'string' || value.length === 0) throw invalidRequest(`\`${key}\` must be a non-empty string.`, `${param}.${key}`)
  return withinLength(value, key, param, max)
}

/**
 * `raw[key]` when it is a string (clients send null, or nothing, for fields they do not have),
 * else undefined; a string longer than `max` is a 400 naming `param.key`.
 */
export function optionalString (raw: Raw, key: string, param: string, max: number): string | undefined {
  const value = raw[key]
  return typeof value === 'string' ? withinLength(value, key, param, max) : undefined
}

function withinLength (value: string, key: string, param: string, max: number): string {
  if (value.length > max) throw invalidRequest(`\`${key}\` is longer than ${max} characters.`, `${param}.${key}`, 'string_above_max_length')
  return value
}
