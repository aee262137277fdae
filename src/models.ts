import { MODEL_ID_PATTERN } from './config.js'
import { invalidRequest, notFound } from './errors.js'
import { REASONING_EFFORTS, isReasoningEffort, type CodexModel, type ReasoningEffort } from './backends/types.js'

/** The proxy's own model ids: `codex-5` runs CODEX_MODEL (or Codex's default), the suffix sets effort. */
export const ALIAS_BASE = 'codex-5'
export const ALIAS_EFFORTS: readonly ReasoningEffort[] = ['minimal', 'low', 'medium', 'high']
const CODEX_PREFIX = 'codex/'
const modelIdRe = new RegExp(MODEL_ID_PATTERN)

export interface ModelEntry {
  /** The id clients send. */
  id: string
  /** The Codex model it runs; undefined = Codex's default. */
  model: string | undefined
  effort: ReasoningEffort | undefined
}

export interface ResolvedModel extends ModelEntry {
  /** The model the backend will actually run, for logs and usage: a slug or "default". */
  effective: string
}

/** Every model id the proxy offers: the `codex-5` aliases, then each Codex model with an id per effort. */
export function listModels (codexModels: readonly CodexModel[], configuredModel: string | undefined): ModelEntry[] {
  const entries: ModelEntry[] = [{ id: ALIAS_BASE, model: configuredModel, effort: undefined }]
  for (const effort of ALIAS_EFFORTS) entries.push({ id: `${ALIAS_BASE}-${effort}`, model: configuredModel, effort })
  for (const m of codexModels) {
    entries.push({ id: m.slug, model: m.slug, effort: undefined })
    for (const effort of m.efforts) entries.push({ id: `${m.slug}-${effort}`, model: m.slug, effort })
  }
  return entries
}

/** Splits a trailing `-<effort>` off an id. */
function splitEffort (id: string): { base: string, effort: ReasoningEffort | undefined } {
  const dash = id.lastIndexOf('-')
  if (dash > 0) {
    const suffix = id.slice(dash + 1).toLowerCase()
    if (isReasoningEffort(suffix)) return { base: id.slice(0, dash), effort: suffix }
  }
  return { base: id, effort: undefined }
}

/**
 * Maps a requested model id to a Codex model and effort. Ids outside the safe character set are
 * refused before anything else sees them. With a known catalog, unknown models are a 404, as
 * OpenAI answers; without one (legacy backends), a safe id is passed through.
 */
export function resolveModel (
  requested: string,
  codexModels: readonly CodexModel[],
  configuredModel: string | undefined,
  /** The id to echo back and log, when `requested` is what another id was mapped to (`claude-*`). */
  shownAs = requested
): ResolvedModel {
  if (!modelIdRe.test(requested)) {
    throw invalidRequest('Invalid model id: use letters, digits and . _ : / - (at most 128 characters).', 'model', 'invalid_value')
  }
  const lower = requested.toLowerCase()
  const withEffective = (model: string | undefined, effort: ReasoningEffort | undefined): ResolvedModel =>
    ({ id: shownAs, model, effort: clampEffort(effort, findModel(codexModels, model)), effective: model ?? 'default' })

  const alias = splitEffort(lower)
  if (lower === ALIAS_BASE || (alias.base === ALIAS_BASE && alias.effort !== undefined)) {
    return withEffective(configuredModel, alias.effort)
  }
  const bare = requested.startsWith(CODEX_PREFIX) ? requested.slice(CODEX_PREFIX.length) : requested
  // What follows the prefix must itself be a valid id (`codex/--help` is not).
  if (!modelIdRe.test(bare)) throw invalidRequest('Invalid model id.', 'model', 'invalid_value')
  if (codexModels.length === 0) return withEffective(bare, undefined)
  if (findModel(codexModels, bare) !== undefined) return withEffective(bare, undefined)
  const split = splitEffort(bare)
  if (split.effort !== undefined && findModel(codexModels, split.base) !== undefined) return withEffective(split.base, split.effort)
  const mapped = shownAs === requested ? '' : ` (what \`${shownAs}\` maps to)`
  throw notFound(`The model \`${requested}\`${mapped} does not exist. GET /v1/models lists the models this server offers.`, 'model_not_found', 'model')
}

function findModel (codexModels: readonly CodexModel[], slug: string | undefined): CodexModel | undefined {
  if (slug === undefined) return codexModels.find((m) => m.isDefault)
  return codexModels.find((m) => m.slug === slug)
}

/**
 * An effort the model does not support becomes the nearest one it does (ties go to the lower),
 * so `minimal` on a model whose lowest is `low` runs `low` instead of failing upstream.
 */
export function clampEffort (effort: ReasoningEffort | undefined, model: CodexModel | undefined): ReasoningEffort | undefined {
  if (effort === undefined || model === undefined || model.efforts.length === 0 || model.efforts.includes(effort)) return effort
  const rank = (e: ReasoningEffort): number => REASONING_EFFORTS.indexOf(e)
  const target = rank(effort)
  let best = model.efforts[0] as ReasoningEffort
  for (const candidate of model.efforts) {
    const d = Math.abs(rank(candidate) - target)
    const bestD = Math.abs(rank(best) - target)
    if (d < bestD || (d === bestD && rank(candidate) < rank(best))) best = candidate
  }
  return best
}

/** A reasoning effort as a client wrote it (any case); a value Codex does not know is a 400 naming `param`. */
export function parseEffort (raw: string | null | undefined, param: string): ReasoningEffort | undefined {
  if (raw === undefined || raw === null) return undefined
  const value = raw.toLowerCase()
  if (!isReasoningEffort(value)) {
    throw invalidRequest(`Unsupported reasoning effort \`${raw.slice(0, 32)}\`; use one of ${REASONING_EFFORTS.join(', ')}.`, param, 'invalid_value')
  }
  return value
}

/** The body's explicit effort (`reasoning.effort` or `reasoning_effort`) wins over the model variant. */
export function withRequestedEffort (
  resolved: ResolvedModel,
  effort: ReasoningEffort | undefined,
  codexModels: readonly CodexModel[]
): ResolvedModel {
  if (effort === undefined) return resolved
  return { ...resolved, effort: clampEffort(effort, findModel(codexModels, resolved.model)) }
}
