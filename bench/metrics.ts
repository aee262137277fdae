import { BENCH_KEY } from './proxy.js'

/** Sum and count of a Prometheus histogram or summary (all label sets added up). */
export async function histogramTotals (baseUrl: string, name: string): Promise<{ sum: number, count: number }> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${BENCH_KEY}` } })
  const text = await res.text()
  let sum = 0
  let count = 0
  for (const line of text.split('\n')) {
    const [metric, value] = line.split(' ')
    if (metric === undefined || value === undefined) continue
    const base = metric.replace(/\{.*\}$/, '')
    if (base === `${name}_sum`) sum += Number(value)
    else if (base === `${name}_count`) count += Number(value)
  }
  return { sum, count }
}
