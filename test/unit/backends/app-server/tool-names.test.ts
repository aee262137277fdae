import { describe, expect, it } from 'vitest'
import { ToolNames, codexName } from '../../../../src/backends/app-server/tool-names.js'
import { planThread, TURN_INPUT_MAX_CHARS, dynamicTools } from '../../../../src/backends/app-server/items.js'
import { ApiError } from '../../../../src/errors.js'
import { thrownBy } from '../../support.js'

const spec = (name: string, namespace?: string) => ({ name, parameters: { type: 'object' }, namespace: namespace === undefined ? undefined : { name: namespace } })

describe('codexName', () => {
  it('keeps names Codex takes as they are', () => {
    for (const name of ['get_weather', 'Read', 'a-b', 'x'.repeat(128), 'apply_patch', 'web_search']) expect(codexName(name, 'tool')).toBe(name)
  })

  it.each(['a.b', 'srv:tool', 'has space', 'exec_command', 'shell_command', 'mcp', 'mcp__files', 'x'.repeat(129), 'ünï'])('aliases %j to a valid name Codex keeps', (name) => {
    const alias = codexName(name, 'tool')
    expect(alias).toMatch(/^[A-Za-z0-9_-]{1,128}$/)
    expect(alias).not.toMatch(/^mcp(__|$)/)
    expect(['exec_command', 'shell_command']).not.toContain(alias)
    expect(codexName(name, 'tool')).toBe(alias)
    expect(codexName(`${name}2`, 'tool')).not.toBe(alias)
  })

  it('inside a namespace keeps even the names Codex keeps for itself; reserved namespaces are aliased', () => {
    expect(codexName('exec_command', 'member')).toBe('exec_command')
    expect(codexName('web', 'namespace')).toMatch(/^web_[0-9a-f]{10}$/)
    expect(codexName('crm', 'namespace')).toBe('crm')
  })
})

describe('ToolNames', () => {
  it('names a forced tool as the model sees it: its alias when Codex needs one', () => {
    const names = new ToolNames([spec('srv:tool'), spec('plain'), spec('exec_command', 'files')])
    expect(names.codexChoice({ name: 'srv:tool' })).toEqual({ name: codexName('srv:tool', 'tool') })
    expect(names.codexChoice({ name: 'srv:tool' })).not.toEqual({ name: 'srv:tool' })
    expect(names.codexChoice({ name: 'plain' })).toEqual({ name: 'plain' })
    // Inside a namespace Codex keeps even its own names.
    expect(names.codexChoice({ name: 'exec_command' })).toEqual({ name: 'exec_command' })
    expect(names.codexChoice('required')).toBe('required')
  })

  it('maps calls back to the client\'s names, and refuses two tools Codex could not tell apart', () => {
    const names = new ToolNames([spec('srv:tool'), spec('exec_command', 'crm'), spec('plain')])
    expect(names.fromCodex(codexName('srv:tool', 'tool'), undefined)).toEqual({ name: 'srv:tool', namespace: undefined })
    expect(names.fromCodex('exec_command', 'crm')).toEqual({ name: 'exec_command', namespace: 'crm' })
    expect(dynamicTools([spec('srv:tool'), spec('plain')], names).map((t) => t.name)).toEqual([codexName('srv:tool', 'tool'), 'plain'])
    expect(thrownBy(() => new ToolNames([spec('dup'), spec('dup')]))).toBeInstanceOf(ApiError)
  })
})

describe('planThread', () => {
  const names = new ToolNames([])
  it('runs a last message within Codex\'s turn-input limit as the turn, and a longer one as history', () => {
    const user = (text: string) => ({ type: 'message' as const, role: 'user' as const, content: [{ type: 'text' as const, text }] })
    expect(planThread([user('short')], names).input).toHaveLength(1)
    const long = planThread([user('x'.repeat(TURN_INPUT_MAX_CHARS + 1))], names)
    expect(long.input).toEqual([])
    expect(long.history).toHaveLength(1)
    expect(planThread([user('x'.repeat(TURN_INPUT_MAX_CHARS))], names).input).toHaveLength(1)
  })
})
