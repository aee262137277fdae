import { execFileSync } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

function newestSource (root: string): number {
  let newest = 0
  for (const dir of ['src', 'plugins', 'routes']) {
    for (const name of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (name.endsWith('.ts')) newest = Math.max(newest, statSync(join(root, dir, name)).mtimeMs)
    }
  }
  return newest
}

/**
 * The proxy runs from dist/ (what ships), so a stale build would measure old code: rebuild when
 * any source is newer than the last build (tsc rewrites every output, so one file dates it).
 */
export function ensureBuilt (root: string, mode: 'auto' | 'always' | 'never', log: (line: string) => void): void {
  if (mode === 'never') return
  let built = 0
  try {
    built = statSync(join(root, 'dist/src/build.js')).mtimeMs
  } catch {
    // Never built.
  }
  if (mode === 'auto' && built >= newestSource(root)) return
  log('building dist/ (tsc -p tsconfig.build.json)')
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' })
}
