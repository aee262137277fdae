import { createHash } from 'node:crypto'
import { invalidSubject } from '../../errors.js'
import type { ToolChoice, ToolSpec } from '../types.js'

/*
 * What Codex 0.169 accepts as dynamic tool names (measured): `^[a-zA-Z0-9_-]+$`, at most 128
 * characters (namespaces 64), not `mcp` or `mcp__…`; namespaces not one of the Responses API's
 * own. `exec_command` and `shell_command` are accepted but silently dropped (Codex keeps them for
 * its own tools, and answers a call to them itself).
 */
const VALID = /^[A-Za-z0-9_-]+$/
const MCP = /^mcp(__|$)/
const KEPT_BY_CODEX = new Set(['exec_command', 'shell_command'])
const RESERVED_NAMESPACES = new Set([
  'api_tool', 'browser', 'computer', 'container', 'file_search', 'functions', 'image_gen', 'multi_tool_use', 'python',
  'python_user_visible', 'submodel_delegator', 'terminal', 'tool_search', 'web'
])

/**
 * The name Codex gets for a client's tool (or namespace): the name itself when Codex takes it as
 * it is, else the name with every other character made `_`, plus a short hash of the original
 * (`srv:tool` → `srv_tool_1b7e…`). The same name always gets the same alias, so a history
 * replayed in a later round matches the tools of that round.
 */
export function codexName (name: string, kind: 'tool' | 'namespace' | 'member'): string {
  const max = kind === 'namespace' ? 64 : 128
  const refused = kind === 'tool' ? KEPT_BY_CODEX.has(name) || MCP.test(name) : kind === 'namespace' ? RESERVED_NAMESPACES.has(name) || MCP.test(name) : false
  if (!refused && VALID.test(name) && name.length <= max) return name
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 10)
  // `mcp__x` keeps its text but not the prefix Codex refuses.
  const base = name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^mcp(?=__|$)/, 'mcp_tool').slice(0, max - hash.length - 1)
  return `${base.length > 0 ? base : 'tool'}_${hash}`
}

/** Client names ↔ the names Codex runs, for one request's tools. */
export class ToolNames {
  readonly #fromCodex = new Map<string, { name: string, namespace: string | undefined }>()
  readonly #tools: readonly ToolSpec[]

  constructor (tools: readonly ToolSpec[]) {
    this.#tools = tools
    for (const tool of tools) {
      const key = ToolNames.#key(this.codexTool(tool.name, tool.namespace?.name), tool.namespace === undefined ? undefined : codexName(tool.namespace.name, 'namespace'))
      const taken = this.#fromCodex.get(key)
      if (taken !== undefined) {
        throw invalidSubject(`The tools \`${taken.name}\` and \`${tool.name}\` cannot be told apart upstream; rename one of them.`, 'tools', 'invalid_value')
      }
      this.#fromCodex.set(key, { name: tool.name, namespace: tool.namespace?.name })
    }
  }

  static #key (name: string, namespace: string | undefined): string {
    return `${namespace ?? ''}/${name}`
  }

  /** The name Codex runs for a client's tool (inside a namespace, Codex keeps every valid name). */
  codexTool (name: string, namespace: string | undefined): string {
    return codexName(name, namespace === undefined ? 'tool' : 'member')
  }

  codexNamespace (namespace: string | undefined): string | undefined {
    return namespace === undefined ? undefined : codexName(namespace, 'namespace')
  }

  /** A tool_choice naming a tool, with the name the model sees it under (its alias, when it has one). */
  codexChoice (choice: ToolChoice): ToolChoice {
    if (typeof choice !== 'object') return choice
    const tool = this.#tools.find((t) => t.name === choice.name)
    return { name: this.codexTool(choice.name, tool?.namespace?.name) }
  }

  /** The client's names for a call Codex reports. */
  fromCodex (name: string, namespace: string | undefined): { name: string, namespace: string | undefined } {
    return this.#fromCodex.get(ToolNames.#key(name, namespace)) ?? { name, namespace }
  }
}
