import { seeded } from '../test/helpers/seeded.js'

/** Summary statistics of latency samples (milliseconds). */
export interface Summary {
  n: number
  min: number
  p50: number
  p90: number
  p99: number
  max: number
  mean: number
}

/**
 * The q-quantile (0..1) by linear interpolation between closest ranks (numpy's default), so that
 * p99 of 50 samples is not simply the maximum.
 */
export function quantile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  const a = sorted[lo] ?? Number.NaN
  const b = sorted[hi] ?? Number.NaN
  return a + (b - a) * (pos - lo)
}

export function summarize (samples: readonly number[]): Summary {
  const sorted = [...samples].sort((x, y) => x - y)
  const sum = sorted.reduce((acc, x) => acc + x, 0)
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length
  }
}

/** Milliseconds with a precision that matches what they can mean. */
export function ms (value: number): string {
  if (!Number.isFinite(value)) return '–'
  if (Math.abs(value) < 10) return value.toFixed(2)
  if (Math.abs(value) < 100) return value.toFixed(1)
  return value.toFixed(0)
}

export function mb (kb: number | undefined): string {
  return kb === undefined || !Number.isFinite(kb) ? '–' : (kb / 1024).toFixed(1)
}

/**
 * 95 % bootstrap confidence interval of the median: on a shared machine, a difference of a few
 * ms between two medians means little without knowing how much resampling moves it.
 */
export function medianCI (samples: readonly number[], iterations = 2000, seed = 42): [number, number] {
  if (samples.length === 0) return [Number.NaN, Number.NaN]
  const random = seeded(seed)
  const medians: number[] = []
  const resample: number[] = new Array<number>(samples.length)
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < samples.length; j++) resample[j] = samples[Math.floor(random() * samples.length)] ?? Number.NaN
    medians.push(quantile([...resample].sort((x, y) => x - y), 0.5))
  }
  medians.sort((x, y) => x - y)
  return [quantile(medians, 0.025), quantile(medians, 0.975)]
}
