import { readFileSync } from 'node:fs'

/** This package's version (from src/ or from dist/src/, whichever this file runs from). */
export function packageVersion (): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'codex-completions-api' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // Not at this level.
    }
  }
  return '0.0.0'
}
