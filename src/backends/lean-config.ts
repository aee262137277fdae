import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Config } from '../config.js'
import type { CodexModel, ReasoningEffort } from './types.js'
import { isReasoningEffort } from './types.js'

/*
 * What makes Codex a plain model API (reference §2.12, §7): none of Codex's own prompt, context,
 * skills, plugins or tools reach the model, nothing can run on this host, threads are unloaded as
 * soon as they are unsubscribed, and Codex does not retry on its own (the proxy fails fast and
 * the client's SDK retries). Every key is checked under `--strict-config` by a test, so a Codex
 * upgrade that renames one fails loudly instead of silently re-enabling something.
 */
export const LEAN_CONFIG: readonly string[] = [
  'include_environment_context=false',
  'include_permissions_instructions=false',
  'include_apps_instructions=false',
  'include_collaboration_mode_instructions=false',
  'skills.include_instructions=false',
  'skills.bundled.enabled=false',
  'features.skip_host_skill_discovery=true',
  'project_doc_max_bytes=0',
  'web_search="disabled"',
  'suppress_unstable_features_warning=true',
  'tools.update_plan.enabled=false',
  'tools.experimental_request_user_input.enabled=false',
  'thread_unload_delay_secs=0',
  'history.persistence="none"'
]

export const LEAN_DISABLED_FEATURES: readonly string[] = [
  'shell_tool', 'unified_exec', 'shell_snapshot', 'view_image', 'image_generation', 'apps', 'plugins',
  'remote_plugin', 'tool_suggest', 'skill_search', 'sleep_tool', 'goals', 'multi_agent', 'code_mode_host',
  'browser_use', 'computer_use', 'in_app_browser', 'hooks', 'daemon_auto_start', 'unbounded_connection_retries'
]

export interface LeanArgsOptions {
  /** The model catalog written by writeLeanCatalog. */
  catalogPath?: string | undefined
  /** The custom provider (config.toml or CODEX_FORCE_PROVIDER) whose retries are switched off. */
  providerId?: string | undefined
  sandbox: Config['PROXY_SANDBOX_MODE']
}

/** The `-c` / `--disable` arguments shared by `app-server` and `exec`. Nothing here comes from a request. */
export function leanArgs (opts: LeanArgsOptions): string[] {
  const args: string[] = []
  for (const kv of LEAN_CONFIG) args.push('-c', kv)
  args.push('-c', `sandbox_mode="${opts.sandbox}"`)
  if (opts.providerId !== undefined) {
    args.push('-c', `model_provider="${opts.providerId}"`)
    args.push('-c', `model_providers.${opts.providerId}.request_max_retries=0`)
    args.push('-c', `model_providers.${opts.providerId}.stream_max_retries=0`)
  }
  if (opts.catalogPath !== undefined) args.push('-c', `model_catalog_json=${JSON.stringify(opts.catalogPath)}`)
  for (const feature of LEAN_DISABLED_FEATURES) args.push('--disable', feature)
  return args
}

const PROVIDER_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * The custom model provider Codex will use: CODEX_FORCE_PROVIDER, else a top-level
 * `model_provider = "…"` in CODEX_HOME/config.toml that names a `[model_providers.…]` table
 * there. The built-in `openai` provider cannot be re-configured, so it yields undefined.
 */
export function customProviderId (config: Pick<Config, 'CODEX_FORCE_PROVIDER' | 'CODEX_HOME'>): string | undefined {
  if (config.CODEX_FORCE_PROVIDER !== undefined) return config.CODEX_FORCE_PROVIDER === 'openai' ? undefined : config.CODEX_FORCE_PROVIDER
  let toml: string
  try {
    toml = readFileSync(join(config.CODEX_HOME, 'config.toml'), 'utf8')
  } catch {
    return undefined
  }
  // Only the part before the first table header holds top-level keys.
  const topLevel = toml.split(/^\s*\[/m, 1)[0] ?? ''
  const match = /^\s*model_provider\s*=\s*["']([^"']+)["']/m.exec(topLevel)
  const id = match?.[1]
  if (id === undefined || id === 'openai' || !PROVIDER_ID.test(id)) return undefined
  const table = new RegExp(`^\\s*\\[model_providers\\.(?:"${id}"|${id})\\]`, 'm')
  return table.test(toml) ? id : undefined
}

/** Catalog entry fields that add Codex's persona, tools or agent machinery to a request. */
const DROPPED_FIELDS = ['apply_patch_tool_type', 'model_messages', 'tool_mode', 'multi_agent_version', 'multi_agent_reasoning_effort']

type CatalogEntry = Record<string, unknown>

/**
 * Rewrites Codex's model catalog (`codex debug models`) so that every model sends only the
 * client's messages: no base prompt (an empty one sends no developer message at all), no
 * apply_patch or other built-in tool, no multi-agent messages, no forced verbosity. Hidden
 * models are dropped.
 */
export function leanCatalog (raw: { models?: unknown }): { models: CatalogEntry[] } {
  const models = Array.isArray(raw.models) ? (raw.models as CatalogEntry[]) : []
  return {
    models: models
      .filter((m) => typeof m.slug === 'string' && m.visibility !== 'hide')
      .map((m) => {
        const entry: CatalogEntry = { ...m }
        for (const field of DROPPED_FIELDS) delete entry[field]
        entry.base_instructions = ''
        entry.experimental_supported_tools = []
        entry.include_skills_usage_instructions = false
        entry.include_plugin_usage_instructions = false
        entry.include_apps_usage_instructions = false
        entry.use_responses_lite = false
        entry.support_verbosity = false
        entry.supports_search_tool = false
        return entry
      })
  }
}

/** The catalog as the neutral model list (slugs, efforts, default). */
export function catalogModels (catalog: { models: CatalogEntry[] }): CodexModel[] {
  const byPriority = [...catalog.models].sort((a, b) => Number(a.priority ?? 1e9) - Number(b.priority ?? 1e9))
  const defaultSlug = byPriority[0]?.slug
  return catalog.models.map((m) => {
    const levels = Array.isArray(m.supported_reasoning_levels) ? m.supported_reasoning_levels as Array<{ effort?: unknown }> : []
    const efforts = levels.map((l) => l.effort).filter((e): e is ReasoningEffort => isReasoningEffort(e))
    return {
      slug: String(m.slug),
      displayName: typeof m.display_name === 'string' ? m.display_name : String(m.slug),
      efforts,
      defaultEffort: isReasoningEffort(m.default_reasoning_level) ? m.default_reasoning_level : undefined,
      isDefault: m.slug === defaultSlug
    }
  })
}

const execFileAsync = promisify(execFile)

/**
 * Asks the Codex binary for its model catalog and writes the lean version to `dir/models.json`.
 * `codex debug models` reads the bundled (or cached) catalog; it needs no login.
 */
export async function writeLeanCatalog (bin: string, env: NodeJS.ProcessEnv, dir: string): Promise<{ path: string, models: CodexModel[] }> {
  const { stdout } = await execFileAsync(bin, ['debug', 'models'], { env, timeout: 30_000, maxBuffer: 64 * 1024 * 1024 })
  const catalog = leanCatalog(JSON.parse(stdout) as { models?: unknown })
  if (catalog.models.length === 0) throw new Error('codex debug models returned no models')
  await mkdir(dir, { recursive: true })
  const path = join(dir, 'models.json')
  await writeFile(path, JSON.stringify(catalog))
  return { path, models: catalogModels(catalog) }
}
