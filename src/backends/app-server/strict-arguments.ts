import { Ajv, type ValidateFunction } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import formats, { type FormatsPlugin } from 'ajv-formats'
import type { Logger } from '../../logger.js'
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

const draft07 = addFormats(new Ajv({ strict: false, allErrors: true }))
const draft2020 = addFormats(new Ajv2020({ strict: false, allErrors: true }))

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

  get any (): boolean {
    return this.#tools.size > 0
  }

  #validator (key: string): ValidateFunction | null {
    const known = this.#validators.get(key)
    if (known !== undefined) return known
    const tool = this.#tools.get(key)
    let validate: ValidateFunction | null = null
    if (tool !== undefined) {
      const { $schema: dialect, ...schema } = tool.parameters
      const ajv = typeof dialect === 'string' && dialect.includes('2020-12') ? draft2020 : draft07
      try {
        validate = ajv.compile(schema)
      } catch (err) {
        // A schema Ajv cannot compile (an unresolvable $ref) is not enforced rather than failing the turn.
        this.#log.warn({ err, tool: tool.name }, 'strict tool schema cannot be compiled; its arguments are not checked')
      }
    }
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
