import { describe, expect, it } from 'vitest'
import { ApiError } from '../../src/errors.js'
import { ALIAS_BASE, clampEffort, listModels, resolveModel, withRequestedEffort } from '../../src/models.js'
import type { CodexModel, ReasoningEffort } from '../../src/backends/types.js'
import { thrownBy } from './support.js'

const model = (slug: string, efforts: ReasoningEffort[], isDefault = false): CodexModel =>
  ({ slug, displayName: slug.toUpperCase(), efforts, defaultEffort: efforts[0], isDefault })

const CATALOG: CodexModel[] = [
  model('gpt-5.5', ['low', 'medium', 'high', 'xhigh'], true),
  model('gpt-6-mini', ['none', 'medium'])
]

function openAIError (fn: () => unknown): ApiError {
  const err = thrownBy(fn)
  expect(err).toBeInstanceOf(ApiError)
  return err as ApiError
}

describe('listModels', () => {
  it('lists the codex-5 aliases without a catalog', () => {
    const entries = listModels([], 'gpt-5')
    expect(entries).toEqual([
      { id: 'codex-5', model: 'gpt-5', effort: undefined },
      { id: 'codex-5-minimal', model: 'gpt-5', effort: 'minimal' },
      { id: 'codex-5-low', model: 'gpt-5', effort: 'low' },
      { id: 'codex-5-medium', model: 'gpt-5', effort: 'medium' },
      { id: 'codex-5-high', model: 'gpt-5', effort: 'high' }
    ])
    expect(ALIAS_BASE).toBe('codex-5')
  })

  it('adds each Codex model with one id per effort it supports', () => {
    const ids = listModels(CATALOG, undefined).map((e) => e.id)
    expect(ids).toEqual([
      'codex-5', 'codex-5-minimal', 'codex-5-low', 'codex-5-medium', 'codex-5-high',
      'gpt-5.5', 'gpt-5.5-low', 'gpt-5.5-medium', 'gpt-5.5-high', 'gpt-5.5-xhigh',
      'gpt-6-mini', 'gpt-6-mini-none', 'gpt-6-mini-medium'
    ])
    const entries = listModels(CATALOG, undefined)
    expect(entries.find((e) => e.id === 'codex-5')?.model).toBeUndefined()
    expect(entries.find((e) => e.id === 'gpt-6-mini-none')).toEqual({ id: 'gpt-6-mini-none', model: 'gpt-6-mini', effort: 'none' })
    for (const e of entries) expect(e.id).not.toContain(' ')
  })
})

describe('resolveModel', () => {
  it('maps codex-5 to the configured model and no effort', () => {
    expect(resolveModel('codex-5', [], 'gpt-5')).toEqual({ id: 'codex-5', model: 'gpt-5', effort: undefined, effective: 'gpt-5' })
  })

  it('maps codex-5 without CODEX_MODEL to Codex\'s default', () => {
    expect(resolveModel('codex-5', [], undefined)).toEqual({ id: 'codex-5', model: undefined, effort: undefined, effective: 'default' })
  })

  it('reads the effort from a codex-5-<effort> alias (any case)', () => {
    expect(resolveModel('codex-5-high', [], 'gpt-5')).toEqual({ id: 'codex-5-high', model: 'gpt-5', effort: 'high', effective: 'gpt-5' })
    expect(resolveModel('Codex-5-Minimal', [], undefined)).toMatchObject({ model: undefined, effort: 'minimal', effective: 'default' })
  })

  it('clamps an alias effort to what the default model supports', () => {
    // gpt-5.5 (the catalog default) has no `minimal`: its lowest, `low`, runs instead.
    expect(resolveModel('codex-5-minimal', CATALOG, undefined)).toMatchObject({ model: undefined, effort: 'low' })
    expect(resolveModel('codex-5-minimal', CATALOG, 'gpt-6-mini')).toMatchObject({ model: 'gpt-6-mini', effort: 'none' })
  })

  it('strips the codex/ prefix', () => {
    expect(resolveModel('codex/gpt-5.5', CATALOG, undefined)).toEqual({ id: 'codex/gpt-5.5', model: 'gpt-5.5', effort: undefined, effective: 'gpt-5.5' })
    expect(resolveModel('codex/anything', [], undefined)).toMatchObject({ model: 'anything', effective: 'anything' })
  })

  it('splits <slug>-<effort> for a catalog model', () => {
    expect(resolveModel('gpt-5.5-xhigh', CATALOG, undefined)).toEqual({ id: 'gpt-5.5-xhigh', model: 'gpt-5.5', effort: 'xhigh', effective: 'gpt-5.5' })
    expect(resolveModel('codex/gpt-6-mini-medium', CATALOG, undefined)).toMatchObject({ model: 'gpt-6-mini', effort: 'medium' })
    // An effort the model lacks runs the nearest it has.
    expect(resolveModel('gpt-6-mini-high', CATALOG, undefined)).toMatchObject({ model: 'gpt-6-mini', effort: 'medium' })
  })

  it('answers an unknown model with a 404 model_not_found when the catalog is known', () => {
    const err = openAIError(() => resolveModel('gpt-4o', CATALOG, undefined))
    expect(err.statusCode).toBe(404)
    expect(err.kind).toBe('not_found')
    expect(err.code).toBe('model_not_found')
    expect(err.param).toBe('model')
    expect(err.message).toContain('`gpt-4o`')
    // An unknown slug with an effort suffix is still unknown.
    expect(openAIError(() => resolveModel('gpt-4o-high', CATALOG, undefined)).statusCode).toBe(404)
  })

  it('passes an unknown but safe model through without a catalog', () => {
    expect(resolveModel('gpt-4o', [], undefined)).toEqual({ id: 'gpt-4o', model: 'gpt-4o', effort: undefined, effective: 'gpt-4o' })
  })

  it.each([
    '--help', '-c x=y', '-c', 'codex/--help', 'codex/-c', 'codex/.x', 'a b', '$(id)', '`id`', 'x"y', "x'y", 'a;b', 'a\nb', 'a=b', '', '-', '.hidden', 'x'.repeat(129), 'codex/', 'ü'
  ])('refuses the id %j with a 400 on param model', (id) => {
    const err = openAIError(() => resolveModel(id, [], undefined))
    expect(err.statusCode).toBe(400)
    expect(err.kind).toBe('invalid_request')
    expect(err.param).toBe('model')
    expect(err.code).toBe('invalid_value')
  })

  it('accepts an id of exactly 128 characters', () => {
    const id = 'a'.repeat(128)
    expect(resolveModel(id, [], undefined).model).toBe(id)
  })
})

