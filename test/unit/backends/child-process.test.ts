import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { CodexChild, lastStderrLine, liveChildren, type ChildOptions } from '../../../src/backends/child-process.js'
import { waitFor } from '../../helpers/wait.js'
import { collect, isAlive, within } from '../support.js'

const log = pino({ level: 'silent' })
const started: CodexChild[] = []

/** A child running `script` in a fresh node. */
function node (script: string, extra: Partial<ChildOptions> = {}): CodexChild {
  const child = new CodexChild({ bin: process.execPath, args: ['-e', script], cwd: process.cwd(), env: { PATH: process.env.PATH ?? '' }, log, ...extra })
  started.push(child)
  return child
}

afterEach(async () => {
  await Promise.all(started.splice(0).map(async (c) => await c.kill()))
})

describe('CodexChild', () => {
  it('joins lines split across chunks', async () => {
    const child = node(`
      const w = (s) => new Promise((r) => process.stdout.write(s, () => setTimeout(r, 30)))
      ;(async () => { await w('hel'); await w('lo\\nwor'); await w('ld\\n{"a":'); await w('1}\\n') })()
    `)
    expect(await collect(child.lines())).toEqual(['hello', 'world', '{"a":1}'])
    expect(await child.exited).toMatchObject({ code: 0, signal: null })
  })

  it('strips CR of CRLF and skips empty lines', async () => {
    const child = node('process.stdout.write("a\\r\\nb\\r\\n\\r\\n\\nc\\n")')
    expect(await collect(child.lines())).toEqual(['a', 'b', 'c'])
  })

  it('drops an unterminated last line', async () => {
    const child = node('process.stdout.write("whole\\npartial")')
    expect(await collect(child.lines())).toEqual(['whole'])
  })

  it('keeps multi-byte characters split across chunks intact', async () => {
    const child = node(`
      const b = Buffer.from('héllo wörld ✓\\n')
      process.stdout.write(b.subarray(0, 2), () => setTimeout(() => process.stdout.write(b.subarray(2)), 30))
    `)
    expect(await collect(child.lines())).toEqual(['héllo wörld ✓'])
  })

  it('writes lines to stdin', async () => {
    const child = node('process.stdin.on("data", (d) => { process.stdout.write("got " + d); process.exit(0) })')
    expect(child.writeLine('ping')).toBe(true)
    expect(await collect(child.lines())).toEqual(['got ping'])
    expect(child.writeLine('after exit')).toBe(false)
  })

  it('kills the child on a partial line longer than maxLineBytes', async () => {
    const child = node('process.stdout.write("x".repeat(5000)); setInterval(() => {}, 1000)', { maxLineBytes: 1000 })
    const lines = collect(child.lines())
    const exit = await within(3000, child.exited, 'child exit')
    expect(exit.signal).toBe('SIGTERM')
    expect(child.protocolError?.message).toBe('codex wrote a line longer than 1000 bytes')
    expect(await lines).toEqual([])
  })

  it('kills the child on a complete line longer than maxLineBytes', async () => {
    const child = node('process.stdout.write("ok\\n" + "x".repeat(5000) + "\\nnext\\n"); setInterval(() => {}, 1000)', { maxLineBytes: 1000 })
    const lines = collect(child.lines())
    const exit = await within(3000, child.exited, 'child exit')
    expect(exit.signal).toBe('SIGTERM')
    expect(child.protocolError?.message).toBe('codex wrote a line longer than 1000 bytes')
    expect(await lines).toEqual(['ok'])
  })

  it('accepts a line of exactly maxLineBytes', async () => {
    const child = node('process.stdout.write("y".repeat(1000) + "\\n")', { maxLineBytes: 1000 })
    const lines = await collect(child.lines())
    expect(lines).toHaveLength(1)
    expect(lines[0]).toHaveLength(1000)
    expect(child.protocolError).toBeUndefined()
  })

  it('kill() sends SIGTERM, then SIGKILL to a child that ignores it', async () => {
    const child = node('process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)', { killGraceMs: 100 })
    const lines = child.lines()
    expect(await lines.next()).toEqual({ value: 'ready', done: false })
    const t0 = Date.now()
    const exit = await child.kill()
    expect(exit.signal).toBe('SIGKILL')
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90)
    expect(child.running).toBe(false)
    expect(await child.kill()).toBe(exit)
  })

  it('kill() stops a well-behaved child with SIGTERM', async () => {
    const child = node('console.log("ready"); setInterval(() => {}, 1000)', { killGraceMs: 5000 })
    await child.lines().next()
    const t0 = Date.now()
    expect((await child.kill()).signal).toBe('SIGTERM')
    expect(Date.now() - t0).toBeLessThan(2000)
  })

  it('kills the whole process group, grandchildren included', async () => {
    const child = node(`
      const { spawn } = require('node:child_process')
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
      console.log(String(g.pid))
      setInterval(() => {}, 1000)
    `)
    const first = await child.lines().next()
    const grandchild = Number(first.value)
    expect(grandchild).toBeGreaterThan(0)
    expect(isAlive(grandchild)).toBe(true)
    await child.kill()
    await waitFor(() => !isAlive(grandchild), 3000)
  })

  it('reports a missing binary as spawnError', async () => {
    const before = liveChildren().size
    const child = new CodexChild({ bin: '/nonexistent/definitely/codex', args: ['proto'], cwd: process.cwd(), env: {}, log })
    const exit = await child.exited
    expect(exit.code).toBeNull()
    expect(exit.signal).toBeNull()
    expect(exit.spawnError?.code).toBe('ENOENT')
    expect(child.pid).toBeUndefined()
    expect(child.exitInfo).toBe(exit)
    expect(child.writeLine('x')).toBe(false)
    expect(await collect(child.lines())).toEqual([])
    expect(liveChildren().size).toBe(before)
    expect(await child.kill()).toBe(exit)
  })

  it('is listed in liveChildren() until it exits', async () => {
    const before = liveChildren().size
    const child = node('setTimeout(() => {}, 50)')
    expect(liveChildren().has(child)).toBe(true)
    expect(liveChildren().size).toBe(before + 1)
    expect((await child.exited).code).toBe(0)
    expect(liveChildren().has(child)).toBe(false)
    expect(liveChildren().size).toBe(before)
  })

  it('keeps the tail of stderr and its last meaningful line', async () => {
    const child = node(`
      process.stderr.write('a'.repeat(100) + '\\n')
      process.stderr.write('thread main panicked: out of cheese\\n')
      process.stderr.write('WARNING: proceeding, even though we could not update PATH\\n\\n')
      process.exitCode = 3
    `, { stderrTailBytes: 120 })
    const exit = await child.exited
    expect(exit.code).toBe(3)
    const tail = child.stderrTail()
    expect(tail.length).toBe(120)
    expect(tail.endsWith('update PATH\n\n')).toBe(true)
    expect(lastStderrLine(tail)).toBe('thread main panicked: out of cheese')
  })
})

describe('lastStderrLine', () => {
  it('skips blank lines and the PATH warning', () => {
    expect(lastStderrLine('first\n  second  \n\n\n')).toBe('second')
    expect(lastStderrLine('error: boom\nWARNING: proceeding, even though\n')).toBe('error: boom')
    expect(lastStderrLine('')).toBeUndefined()
    expect(lastStderrLine('\n \nWARNING: proceeding\n')).toBeUndefined()
  })
})
