#!/usr/bin/env node
// Entry of `npm start` (node scripts/launch.mjs → dist/src/server.js) and `npm run dev`
// (node --import tsx scripts/launch.mjs --dev → src/server.ts), and the Docker image's CMD.
//
// 1. loads .env, then .env.secret, from the repository root, never overriding the real
//    environment, and never printing a value that could be secret;
// 2. resolves CODEX_HOME (default .codex-api, relative to the repository root), creates it and
//    seeds config.toml from seed/ (image) or .codev/ (checkout) when missing;
// 3. without CODEX_BACKEND and without a Codex login, runs the fake Codex in a checkout (with a
//    warning), or, where there is none (the image), prints how to log in and starts anyway so
//    that /readyz reports the problem;
// 4. imports the server.
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  decideBackend, describeSettings, findSeedDir, loadEnvFiles, loginHint, resolveCodexHome,
  seedCodexHome, SHIM_RELATIVE_PATH
} from './launch-lib.mjs'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dev = process.argv.includes('--dev')
const say = (msg) => process.stderr.write(`[launch] ${msg}\n`)

// 1. Environment files.
const env = loadEnvFiles(root, process.env)
say(env.loaded.length > 0
  ? `loaded ${env.loaded.join(', ')} (${env.applied.length} variable(s) not already set in the environment)`
  : 'no .env or .env.secret: using the environment only')
if (env.badLines.length > 0) say(`ignored unparsable line(s): ${env.badLines.join(', ')}`)

// 2. Codex HOME.
const home = resolveCodexHome(process.env, root)
process.env.CODEX_HOME = home
try {
  const copied = seedCodexHome(home, findSeedDir(root))
  if (copied.length > 0) say(`seeded ${copied.join(', ')} into ${home}`)
} catch (err) {
  // Start anyway: the backend refuses an unusable CODEX_HOME and /readyz says why.
  say(`WARNING: cannot prepare CODEX_HOME ${home}: ${err instanceof Error ? err.message : String(err)}`)
}

// 3. Backend: fake Codex, or a login hint.
const shimPath = join(root, SHIM_RELATIVE_PATH)
const decision = decideBackend({
  env: process.env,
  hasAuth: existsSync(join(home, 'auth.json')),
  shimPath,
  shimExists: existsSync(shimPath)
})
if (decision.kind === 'shim') {
  Object.assign(process.env, decision.env)
  say(`WARNING: no Codex login in ${home} (no auth.json, CODEX_API_KEY unset) and CODEX_BACKEND is not set:`)
  say('         running the FAKE development Codex (an echo shim): answers do NOT come from a model.')
  for (const line of loginHint(home)) say(`         ${line}`)
  say('         Or set CODEX_BACKEND explicitly to skip this fallback.')
} else if (decision.kind === 'not-logged-in') {
  say(`WARNING: no Codex login found in ${home} (no auth.json, CODEX_API_KEY unset); /readyz will report it.`)
  for (const line of loginHint(home)) say(`         ${line}`)
  say('         (Ignore this if config.toml points Codex at a provider that needs no login.)')
}
say(describeSettings(process.env))

// 4. The server.
const entry = new URL(dev ? '../src/server.ts' : '../dist/src/server.js', import.meta.url)
if (!existsSync(fileURLToPath(entry))) {
  say(`ERROR: ${fileURLToPath(entry)} does not exist: ${dev ? 'run from a checkout' : 'run `npm run build` first'}`)
  process.exit(1)
}
await import(entry.href)
