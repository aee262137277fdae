import { describe, expect, it } from 'vitest'
import { DEFAULT_KEY, configuredKeys, parseKeyPairs } from '../../../src/auth/api-keys.js'

describe('parseKeyPairs', () => {
  it('reads name=key entries, comments and blank lines skipped, the key after the first =', () => {
    expect(parseKeyPairs(['alice=k1', '', '# ci', ' ci = k=2 '], 'f')).toEqual({ keys: [{ name: 'alice', key: 'k1' }, { name: 'ci', key: 'k=2' }], problems: [] })
  })

  it('reports every bad entry by position, never a key', () => {
    const { keys, problems } = parseKeyPairs(['bad name=secret-1', 'x=', 'a=s3', 'a=s4', 'b=s3', 'c=has space', `d=${DEFAULT_KEY}`, 'noequals'], 'PROXY_API_KEYS')
    expect(keys).toEqual([{ name: 'a', key: 's3' }])
    expect(problems).toHaveLength(7)
    expect(problems.join('\n')).not.toMatch(/secret-1|s4|has space/)
    expect(problems[0]).toMatch(/^PROXY_API_KEYS entry 1:/)
  })

  it('refuses the names the usage rollups and metrics use themselves', () => {
    const { keys, problems } = parseKeyPairs(['other=k1', 'none=k2', 'anonymous=k3', 'others=k4'], 'f')
    expect(keys.map((k) => k.name)).toEqual(['others'])
    expect(problems).toHaveLength(3)
    expect(problems[0]).toMatch(/the name other is reserved/)
  })
})

describe('configuredKeys', () => {
  it('is the well-known default key only when no key is configured at all', () => {
    expect(configuredKeys({}).keys).toEqual([{ name: 'default', key: DEFAULT_KEY }])
    expect(configuredKeys({ PROXY_API_KEYS: 'alice=k1' }).keys).toEqual([{ name: 'alice', key: 'k1' }])
    expect(configuredKeys({ PROXY_API_KEY: 'mine', PROXY_API_KEYS: 'alice=k1,bob=k2' }).keys.map((k) => k.name)).toEqual(['default', 'alice', 'bob'])
  })

  it('refuses a name or key given twice across sources', () => {
    expect(configuredKeys({ PROXY_API_KEY: 'k1', PROXY_API_KEYS: 'alice=k1' }).problems).toHaveLength(1)
    expect(configuredKeys({ PROXY_API_KEY: 'k1', PROXY_API_KEYS: 'default=k2' }).problems).toHaveLength(1)
  })
})
