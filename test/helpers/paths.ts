import { join, resolve } from 'node:path'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')

/** The fake Codex executables (proto protocol) under test/fixtures/codex-shim. */
export type ShimVariant = 'proto' | 'hang' | 'crash' | 'never-complete' | 'slow' | 'garbage' | 'noisy' | 'record'
export const shimPath = (variant: ShimVariant = 'proto'): string => join(REPO_ROOT, 'test/fixtures/codex-shim', `codex-${variant}.mjs`)
