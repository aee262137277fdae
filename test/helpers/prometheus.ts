import { expect } from 'vitest'

export interface Sample { name: string, labels: Record<string, string>, value: number }

/** Parses Prometheus text format strictly enough that malformed output fails the test. */
export function parsePrometheus (text: string): Sample[] {
  const samples: Sample[] = []
  const typed = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line)
    if (meta !== null) {
      if (meta[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(meta[3])
        typed.add(meta[2] ?? '')
      }
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/.exec(line)
    if (sample === null) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] ?? ''] = m[2] ?? ''
    const name = sample[1] ?? ''
    if (![...typed].some((t) => name === t || name.startsWith(`${t}_`))) throw new Error(`sample without a TYPE: ${name}`)
    samples.push({ name, labels, value: Number(sample[3]) })
  }
  return samples
}

export const value = (samples: Sample[], name: string, labels: Record<string, string> = {}): number =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0)

/** The metric families the text declares (`# TYPE` lines), whether or not they have samples yet. */
export const declaredMetrics = (text: string): Set<string> => new Set([...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)].map((m) => m[1] ?? ''))
