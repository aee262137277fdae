import { Ajv, type ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import formats, { type FormatsPlugin } from 'ajv-formats'
import type { Logger } from '../../logger.js'
import { schemaDialect } from '../../turns/json-schema-check.js'
import type { ToolSpec } from '../types.js'

// ajv-formats is CommonJS: under Node's ESM interop its plugin is the default export's `default`.
const addFormats = (formats as unknown as { default: FormatsPlugin }).default

/*
 * Codex sends dynamic tools upstream with `strict: false` and without the keywords it prunes
 * (minLength, maxLength, pattern, format, minimum, maximum, default, maxItems, uniqueItems, …;
 * measured, docs/affinity.md), and it does not check the model's arguments. For a tool the client
 * marked strict, this server keeps the promise: the arguments are checked against the client's
 * whole schema here, and a call that breaks it is answered with the errors, so that the model
 * corrects itself within the turn, instead of reaching the client.
 */

// addUsedSchema: false, so that a schema with an `$id` is not registered under it (the next
// request's copy would then be refused as a duplicate id).
const AJV = {
  'draft-07': addFormats(new Ajv({ strict: false, allErrors: true, addUsedSchema: false })),
  '2020-12': addFormats(new Ajv2020({ strict: false, allErrors: true, addUsedSchema: false }))
}

/** Compiled schemas kept across requests (agents send the same tools every round), least recently used out first. */
const MAX_COMPILED = 256
const compiled = new Map<string, { validate: ValidateFunction | null, dialect: keyof typeof AJV, document: Record<string, unknown> }>()

function compiledFor (tool: ToolSpec, log: Logger): ValidateFunction | null {
  const { dialect, document } = schemaDialect(tool.parameters)
  const key = `${dialect} ${JSON.stringify(document)}`
  const known = compiled.get(key)
  if (known !== undefined) {
    compiled.delete(key)
    compiled.set(key, known)
    return known.validate
  }
  let validate: ValidateFunction | null = null
  try {
    validate = AJV[dialect].compile(document)
  } catch (err) {
    // A schema Ajv cannot compile (an unresolvable $ref) is not enforced rather than failing the turn.
    log.warn({ err, tool: tool.name }, 'strict tool schema cannot be compiled; its arguments are not checked')
  }
  compiled.set(key, { validate, dialect, document })
  for (const [old, entry] of compiled) {
    if (compiled.size <= MAX_COMPILED) break
    compiled.delete(old)
    // Ajv keeps what it compiled too, by the schema object.
    AJV[entry.dialect].removeSchema(entry.document)
  }
  return validate
}

export class StrictArguments {
  readonly #validators = new Map<string, ValidateFunction | null>()
  readonly #tools: ReadonlyMap<string, ToolSpec>
  readonly #log: Logger

  constructor (tools: readonly ToolSpec[], log: Logger) {
    this.#tools = new Map(tools.filter((t) => t.strict === true).map((t) => [StrictArguments.#key(t.name, t.namespace?.name), t]))
    this.#log = log
  }

  static #key (name: string, namespace: string | undefined): string {
    return `${namespace ?? ''}/${name}`
  }

  #validator (key: string): ValidateFunction | null {
    const known = this.#validators.get(key)
    if (known !== undefined) return known
    const tool = this.#tools.get(key)
    const validate = tool === undefined ? null : compiledFor(tool, this.#log)
    this.#validators.set(key, validate)
    return validate
  }

  /** Why a call's arguments break its strict tool's schema, or undefined when they do not (or it is not strict). */
  problem (name: string, namespace: string | undefined, args: string): string | undefined {
    const validate = this.#validator(StrictArguments.#key(name, namespace))
    if (validate === null) return undefined
    let value: unknown
    try {
      value = JSON.parse(args)
    } catch {
      return 'the arguments are not valid JSON'
    }
    if (validate(value)) return undefined
    return (validate.errors ?? []).slice(0, 8).map((e) => `${e.instancePath === '' ? '(root)' : e.instancePath} ${e.message ?? 'is invalid'}`).join('; ')
  }
}
