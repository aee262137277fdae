import { ConfigSchema } from './config.js'

interface DocumentedSchema {
  default?: unknown
  docDefault?: string
  description?: string
  enum?: unknown[]
  anyOf?: Array<{ const?: unknown }>
}

function defaultText (schema: DocumentedSchema): string {
  if (schema.docDefault !== undefined) return schema.docDefault
  if (schema.default === undefined) return '(unset)'
  return `\`${String(schema.default)}\``
}

function choicesText (schema: DocumentedSchema): string {
  const values = schema.enum ?? schema.anyOf?.map((s) => s.const).filter((v) => v !== undefined)
  return values === undefined || values.length === 0 ? '' : ` One of ${values.map((v) => `\`${String(v)}\``).join(', ')}.`
}

/** The README's configuration table, generated from the one config schema. */
export function configTable (): string {
  const rows = Object.entries(ConfigSchema.properties as Record<string, DocumentedSchema>).map(([name, schema]) =>
    `| \`${name}\` | ${defaultText(schema)} | ${(schema.description ?? '').replace(/\|/g, '\\|')}${choicesText(schema)} |`)
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n')
}
