import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { codexLoggedIn, codexVersion } from '../../src/server-status.js'

describe('server status', () => {
  it('names the pinned Codex version, and none for a CODEX_BIN of one\'s own', () => {
    expect(codexVersion({})).toMatch(/^\d+\.\d+\.\d+/)
    expect(codexVersion({ CODEX_BIN: '/usr/local/bin/codex' })).toBeNull()
  })

  it('Codex is logged in when CODEX_HOME holds auth.json and the backend has not found it logged out', async () => {
    const home = await mkdtemp(join(tmpdir(), 'cca-home-'))
    try {
      expect(codexLoggedIn(home, { ready: true })).toBe(false)
      await writeFile(join(home, 'auth.json'), '{}')
      expect(codexLoggedIn(home, { ready: true })).toBe(true)
      expect(codexLoggedIn(home, { ready: false, reason: 'Codex is not logged in. Run codex login' })).toBe(false)
      // What Codex itself said wins: an API-key login or a custom provider needs no auth.json.
      await rm(join(home, 'auth.json'))
      expect(codexLoggedIn(home, { ready: true, loggedIn: true })).toBe(true)
      expect(codexLoggedIn(home, { ready: false, loggedIn: false })).toBe(false)
    } finally {
      await rm(home, { recursive: true, force: true })
    }
  })
})
