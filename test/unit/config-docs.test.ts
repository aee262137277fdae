import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigSchema } from '../../src/config.js'
import { configTable } from '../../src/config-docs.js'

// The README's configuration table is generated from the config schema (npm run docs:config):
// a variable added to the schema and not to the README fails here.

describe('README configuration table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const table = readme.slice(readme.indexOf('<!-- config:start -->') + '<!-- config:start -->'.length, readme.indexOf('<!-- config:end -->')).trim()

  it('is the table the schema generates', () => {
    expect(table).toBe(configTable())
  })

  it('documents every variable with a description', () => {
    for (const [name, schema] of Object.entries(ConfigSchema.properties as Record<string, { description?: string }>)) {
      expect(table).toContain(`| \`${name}\` |`)
      expect(schema.description?.length ?? 0).toBeGreaterThan(10)
    }
  })
})
