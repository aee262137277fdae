// Types of scripts/launch-lib.mjs (plain JavaScript, run by node without a build) for the tests.

export declare const ENV_FILES: readonly string[]
export declare const DEFAULT_CODEX_HOME: string
export declare const SHIM_RELATIVE_PATH: string
export declare const SEED_FILES: readonly string[]
export declare const SHOWN_SETTINGS: readonly string[]

type Env = Record<string, string | undefined>

export declare function parseEnv (text: string): { vars: Record<string, string>, badLines: number[] }

export declare function layerEnv (
  env: Env,
  layers: ReadonlyArray<{ name: string, vars: Record<string, string> }>
): { set: Record<string, string>, source: Record<string, string> }

export declare function loadEnvFiles (
  root: string,
  env: Env,
  files?: readonly string[]
): { loaded: string[], applied: string[], badLines: string[] }

export declare function isSecretName (name: string): boolean
export declare function describeSettings (env: Env): string
export declare function resolveCodexHome (env: Env, root: string): string
export declare function findSeedDir (root: string, exists?: (path: string) => boolean): string | undefined
export declare function seedCodexHome (home: string, seedDir: string | undefined): string[]

export type BackendDecision =
  | { kind: 'configured' }
  | { kind: 'ready' }
  | { kind: 'shim', env: { CODEX_BACKEND: 'proto', CODEX_BIN: string } }
  | { kind: 'not-logged-in' }

export declare function decideBackend (input: {
  env: Env
  hasAuth: boolean
  shimPath: string
  shimExists: boolean
}): BackendDecision

export declare function loginHint (home: string): string[]
