import { describe, expect, it } from 'vitest'
import { formatUsageSummary, parseTime, parseUsageQuery } from '../../../src/usage/query.js'

const NOW = new Date('2025-03-10T15:30:45.000Z')
const iso = (d: Date | undefined): string | undefined => d?.toISOString()

function range (text: string): { start: string | undefined, end: string | undefined, group: string | undefined } | undefined {
  const r = parseUsageQuery(text, NOW)
  return r === undefined ? undefined : { start: iso(r.start), end: iso(r.end), group: r.group }
}

describe('parseTime', () => {
  it('reads ISO date-times and dates', () => {
    expect(iso(parseTime('2025-01-02T03:04:05Z'))).toBe('2025-01-02T03:04:05.000Z')
    expect(iso(parseTime('2025-01-02T03:04:05+02:00'))).toBe('2025-01-02T01:04:05.000Z')
    expect(iso(parseTime('2025-01-02'))).toBe('2025-01-02T00:00:00.000Z')
    expect(iso(parseTime('  2025-01-02T00:00:00.500Z  '))).toBe('2025-01-02T00:00:00.500Z')
  })
  it('reads epoch seconds and epoch milliseconds', () => {
    expect(iso(parseTime('1735689600'))).toBe('2025-01-01T00:00:00.000Z')
    expect(iso(parseTime('1735689600000'))).toBe('2025-01-01T00:00:00.000Z')
    expect(iso(parseTime('1735689600.5'))).toBe('2025-01-01T00:00:00.500Z')
    expect(iso(parseTime('0'))).toBe('1970-01-01T00:00:00.000Z')
    // A bare year is a (tiny) epoch, not a date.
    expect(iso(parseTime('2025'))).toBe('1970-01-01T00:33:45.000Z')
  })
  it.each(['', 'yesterday', 'now', '-5', '1e9', '2025-13-45', '2025-02-30Tnonsense', 'NaN'])('refuses %j', (value) => {
    expect(parseTime(value)).toBeUndefined()
  })
})

describe('parseUsageQuery', () => {
  it('usage today: this UTC day, by hour', () => {
    expect(range('usage today')).toEqual({ start: '2025-03-10T00:00:00.000Z', end: '2025-03-11T00:00:00.000Z', group: 'hour' })
  })
  it('usage yesterday: the previous UTC day, by hour', () => {
    expect(range('usage yesterday')).toEqual({ start: '2025-03-09T00:00:00.000Z', end: '2025-03-10T00:00:00.000Z', group: 'hour' })
  })
  it('is case- and whitespace-insensitive', () => {
    expect(range('  Usage   TODAY \n')).toEqual(range('usage today'))
  })
  it.each([
    ['usage last 7d', '2025-03-03T15:30:45.000Z', 'day'],
    ['usage last 24h', '2025-03-09T15:30:45.000Z', 'hour'],
    ['usage last 30m', '2025-03-10T15:00:45.000Z', 'hour'],
    ['usage last 2w', '2025-02-24T15:30:45.000Z', 'day'],
    ['usage last 48 h', '2025-03-08T15:30:45.000Z', 'hour'],
    ['usage last 49h', '2025-03-08T14:30:45.000Z', 'day']
  ])('%s', (text, start, group) => {
    expect(range(text)).toEqual({ start, end: NOW.toISOString(), group })
  })
  it('reads start= and end= as ISO (lowercased by the parser) and epoch', () => {
    expect(range('usage start=2025-03-01T00:00:00Z end=2025-03-02T12:00:00Z group=hour'))
      .toEqual({ start: '2025-03-01T00:00:00.000Z', end: '2025-03-02T12:00:00.000Z', group: 'hour' })
    expect(range('usage start=1735689600 end=1735776000000 group=day'))
      .toEqual({ start: '2025-01-01T00:00:00.000Z', end: '2025-01-02T00:00:00.000Z', group: 'day' })
  })
  it('defaults start to the start of today and end to now, with no group', () => {
    expect(range('usage group=hour')).toEqual({ start: '2025-03-10T00:00:00.000Z', end: NOW.toISOString(), group: 'hour' })
    expect(range('usage start=2025-03-01')).toEqual({ start: '2025-03-01T00:00:00.000Z', end: NOW.toISOString(), group: undefined })
  })
  it.each([
    'usage of the word',
    'usage today please',
    'what is my usage today',
    'usage',
    'usage last week',
    'usage last 7y',
    'usage last 123456d',
    'usage group=week',
    'usage start=yesterday',
    'usage end=garbage',
    'usage foo=bar',
    'usage start=2025-01-01 user=bob',
    'usagetoday',
    'usages today',
    ''
  ])('ignores %j', (text) => {
    expect(parseUsageQuery(text, NOW)).toBeUndefined()
  })
})

describe('formatUsageSummary', () => {
  it('formats totals only', () => {
    expect(formatUsageSummary({
      start: '2025-03-10T00:00:00.000Z', end: '2025-03-11T00:00:00.000Z', total_requests: 3, prompt_tokens_est: 30, completion_tokens_est: 12, total_tokens_est: 42
    })).toBe('Usage from 2025-03-10T00:00:00.000Z to 2025-03-11T00:00:00.000Z: 3 requests, 30 prompt + 12 completion = 42 tokens.')
  })
  it('adds one line per bucket', () => {
    expect(formatUsageSummary({
      start: 'S',
      end: 'E',
      group: 'hour',
      total_requests: 2,
      prompt_tokens_est: 5,
      completion_tokens_est: 6,
      total_tokens_est: 11,
      buckets: [
        { ts: '2025-03-10T01:00:00.000Z', requests: 1, prompt_tokens_est: 2, completion_tokens_est: 3, total_tokens_est: 5 },
        { ts: '2025-03-10T02:00:00.000Z', requests: 1, prompt_tokens_est: 3, completion_tokens_est: 3, total_tokens_est: 6 }
      ]
    })).toBe([
      'Usage from S to E: 2 requests, 5 prompt + 6 completion = 11 tokens.',
      '- 2025-03-10T01:00:00.000Z: 1 requests, 5 tokens (2 prompt, 3 completion)',
      '- 2025-03-10T02:00:00.000Z: 1 requests, 6 tokens (3 prompt, 3 completion)'
    ].join('\n'))
  })
})
