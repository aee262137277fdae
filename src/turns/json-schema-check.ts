import { Ajv, type ErrorObject } from 'ajv'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { invalidRequest } from '../errors.js'

/**
 * Deepest a schema (a tool's parameters, a structured output format) may nest. Codex drops a JSON-RPC line nested 128 levels
 * (serde's limit) without an answer, which for `thread/start` is a schema 62 levels deep
 * (measured; 61 works): the request would hang until its timeout. Real schemas are a few levels.
 */
export const MAX_SCHEMA_DEPTH = 60

// Schemas are checked as documents (against the meta-schema), never compiled here.
const draft07 = new Ajv({ strict: false, validateSchema: true })
const draft2020 = new Ajv2020({ strict: false, validateSchema: true })

/** Whether `value` nests deeper than `limit` (it stops looking once it does). */
function deeperThan (value: unknown, limit: number): boolean {
  let max = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, d] = next
    if (typeof node !== 'object' || node === null) continue
    max = Math.max(max, d)
    if (max > limit) return true
    for (const child of Object.values(node)) stack.push([child, d + 1])
  }
  return false
}

const where = (e: ErrorObject): string => e.instancePath.split('/').filter((s) => s.length > 0).map((s) => (/^\d+$/.test(s) ? `[${s}]` : `.${s}`)).join('')

/**
 * A client's schema as Ajv takes it: its dialect (draft-07 unless `$schema` names 2020-12) and
 * the document without `$schema`, which Ajv would otherwise try to resolve.
 */
export function schemaDialect (schema: Record<string, unknown>): { dialect: 'draft-07' | '2020-12', document: Record<string, unknown> } {
  const { $schema: named, ...document } = schema
  return { dialect: typeof named === 'string' && named.includes('2020-12') ? '2020-12' : 'draft-07', document }
}

/**
 * Refuses a client's schema (a tool's parameters, a structured output format) that is not a JSON
 * Schema (`"properties": 5`, `"required": "q"`, `"type": "objekt"`) or that nests too deep, with a
 * 400 naming where (`param`): Codex would refuse the whole request, or worse, send the tool
 * upstream with its parameters emptied, or the upstream would refuse it naming nothing the client
 * sent. Draft-07 unless the schema names 2020-12. `maxDepth` is for tool parameters (the limit of
 * `thread/start` above); an output format goes in `turn/start`, which the body's own depth limit
 * keeps well within Codex's.
 */
export function checkJsonSchema (schema: Record<string, unknown>, param: string, maxDepth = Number.POSITIVE_INFINITY): void {
  if (deeperThan(schema, maxDepth)) throw invalidRequest(`The schema nests more than ${maxDepth} levels deep.`, param, 'invalid_value')
  const { dialect, document } = schemaDialect(schema)
  const meta = dialect === '2020-12' ? draft2020 : draft07
  if (meta.validateSchema(document) === true) return
  const first = meta.errors?.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf') ?? meta.errors?.[0]
  const at = first === undefined ? '' : where(first)
  throw invalidRequest(`\`${param}\` is not a valid JSON Schema: ${at === '' ? 'the schema' : at.slice(1)} ${first?.message ?? 'is invalid'}.`, `${param}${at}`, 'invalid_value')
}
