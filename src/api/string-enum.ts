import { Type, type TUnsafe } from '@sinclair/typebox'

/** A string enum as JSON Schema `enum`, so validation errors list the allowed values. */
export function StringEnum<const T extends readonly string[]> (values: T, options: Record<string, unknown> = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}
