import type { ConversationItem, JsonSchema, ToolChoice, ToolSpec } from '../backends/types.js'
import { invalidRequest } from '../errors.js'
import { MAX_SCHEMA_DEPTH, checkJsonSchema } from './json-schema-check.js'

// What every dialect does with the tools and the turn it was given, written once: the dialects
// differ in field names (`param`), not in the rules.

const TOOL_NAME = /^[A-Za-z0-9_.:-]{1,128}$/
const EMPTY_PARAMETERS: JsonSchema = { type: 'object', properties: {} }

export interface ToolDefinition {
  name: unknown
  description?: unknown
  parameters?: unknown
  strict?: unknown
}

/** A tool name the upstream accepts, or a 400 naming `param`. */
export function checkToolName (name: unknown, param: string): string {
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    throw invalidRequest('Tool names may contain letters, digits and _ . : - (1 to 128 characters).', param, 'invalid_value')
  }
  return name
}

/**
 * A function tool in the neutral shape: its name checked, its parameter schema checked as a JSON
 * Schema (an object with no properties when it has none). `param` names the definition.
 */
export function functionToolSpec (def: ToolDefinition, param: string, schemaParam = `${param}.parameters`, namespace?: ToolSpec['namespace']): ToolSpec {
  const name = checkToolName(def.name, `${param}.name`)
  const parameters = def.parameters
  if (parameters !== undefined && parameters !== null && (typeof parameters !== 'object' || Array.isArray(parameters))) {
    throw invalidRequest('The parameter schema must be a JSON Schema object.', schemaParam)
  }
  if (parameters !== undefined && parameters !== null) checkJsonSchema(parameters as JsonSchema, schemaParam, MAX_SCHEMA_DEPTH)
  return {
    name,
    description: typeof def.description === 'string' ? def.description : undefined,
    parameters: (parameters ?? EMPTY_PARAMETERS) as JsonSchema,
    strict: typeof def.strict === 'boolean' ? def.strict : undefined,
    namespace
  }
}

/** Collects tools, refusing a name given twice (within its namespace). */
export class ToolList {
  readonly tools: ToolSpec[] = []
  readonly #seen = new Set<string>()

  add (spec: ToolSpec, param: string): void {
    const key = `${spec.namespace?.name ?? ''}/${spec.name}`
    if (this.#seen.has(key)) throw invalidRequest(`Duplicate tool name \`${spec.name}\`.`, `${param}.name`)
    this.#seen.add(key)
    this.tools.push(spec)
  }
}

/** A tool choice that can be honoured with these tools (`none` when there are none), or a 400 naming `param`. */
export function checkToolChoice (choice: ToolChoice, tools: readonly ToolSpec[], param: string): ToolChoice {
  if (choice === 'required' && tools.length === 0) throw invalidRequest('A tool choice that requires a tool call needs at least one tool.', param)
  if (typeof choice === 'object' && !tools.some((t) => t.name === choice.name)) {
    throw invalidRequest(`The tool choice names \`${choice.name.slice(0, 128)}\`, which is not among the tools.`, param)
  }
  return tools.length === 0 ? 'none' : choice
}

/** A turn needs something to answer: a user message or a tool result. */
export function requireTurnInput (items: readonly ConversationItem[], message: string, param: string): void {
  if (!items.some((item) => (item.type === 'message' && item.role === 'user') || item.type === 'tool_result')) throw invalidRequest(message, param)
}