describe('clampEffort', () => {
  const m = (efforts: ReasoningEffort[]): CodexModel => model('m', efforts)

  it('keeps a supported effort', () => {
    expect(clampEffort('medium', m(['low', 'medium', 'high']))).toBe('medium')
  })
  it('keeps the effort when the model or its efforts are unknown', () => {
    expect(clampEffort('minimal', undefined)).toBe('minimal')
    expect(clampEffort('minimal', m([]))).toBe('minimal')
  })
  it('passes undefined through', () => {
    expect(clampEffort(undefined, m(['low']))).toBeUndefined()
  })
  it('maps minimal to the model\'s lowest effort', () => {
    expect(clampEffort('minimal', m(['low', 'medium', 'high']))).toBe('low')
    expect(clampEffort('minimal', m(['medium', 'high']))).toBe('medium')
  })
  it('maps to the nearest supported effort', () => {
    expect(clampEffort('ultra', m(['low', 'medium', 'high']))).toBe('high')
    expect(clampEffort('xhigh', m(['low', 'high', 'max']))).toBe('high')
    expect(clampEffort('none', m(['minimal', 'low']))).toBe('minimal')
  })
  it('breaks ties toward the lower effort, whatever the list order', () => {
    expect(clampEffort('medium', m(['low', 'high']))).toBe('low')
    expect(clampEffort('medium', m(['high', 'low']))).toBe('low')
    expect(clampEffort('minimal', m(['none', 'low']))).toBe('none')
    expect(clampEffort('xhigh', m(['ultra', 'high']))).toBe('high')
  })
})

describe('withRequestedEffort', () => {
  it('lets the body effort win over the model variant', () => {
    const resolved = resolveModel('codex-5-low', [], 'gpt-5')
    expect(withRequestedEffort(resolved, 'high', [])).toEqual({ id: 'codex-5-low', model: 'gpt-5', effort: 'high', effective: 'gpt-5' })
  })
  it('keeps the variant effort when the body has none', () => {
    const resolved = resolveModel('codex-5-low', [], 'gpt-5')
    expect(withRequestedEffort(resolved, undefined, [])).toBe(resolved)
  })
  it('clamps the body effort to the model', () => {
    const resolved = resolveModel('gpt-6-mini', CATALOG, undefined)
    expect(withRequestedEffort(resolved, 'high', CATALOG).effort).toBe('medium')
    const alias = resolveModel('codex-5', CATALOG, undefined)
    expect(withRequestedEffort(alias, 'minimal', CATALOG).effort).toBe('low')
  })
})
